"""The raw ASGI fast path for /track (graph.track_asgi): what it answers itself, what it leaves
to Starlette, and what the middleware it stands in for did (request ids, metrics, logs, 500s).
The behaviour itself (clicks, cookies, bots, DNT, UTM) is tests/test_track.py's."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import MutableMapping
from typing import Any

import httpx
import orjson
import pytest
from conftest import GraphQLClient, build_app, log_lines
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from test_track import CHROME, Fixture, clicks_of

from config import Settings
from graph.app import App
from graph.track_asgi import TrackFastPath

Message = MutableMapping[str, Any]


@pytest.fixture
async def fx(gql: Any, api_key: str) -> Fixture:
    return Fixture(gql, api_key)


async def asgi(
    app: Any,
    path: str,
    *,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
    root_path: str = "",
) -> tuple[list[Message], dict[str, Any]]:
    """One request straight through the ASGI app: the messages it sent, and its scope."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("192.0.2.33", 40000),
        "method": method,
        "root_path": root_path,
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "query_string": query,
        "headers": [(b"host", b"testserver"), (b"user-agent", CHROME.encode()), *(headers or [])],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent, scope


def routed_by_starlette(scope: dict[str, Any]) -> bool:
    """Starlette's router marks the scope it sees; the fast path leaves it as it came."""
    return "router" in scope


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus exposition, 0 when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


# --- what the fast path answers ---------------------------------------------------------------


async def test_the_fast_path_answers_redirects_and_their_404s(app: Starlette, fx: Fixture) -> None:
    tid = await fx.link(None, "https://alex.dev")
    for method in ("GET", "HEAD"):
        sent, scope = await asgi(app, f"/track/{tid}", method=method)
        assert sent[0]["status"] == 302
        assert not routed_by_starlette(scope)
    for path in ("/track/lt_000000000000", "/track/lt_" + "x" * 200):
        sent, scope = await asgi(app, path)
        assert sent[0]["status"] == 404
        assert not routed_by_starlette(scope)
    assert isinstance(app.middleware_stack, TrackFastPath)


async def test_request_id_is_kept_or_made_on_a_redirect(
    client: httpx.AsyncClient, fx: Fixture
) -> None:
    tid = await fx.link(None, "https://alex.dev")
    kept = await client.get(f"/track/{tid}", headers={"X-Request-ID": "abc-123"})
    assert kept.status_code == 302
    assert kept.headers["x-request-id"] == "abc-123"
    made = await client.get(f"/track/{tid}")
    other = await client.get(f"/track/{tid}")
    for response in (made, other):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    assert made.headers["x-request-id"] != other.headers["x-request-id"]
    for insane in ("y" * 65, "a\x01b"):
        replaced = await client.get(f"/track/{tid}", headers={"X-Request-ID": insane})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])


async def test_request_id_is_the_last_header_and_the_last_incoming_one_counts(
    app: Starlette, fx: Fixture
) -> None:
    tid = await fx.link(None, "https://alex.dev")
    sent, _ = await asgi(
        app, f"/track/{tid}", headers=[(b"x-request-id", b"first"), (b"x-request-id", b"second")]
    )
    assert [name for name, _ in sent[0]["headers"]] == [
        b"location",
        b"cache-control",
        b"referrer-policy",
        b"content-length",
        b"set-cookie",
        b"x-request-id",
    ]
    assert sent[0]["headers"][-1] == (b"x-request-id", b"second")


async def test_request_id_is_kept_or_made_on_a_404(client: httpx.AsyncClient) -> None:
    kept = await client.get("/track/lt_000000000000", headers={"X-Request-ID": "r-404"})
    assert (kept.status_code, kept.text) == (404, "Not Found")
    assert kept.headers["x-request-id"] == "r-404"
    made = await client.get("/track/lt_000000000000")
    assert made.status_code == 404
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


