"""Follow-ups (seed 000 §3.3): creation when an application becomes high priority, the API, and
the signed webhook with retries, against a real HTTP receiver on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from arq import Retry
from arq.connections import RedisSettings, create_pool
from conftest import GraphQLClient
from factories import (
    AppSpec,
    ClickSpec,
    create_account,
    create_applications,
    create_key,
    recent_wednesday,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from config import Settings
from db.follow_ups import after_batch, create_follow_ups_for_new_high_priority
from jobs.webhooks import (
    UnsafeTarget,
    deliver_follow_up_webhook,
    enqueue_follow_up_webhooks,
    new_webhook_secret,
    resolve_target,
)
from jobs.worker import build_worker

MakeAccount = Callable[..., Awaitable[uuid.UUID]]
MakeKey = Callable[..., Awaitable[str]]
SM = async_sessionmaker[AsyncSession]
SECRET = "test-secret-0123456789"

FOLLOW_UPS = """
query($first: Int, $after: String, $all: Boolean) {
  followUps(first: $first, after: $after, includeCompleted: $all) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id reason recommendedAction engagementScore completedAt
      application { id }
      webhookDeliveries { attempt statusCode error succeeded url } } }
  }
}
"""
COMPLETE = "mutation($id: ID!) { completeFollowUp(id: $id) { id completedAt } }"


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that answers with the scripted statuses in turn."""

    statuses: list[int]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(statuses=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/linkinsights"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def set_webhook(sm: SM, account: uuid.UUID, url: str | None) -> None:
    async with sm() as session, session.begin():
        await session.execute(
            text("UPDATE accounts SET webhook_url = :u, webhook_secret = :s WHERE id = :id"),
            {"u": url, "s": SECRET if url else None, "id": account},
        )


async def deliveries(sm: SM, follow_up_id: uuid.UUID) -> list[tuple[int, int | None, bool]]:
    async with sm() as session:
        rows = await session.execute(
            text(
                "SELECT attempt, status_code, succeeded FROM webhook_deliveries"
                " WHERE follow_up_id = :id ORDER BY attempt"
            ),
            {"id": follow_up_id},
        )
        return [(r.attempt, r.status_code, r.succeeded) for r in rows]


async def run_after_batch(sm: SM, account: uuid.UUID | None) -> list[uuid.UUID]:
    async with sm() as session, session.begin():
        return await after_batch(session, account_id=account)


def high(score: int, **kw: Any) -> AppSpec:
    return AppSpec(
        recent_wednesday(),
        clicks=[ClickSpec("LinkedIn", 1)],
        engagement_score=score,
        is_high_priority=True,
        **kw,
    )


# ------------------------------------------------------------------------------ creation


async def test_follow_ups_are_created_once_for_new_high_priority_applications(
    gql: GraphQLClient, sessionmaker: SM
) -> None:
    account = await create_account(sessionmaker)
    key = await create_key(sessionmaker, account)
    other = await create_account(sessionmaker)
    other_key = await create_key(sessionmaker, other)
    hp, hp_interview, normal = await create_applications(
        sessionmaker,
        account,
        [high(85), high(90, status="interview"), AppSpec(recent_wednesday(), engagement_score=50)],
    )
    (other_hp,) = await create_applications(sessionmaker, other, [high(80)])

    # Scoped to one account: only its applied, high-priority application; no webhook URL, so
    # nothing to deliver.
    async with sessionmaker() as session, session.begin():
        created = await create_follow_ups_for_new_high_priority(session, account_id=account)
    assert [(f.application_id, f.has_webhook) for f in created] == [(hp, False)]
    assert await run_after_batch(sessionmaker, account) == []  # idempotent
    async with sessionmaker() as session, session.begin():
        assert await create_follow_ups_for_new_high_priority(session, account_id=account) == []

    body = await gql(FOLLOW_UPS, {}, key=key)
    assert "errors" not in body, body
    conn = body["data"]["followUps"]
    assert conn["totalCount"] == 1
    node = conn["edges"][0]["node"]
    assert node["application"] == {"id": str(hp)}
    assert node["engagementScore"] == 85
    assert node["reason"] == "Engagement score 85 made this application high priority"
    assert node["recommendedAction"] == "Send personalized follow-up email within 24 hours"
    assert node["completedAt"] is None
    assert node["webhookDeliveries"] == []
    # The other account sees nothing of it, and cannot complete it.
    assert (await gql(FOLLOW_UPS, {}, key=other_key))["data"]["followUps"]["totalCount"] == 0
    foreign = await gql(COMPLETE, {"id": node["id"]}, key=other_key)
    assert foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    missing = await gql(COMPLETE, {"id": str(uuid.uuid4())}, key=other_key)
    assert missing["errors"][0]["extensions"] == foreign["errors"][0]["extensions"]

    done = await gql(COMPLETE, {"id": node["id"]}, key=key)
    completed_at = done["data"]["completeFollowUp"]["completedAt"]
    assert completed_at is not None
    again = await gql(COMPLETE, {"id": node["id"]}, key=key)
    assert again["data"]["completeFollowUp"]["completedAt"] == completed_at  # idempotent
    assert (await gql(FOLLOW_UPS, {}, key=key))["data"]["followUps"]["totalCount"] == 0
    everything = await gql(FOLLOW_UPS, {"all": True}, key=key)
    assert everything["data"]["followUps"]["totalCount"] == 1
    # Still high priority, follow-up done: the next batch does not nag again.
    assert await run_after_batch(sessionmaker, account) == []

    # The unscoped (nightly) call picks up the other account.
    async with sessionmaker() as session, session.begin():
        created = await create_follow_ups_for_new_high_priority(session, account_id=None)
    assert other_hp in {f.application_id for f in created}
    assert hp not in {f.application_id for f in created}
    assert hp_interview not in {f.application_id for f in created}
    assert normal not in {f.application_id for f in created}


async def test_follow_ups_paginate(gql: GraphQLClient, sessionmaker: SM) -> None:
    account = await create_account(sessionmaker)
    key = await create_key(sessionmaker, account)
    await create_applications(sessionmaker, account, [high(71 + i) for i in range(5)])
    await run_after_batch(sessionmaker, account)
    seen: list[str] = []
    after = None
    for _ in range(3):
        body = await gql(FOLLOW_UPS, {"first": 2, "after": after}, key=key)
        conn = body["data"]["followUps"]
        assert conn["totalCount"] == 5
        seen += [e["node"]["id"] for e in conn["edges"]]
        after = conn["pageInfo"]["endCursor"]
        if not conn["pageInfo"]["hasNextPage"]:
            break
    assert len(seen) == len(set(seen)) == 5
    body = await gql(FOLLOW_UPS, {"first": 201}, key=key)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# ------------------------------------------------------------------------------ webhooks


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    """These tests send webhooks to a receiver on loopback: private targets allowed."""
    return settings.model_copy(update={"webhook_allow_private_targets": True})


def check_signature(headers: dict[str, str], body: bytes) -> None:
    timestamp = headers["x-linkinsights-timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    assert headers["x-linkinsights-signature"] == f"sha256={expected.hexdigest()}"
    # And as any Standard Webhooks receiver checks it, with the library's own verifier.
    Webhook(SECRET).verify(body, headers)


async def test_webhook_is_signed_retried_on_500_and_recorded(
    gql: GraphQLClient,
    hook_settings: Settings,
    sessionmaker: SM,
    receiver: Receiver,
) -> None:
    account = await create_account(sessionmaker)
    key = await create_key(sessionmaker, account)
    await set_webhook(sessionmaker, account, receiver.url)
    (app_id,) = await create_applications(sessionmaker, account, [high(88)])
    (follow_up,) = await run_after_batch(sessionmaker, account)

    # Through a burst-mode arq worker: the first answer is a 500, the retry gets a 200.
    receiver.statuses = [500, 200]
    fast = hook_settings.model_copy(update={"webhook_backoff_seconds": 0.05})
    redis = await create_pool(RedisSettings.from_dsn(hook_settings.redis_url or ""))
    try:
        assert await enqueue_follow_up_webhooks(redis, [follow_up], queue_name=fast.queue_name) == 1
        # The same follow-up twice is one job.
        assert await enqueue_follow_up_webhooks(redis, [follow_up], queue_name=fast.queue_name) == 0
        worker = build_worker(fast, burst=True, poll_delay=0.02)
        try:
            await worker.main()
        finally:
            # Worker.close() calls redis' deprecated close(); do its work with aclose().
            await worker.pool.delete(worker.health_check_key)
            if worker.on_shutdown is not None:
                await worker.on_shutdown(worker.ctx)
            await worker.pool.aclose()
    finally:
        await redis.aclose()

    assert len(receiver.requests) == 2
    for headers, body in receiver.requests:
        check_signature(headers, body)
        assert headers["x-linkinsights-event"] == "follow_up.created"
        assert headers["x-linkinsights-delivery"] == str(follow_up)
        payload = json.loads(body)
        assert payload["event"] == "follow_up.created"
        assert payload["followUp"]["id"] == str(follow_up)
        assert payload["followUp"]["engagementScore"] == 88
        assert payload["application"]["id"] == str(app_id)
    # A tampered body does not verify.
    headers, body = receiver.requests[0]
    with pytest.raises(AssertionError):
        check_signature(headers, body.replace(b"88", b"99"))

    assert await deliveries(sessionmaker, follow_up) == [(1, 500, False), (2, 200, True)]
    listed = await gql(FOLLOW_UPS, {}, key=key)
    node = listed["data"]["followUps"]["edges"][0]["node"]
    assert node["webhookDeliveries"] == [
        {
            "attempt": 1,
            "statusCode": 500,
            "error": "HTTP 500",
            "succeeded": False,
            "url": receiver.url,
        },
        {"attempt": 2, "statusCode": 200, "error": None, "succeeded": True, "url": receiver.url},
    ]


async def test_webhook_gives_up_after_max_attempts_with_backoff(
    hook_settings: Settings, db_sessions: SM, receiver: Receiver
) -> None:
    account = await create_account(db_sessions)
    await set_webhook(db_sessions, account, receiver.url)
    await create_applications(db_sessions, account, [high(75)])
    (follow_up,) = await run_after_batch(db_sessions, account)
    receiver.statuses = [503, 500, 502, 200]
    limited = hook_settings.model_copy(
        update={"webhook_max_attempts": 3, "webhook_backoff_seconds": 2.0}
    )
    ctx: dict[str, Any] = {"settings": limited, "sessionmaker": db_sessions}  # as on_startup

    delays = []
    for _ in range(2):
        with pytest.raises(Retry) as info:
            await deliver_follow_up_webhook(ctx, str(follow_up))
        delays.append(info.value.defer_score)
    assert delays == [2000, 4000]  # ms: 2s, then doubled
    assert await deliver_follow_up_webhook(ctx, str(follow_up)) == "failed after 3 attempts"
    assert await deliver_follow_up_webhook(ctx, str(follow_up)) == "skipped: attempts exhausted"
    assert len(receiver.requests) == 3
    assert await deliveries(db_sessions, follow_up) == [
        (1, 503, False),
        (2, 500, False),
        (3, 502, False),
    ]


async def test_webhook_connection_errors_are_recorded_and_no_url_sends_nothing(
    hook_settings: Settings, db_sessions: SM, receiver: Receiver
) -> None:
    account = await create_account(db_sessions)
    # A closed port on loopback: the connection is refused.
    await set_webhook(db_sessions, account, "http://127.0.0.1:9/closed")
    await create_applications(db_sessions, account, [high(75)])
    (follow_up,) = await run_after_batch(db_sessions, account)
    ctx: dict[str, Any] = {"settings": hook_settings, "sessionmaker": db_sessions}
    with pytest.raises(Retry):
        await deliver_follow_up_webhook(ctx, str(follow_up))
    async with db_sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT attempt, status_code, error FROM webhook_deliveries"
                    " WHERE follow_up_id = :id"
                ),
                {"id": follow_up},
            )
        ).one()
    assert (row.attempt, row.status_code) == (1, None)
    assert row.error.startswith("ConnectError")

    # No webhook URL: after_batch returns nothing to enqueue and the task sends nothing.
    quiet = await create_account(db_sessions)
    await create_applications(db_sessions, quiet, [high(75)])
    async with db_sessions() as session, session.begin():
        (created,) = await create_follow_ups_for_new_high_priority(session, account_id=quiet)
    assert created.has_webhook is False
    result = await deliver_follow_up_webhook(ctx, str(created.id))
    assert result == "skipped: no follow-up or no webhook URL"
    assert await deliveries(db_sessions, created.id) == []
    assert receiver.requests == []


