"""GET /track/{id} end to end (SPEC §3): the stored click, bot verdicts with reasons, sources,
UTM, DNT, cookies, 404s, HEAD, the redirect target, concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from conftest import GraphQLClient, flushed
from sqlalchemy import text
from starlette.applications import Starlette

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

CREATE_APP = "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }"
CREATE_LINK = """mutation($i: CreateTrackedLinkInput!) {
  createTrackedLink(input: $i) { trackingId redirectUrl originalUrl } }"""
DEACTIVATE = """mutation($i: DeactivateTrackedLinkInput!) {
  deactivateTrackedLink(input: $i) { trackingId isActive } }"""


async def hit(
    app: Starlette,
    tracking_id: str,
    *,
    ip: str = "203.0.113.7",
    method: str = "GET",
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    query: str = "",
) -> httpx.Response:
    """One request from a fresh client (no cookie jar carried between calls)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", cookies=cookies
    ) as c:
        return await c.request(
            method,
            f"/track/{tracking_id}{query}",
            headers={"user-agent": CHROME, **(headers or {})},
        )


class Fixture:
    def __init__(self, gql: Any, key: str) -> None:
        self.gql = gql
        self.key = key

    async def application(self) -> str:
        body = await self.gql(CREATE_APP, {"i": {}}, key=self.key)
        return str(body["data"]["createApplication"]["id"])

    async def link(self, app_id: str | None, url: str, function: str = "LinkedIn") -> str:
        body = await self.gql(
            CREATE_LINK,
            {
                "i": {
                    "applicationId": app_id,
                    "linkFunction": function,
                    "linkType": "profile",
                    "originalUrl": url,
                }
            },
            key=self.key,
        )
        return str(body["data"]["createTrackedLink"]["trackingId"])


@pytest.fixture
async def fx(gql: Any, api_key: str) -> Fixture:
    return Fixture(gql, api_key)


async def clicks_of(app: Starlette, sessionmaker: Any, tracking_id: str) -> list[dict[str, Any]]:
    await flushed(app)
    async with sessionmaker() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT click_id, host(ip_address) AS ip, user_agent, referrer_url, session_id,"
                    " click_source, metadata, is_bot, bot_reason, request_method"
                    " FROM link_clicks WHERE tracking_id = :t ORDER BY clicked_at, click_id"
                ),
                {"t": tracking_id},
            )
        ).mappings()
        return [dict(r) for r in rows]


