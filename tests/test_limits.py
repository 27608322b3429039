"""Query limits (depth, aliases, tokens, body, page size), error masking, rate limits (§7, §9)."""

from __future__ import annotations

import asyncio
import logging
import time
import types
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
from conftest import GraphQLClient, build_app
from factories import create_account, create_key
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from waiting import eventually

import db.applications
import graph.ratelimit
from config import Settings
from graph.errors import RateLimited
from graph.relay import encode_cursor

COUNT = "{ applications(first: 1) { totalCount } }"
COUNT_QUERY = {"query": COUNT}


def _nested(depth: int) -> str:
    """A query whose deepest field sits `depth` selection sets below the root.

    The schema is shallow today, so below `job` the fields are made up: the depth limiter
    reads the document, not the schema, and must refuse it before any validation detail.
    """
    real = ["applications(first: 1)", "edges", "node", "job"]
    names = (real + [f"f{i}" for i in range(depth)])[:depth]
    return "{ " + " { ".join(names) + " { id" + " }" * depth + " }"


@asynccontextmanager
async def running_app(
    settings: Settings, application: Starlette | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `application` (or of a new app with `settings`) while its lifespan runs."""
    application = application or build_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("198.51.100.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


# --- depth ----------------------------------------------------------------------------


async def test_query_within_depth_runs(gql: GraphQLClient, api_key: str) -> None:
    body = await gql(
        "{ applications(first: 1) { edges { node { job { title } statusHistory { status } } } } }",
        key=api_key,
    )
    assert body == {"data": {"applications": {"edges": []}}}


async def test_query_deeper_than_limit_is_refused(
    gql: GraphQLClient, api_key: str, settings: Settings
) -> None:
    assert settings.max_query_depth == 10
    response = await gql.post(_nested(11), key=api_key)
    body = response.json()
    assert body.get("data") is None
    depth_errors = [e for e in body["errors"] if "depth" in e["message"]]
    assert [e["message"] for e in depth_errors] == [
        "'anonymous' exceeds maximum operation depth of 10"
    ]
    assert depth_errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_depth_limit_counts_through_fragments(gql: GraphQLClient, api_key: str) -> None:
    inner = " { ".join(f"f{i}" for i in range(10)) + " { id" + " }" * 10
    query = (
        "query Deep { applications(first: 1) { ...E } }\n"
        f"fragment E on ApplicationConnection {{ edges {{ node {{ job {{ {inner} }} }} }} }}"
    )
    body = (await gql.post(query, key=api_key)).json()
    messages = [e["message"] for e in body["errors"]]
    assert "'Deep' exceeds maximum operation depth of 10" in messages
    assert all(e["extensions"]["code"] == "BAD_USER_INPUT" for e in body["errors"])


async def test_depth_at_the_limit_is_not_a_depth_error(gql: GraphQLClient, api_key: str) -> None:
    body = (await gql.post(_nested(10), key=api_key)).json()
    # Still invalid (made-up fields), but not for its depth.
    assert body["errors"]
    assert not [e for e in body["errors"] if "depth" in e["message"]]


# --- aliases and tokens ------------------------------------------------------------------


def _aliases(n: int) -> str:
    return (
        "{ " + " ".join(f"a{i}: applications(first: 1) {{ totalCount }}" for i in range(n)) + " }"
    )


async def test_fifteen_aliases_are_fine(gql: GraphQLClient, api_key: str) -> None:
    body = await gql(_aliases(15), key=api_key)
    assert "errors" not in body
    assert body["data"] == {f"a{i}": {"totalCount": 0} for i in range(15)}


async def test_too_many_aliases_are_refused(
    gql: GraphQLClient, api_key: str, settings: Settings
) -> None:
    assert settings.max_aliases == 15
    body = await gql(_aliases(16), key=api_key)
    assert body.get("data") is None
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "15" in error["message"]
    assert "alias" in error["message"].lower()


async def test_too_many_tokens_are_refused(
    gql: GraphQLClient, api_key: str, settings: Settings
) -> None:
    assert settings.max_tokens == 2000
    query = "{ applications(first: 1) { " + "totalCount " * 2000 + "} }"
    assert len(query.encode()) < settings.max_body_bytes  # the token limit, not the body limit
    body = await gql(query, key=api_key)
    assert body.get("data") is None
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "2000 tokens" in error["message"]


# --- body size ---------------------------------------------------------------------------


async def test_body_over_limit_is_413(
    client: httpx.AsyncClient, api_key: str, settings: Settings
) -> None:
    assert settings.max_body_bytes == 100_000
    payload = orjson.dumps({"query": COUNT, "variables": {"pad": "x" * 100_000}})
    assert len(payload) > 100_000
    response = await client.post(
        "/graphql",
        content=payload,
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "maxBytes": 100_000}
    assert "100000 bytes" in error["message"]


async def test_streamed_body_over_limit_is_413(client: httpx.AsyncClient, api_key: str) -> None:
    """Without a Content-Length the limit is enforced while reading."""
    chunk = b" " * 30_000

    async def body() -> AsyncIterator[bytes]:
        yield b'{"query": "' + COUNT.encode() + b'"'
        for _ in range(4):
            yield chunk
        yield b"}"

    response = await client.post(
        "/graphql",
        content=body(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_body_just_under_limit_is_served(client: httpx.AsyncClient, api_key: str) -> None:
    base = orjson.dumps({"query": COUNT, "variables": {"pad": ""}})
    payload = orjson.dumps({"query": COUNT, "variables": {"pad": "x" * (100_000 - len(base))}})
    assert len(payload) == 100_000
    response = await client.post(
        "/graphql",
        content=payload,
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"applications": {"totalCount": 0}}}


# --- page size and cursors -----------------------------------------------------------------


async def test_first_over_200_is_refused(gql: GraphQLClient, api_key: str) -> None:
    body = await gql("{ applications(first: 201) { totalCount } }", key=api_key)
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
    assert "`first`" in error["message"]
    assert "200" in error["message"]


async def test_first_200_is_fine(gql: GraphQLClient, api_key: str) -> None:
    body = await gql("{ applications(first: 200) { totalCount } }", key=api_key)
    assert body == {"data": {"applications": {"totalCount": 0}}}


async def test_negative_first_is_refused(gql: GraphQLClient, api_key: str) -> None:
    body = await gql("{ applications(first: -1) { totalCount } }", key=api_key)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}


CURSOR_QUERY = "query($after: String) { applications(first: 5, after: $after) { totalCount } }"


async def test_malformed_cursor_is_refused(gql: GraphQLClient, api_key: str) -> None:
    for cursor in (
        "not a cursor!",
        encode_cursor(["only one value"]),
        encode_cursor(["2026-01-01T00:00:00+00:00", "not-a-uuid"]),
    ):
        body = await gql(CURSOR_QUERY, {"after": cursor}, key=api_key)
        assert body["data"] is None, cursor
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}


async def test_cursor_with_bad_sort_value_is_refused(gql: GraphQLClient, api_key: str) -> None:
    query = (
        "query($after: String, $order: ApplicationOrder!) {"
        " applications(first: 5, after: $after, orderBy: $order) { totalCount } }"
    )
    some_id = "00000000-0000-4000-8000-000000000000"
    for order, cursor in (
        ("APPLIED_AT_DESC", encode_cursor([1, some_id])),
        ("ENGAGEMENT_SCORE_DESC", encode_cursor(["abc", some_id])),
    ):
        body = await gql(query, {"after": cursor, "order": order}, key=api_key)
        assert body["data"] is None, order
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}


# --- masking -----------------------------------------------------------------------------


async def test_unexpected_exception_is_masked(
    gql: GraphQLClient,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(db.applications, "list_applications", boom)
    with caplog.at_level(logging.ERROR, logger="linkinsights.graphql"):
        response = await gql.post("{ applications(first: 1) { totalCount } }", key=api_key)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "Internal server error",
            "locations": [{"line": 1, "column": 3}],
            "path": ["applications"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    ]
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    # ...while the operator still gets the detail in the log.
    logged = [
        r
        for r in caplog.records
        if r.name == "linkinsights.graphql" and r.exc_info and "secret" in str(r.exc_info[1])
    ]
    assert len(logged) == 1


# --- rate limits -------------------------------------------------------------------------


async def test_rate_limit_per_key(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fixed clock 30 s into a window: the four requests share it and the retry time is exact.
    now = 1_700_000_010
    assert now % 60 == 30
    monkeypatch.setattr(graph.ratelimit, "time", types.SimpleNamespace(time=lambda: now))
    limited = settings.model_copy(update={"rate_limit_per_key_per_minute": 3})
    account = await create_account(sessionmaker, name="rate limited")
    key = await create_key(sessionmaker, account)
    other = await create_key(sessionmaker, account)
    async with running_app(limited) as client:
        headers = {"Authorization": f"Bearer {key}"}
        for _ in range(3):
            ok = await client.post("/graphql", json={"query": COUNT}, headers=headers)
            assert ok.status_code == 200
            assert ok.json() == {"data": {"applications": {"totalCount": 0}}}
        refused = await client.post("/graphql", json={"query": COUNT}, headers=headers)
        assert refused.status_code == 429
        error = refused.json()["errors"][0]
        assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 30}
        assert refused.headers["Retry-After"] == "30"
        # The limit is per key: another key of the same account still gets through.
        fresh = await client.post(
            "/graphql", json={"query": COUNT}, headers={"Authorization": f"Bearer {other}"}
        )
        assert fresh.status_code == 200


async def test_rate_limit_counts_the_hits_of_other_processes_after_a_sync(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes' limiters on one Redis: each sync adds its hits and reads the total."""
    from redis.asyncio import Redis

    from graph.ratelimit import RateLimiter

    now = 1_700_000_010
    monkeypatch.setattr(graph.ratelimit, "time", types.SimpleNamespace(time=lambda: now))
    redis = Redis.from_url(redis_url)
    bucket = f"test:{uuid.uuid4().hex}"
    first, second = RateLimiter(redis, sync_seconds=3600), RateLimiter(redis, sync_seconds=3600)
    try:
        for _ in range(3):
            first.hit(bucket=bucket, limit=5)
        await first.sync()
        second.hit(bucket=bucket, limit=5)  # 1 here; the other's 3 not heard of yet
        await second.sync()  # Redis: 4
        second.hit(bucket=bucket, limit=5)
        with pytest.raises(RateLimited) as refused:
            second.hit(bucket=bucket, limit=5)
        assert refused.value.extensions["retryAfter"] == 30
        await second.sync()  # Redis: 6 (the refused hit counts too)
        first.hit(bucket=bucket, limit=5)  # it knows of 3 + 1: the others' are heard at its sync
        await first.sync()  # Redis: 7
        with pytest.raises(RateLimited):
            first.hit(bucket=bucket, limit=5)
    finally:
        await first.aclose()
        await second.aclose()
        await redis.aclose()


async def test_rate_limit_syncs_on_its_own_and_forgets_ended_windows(redis_url: str) -> None:
    from redis.asyncio import Redis

    from graph.ratelimit import RateLimiter

    redis = Redis.from_url(redis_url)
    bucket = f"test:{uuid.uuid4().hex}"
    limiter = RateLimiter(redis, sync_seconds=0.01)
    try:
        limiter.hit(bucket=bucket, limit=100, window_seconds=1)

        async def synced() -> bool:
            return not any(w.pending for w in limiter._windows.values())

        await eventually(synced, what="the limiter's own sync")
        stored = await redis.keys(f"linkinsights:rl:{bucket}:*")
        assert [int(await redis.get(k) or 0) for k in stored] == [1]
        window = int(time.time())

        async def next_window() -> bool:
            return int(time.time()) > window

        await eventually(next_window, what="the next one-second window")
        await limiter.sync()
        assert limiter._windows == {}
    finally:
        await limiter.aclose()
        await redis.aclose()


# --- concurrency per process --------------------------------------------------------------


class HeldSummary:
    """engagementSummary's statement, patched so that the first call waits for `release`;
    `started` counts the calls that reached it."""

    def __init__(self, monkeypatch: Any) -> None:
        import db.analytics

        self.started: list[int] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        original = db.analytics.summary_counts

        async def held(*args: Any, **kwargs: Any) -> Any:
            self.started.append(len(self.started))
            self.entered.set()
            if len(self.started) == 1:
                await self.release.wait()
            return await original(*args, **kwargs)

        monkeypatch.setattr(db.analytics, "summary_counts", held)


SUMMARY_QUERY = {"query": "{ engagementSummary { totalApplications } }"}


class SlotWaits:
    """`waiting` is set when a request finds every GraphQL slot of the app taken."""

    def __init__(self, application: Starlette, monkeypatch: pytest.MonkeyPatch) -> None:
        self.waiting = asyncio.Event()
        slots = application.state.resources.slots
        assert isinstance(slots, asyncio.Semaphore)
        acquire = slots.acquire

        async def noting_acquire() -> bool:
            if slots.locked():
                self.waiting.set()
            return await acquire()

        monkeypatch.setattr(slots, "acquire", noting_acquire)


async def test_graphql_requests_beyond_the_slots_wait_their_turn(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With one slot, a second request starts only when the first has finished; both are
    answered (graph/view.py)."""
    summary = HeldSummary(monkeypatch)
    key = await create_key(sessionmaker, await create_account(sessionmaker, name="one slot"))
    headers = {"Authorization": f"Bearer {key}"}
    # The aggregate cache off: the second request must run the statement, not hit the entry.
    one_slot = settings.model_copy(
        update={"graphql_concurrency": 1, "aggregate_cache_enabled": False}
    )
    application = build_app(one_slot)
    async with running_app(settings, application) as client:
        turns = SlotWaits(application, monkeypatch)
        first = asyncio.create_task(client.post("/graphql", json=SUMMARY_QUERY, headers=headers))
        second = asyncio.create_task(client.post("/graphql", json=SUMMARY_QUERY, headers=headers))
        await asyncio.wait_for(summary.entered.wait(), timeout=10)
        # The second request reaches the slot while the first holds it, and waits there.
        await asyncio.wait_for(turns.waiting.wait(), timeout=10)
        assert summary.started == [0]
        summary.release.set()
        responses = await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
    assert summary.started == [0, 1]
    for response in responses:
        assert response.status_code == 200
        assert response.json() == {"data": {"engagementSummary": {"totalApplications": 0}}}


async def test_a_request_that_waits_too_long_for_its_turn_is_rate_limited(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An overloaded process sheds work: past GRAPHQL_QUEUE_TIMEOUT a waiting request is
    answered RATE_LIMITED with a retry time, and the slot's holder still completes."""
    summary = HeldSummary(monkeypatch)
    key = await create_key(sessionmaker, await create_account(sessionmaker, name="busy"))
    headers = {"Authorization": f"Bearer {key}"}
    busy = settings.model_copy(
        update={
            "graphql_concurrency": 1,
            "graphql_queue_timeout": 0.2,
            "aggregate_cache_enabled": False,
        }
    )
    async with running_app(busy) as client:
        first = asyncio.create_task(client.post("/graphql", json=SUMMARY_QUERY, headers=headers))
        await asyncio.wait_for(summary.entered.wait(), timeout=10)
        turned_away = await client.post("/graphql", json=COUNT_QUERY, headers=headers)
        summary.release.set()
        answered = await asyncio.wait_for(first, timeout=10)
        after = await client.post("/graphql", json=COUNT_QUERY, headers=headers)
    assert turned_away.status_code == 429
    assert turned_away.headers["Retry-After"] == "1"
    assert turned_away.json()["errors"][0]["extensions"] == {
        "code": "RATE_LIMITED",
        "retryAfter": 1,
    }
    assert answered.status_code == 200
    assert after.status_code == 200  # the slot was given back