# ------------------------------------------------------------------- batch -> follow-up -> hook


async def test_a_calculation_run_creates_the_follow_up_and_enqueues_the_webhook(
    hook_settings: Settings, sessionmaker: SM, receiver: Receiver
) -> None:
    """The whole seed 000 §3.3 loop: the batch raises the score above 70, the completed run
    creates the follow-up, and the worker delivers the signed webhook."""
    from datetime import timedelta

    from jobs.calculate import calculate_in_process

    account = await create_account(sessionmaker)
    await set_webhook(sessionmaker, account, receiver.url)
    applied = recent_wednesday()
    # LinkedIn + Calendly 1 h after applying: 10 + 25 + 40 + 30 (quick) + 10 (two functions) = 100.
    clicks = [
        ClickSpec("LinkedIn", at=applied + timedelta(hours=1)),
        ClickSpec("Calendly", at=applied + timedelta(hours=1, minutes=5)),
    ]
    (app_id,) = await create_applications(sessionmaker, account, [AppSpec(applied, clicks=clicks)])

    summary = await calculate_in_process(
        hook_settings, account_id=account, sessionmaker=sessionmaker
    )
    assert summary.applications == 1
    async with sessionmaker() as session:
        row = (
            await session.execute(
                text(
                    "SELECT ja.engagement_score, ja.is_high_priority, f.id AS follow_up"
                    " FROM job_applications ja LEFT JOIN follow_ups f ON f.application_id = ja.id"
                    " WHERE ja.id = :id"
                ),
                {"id": app_id},
            )
        ).one()
    assert (row.engagement_score, row.is_high_priority) == (100, True)
    assert row.follow_up is not None

    # A second run creates no second follow-up.
    await calculate_in_process(hook_settings, account_id=account, sessionmaker=sessionmaker)
    async with sessionmaker() as session:
        count = (
            await session.execute(
                text("SELECT count(*) FROM follow_ups WHERE application_id = :id"), {"id": app_id}
            )
        ).scalar_one()
    assert count == 1

    # The run enqueued the delivery; a burst worker sends it.
    worker = build_worker(hook_settings, burst=True, poll_delay=0.02)
    try:
        await worker.main()
    finally:
        await worker.pool.delete(worker.health_check_key)
        if worker.on_shutdown is not None:
            await worker.on_shutdown(worker.ctx)
        await worker.pool.aclose()
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    check_signature(headers, body)
    assert json.loads(body)["application"]["id"] == str(app_id)
    assert await deliveries(sessionmaker, row.follow_up) == [(1, 200, True)]


