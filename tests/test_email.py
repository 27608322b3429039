"""Email engagement (issue 17): the open pixel, provider events, machine verdicts, the email
analytics against a hand-computed fixture, tenancy and GDPR delete."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from conftest import flushed
from factories import (
    AppSpec,
    create_account,
    create_account_with_key,
    create_applications,
    create_contact,
    create_email_event,
    create_key,
)
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.routing import Route

from db.email import PixelOpen, reclassify_contacts, undeliverable_event_sql
from domain.email import undeliverable_reason
from domain.ids import uuid7
from graph.pixel import GIF, Pixel
from jobs.click_stream import ClickAppender, decode_entry
from jobs.reclassify import reclassify_email_events
from jobs.spool import Spool

CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
T = "2026-01-05T10:00:00+00:00"

CREATE_APP = "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }"
ADD_CONTACT = """mutation($i: AddApplicationContactInput!) {
  addApplicationContact(input: $i) { id } }"""
TRACKING_ID = """mutation($i: CreateEmailTrackingIdInput!) {
  createEmailTrackingId(input: $i) { id emailTrackingId openPixelUrl } }"""
RECORD = """mutation($i: RecordEmailEventInput!) {
  recordEmailEvent(input: $i) {
    id eventType eventData isMachine machineReason providerEventId } }"""
DELETE = """mutation($i: DeleteApplicationInput!) {
  deleteApplication(input: $i) { contacts emailEvents } }"""
FIGURES = """contacts sent delivered opened totalOpens clicked totalClicks machineOpens
  machineClicks bounced bouncedHard bouncedSoft unsubscribed spamReported
  openRate { percent low high successes sampleSize }
  clickRate { percent low high successes sampleSize }
  bounceRate { percent low high successes sampleSize }
  medianHoursToFirstOpen firstOpensTimed"""
ACCOUNT = (
    "query($f: AnalyticsFilter, $m: Int!) { emailAnalytics(filter: $f, minClicks: $m) {"
    f" summary {{ {FIGURES} }} mostClickedLinks {{ url clicks uniqueClicks }}"
    " mostEngagedContacts { contact { id } opens clicks } } }"
)
APPLICATION = (
    "query($id: ID!) { application(id: $id) {"
    f" emailAnalytics {{ {FIGURES} }}"
    " contacts { id undeliverable undeliverableReason"
    "   emailAnalytics { opened totalOpens clicked machineOpens medianHoursToFirstOpen } } } }"
)


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def error(body: dict[str, Any]) -> tuple[str, str | None, str]:
    assert body.get("errors"), body
    err = body["errors"][0]
    return err["extensions"]["code"], err["extensions"].get("field"), err["message"]


class Api:
    def __init__(self, gql: Any, key: str) -> None:
        self.gql = gql
        self.key = key

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        body: dict[str, Any] = await self.gql(query, variables, key=self.key)
        return body

    async def application(self, status: str = "APPLIED") -> str:
        body = await self(CREATE_APP, i={"appliedAt": "2026-01-05T09:00:00Z", "status": status})
        return str(data(body)["createApplication"]["id"])

    async def contact(self, app_id: str, email: str = "r@acme.example") -> str:
        body = await self(ADD_CONTACT, i={"applicationId": app_id, "email": email})
        return str(data(body)["addApplicationContact"]["id"])

    async def event(self, contact_id: str, kind: str, at: str = T, **extra: Any) -> dict[str, Any]:
        body = await self(
            RECORD, i={"contactId": contact_id, "eventType": kind, "eventTimestamp": at, **extra}
        )
        return dict(data(body)["recordEmailEvent"])


@pytest.fixture
async def api(gql: Any, api_key: str) -> Api:
    return Api(gql, api_key)


@pytest.fixture
async def other(gql: Any, sessionmaker: async_sessionmaker[AsyncSession]) -> Api:
    return Api(
        gql, await create_key(sessionmaker, await create_account(sessionmaker, name="Someone else"))
    )


def at(seconds: float) -> str:
    return (datetime.fromisoformat(T) + timedelta(seconds=seconds)).isoformat()


async def events_of(sessionmaker: async_sessionmaker[AsyncSession], contact_id: str) -> list[Any]:
    async with sessionmaker() as s:
        result = await s.execute(
            text(
                "SELECT event_type, host(ip_address) AS ip, user_agent, is_machine,"
                " machine_reason, event_data FROM engagement_tracking"
                " WHERE campaign_contact_id = :c ORDER BY event_timestamp, id"
            ),
            {"c": uuid.UUID(contact_id)},
        )
        return list(result)


# --- the pixel -------------------------------------------------------------------------------


def _gif_size_and_transparency(body: bytes) -> tuple[int, int, bool]:
    assert body[:6] == b"GIF89a"
    width = int.from_bytes(body[6:8], "little")
    height = int.from_bytes(body[8:10], "little")
    # the graphic control extension: 0x21 0xF9, block size 4, flags (bit 0: transparent)
    gce = body.index(b"\x21\xf9\x04")
    return width, height, bool(body[gce + 3] & 1)


async def test_pixel_answers_a_transparent_gif_and_records_a_human_open(
    api: Api, client: httpx.AsyncClient, sessionmaker: Any, app: Starlette
) -> None:
    contact = await api.contact(await api.application())
    made = data(await api(TRACKING_ID, i={"contactId": contact}))["createEmailTrackingId"]
    tid = made["emailTrackingId"]
    assert tid.startswith("eo_")
    assert len(tid) == 27
    assert made["openPixelUrl"].endswith(f"/o/{tid}.gif")
    again = data(await api(TRACKING_ID, i={"contactId": contact}))["createEmailTrackingId"]
    assert again["emailTrackingId"] == tid  # a contact keeps its id

    response = await client.get(f"/o/{tid}.gif", headers={"user-agent": CHROME})
    assert response.status_code == 200
    assert response.content == GIF
    assert len(GIF) == 43
    assert _gif_size_and_transparency(response.content) == (1, 1, True)
    assert response.headers["content-type"] == "image/gif"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-length"] == "43"

    await flushed(app)  # through the click pipeline's stream and flusher
    [row] = await events_of(sessionmaker, contact)
    assert (row.event_type, row.ip, row.user_agent) == ("opened", "203.0.113.7", CHROME)
    assert (row.is_machine, row.machine_reason) == (False, None)


async def test_pixel_unknown_or_malformed_id_is_the_same_gif_and_records_nothing(
    api: Api, client: httpx.AsyncClient, sessionmaker: Any, app: Starlette
) -> None:
    contact = await api.contact(await api.application())
    data(await api(TRACKING_ID, i={"contactId": contact}))
    known = (await client.get("/o/eo_000000000000000000000000.gif")).headers
    for path in ("/o/eo_000000000000000000000000.gif", "/o/a.b.gif", f"/o/{'x' * 300}.gif"):
        response = await client.get(path, headers={"user-agent": CHROME})
        assert response.status_code == 200, path
        assert response.content == GIF
        assert response.headers["cache-control"] == known["cache-control"]
    await flushed(app)
    assert await events_of(sessionmaker, contact) == []
    async with sessionmaker() as s:
        stray = await s.scalar(
            # The probed ids exactly: in LIKE '_' matches any character, so 'eo_0000%' also
            # matched other tests' random pixel ids (a fresh-clone run failed on one).
            text(
                "SELECT count(*) FROM engagement_tracking"
                " WHERE tracking_id = ANY(ARRAY['eo_000000000000000000000000', 'a.b', :long])"
            ),
            {"long": "x" * 300},
        )
    assert stray == 0


async def test_pixel_head_request_answers_headers_and_records_nothing(
    api: Api, client: httpx.AsyncClient, sessionmaker: Any, app: Starlette
) -> None:
    contact = await api.contact(await api.application())
    tid = data(await api(TRACKING_ID, i={"contactId": contact}))["createEmailTrackingId"][
        "emailTrackingId"
    ]
    response = await client.head(f"/o/{tid}.gif", headers={"user-agent": CHROME})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.headers["cache-control"] == "no-store"
    await flushed(app)
    assert await events_of(sessionmaker, contact) == []  # a probe, not an open


async def test_pixel_with_dnt_counts_without_ip_and_user_agent_but_keeps_the_verdict(
    api: Api, client: httpx.AsyncClient, sessionmaker: Any, app: Starlette
) -> None:
    contact = await api.contact(await api.application())
    tid = data(await api(TRACKING_ID, i={"contactId": contact}))["createEmailTrackingId"][
        "emailTrackingId"
    ]
    await client.get(f"/o/{tid}.gif", headers={"user-agent": CHROME, "dnt": "1"})
    await client.get(f"/o/{tid}.gif", headers={"user-agent": "Mozilla/5.0", "dnt": "1"})
    await flushed(app)
    rows = await events_of(sessionmaker, contact)
    assert [(r.ip, r.user_agent) for r in rows] == [(None, None), (None, None)]
    assert sorted((r.is_machine, r.machine_reason) for r in rows) == [
        (False, None),
        (True, "apple_mpp_user_agent"),
    ]
    assert all(r.event_data == {"source": "pixel", "dnt": True} for r in rows)


async def test_pixel_open_is_spooled_while_redis_is_down(tmp_path: Path) -> None:
    # Redis on a closed port: the open goes to the spool file (replayed into the stream when
    # Redis answers), and the image is answered all the same, without PostgreSQL.
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    spool = Spool(tmp_path)
    appender = ClickAppender(redis, spool, stream="linkinsights-test-pixel", timeout=0.2)
    await appender.start()
    pixel = Pixel()
    pixel.appender = appender
    app = Starlette(routes=[Route("/o/{tracking_id}.gif", pixel.endpoint)])
    try:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.8", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            response = await c.get("/o/eo_abc.gif", headers={"user-agent": CHROME})
        assert response.status_code == 200
        assert response.content == GIF
        lines: list[bytes] = []

        async def take(batch: Sequence[bytes]) -> None:
            lines.extend(batch)

        assert spool.has_data()
        await spool.replay(take)
        [entry] = [decode_entry(line) for line in lines]
        assert isinstance(entry, PixelOpen)
        assert (entry.tracking_id, entry.ip_address, entry.user_agent) == (
            "eo_abc",
            "198.51.100.8",
            CHROME,
        )
    finally:
        await appender.close()
        await redis.aclose()


async def test_the_flusher_stores_an_open_entry_once(
    api: Api, sessionmaker: Any, app: Starlette
) -> None:
    contact = await api.contact(await api.application())
    tid = data(await api(TRACKING_ID, i={"contactId": contact}))["createEmailTrackingId"][
        "emailTrackingId"
    ]
    entry = PixelOpen(
        event_id=uuid7(),
        tracking_id=tid,
        opened_at=datetime.now(UTC),
        user_agent=CHROME,
        ip_address="192.0.2.1",
        is_machine=False,
        machine_reason=None,
        dnt=False,
    )
    appender = app.state.resources.clicks
    # Delivered twice (a timed-out append that did land, then spooled): stored once.
    assert await appender.append_open(entry) == "stream"
    assert await appender.append_open(entry) == "stream"
    await flushed(app)
    [row] = await events_of(sessionmaker, contact)
    assert (row.event_type, row.ip, row.user_agent) == ("opened", "192.0.2.1", CHROME)


# --- provider events ---------------------------------------------------------------------------


async def test_provider_events_are_idempotent_on_their_id(api: Api, sessionmaker: Any) -> None:
    contact = await api.contact(await api.application())
    first = await api.event(contact, "DELIVERED", providerEventId="sg-123")
    again = await api.event(contact, "DELIVERED", at(60), providerEventId="sg-123")
    assert again == first
    assert first["providerEventId"] == "sg-123"
    bounce = await api.event(contact, "BOUNCED", bounceType="SOFT", providerEventId="sg-124")
    assert bounce["eventData"] == {"bounce_type": "soft"}
    assert (
        await api.event(contact, "BOUNCED", bounceType="SOFT", providerEventId="sg-124") == bounce
    )
    # Without a provider id every call is a new event.
    await api.event(contact, "OPENED", at(3600), userAgent=CHROME)
    await api.event(contact, "OPENED", at(3600), userAgent=CHROME)
    kinds = [r.event_type for r in await events_of(sessionmaker, contact)]
    assert sorted(kinds) == ["bounced", "delivered", "opened", "opened"]


async def test_bounce_needs_a_type(api: Api) -> None:
    contact = await api.contact(await api.application())
    body = await api(RECORD, i={"contactId": contact, "eventType": "BOUNCED"})
    assert error(body)[:2] == ("BAD_USER_INPUT", "bounceType")
    body = await api(RECORD, i={"contactId": contact, "eventType": "OPENED", "bounceType": "HARD"})
    assert error(body)[:2] == ("BAD_USER_INPUT", "bounceType")
    hard = await api.event(
        contact, "BOUNCED", eventData={"bounce_type": "hard", "bounce_reason": "no_mailbox"}
    )
    assert hard["eventData"] == {"bounce_type": "hard", "bounce_reason": "no_mailbox"}


async def test_a_late_delivery_flags_an_open_recorded_before_it(
    api: Api, sessionmaker: Any
) -> None:
    contact = await api.contact(await api.application())
    opened = await api.event(contact, "OPENED", at(3), userAgent=CHROME)
    assert (opened["isMachine"], opened["machineReason"]) == (False, None)
    await api.event(contact, "DELIVERED", at(0))
    rows = await events_of(sessionmaker, contact)
    assert [(r.event_type, r.is_machine, r.machine_reason) for r in rows] == [
        ("delivered", False, None),
        ("opened", True, "opened_at_delivery"),
    ]


# --- the hand-computed fixture -------------------------------------------------------------------


@pytest.fixture
async def fixture(api: Api) -> dict[str, str]:
    """Two applications, six contacts, humans and machines mixed (figures in the tests)."""
    app_a = await api.application()
    app_b = await api.application(status="INTERVIEW")
    a1, a2, a3 = [await api.contact(app_a, f"a{i}@acme.example") for i in (1, 2, 3)]
    b1, b2, b3 = [await api.contact(app_b, f"b{i}@acme.example") for i in (1, 2, 3)]
    x, y = "https://x.example/job", "https://y.example/cal"
    # a1: a prefetch at delivery, two human opens, one human click on x.
    await api.event(a1, "DELIVERED", at(0))
    await api.event(a1, "OPENED", at(5), userAgent=CHROME)
    await api.event(a1, "OPENED", at(7200), userAgent=CHROME, ipAddress="198.51.100.4")
    await api.event(a1, "OPENED", at(10800), userAgent=CHROME)
    await api.event(a1, "CLICKED", at(7230), clickedUrl=x, userAgent=CHROME)
    # a2: only Apple Mail Privacy Protection.
    await api.event(a2, "DELIVERED", at(0))
    await api.event(a2, "OPENED", at(60), userAgent="Mozilla/5.0", ipAddress="17.58.1.2")
    # a3: a hard bounce.
    await api.event(a3, "BOUNCED", at(0), bounceType="HARD")
    # b1: a human open after 4 h, then a scanner opening and clicking both links in 3 s.
    await api.event(b1, "DELIVERED", at(0))
    await api.event(b1, "OPENED", at(14400), userAgent=CHROME)
    await api.event(b1, "OPENED", at(18000), userAgent=CHROME, ipAddress="192.0.2.9")
    await api.event(b1, "CLICKED", at(18001), clickedUrl=x, ipAddress="192.0.2.9")
    await api.event(b1, "CLICKED", at(18003), clickedUrl=y, ipAddress="192.0.2.9")
    # b2: a soft bounce, delivered on retry, opened through Gmail's proxy, then unsubscribed.
    await api.event(b2, "BOUNCED", at(0), bounceType="SOFT")
    await api.event(b2, "DELIVERED", at(3600))
    await api.event(b2, "OPENED", at(5400), userAgent=GMAIL)
    await api.event(b2, "UNSUBSCRIBED", at(7200))
    # b3: delivered, reported as spam.
    await api.event(b3, "DELIVERED", at(0))
    await api.event(b3, "SPAM_REPORTED", at(86400))
    return {"A": app_a, "B": app_b, "a1": a1, "a2": a2, "a3": a3, "b1": b1, "b2": b2, "b3": b3}


def rate(
    percent: float | None, low: float | None, high: float | None, k: int, n: int
) -> dict[str, Any]:
    return {"percent": percent, "low": low, "high": high, "successes": k, "sampleSize": n}


# Wilson 95% intervals, by hand: centre (p + z²/2n) / (1 + z²/n), half-width
# z sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n), z = 1.96; in percent, two places.
ACCOUNT_FIGURES = {
    "contacts": 6,
    "sent": 6,  # every contact was delivered or bounced
    "delivered": 5,  # all but a3
    "opened": 2,  # a1, b1 (human opens)
    "totalOpens": 3,  # a1 twice, b1 once
    "clicked": 1,  # a1
    "totalClicks": 1,
    "machineOpens": 4,  # a1 at delivery, a2 Apple, b1 scanner, b2 Gmail proxy
    "machineClicks": 2,  # b1 scanner
    "bounced": 2,
    "bouncedHard": 1,
    "bouncedSoft": 1,
    "unsubscribed": 1,
    "spamReported": 1,
    "openRate": rate(40.0, 11.76, 76.93, 2, 5),
    "clickRate": rate(20.0, 3.62, 62.45, 1, 5),
    "bounceRate": rate(33.33, 9.68, 70.0, 2, 6),
    "medianHoursToFirstOpen": 3.0,  # a1 after 2 h, b1 after 4 h
    "firstOpensTimed": 2,
}


async def test_account_figures_count_humans_only(api: Api, fixture: dict[str, str]) -> None:
    body = data(await api(ACCOUNT, m=1))["emailAnalytics"]
    assert body["summary"] == ACCOUNT_FIGURES
    # Seed 004 "most clicked links": y was only clicked by the scanner.
    assert body["mostClickedLinks"] == [
        {"url": "https://x.example/job", "clicks": 1, "uniqueClicks": 1}
    ]
    assert body["mostEngagedContacts"] == [
        {"contact": {"id": fixture["a1"]}, "opens": 2, "clicks": 1}
    ]
    # The seed's threshold (3 clicks): nobody.
    assert data(await api(ACCOUNT, m=3))["emailAnalytics"]["mostEngagedContacts"] == []


async def test_account_figures_follow_the_filter(api: Api, fixture: dict[str, str]) -> None:
    body = data(await api(ACCOUNT, m=1, f={"status": "INTERVIEW"}))["emailAnalytics"]["summary"]
    assert (body["contacts"], body["delivered"], body["opened"], body["clicked"]) == (3, 3, 1, 0)
    assert body["openRate"] == rate(33.33, 6.15, 79.23, 1, 3)
    body = data(await api(ACCOUNT, m=1, f={"startDate": "2027-01-01T00:00:00Z"}))
    assert body["emailAnalytics"]["summary"]["contacts"] == 0
    assert body["emailAnalytics"]["summary"]["openRate"] == rate(None, None, None, 0, 0)


async def test_application_and_contact_figures(api: Api, fixture: dict[str, str]) -> None:
    a = data(await api(APPLICATION, id=fixture["A"]))["application"]
    figures = a["emailAnalytics"]
    assert (figures["contacts"], figures["sent"], figures["delivered"]) == (3, 3, 2)
    assert (figures["opened"], figures["totalOpens"], figures["machineOpens"]) == (1, 2, 2)
    assert figures["openRate"] == rate(50.0, 9.45, 90.55, 1, 2)
    assert figures["clickRate"] == rate(50.0, 9.45, 90.55, 1, 2)
    assert figures["bounceRate"] == rate(33.33, 6.15, 79.23, 1, 3)
    assert figures["medianHoursToFirstOpen"] == 2.0
    contacts = {c["id"]: c for c in a["contacts"]}
    assert contacts[fixture["a1"]]["emailAnalytics"] == {
        "opened": 1,
        "totalOpens": 2,
        "clicked": 1,
        "machineOpens": 1,
        "medianHoursToFirstOpen": 2.0,
    }
    assert contacts[fixture["a2"]]["emailAnalytics"]["opened"] == 0
    assert [(c["undeliverable"], c["undeliverableReason"]) for c in a["contacts"]] == [
        (False, None),
        (False, None),
        (True, "hard_bounce"),
    ]
    b = data(await api(APPLICATION, id=fixture["B"]))["application"]
    assert [c["undeliverableReason"] for c in b["contacts"]] == [
        None,
        "unsubscribed",
        "spam_reported",
    ]
    assert b["emailAnalytics"]["machineClicks"] == 2
    assert b["emailAnalytics"]["medianHoursToFirstOpen"] == 4.0


async def test_machine_verdicts_are_kept_with_their_reason(
    api: Api, fixture: dict[str, str], sessionmaker: Any
) -> None:
    def verdicts(rows: list[Any]) -> list[tuple[str, bool, str | None]]:
        return [(r.event_type, r.is_machine, r.machine_reason) for r in rows]

    assert verdicts(await events_of(sessionmaker, fixture["a1"])) == [
        ("delivered", False, None),
        ("opened", True, "opened_at_delivery"),
        ("opened", False, None),
        ("clicked", False, None),
        ("opened", False, None),
    ]
    assert verdicts(await events_of(sessionmaker, fixture["a2"]))[1] == (
        "opened",
        True,
        "apple_mpp_user_agent",
    )
    assert verdicts(await events_of(sessionmaker, fixture["b1"]))[2:] == [
        ("opened", True, "scanner_burst"),
        ("clicked", True, "scanner_burst"),
        ("clicked", True, "scanner_burst"),
    ]
    assert verdicts(await events_of(sessionmaker, fixture["b2"]))[2] == (
        "opened",
        True,
        "gmail_image_proxy",
    )


# --- tenancy and GDPR ----------------------------------------------------------------------------


async def test_another_accounts_contact_answers_like_a_missing_one(
    api: Api, other: Api, fixture: dict[str, str], client: httpx.AsyncClient
) -> None:
    theirs = fixture["a1"]
    missing = str(uuid.uuid4())
    for query, extra in ((RECORD, {"eventType": "DELIVERED"}), (TRACKING_ID, {})):
        foreign = error(await other(query, i={"contactId": theirs, **extra}))
        absent = error(await other(query, i={"contactId": missing, **extra}))
        assert foreign[:2] == absent[:2] == ("BAD_USER_INPUT", "contactId")
        assert foreign[2].replace(theirs, missing) == absent[2]
    assert data(await other(APPLICATION, id=fixture["A"]))["application"] is None
    summary = data(await other(ACCOUNT, m=1))["emailAnalytics"]["summary"]
    assert (summary["contacts"], summary["opened"]) == (0, 0)


async def test_gdpr_delete_removes_the_email_events(
    api: Api,
    fixture: dict[str, str],
    client: httpx.AsyncClient,
    sessionmaker: Any,
    app: Starlette,
) -> None:
    tid = data(await api(TRACKING_ID, i={"contactId": fixture["a1"]}))["createEmailTrackingId"][
        "emailTrackingId"
    ]
    await client.get(f"/o/{tid}.gif", headers={"user-agent": CHROME})
    await flushed(app)
    removed = data(await api(DELETE, i={"applicationId": fixture["A"]}))["deleteApplication"]
    assert removed == {"contacts": 3, "emailEvents": 9}  # a1 5 + the pixel open, a2 2, a3 1
    for contact in ("a1", "a2", "a3"):
        assert await events_of(sessionmaker, fixture[contact]) == []
    assert len(await events_of(sessionmaker, fixture["b1"])) == 5
    # The pixel of a deleted contact is a GIF like any unknown one, and records nothing.
    response = await client.get(f"/o/{tid}.gif")
    assert response.content == GIF
    await flushed(app)
    assert await events_of(sessionmaker, fixture["a1"]) == []


# --- no N+1 --------------------------------------------------------------------------------------

PAGE = """{ applications(first: 100) { edges { node {
  emailAnalytics { opened openRate { percent } }
  contacts { undeliverable emailAnalytics { opened totalOpens } }
} } } }"""


async def _page_statements(
    gql: Any, sessionmaker: Any, count_statements: Any, app: Any, n: int
) -> int:
    account_id, key = await create_account_with_key(sessionmaker)
    t0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
    async with sessionmaker() as s, s.begin():
        ids = await create_applications(
            s,
            account_id,
            [
                AppSpec(t0 + timedelta(hours=i), functions=("LinkedIn", "Calendly", "Portfolio"))
                for i in range(n)
            ],
        )
        for app_id in ids:
            for k in range(2):
                contact = await create_contact(
                    s, app_id, email=f"c{k}@acme.example", name=None, role=None
                )
                await create_email_event(s, contact, "opened", event_timestamp=t0)
                last = "delivered" if k == 0 else "unsubscribed"
                await create_email_event(s, contact, last, event_timestamp=t0)
    await gql("{ applications(first: 1) { totalCount } }", key=key)
    await app.state.resources.key_usage.flush()
    before = count_statements.count
    body = await gql(PAGE, key=key)
    assert "errors" not in body, body
    edges = body["data"]["applications"]["edges"]
    assert len(edges) == n
    for edge in edges:
        node = edge["node"]
        assert node["emailAnalytics"] == {"opened": 2, "openRate": {"percent": 100.0}}
        assert sorted(c["undeliverable"] for c in node["contacts"]) == [False, True]
        assert all(c["emailAnalytics"]["totalOpens"] == 1 for c in node["contacts"])
    return int(count_statements.count - before)


async def test_nested_email_fields_do_not_grow_with_the_page(
    gql: Any, sessionmaker: Any, count_statements: Any, app: Any
) -> None:
    small = await _page_statements(gql, sessionmaker, count_statements, app, 3)
    large = await _page_statements(gql, sessionmaker, count_statements, app, 12)
    assert large == small, count_statements.statements[-large:]
    # key, page, contacts, then one batch each: application figures, contact figures,
    # deliverability (each in a session of its own: BEGIN/ROLLBACK are not counted).
    assert small <= 8, count_statements.statements[-small:]


async def test_reclassify_applies_the_rules_to_rows_inserted_directly(
    api: Api, sessionmaker: Any
) -> None:
    contact = await api.contact(await api.application())
    async with sessionmaker() as s, s.begin():
        # A direct database integration (seed 002): no verdicts written.
        t, c = datetime.fromisoformat(T), uuid.UUID(contact)
        await create_email_event(s, c, "delivered", event_timestamp=t)
        await create_email_event(s, c, event_timestamp=t + timedelta(seconds=4), user_agent=CHROME)
        await create_email_event(s, c, event_timestamp=t + timedelta(hours=1), user_agent=GMAIL)
        await create_email_event(s, c, event_timestamp=t + timedelta(hours=2), user_agent=CHROME)
    examined, changed = await reclassify_email_events(sessionmaker)
    assert examined >= 1
    assert changed >= 2
    rows = await events_of(sessionmaker, contact)
    assert [(r.is_machine, r.machine_reason) for r in rows] == [
        (False, None),
        (True, "opened_at_delivery"),
        (True, "gmail_image_proxy"),
        (False, None),
    ]
    # Nothing left to change.
    async with sessionmaker() as s, s.begin():
        assert await reclassify_contacts(s, [uuid.UUID(contact)]) == 0


async def test_the_undeliverable_sql_agrees_with_the_domain_rule(db_sessions: Any) -> None:

    cases = [
        ("bounced", {"bounce_type": "hard", "bounce_reason": "mailbox_does_not_exist"}),
        ("bounced", {"bounce_type": "soft"}),
        ("bounced", None),
        ("bounced", {}),
        ("spam_reported", None),
        ("unsubscribed", {"source": "list-unsubscribe"}),
        ("opened", {"bounce_type": "hard"}),
        ("delivered", None),
        ("clicked", None),
    ]
    async with db_sessions() as s:
        for kind, event_data in cases:
            found = await s.scalar(
                text(
                    f"SELECT {undeliverable_event_sql('e')} FROM (SELECT CAST(:k AS text)"
                    " AS event_type, CAST(:d AS jsonb) AS event_data) e"
                ),
                {"k": kind, "d": None if event_data is None else orjson.dumps(event_data).decode()},
            )
            assert bool(found) is (undeliverable_reason(kind, event_data) is not None), kind
