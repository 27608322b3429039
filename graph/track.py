"""`GET /track/{tracking_id}` (SPEC §3, §3.1): make the click durable, 302 to the stored URL.

The redirect never waits on PostgreSQL. The link comes from the process's link cache
(graph.link_cache; PostgreSQL is asked only for an id the cache does not hold), and the click,
with its click id (UUIDv7), time and request verdict (HEAD, crawler agent, email-security
referrer), is handed to the click appender (jobs.click_stream): in the Redis Stream, or in
the local spool when Redis does not answer, before the 302 is sent. The flusher in the worker
writes it to `link_clicks` and runs the scanner-burst check there.

`Tracker.answer` does all of that from the request's plain parts; graph.track_asgi serves it
as raw ASGI, in front of Starlette (`Tracker.redirect` is the Starlette route's adapter).

`/track` is public and tells nothing but the redirect: an unknown or inactive id is a bare
404, and the Location is always the stored `original_url`, whatever the request says. An id
the cache does not hold while PostgreSQL is down is a 503 with Retry-After.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import orjson
from starlette.datastructures import URL, QueryParams
from starlette.requests import Request, cookie_parser
from starlette.responses import PlainTextResponse, Response
from starlette.types import Scope

from config import Settings
from db.ingest import DNT_KEY, SESSION_NEW_KEY, ClickEntry
from domain.bots import classify_request
from domain.ids import uuid7
from domain.sources import detect_click_source, extract_utm
from graph.link_cache import LinkCache, LinkUnavailable
from graph.observability import REDIRECTS, counter_child
from jobs.click_stream import ClickAppender

log = logging.getLogger("linkinsights.track")

SESSION_MAX_AGE: Final = 365 * 24 * 3600
_SESSION_VALUE: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")
_MAX_TRACKING_ID: Final = 100
_MAX_REFERRER: Final = 1000
_MAX_USER_AGENT: Final = 2000
_NOT_FOUND_BODY: Final = "Not Found"
RETRY_AFTER_SECONDS: Final = 5


class TrackAnswer(NamedTuple):
    """What /track answers to one request (its raw ASGI headers, without X-Request-ID)."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def _fixed_answer(response: Response) -> TrackAnswer:
    return TrackAnswer(response.status_code, tuple(response.raw_headers), bytes(response.body))


