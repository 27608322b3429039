"""`GET /track/{tracking_id}` (SPEC §3): record the click, 302 to the stored URL.

The redirect waits on one round trip: a single statement that looks the active link up by
its primary key and inserts the click (db.clicks.record_redirects), on a raw asyncpg pool
made in the lifespan (no ORM session, no explicit transaction). Redirects arriving together
share that statement (ClickWriter, two writers per process), so under load one commit serves
many clicks; each is answered only once its own row is committed. The bot verdict of the
request (HEAD, crawler agent, email-security referrer) is decided before that statement, in
memory; the scanner-burst check, which needs the client's neighbouring clicks, runs after the
response has been sent.

`Tracker.answer` does all of that from the request's plain parts; graph.track_asgi serves it
as raw ASGI, in front of Starlette (`Tracker.redirect` is the Starlette route's adapter).

`/track` is public and tells nothing but the redirect: an unknown or inactive id is a bare
404, and the Location is always the stored `original_url`, whatever the request says.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import re
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final, NamedTuple

import asyncpg
from starlette.background import BackgroundTask
from starlette.datastructures import URL, QueryParams
from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Scope

from db import clicks as clicks_db
from db.pool import open_pool
from domain.bots import BURST_WINDOW, classify_request, find_scanner_bursts
from domain.ids import uuid7
from domain.sources import detect_click_source, extract_utm
from graph.burst_gate import BurstGate
from graph.observability import REDIRECTS, counter_child
from linkinsights.settings import Settings

log = logging.getLogger("linkinsights.track")

SESSION_MAX_AGE: Final = 365 * 24 * 3600
_SESSION_VALUE: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")
_MAX_TRACKING_ID: Final = 100
_MAX_REFERRER: Final = 1000
_MAX_USER_AGENT: Final = 2000
_NOT_FOUND_BODY: Final = "Not Found"


# clicked link's application, client, tracking id, click id, clicked at (Tracker.check_burst)
BurstArgs = tuple[uuid.UUID, clicks_db.BurstClient, str, uuid.UUID, datetime]


class TrackAnswer(NamedTuple):
    """What /track answers to one request (its raw ASGI headers, without X-Request-ID), and
    the scanner-burst check to run once the response has been sent, if any."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    burst: BurstArgs | None = None


def _fixed_answer(response: Response) -> TrackAnswer:
    return TrackAnswer(response.status_code, tuple(response.raw_headers), bytes(response.body))


# Made by Starlette once, so the bytes are the ones its responses always had.
_NOT_FOUND: Final = _fixed_answer(PlainTextResponse(_NOT_FOUND_BODY, status_code=404))
_UNAVAILABLE: Final = _fixed_answer(PlainTextResponse("Service Unavailable", status_code=503))
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


def client_ip(
    forwarded_for: str | None, peer: str | None, *, trust_forwarded_for: bool
) -> str | None:
    """The socket peer; behind a trusted proxy, the address that proxy appended last (the last
    valid one of the X-Forwarded-For header)."""
    if trust_forwarded_for and forwarded_for:
        for part in reversed(forwarded_for.split(",")):
            ip = parse_ip(part)
            if ip is not None:
                return ip
    return parse_ip(peer)


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


Pending = tuple[clicks_db.RedirectClick, "asyncio.Future[clicks_db.RedirectHit | None]"]