async def test_redirect_stores_one_click_and_sets_the_session_cookie(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    app_id = await fx.application()
    tid = await fx.link(app_id, "https://www.linkedin.com/in/alex")
    response = await hit(
        app, tid, headers={"referer": "https://mail.google.com/mail/u/0/#inbox"}, ip="198.51.100.4"
    )
    assert response.status_code == 302
    assert response.headers["location"] == "https://www.linkedin.com/in/alex"
    cookie = response.headers["set-cookie"]
    sid = response.cookies["li_sid"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Max-Age=31536000" in cookie
    assert len(sid) >= 16
    [row] = await clicks_of(app, sessionmaker, tid)
    assert row["ip"] == "198.51.100.4"
    assert row["user_agent"] == CHROME
    assert row["referrer_url"] == "https://mail.google.com/mail/u/0/#inbox"
    assert row["session_id"] == sid
    assert row["click_source"] == "email"
    assert row["is_bot"] is False
    assert row["bot_reason"] is None
    assert row["request_method"] == "GET"
    assert row["metadata"] == {"session_new": True}

    # The same browser again: the cookie is reused, not set again, and is a known session.
    again = await hit(app, tid, cookies={"li_sid": sid}, ip="198.51.100.4")
    assert again.status_code == 302
    assert "set-cookie" not in again.headers
    rows = await clicks_of(app, sessionmaker, tid)
    assert len(rows) == 2
    assert rows[1]["session_id"] == sid
    assert rows[1]["metadata"] == {}


async def test_track_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/track/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(
    ("referrer", "source"),
    [
        (None, "direct"),
        ("https://mail.google.com/", "email"),
        ("https://outlook.live.com/mail/0/inbox", "email"),
        ("https://www.linkedin.com/feed/", "linkedin"),
        ("https://uk.indeed.com/jobs", "indeed"),
        ("https://news.ycombinator.com/", "external"),
        ("https://evil.io/?r=gmail.com", "external"),
    ],
)
async def test_click_source_from_the_referrer(
    app: Starlette, fx: Fixture, sessionmaker: Any, referrer: str | None, source: str
) -> None:
    tid = await fx.link(None, "https://alex.dev")
    headers = {"referer": referrer} if referrer else {}
    assert (await hit(app, tid, headers=headers)).status_code == 302
    [row] = await clicks_of(app, sessionmaker, tid)
    assert row["click_source"] == source
    assert row["is_bot"] is False


async def test_utm_parameters_go_into_metadata(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    tid = await fx.link(None, "https://alex.dev/")
    response = await hit(
        app,
        tid,
        query="?utm_source=newsletter&utm_medium=email&utm_campaign=spring&ref=x&utm_term=",
        cookies={"li_sid": "a" * 22},
    )
    assert response.status_code == 302
    assert response.headers["location"] == "https://alex.dev/"
    [row] = await clicks_of(app, sessionmaker, tid)
    assert row["metadata"] == {
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "spring",
    }


async def test_redirect_goes_only_to_the_stored_url(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    tid = await fx.link(None, "https://calendly.com/alex/30min")
    response = await hit(
        app, tid, query="?url=https://evil.example&next=https://evil.example&redirect=//evil"
    )
    assert response.status_code == 302
    assert response.headers["location"] == "https://calendly.com/alex/30min"
    assert len(await clicks_of(app, sessionmaker, tid)) == 1


async def test_dnt_counts_the_click_without_ip_user_agent_or_new_cookie(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    tid = await fx.link(None, "https://alex.dev")
    response = await hit(app, tid, headers={"dnt": "1", "referer": "https://www.linkedin.com/"})
    assert response.status_code == 302
    assert "set-cookie" not in response.headers
    [row] = await clicks_of(app, sessionmaker, tid)
    assert row["ip"] is None
    assert row["user_agent"] is None
    assert row["session_id"] is None
    assert row["click_source"] == "linkedin"
    assert row["metadata"] == {"dnt": True}
    assert row["is_bot"] is False


async def test_dnt_crawler_keeps_its_verdict(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    tid = await fx.link(None, "https://alex.dev")
    response = await hit(app, tid, headers={"dnt": "1", "user-agent": "Googlebot/2.1"})
    assert response.status_code == 302
    [row] = await clicks_of(app, sessionmaker, tid)
    assert (row["user_agent"], row["is_bot"], row["bot_reason"]) == (
        None,
        True,
        "crawler_user_agent",
    )


async def _count_clicks(sessionmaker: Any) -> int:
    async with sessionmaker() as s:
        return int((await s.execute(text("SELECT count(*) FROM link_clicks"))).scalar_one())


async def test_unknown_id_is_a_bare_404_and_stores_nothing(
    app: Starlette, sessionmaker: Any
) -> None:
    before = await _count_clicks(sessionmaker)
    response = await hit(app, "lt_000000000000")
    long = await hit(app, "lt_" + "x" * 200)
    assert response.status_code == 404
    assert response.text == "Not Found"
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers
    assert long.status_code == 404
    assert await _count_clicks(sessionmaker) == before


async def test_inactive_link_is_404_like_an_unknown_one(
    app: Starlette, fx: Fixture, gql: GraphQLClient, api_key: str, sessionmaker: Any
) -> None:
    tid = await fx.link(None, "https://alex.dev")
    body = await gql(DEACTIVATE, {"i": {"trackingId": tid}}, key=api_key)
    assert body["data"]["deactivateTrackedLink"] == {"trackingId": tid, "isActive": False}
    response = await hit(app, tid)
    unknown = await hit(app, "lt_ffffffffffff")
    assert response.status_code == 404

    def shape(r: httpx.Response) -> tuple[str, dict[str, str]]:
        return r.text, {k: v for k, v in r.headers.items() if k != "x-request-id"}

    assert shape(response) == shape(unknown)
    assert await clicks_of(app, sessionmaker, tid) == []


async def test_head_redirects_and_is_stored_as_a_bot(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    tid = await fx.link(None, "https://alex.dev/cv")
    response = await hit(app, tid, method="HEAD")
    assert response.status_code == 302
    assert response.headers["location"] == "https://alex.dev/cv"
    [row] = await clicks_of(app, sessionmaker, tid)
    assert (row["is_bot"], row["bot_reason"], row["request_method"]) == (
        True,
        "head_request",
        "HEAD",
    )


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
         "crawler_user_agent"),
        ({"user-agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"},
         "crawler_user_agent"),
        ({"user-agent": "python-requests/2.32.3"}, "crawler_user_agent"),
        ({"referer": "https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fx"},
         "email_security_scanner"),
        ({"referer": "https://urldefense.proofpoint.com/v2/url?u=https-3A__x"},
         "email_security_scanner"),
    ],
)  # fmt: skip
async def test_bot_rules_are_kept_with_their_reason(
    app: Starlette, fx: Fixture, sessionmaker: Any, headers: Any, reason: str
) -> None:
    tid = await fx.link(None, "https://alex.dev")
    response = await hit(app, tid, headers=headers)
    assert response.status_code == 302
    [row] = await clicks_of(app, sessionmaker, tid)
    assert (row["is_bot"], row["bot_reason"]) == (True, reason)


async def _verdicts(
    app: Starlette, sessionmaker: Any, tids: list[str]
) -> list[tuple[str, bool, str | None]]:
    out = []
    for tid in tids:
        out += [
            (tid, r["is_bot"], r["bot_reason"]) for r in await clicks_of(app, sessionmaker, tid)
        ]
    return out


async def test_scanner_burst_flags_every_click_the_first_too(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    app_id = await fx.application()
    tids = [
        await fx.link(app_id, f"https://alex.dev/{n}", function=n)
        for n in ("LinkedIn", "Calendly", "Portfolio")
    ]
    # One client without cookies (same IP and user agent) opens every link within a second.
    for tid in tids:
        assert (
            await hit(app, tid, ip="192.0.2.50", headers={"user-agent": FIREFOX})
        ).status_code == 302
    assert await _verdicts(app, sessionmaker, tids) == [(t, True, "scanner_burst") for t in tids]


async def test_burst_by_session_cookie_across_ips(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    app_id = await fx.application()
    tids = [
        await fx.link(app_id, "https://alex.dev/a", "A"),
        await fx.link(app_id, "https://alex.dev/b", "B"),
    ]
    await hit(app, tids[0], ip="192.0.2.60", cookies={"li_sid": "s" * 22})
    await hit(app, tids[1], ip="192.0.2.61", cookies={"li_sid": "s" * 22})
    assert await _verdicts(app, sessionmaker, tids) == [(t, True, "scanner_burst") for t in tids]


async def test_one_link_clicked_by_many_visitors_is_human(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    app_id = await fx.application()
    tid = await fx.link(app_id, "https://alex.dev")
    other = await fx.link(app_id, "https://alex.dev/other", "Portfolio")
    for n in range(4):
        await hit(app, tid, ip=f"192.0.2.{70 + n}")
    await hit(app, tid, ip="192.0.2.70")  # the same visitor again, same link
    await hit(app, other, ip="192.0.2.99")  # another visitor, another link
    rows = await _verdicts(app, sessionmaker, [tid, other])
    assert len(rows) == 6
    assert all(not is_bot for _, is_bot, _ in rows)


async def test_links_of_different_applications_are_not_a_burst(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    a = await fx.link(await fx.application(), "https://alex.dev/a")
    b = await fx.link(await fx.application(), "https://alex.dev/b")
    await hit(app, a, ip="192.0.2.80")
    await hit(app, b, ip="192.0.2.80")
    assert await _verdicts(app, sessionmaker, [a, b]) == [(a, False, None), (b, False, None)]


async def test_500_concurrent_redirects_store_exactly_500_rows(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    app_id = await fx.application()
    tid = await fx.link(app_id, "https://alex.dev")
    transport = httpx.ASGITransport(app=app, client=("192.0.2.200", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:

        async def one(n: int) -> int:
            response = await c.get(
                f"/track/{tid}", headers={"user-agent": CHROME, "cookie": f"li_sid={n:022d}"}
            )
            return response.status_code

        statuses = await asyncio.gather(*(one(n) for n in range(500)))
    assert statuses == [302] * 500
    await flushed(app)
    async with sessionmaker() as s:
        n, sessions, bots = (
            await s.execute(
                text(
                    "SELECT count(*), count(DISTINCT session_id), count(*) FILTER (WHERE is_bot)"
                    " FROM link_clicks WHERE tracking_id = :t"
                ),
                {"t": tid},
            )
        ).one()
    assert (n, sessions, bots) == (500, 500, 0)


# --- settings that need their own app: dashboard hosts, a trusted proxy -------------------


@pytest.fixture(scope="module")
async def proxy_app(settings: Any) -> AsyncIterator[Starlette]:
    from graph.app import create_app

    configured = settings.model_copy(
        update={"dashboard_hosts": ["app.linkinsights.test"], "trust_forwarded_for": True}
    )
    application = create_app(configured)
    async with application.router.lifespan_context(application):
        yield application


async def test_the_app_never_reads_forwarded_for_itself(
    app: Starlette, proxy_app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    """The client address is the ASGI scope's: behind a trusted proxy uvicorn's proxy-header
    middleware puts the forwarded address there (linkinsights.server), so a header sent to
    the app directly is never taken, whatever TRUST_FORWARDED_FOR says."""
    tid = await fx.link(None, "https://alex.dev")
    forwarded = {"x-forwarded-for": "10.9.9.9, 198.51.100.23"}
    await hit(app, tid, ip="192.0.2.1", headers=forwarded)
    await hit(proxy_app, tid, ip="192.0.2.1", headers=forwarded)
    rows = await clicks_of(app, sessionmaker, tid)
    assert sorted(r["ip"] for r in rows) == ["192.0.2.1", "192.0.2.1"]


async def test_ipv6_peers_are_stored_canonical_and_without_a_zone(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    """A link-local peer's zone (fe80::1%eth0) means nothing off the host and PostgreSQL's
    inet refuses it: the click is stored, its address without the zone, as every other in
    canonical form."""
    tid = await fx.link(None, "https://alex.dev")
    for peer in ("fe80::1%eth0", "2001:DB8:0:0::7", "::ffff:192.0.2.9"):
        response = await hit(app, tid, ip=peer)
        assert response.status_code == 302, peer
    rows = await clicks_of(app, sessionmaker, tid)
    assert sorted(r["ip"] for r in rows) == sorted(["fe80::1", "2001:db8::7", "::ffff:192.0.2.9"])


async def test_dashboard_referrer(proxy_app: Starlette, fx: Fixture, sessionmaker: Any) -> None:
    tid = await fx.link(None, "https://alex.dev")
    await hit(proxy_app, tid, headers={"referer": "https://app.linkinsights.test/applications"})
    [row] = await clicks_of(proxy_app, sessionmaker, tid)
    assert row["click_source"] == "dashboard"


async def test_bad_cookie_value_gets_a_fresh_session(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    tid = await fx.link(None, "https://alex.dev")
    response = await hit(app, tid, cookies={"li_sid": "x"})
    sid = response.cookies["li_sid"]
    [row] = await clicks_of(app, sessionmaker, tid)
    assert row["session_id"] == sid != "x"


# --- recordClick and the redirect share the pipeline -------------------------------------

RECORD_CLICK = """mutation($i: RecordClickInput!) {
  recordClick(input: $i) { trackingId isBot botReason } }"""


async def test_a_burst_across_record_click_and_a_redirect_is_flagged(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    app_id = await fx.application()
    a = await fx.link(app_id, "https://alex.dev/a", "A")
    b = await fx.link(app_id, "https://alex.dev/b", "B")
    body = await fx.gql(RECORD_CLICK, {"i": {"trackingId": a, "sessionId": "q" * 22}}, key=fx.key)
    assert body["data"]["recordClick"]["isBot"] is False
    assert (await hit(app, b, cookies={"li_sid": "q" * 22})).status_code == 302
    assert await _verdicts(app, sessionmaker, [a, b]) == [
        (a, True, "scanner_burst"),
        (b, True, "scanner_burst"),
    ]