async def test_webhook_to_a_name_resolving_to_loopback_is_refused_at_delivery(
    hook_settings: Settings, db_sessions: SM, receiver: Receiver
) -> None:
    """A URL that passed when it was set but resolves to a private address now (DNS rebinding)
    is not called: the attempt is recorded as refused, and retried like any failure."""
    account = await create_account(db_sessions)
    port = receiver.url.split(":")[2].split("/")[0]
    await set_webhook(db_sessions, account, f"http://localhost:{port}/hooks/linkinsights")
    await create_applications(db_sessions, account, [high(80)])
    (follow_up,) = await run_after_batch(db_sessions, account)
    strict = hook_settings.model_copy(update={"webhook_allow_private_targets": False})
    ctx: dict[str, Any] = {"settings": strict, "sessionmaker": db_sessions}
    with pytest.raises(Retry):
        await deliver_follow_up_webhook(ctx, str(follow_up))
    assert receiver.requests == []
    async with db_sessions() as session:
        error = (
            await session.execute(
                text("SELECT error FROM webhook_deliveries WHERE follow_up_id = :id"),
                {"id": follow_up},
            )
        ).scalar_one()
    assert error.startswith("refused: the webhook URL points at localhost (127.0.0.1)")

    # Allowed (a self-hosted receiver): the request goes to the checked address, and the
    # receiver sees the name it was given in the Host header.
    receiver.statuses = [200]
    ctx["settings"] = hook_settings
    assert await deliver_follow_up_webhook(ctx, str(follow_up)) == "delivered on attempt 2"
    ((headers, _body),) = receiver.requests
    assert headers["host"] == f"localhost:{port}"


async def test_resolve_target_refuses_private_addresses() -> None:
    with pytest.raises(UnsafeTarget):
        await resolve_target("https://localhost/x", allow_private=False)
    assert await resolve_target("https://localhost/x", allow_private=True)
    assert await resolve_target("https://93.184.215.14/x", allow_private=False) == [
        ipaddress.ip_address("93.184.215.14")
    ]


def test_new_secrets_are_standard_webhooks_secrets() -> None:
    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