async def test_track_requests_are_counted_in_the_metrics(
    client: httpx.AsyncClient, fx: Fixture
) -> None:
    tid = await fx.link(None, "https://alex.dev")
    before = await scrape(client)
    browser = {"user-agent": CHROME}
    assert (await client.get(f"/track/{tid}", headers=browser)).status_code == 302
    assert (await client.head(f"/track/{tid}", headers=browser)).status_code == 302
    assert (await client.get("/track/lt_000000000000")).status_code == 404
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    requests = "linkinsights_http_requests_total"
    assert delta(requests, route="/track", status="302") == 2
    assert delta(requests, route="/track", status="404") == 1
    redirects = "linkinsights_redirects_total"
    assert delta(redirects, outcome="redirect") == 1
    assert delta(redirects, outcome="bot") == 1  # the HEAD
    assert delta(redirects, outcome="not_found") == 1


async def test_head_redirects_without_a_body_and_is_stored_as_a_bot(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    tid = await fx.link(None, "https://alex.dev/cv")
    sent, scope = await asgi(app, f"/track/{tid}", method="HEAD")
    assert not routed_by_starlette(scope)
    assert sent[0]["status"] == 302
    assert dict(sent[0]["headers"])[b"location"] == b"https://alex.dev/cv"
    assert sent[1] == {"type": "http.response.body", "body": b""}
    [row] = await clicks_of(app, sessionmaker, tid)
    assert (row["is_bot"], row["bot_reason"], row["request_method"]) == (
        True,
        "head_request",
        "HEAD",
    )


async def test_an_uncached_link_while_postgresql_is_out_of_reach_is_a_503_with_retry_after(
    app: Starlette, settings: Settings, fx: Fixture, sessionmaker: Any, json_log: io.StringIO
) -> None:
    from db.engine import make_engine

    tid = await fx.link(None, "https://alex.dev")
    application = build_app(settings)
    assert isinstance(application, App)
    async with application.router.lifespan_context(application):
        # PostgreSQL out of reach, as far as the link cache sees (nothing listens on port 9)
        dead = make_engine("postgresql://postgres@127.0.0.1:9/none", pool_size=1)
        assert application.tracker.links is not None
        application.tracker.links.engine = dead
        transport = httpx.ASGITransport(app=application, client=("192.0.2.34", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.get(f"/track/{tid}", headers={"X-Request-ID": "down-1"})
        await dead.dispose()
    assert (response.status_code, response.text) == (503, "Service Unavailable")
    assert response.headers["retry-after"] == "5"
    assert response.headers["x-request-id"] == "down-1"
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers
    [line] = [e for e in log_lines(json_log) if e["request_id"] == "down-1"]
    assert (line["logger"], line["level"]) == ("linkinsights.track", "warning")
    assert line["msg"].startswith("link lookup failed for 1 ids")
    assert await clicks_of(app, sessionmaker, tid) == []


async def test_an_unexpected_error_is_a_plain_500_then_raised(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    """As ServerErrorMiddleware answers it. (A query string that is not UTF-8 makes Starlette's
    URL, which decides whether there is a query at all, raise: it always did.)"""
    tid = await fx.link(None, "https://alex.dev")
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {
        "type": "http",
        "method": "GET",
        "path": f"/track/{tid}",
        "root_path": "",
        "query_string": b"utm_source=\xff",
        "headers": [(b"host", b"testserver")],
        "client": ("192.0.2.35", 40000),
        "scheme": "http",
        "server": ("testserver", 80),
    }
    with pytest.raises(UnicodeDecodeError):
        await app(scope, receive, send)
    assert sent[0] == {
        "type": "http.response.start",
        "status": 500,
        "headers": [(b"content-length", b"21"), (b"content-type", b"text/plain; charset=utf-8")],
    }
    assert sent[1] == {"type": "http.response.body", "body": b"Internal Server Error"}
    assert await clicks_of(app, sessionmaker, tid) == []


# --- the same answers as the Starlette route ----------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ([], b""),
        ([(b"referer", b"https://mail.google.com/"), (b"cookie", b"li_sid=" + b"a" * 22)], b""),
        ([(b"cookie", b"li_sid=x"), (b"cookie", b"other=1; li_sid=" + b"b" * 22)], b""),
        ([(b"dnt", b"1"), (b"x-request-id", b"dnt-req")], b""),
        ([(b"user-agent", b"Googlebot/2.1")], b"utm_source=news+letter&UTM_Medium=e%20mail"),
        ([(b"x-forwarded-for", b"10.1.1.1")], b"#utm_source=hidden"),
    ],
)
async def test_fast_path_answers_as_the_starlette_route(
    app: Starlette, fx: Fixture, sessionmaker: Any, headers: Any, query: Any
) -> None:
    """A root path leaves /track to Starlette's route: both must answer alike, store alike."""
    tid = await fx.link(None, "https://alex.dev/ä?x=1")
    fast, fast_scope = await asgi(app, f"/track/{tid}", headers=headers, query=query)
    slow, slow_scope = await asgi(
        app, f"/track/{tid}", headers=headers, query=query, root_path="/r"
    )
    assert not routed_by_starlette(fast_scope)
    assert routed_by_starlette(slow_scope)

    def comparable(sent: list[Message]) -> list[Message]:
        """The messages with a new session id and a made request id blanked out."""
        given = dict(headers).get(b"x-request-id")
        out: list[Message] = []
        for message in sent:
            message = dict(message)
            if "headers" in message:
                blanked = []
                for name, value in message["headers"]:
                    if name == b"set-cookie":
                        value = re.sub(rb"=[A-Za-z0-9_-]{22};", b"=<new>;", value)
                    elif name == b"x-request-id" and value != given:
                        value = b"<made>"
                    blanked.append((name, value))
                message["headers"] = blanked
            out.append(message)
        return out

    assert comparable(fast) == comparable(slow)
    first, second = await clicks_of(app, sessionmaker, tid)
    for row in (first, second):
        row.pop("click_id")
    if first["metadata"].get("session_new"):
        assert first["session_id"] != second["session_id"]
        first["session_id"] = second["session_id"] = "<new>"
    assert first == second


async def test_headers_cookies_and_query_are_read_as_starlette_reads_them(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    """Repeated headers: the first counts; every Cookie header: a later one wins; the query as
    `request.query_params`. Checked against Starlette's own Request on the same scope."""
    from starlette.requests import Request

    from domain.sources import extract_utm

    tid = await fx.link(None, "https://alex.dev")
    sent, scope = await asgi(
        app,
        f"/track/{tid}",
        headers=[
            (b"user-agent", b"Googlebot/2.1"),  # after asgi()'s browser agent
            (b"referer", b"https://www.linkedin.com/feed/"),
            (b"referer", b"https://mail.google.com/"),
            (b"cookie", b"li_sid=" + b"c" * 22),
            (b"cookie", b"other=1; li_sid=" + b"d" * 22),
            (b"dnt", b"0"),
            (b"dnt", b"1"),
        ],
        query=b"utm_source=a&utm_source=b+c&Utm_Medium=%41",
    )
    assert sent[0]["status"] == 302
    request = Request(scope)
    [row] = await clicks_of(app, sessionmaker, tid)
    assert row["user_agent"] == request.headers["user-agent"] == CHROME
    assert row["is_bot"] is False
    assert row["referrer_url"] == request.headers["referer"]
    assert row["click_source"] == "linkedin"
    assert row["session_id"] == request.cookies["li_sid"] == "d" * 22
    assert row["ip"] == "192.0.2.33"  # DNT is the first one, "0"
    assert (
        row["metadata"]
        == extract_utm(request.query_params)
        == {
            "utm_source": "b c",
            "utm_medium": "A",
        }
    )


# --- what it leaves to Starlette ------------------------------------------------------------


async def test_empty_id_and_other_track_shapes_are_starlette_s(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    tid = await fx.link(None, "https://alex.dev")
    sent, scope = await asgi(app, "/track/")
    assert routed_by_starlette(scope)
    assert sent[0]["status"] == 404
    assert sent[1]["body"] == b"Not Found"
    assert dict(sent[0]["headers"])[b"x-request-id"]

    # No trailing-slash redirect: its Location would be built from the Host header.
    sent, _ = await asgi(app, f"/track/{tid}/")
    assert sent[0]["status"] == 404
    assert b"location" not in dict(sent[0]["headers"])

    sent, _ = await asgi(app, f"/track/{tid}/x")
    assert sent[0]["status"] == 404

    sent, scope = await asgi(app, f"/track/{tid}", method="POST")
    assert sent[0]["status"] == 405
    assert routed_by_starlette(scope)

    sent, _ = await asgi(app, f"/track/{tid}", headers=[(b"content-length", b"100001")])
    assert sent[0]["status"] == 413  # BodyLimitMiddleware, as before
    assert await clicks_of(app, sessionmaker, tid) == []


async def test_track_health_is_still_answered_by_starlette(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    for method in ("GET", "HEAD"):
        sent, scope = await asgi(app, "/track/health", method=method)
        assert routed_by_starlette(scope)
        assert sent[0]["status"] == 200
        assert orjson.loads(sent[1]["body"]) == {
            "status": "ok",
            "checks": {"clicks": "ok", "redis": "ok"},
        }
    response = await client.get("/track/health", headers={"X-Request-ID": "health-1"})
    assert response.json()["status"] == "ok"
    assert response.headers["x-request-id"] == "health-1"


async def test_other_paths_are_routed_by_starlette(
    app: Starlette, client: httpx.AsyncClient, gql: GraphQLClient, api_key: str
) -> None:
    sent, scope = await asgi(app, "/healthz")
    assert routed_by_starlette(scope)
    assert (sent[0]["status"], sent[1]["body"]) == (200, b'{"status":"ok"}')
    body = await gql("{ applications(first: 1) { totalCount } }", key=api_key)
    assert body["data"]["applications"]["totalCount"] >= 0
    for path, status in (("/readyz", 200), ("/metrics", 200), ("/trackx", 404), ("/track", 404)):
        response = await client.get(path)
        assert response.status_code == status, path
        assert response.headers["x-request-id"]


async def test_lifespan_passes_through_to_starlette(
    app: Starlette, settings: Settings, fx: Fixture, sessionmaker: Any
) -> None:
    """Started and stopped through the ASGI app itself, as uvicorn does."""
    tid = await fx.link(None, "https://alex.dev")
    application: Starlette = build_app(settings)
    to_app: asyncio.Queue[Message] = asyncio.Queue()
    from_app: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    running = asyncio.create_task(application(scope, to_app.get, from_app.put))
    try:
        await to_app.put({"type": "lifespan.startup"})
        assert await asyncio.wait_for(from_app.get(), 30) == {"type": "lifespan.startup.complete"}
        sent, _ = await asgi(application, f"/track/{tid}")  # the tracker was started
        assert sent[0]["status"] == 302
        await to_app.put({"type": "lifespan.shutdown"})
        assert await asyncio.wait_for(from_app.get(), 30) == {"type": "lifespan.shutdown.complete"}
        await asyncio.wait_for(running, 30)
    finally:
        running.cancel()
    assert len(await clicks_of(app, sessionmaker, tid)) == 1


async def test_non_http_scopes_go_to_the_wrapped_app() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    fast = TrackFastPath(inner, tracker=None, max_body_bytes=1)  # type: ignore[arg-type]
    for scope_type in ("lifespan", "websocket"):
        await fast({"type": scope_type, "path": "/track/lt_x"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan", "websocket"]