class ClickWriter:
    """Coalesces concurrent redirects into batched lookup-and-insert statements.

    A few flusher tasks each take whatever redirects are waiting and write them in one
    statement; each redirect waits for its own row to be committed before it is answered, so
    nothing is acknowledged that is not stored. With little traffic a batch is one click and
    costs one round trip; under load, one round trip and one commit serve many clicks.
    """

    def __init__(self, pool: Any, *, flushers: int = 4, max_batch: int = 256) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._flush_forever()) for _ in range(flushers)]

    async def record(self, click: clicks_db.RedirectClick) -> clicks_db.RedirectHit | None:
        future: asyncio.Future[clicks_db.RedirectHit | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._queue.put_nowait((click, future))
        return await future

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(ConnectionError("the click writer stopped"))

    async def _flush_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)

    async def _write(self, batch: list[Pending]) -> None:
        try:
            hits = await clicks_db.record_redirects(self.pool, [c for c, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                if not future.done():
                    future.set_exception(ConnectionError("the click writer stopped"))
            raise
        except Exception as exc:
            if len(batch) > 1:
                # One bad row (a link deleted mid-flight) must not fail its neighbours.
                for one in batch:
                    await self._write([one])
                return
            _, future = batch[0]
            if not future.done():
                future.set_exception(exc)
            return
        for click, future in batch:
            if not future.done():
                future.set_result(hits.get(click.click_id))


# application, client, tracking id, click id, clicked at, done
BurstCheck = tuple[
    uuid.UUID, clicks_db.BurstClient, str, uuid.UUID, datetime, "asyncio.Future[None]"
]


class BurstChecker:
    """Runs the scanner-burst check of many redirects together, a moment after they happened.

    One flusher waits `delay` after the first pending check (to gather a batch), asks the
    gate (graph.burst_gate, one Redis call) which of them could be part of a burst at all,
    then looks up the neighbouring clicks of every remaining
    (application, client) in one statement and flags every burst found in one UPDATE. Off the
    redirect's path: the redirect has been answered before its check is even queued.
    """

    def __init__(
        self,
        pool: Any,
        *,
        gate: BurstGate | None = None,
        # Short: a batch is a burst of CPU in the process (a few µs per click) during which no
        # redirect is answered. At 50 clients, 50 ms batches set the p99 (13 ms); 5 ms ones:
        # 6.7-7.6 ms. Every click is committed before its check is queued, and of two clicks the
        # second one the gate sees finds the first, so waiting longer would find nothing more.
        delay: float = 0.005,
        max_batch: int = 1000,
    ) -> None:
        self.pool = pool
        self.gate = gate
        self.delay = delay
        self.max_batch = max_batch
        self._queue: asyncio.Queue[BurstCheck] = asyncio.Queue()
        self._task = asyncio.create_task(self._flush_forever())

    async def check(
        self,
        application_id: uuid.UUID,
        client: clicks_db.BurstClient,
        tracking_id: str,
        click_id: uuid.UUID,
        clicked_at: datetime,
    ) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((application_id, client, tracking_id, click_id, clicked_at, future))
        await future

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        while not self._queue.empty():
            future = self._queue.get_nowait()[5]
            if not future.done():
                future.set_result(None)

    async def _flush_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(self.delay)
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._check(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Never lost: `linkinsights reclassify` re-applies the burst rule later.
                log.exception("scanner-burst check failed for %d clicks", len(batch))
            finally:
                for *_, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def _check(self, batch: list[BurstCheck]) -> None:
        if self.gate is not None:
            possible = await self.gate.possible_bursts([c[:5] for c in batch])
            batch = [check for check, maybe in zip(batch, possible, strict=True) if maybe]
            if not batch:
                return
        # One lookup per (application, client), over the union of their windows.
        windows: dict[tuple[uuid.UUID, clicks_db.BurstClient], tuple[datetime, datetime]] = {}
        for app_id, client, _, _, at, _ in batch:
            since, until = at - BURST_WINDOW, at + BURST_WINDOW
            old = windows.get((app_id, client))
            windows[(app_id, client)] = (
                (min(old[0], since), max(old[1], until)) if old else (since, until)
            )
        keys = list(windows)
        found = await clicks_db.burst_candidates_batch(
            self.pool, [(a, c, *windows[(a, c)]) for a, c in keys]
        )
        to_flag: set[uuid.UUID] = set()
        for (app_id, client), rows in zip(keys, found, strict=True):
            burst = find_scanner_bursts(clicks_db.to_burst_click(r, app_id) for r in rows)
            if not burst:
                continue
            since, until = windows[(app_id, client)]
            if min(r.clicked_at for r in rows if str(r.click_id) in burst) - BURST_WINDOW < since:
                # The chain may reach further back: the single-client lookup follows it.
                await self._follow_chain(app_id, client, until - BURST_WINDOW)
                continue
            to_flag.update(r.click_id for r in rows if str(r.click_id) in burst and not r.is_bot)
        if to_flag:
            await clicks_db.flag_burst_pool(self.pool, click_ids=sorted(to_flag))

    async def _follow_chain(
        self, application_id: uuid.UUID, client: clicks_db.BurstClient, clicked_at: datetime
    ) -> None:
        pool = self.pool

        async def fetch(since: datetime, until: datetime) -> list[clicks_db.BurstCandidate]:
            return await clicks_db.burst_candidates_pool(
                pool, application_id=application_id, client=client, since=since, until=until
            )

        async def flag(ids: list[uuid.UUID]) -> int:
            return await clicks_db.flag_burst_pool(pool, click_ids=ids)

        await clicks_db.flag_bursts_around(
            fetch, flag, application_id=application_id, clicked_at=clicked_at
        )


def track_flushers(settings: Settings) -> int:
    """Tasks writing redirect batches, each on a connection of its own.

    Two: while one batch is written, the next one gathers, and each statement's cost in
    PostgreSQL is mostly per statement (its commit), not per row: measured on this
    machine, 124 µs of PostgreSQL CPU per click in batches of 1, 40 in batches of 6, 24
    in batches of 25. At 50 clients: 1, 2, 4 and 10 flushers per process served 12.2k,
    12.1k, 11.4k and 11.3k redirects/s.
    """
    return 2 if settings.db_pool_size >= 4 else 1


class Tracker:
    """The /track endpoints and the asyncpg pool they use (started by the app's lifespan)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: Any = None
        self.writer: ClickWriter | None = None
        self.bursts: BurstChecker | None = None
        self._dashboard_hosts = tuple(settings.dashboard_hosts)
        self._cookie_name = settings.session_cookie_name
        self._cookie_head, self._cookie_tail = _session_cookie_template(
            settings.session_cookie_name, secure=settings.public_base_url.startswith("https://")
        )

    async def start(self, gate: BurstGate | None = None) -> None:
        """Open the pool; with a gate, scanner-burst checks ask it first."""
        assert self.settings.database_url is not None
        self.pool = await open_pool(
            self.settings.database_url,
            # a connection per flusher, one for the burst checks and one for health probes
            size=track_flushers(self.settings) + 2,
            application_name="linkinsights-track",
        )
        self.writer = ClickWriter(self.pool, flushers=track_flushers(self.settings))
        self.bursts = BurstChecker(self.pool, gate=gate)

    async def stop(self) -> None:
        if self.bursts is not None:
            await self.bursts.close()
            self.bursts = None
        if self.writer is not None:
            await self.writer.close()
            self.writer = None
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def health(self, request: Request) -> Response:
        try:
            await self.pool.fetchval("SELECT 1", timeout=2)
        except Exception as exc:
            return JSONResponse(
                {"status": "unavailable", "checks": {"postgres": f"down: {type(exc).__name__}"}},
                status_code=503,
            )
        return JSONResponse({"status": "ok", "checks": {"postgres": "ok"}})

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
        if answer.burst is not None:
            response.background = BackgroundTask(self.check_burst, *answer.burst)
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
        `peer` is the socket peer's host.
        """
        if not tracking_id or len(tracking_id) > _MAX_TRACKING_ID:
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
            metadata[clicks_db.SESSION_NEW_KEY] = True
        if dnt:
            metadata[clicks_db.DNT_KEY] = True
        ip = (
            None
            if dnt
            else client_ip(
                _text(first.get(b"x-forwarded-for")),
                peer,
                trust_forwarded_for=self.settings.trust_forwarded_for,
            )
        )
        try:
            assert self.writer is not None, "the lifespan starts the tracker"
            hit = await self.writer.record(
                clicks_db.RedirectClick(
                    click_id=uuid7(),
                    tracking_id=tracking_id,
                    ip_address=ip,
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
        except asyncpg.ForeignKeyViolationError:
            hit = None  # the link was deleted between lookup and insert
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            log.exception("could not record a click")
            counter_child(REDIRECTS, "error").inc()
            return _UNAVAILABLE
        if hit is None:
            counter_child(REDIRECTS, "not_found").inc()
            return _NOT_FOUND

        counter_child(REDIRECTS, "bot" if verdict.is_bot else "redirect").inc()
        headers_out = [(b"location", _location(hit.original_url).encode("latin-1")), *_REDIRECT]
        if session_new:
            assert session_id is not None
            headers_out.append(
                (
                    b"set-cookie",
                    b"%s%s%s" % (self._cookie_head, session_id.encode(), self._cookie_tail),
                )
            )
        client = clicks_db.BurstClient(
            session_id=None if session_new else session_id,
            ip_address=ip,
            user_agent=None if dnt else user_agent,
        )
        burst = None
        if hit.application_id is not None and client.identified:
            burst = (hit.application_id, client, tracking_id, hit.click_id, hit.clicked_at)
        return TrackAnswer(302, tuple(headers_out), b"", burst)

    async def check_burst(
        self,
        application_id: uuid.UUID,
        client: clicks_db.BurstClient,
        tracking_id: str,
        click_id: uuid.UUID,
        clicked_at: datetime,
    ) -> None:
        """After the response: flag the whole scanner burst this click completes, if any."""
        if self.bursts is not None:
            await self.bursts.check(application_id, client, tracking_id, click_id, clicked_at)


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