# Made by Starlette once, so the bytes are the ones its responses always had.
_NOT_FOUND: Final = _fixed_answer(PlainTextResponse(_NOT_FOUND_BODY, status_code=404))
_UNAVAILABLE: Final = _fixed_answer(
    PlainTextResponse(
        "Service Unavailable",
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
)
# after the location; what Response(status_code=302, headers={...}) adds to it
_REDIRECT: Final = (
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-length", b"0"),
)


def parse_ip(value: str | None) -> str | None:
    """A valid IP address in canonical text form, or None."""
    if not value:
        return None
    return _canonical_ip(value)


@functools.lru_cache(maxsize=4096)
def _canonical_ip(value: str) -> str | None:
    # Remembered: a client's address repeats from click to click, and ipaddress's parser
    # cost ~7 µs of a redirect.
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        # A zone (fe80::1%eth0) means nothing off this host, and PostgreSQL's inet has none.
        ip = ipaddress.IPv6Address(ip.packed)
    return str(ip)


def query_of(scope: Scope) -> bytes:
    """The request's query string, or b"" where Starlette's `request.url.query` sees none.

    That property rebuilds the URL, so a query string that starts with '#' (or holds only tabs
    or newlines) counts as none, and one that is not UTF-8 raises (a 500). Asked the same way
    here, so the UTM parameters are taken, or not, exactly as they always were.
    """
    query_string: bytes = scope.get("query_string", b"")
    return query_string if query_string and URL(scope=scope).query else b""


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _clean(value: str | None, limit: int) -> str | None:
    if not value:
        return None
    value = value.replace("\x00", "").strip()
    return value[:limit] or None


class Tracker:
    """The /track endpoints; `start` gets the link cache and the click appender (made by
    the app's lifespan, which also closes them)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.links: LinkCache | None = None
        self.appender: ClickAppender | None = None
        self._dashboard_hosts = tuple(settings.dashboard_hosts)
        self._cookie_name = settings.session_cookie_name
        self._cookie_head, self._cookie_tail = _session_cookie_template(
            settings.session_cookie_name, secure=settings.public_base_url.startswith("https://")
        )

    def start(self, links: LinkCache, appender: ClickAppender) -> None:
        self.links = links
        self.appender = appender

    async def health(self, request: Request) -> Response:
        """Whether /track can make a click durable now (Redis, or the spool)."""
        appender = self.appender
        ok = appender is not None
        checks = {
            "clicks": "ok" if ok else "down",
            "redis": "ok" if appender is not None and appender.redis_up else "down (spooling)",
        }
        return Response(
            _json(checks, ok),
            status_code=200 if ok else 503,
            media_type="application/json",
        )

    async def redirect(self, request: Request) -> Response:
        """The Starlette route. `graph.track_asgi.TrackFastPath` answers these requests before
        Starlette sees them; only the few it leaves to Starlette (a root path) come here."""
        client = request.client
        answer = await self.answer(
            method=request.method,
            tracking_id=request.path_params["tracking_id"],
            headers=request.scope["headers"],
            query_string=query_of(request.scope),
            peer=client.host if client else None,
        )
        response = Response(answer.body, status_code=answer.status)
        response.raw_headers = list(answer.headers)
        return response

    async def answer(
        self,
        *,
        method: str,
        tracking_id: str,
        headers: Iterable[tuple[bytes, bytes]],
        query_string: bytes,
        peer: str | None,
    ) -> TrackAnswer:
        """Record one redirect's click and say what to answer; from the request's plain parts.

        `headers` are the ASGI (lower-case, raw) headers, read as Starlette's `request.headers`
        and `request.cookies` read them: the first of a repeated header, every Cookie header
        (a later one wins). `query_string` is empty when there is none (see `query_of`);
        `peer` is the client's address as the server gives it (behind a trusted proxy, uvicorn's
        proxy-header middleware has already put the forwarded address there).
        """
        if not tracking_id or len(tracking_id) > _MAX_TRACKING_ID or not tracking_id.isprintable():
            counter_child(REDIRECTS, "not_found").inc()
            return _NOT_FOUND
        assert self.links is not None, "the lifespan starts /track"
        assert self.appender is not None, "the lifespan starts /track"
        try:
            link = await self.links.get(tracking_id)
        except LinkUnavailable:
            counter_child(REDIRECTS, "unavailable").inc()
            return _UNAVAILABLE
        if link is None or not link.is_active:
            counter_child(REDIRECTS, "not_found").inc()
            return _NOT_FOUND

        first: dict[bytes, bytes] = {}
        cookie_headers: list[bytes] = []
        for name, value in headers:
            if name == b"cookie":
                cookie_headers.append(value)
            elif name not in first:
                first[name] = value
        user_agent = _clean(_text(first.get(b"user-agent")), _MAX_USER_AGENT)
        referrer = _clean(_text(first.get(b"referer")), _MAX_REFERRER)
        dnt = (_text(first.get(b"dnt")) or "").strip() == "1"

        cookie: str | None = None
        for raw in cookie_headers:
            cookie = cookie_parser(raw.decode("latin-1")).get(self._cookie_name, cookie)
        session_new = False
        session_id: str | None
        if cookie is not None and _SESSION_VALUE.fullmatch(cookie):
            session_id = cookie
        elif dnt:
            session_id = None  # no new tracking cookie for a visitor who asked not to be tracked
        else:
            session_id = secrets.token_urlsafe(16)
            session_new = True

        verdict = classify_request(method=method, user_agent=user_agent, referrer=referrer)
        metadata: dict[str, Any] = extract_utm(QueryParams(query_string)) if query_string else {}
        if session_new:
            metadata[SESSION_NEW_KEY] = True
        if dnt:
            metadata[DNT_KEY] = True
        try:
            await self.appender.append(
                ClickEntry(
                    click_id=uuid7(),
                    tracking_id=tracking_id,
                    clicked_at=datetime.now(UTC),
                    ip_address=None if dnt else parse_ip(peer),
                    user_agent=None if dnt else user_agent,
                    referrer_url=referrer,
                    session_id=session_id,
                    click_source=detect_click_source(
                        referrer, dashboard_hosts=self._dashboard_hosts
                    ),
                    metadata=metadata,
                    is_bot=verdict.is_bot,
                    bot_reason=verdict.reason,
                    request_method=method,
                )
            )
        except OSError:
            # Neither Redis nor the spool took it: do not answer a click we did not keep.
            log.exception("could not make a click durable")
            counter_child(REDIRECTS, "error").inc()
            return _UNAVAILABLE

        counter_child(REDIRECTS, "bot" if verdict.is_bot else "redirect").inc()
        headers_out = [(b"location", _location(link.original_url).encode("latin-1")), *_REDIRECT]
        if session_new:
            assert session_id is not None
            headers_out.append(
                (
                    b"set-cookie",
                    b"%s%s%s" % (self._cookie_head, session_id.encode(), self._cookie_tail),
                )
            )
        return TrackAnswer(302, tuple(headers_out), b"")


def _json(checks: dict[str, str], ok: bool) -> bytes:
    return orjson.dumps({"status": "ok" if ok else "unavailable", "checks": checks})


def _session_cookie_template(name: str, *, secure: bool) -> tuple[bytes, bytes]:
    """The session Set-Cookie value around the session id, as Starlette's `set_cookie` writes
    it (asked once; session ids are URL-safe base64, which a cookie value never quotes)."""
    marker = "0" * 22
    response = Response()
    response.set_cookie(
        name,
        marker,
        max_age=SESSION_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    [(_, value)] = [h for h in response.raw_headers if h[0] == b"set-cookie"]
    head, marker_found, tail = value.partition(marker.encode())
    if not marker_found or marker.encode() in tail:
        raise ValueError(f"cannot place the session id in {value!r}")
    return head, tail


def _location(url: str) -> str:
    # Stored URLs are validated absolute http(s) URLs; non-ASCII characters (IRIs) are
    # percent-encoded so the header stays latin-1.
    if url.isascii():
        return url
    from urllib.parse import quote

    return quote(url, safe=":/%#?=@[]!$&'()*+,;~")
