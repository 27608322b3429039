"""The click pipeline (SPEC §3.1, issue 12) on real services: the burst statement against the
domain rule, the stream, the spool, the flusher, the link cache, recordClick and the live feed.

Outages are real: a Redis or PostgreSQL server of the test's own (the project's embedded
ones, on free ports), stopped and started again; never the services the suite shares.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets
from conftest import ROOT, GraphQLClient, flushed, rolled_back
from factories import create_account, create_application, create_key, create_link
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from test_track import CHROME, FIREFOX, Fixture, clicks_of, hit

from config import Settings
from db.engine import make_engine
from db.ingest import ClickEntry, store_clicks
from db.migrate import upgrade
from domain.bots import BurstClick, find_scanner_bursts
from domain.ids import uuid7
from graph.app import create_app
from jobs.click_stream import ClickAppender, encode
from jobs.flusher import Flusher
from jobs.spool import Spool
from linkinsights.embedded import EmbeddedPostgres, EmbeddedRedis

RECORD_CLICK = """mutation($i: RecordClickInput!) {
  recordClick(input: $i) { id trackingId isBot botReason clickedAt } }"""
DEACTIVATE = """mutation($i: DeactivateTrackedLinkInput!) {
  deactivateTrackedLink(input: $i) { trackingId isActive } }"""
DELETE_APP = """mutation($i: DeleteApplicationInput!) {
  deleteApplication(input: $i) { links clicks } }"""


@pytest.fixture
async def fx(gql: Any, api_key: str) -> Fixture:
    return Fixture(gql, api_key)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _count(sessionmaker: Any, tracking_ids: list[str]) -> tuple[int, int]:
    """(rows, distinct click ids) of these links."""
    async with sessionmaker() as s:
        n, distinct = (
            await s.execute(
                text(
                    "SELECT count(*), count(DISTINCT click_id) FROM link_clicks"
                    " WHERE tracking_id = ANY(:t)"
                ),
                {"t": tracking_ids},
            )
        ).one()
    return int(n), int(distinct)


async def _until(check: Any, *, within: float, what: str) -> None:
    """Wait for `check()` to be true (a condition, polled), failing after `within` s."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{what} did not happen within {within} s")
        await asyncio.sleep(0.02)


# --- the scanner-burst statement is the domain rule -------------------------------------

_BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_clicks = st.lists(
    st.tuples(
        st.integers(0, 1),  # application
        st.integers(0, 2),  # link of that application
        st.integers(0, 2),  # client
        st.integers(0, 90),  # second of the click
        st.booleans(),  # a HEAD request (a bot by another rule)
    ),
    min_size=1,
    max_size=14,
)


@hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(clicks=_clicks, batches=st.integers(1, 4))
def test_burst_statement_flags_what_the_domain_rule_flags(
    database_url: str, clicks: list[tuple[int, int, int, int, bool]], batches: int
) -> None:
    """However the clicks arrive (in one batch or several), the flusher's statement flags
    exactly the clicks `domain.bots.find_scanner_bursts` puts in a burst (bots by another
    rule keep their own reason)."""
    asyncio.run(_burst_case(database_url, clicks, batches))


async def _burst_case(
    database_url: str, clicks: list[tuple[int, int, int, int, bool]], batches: int
) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        # One connection in a transaction rolled back at the end: the examples leave nothing.
        async with rolled_back(engine) as conn:
            account = await create_account(conn, name="b")
            apps = [await create_application(conn, account) for _ in range(2)]
            links: dict[tuple[int, int], str] = {}
            for a in range(2):
                for n in range(3):
                    links[(a, n)] = await create_link(
                        conn,
                        account,
                        application_id=apps[a],
                        link_function="F",
                        tracking_id=f"lt_b{uuid.uuid4().hex[:12]}",
                    )
            entries = []
            for a, n, client, second, head in clicks:
                entries.append(
                    ClickEntry(
                        click_id=uuid7(),
                        tracking_id=links[(a, n)],
                        clicked_at=_BASE + timedelta(seconds=second),
                        ip_address=f"192.0.2.{client + 1}",
                        user_agent=FIREFOX,
                        referrer_url=None,
                        session_id="s" * 20 if client == 2 else None,
                        click_source="direct",
                        is_bot=head,
                        bot_reason="head_request" if head else None,
                        request_method="HEAD" if head else "GET",
                    )
                )
            size = -(-len(entries) // batches)
            for start in range(0, len(entries), size):
                async with conn.begin_nested():  # a batch: one flusher transaction
                    await store_clicks(conn, entries[start : start + size])
            rows = (
                await conn.execute(
                    text(
                        "SELECT click_id, is_bot, bot_reason FROM link_clicks"
                        " WHERE click_id = ANY(:ids)"
                    ),
                    {"ids": [e.click_id for e in entries]},
                )
            ).all()
        expected = find_scanner_bursts(
            BurstClick(
                click_id=str(e.click_id),
                application_id=str(apps[a]),
                tracking_id=e.tracking_id,
                clicked_at=e.clicked_at,
                session_id=e.session_id,
                ip_address=e.ip_address,
                user_agent=e.user_agent,
            )
            for e, (a, *_) in zip(entries, clicks, strict=True)
        )
        got = {str(r.click_id) for r in rows if r.bot_reason == "scanner_burst"}
        head_bots = {str(e.click_id) for e in entries if e.is_bot}
        assert got == expected - head_bots
        assert all(r.is_bot for r in rows if str(r.click_id) in expected)
    finally:
        await engine.dispose()


# --- the flusher --------------------------------------------------------------------------


def _entry(tracking_id: str, **kw: Any) -> ClickEntry:
    values: dict[str, Any] = {
        "click_id": uuid7(),
        "tracking_id": tracking_id,
        "clicked_at": datetime.now(UTC),
        "ip_address": "198.51.100.9",
        "user_agent": CHROME,
        "referrer_url": None,
        "session_id": None,
        "click_source": "direct",
        "is_bot": False,
        "bot_reason": None,
        "request_method": "GET",
    }
    values.update(kw)
    return ClickEntry(**values)


async def test_a_batch_delivered_twice_is_stored_once_and_deleted_links_drop_their_clicks(
    fx: Fixture, sessionmaker: Any, engine: AsyncEngine
) -> None:
    kept = await fx.link(None, "https://alex.dev/kept")
    entries = [_entry(kept) for _ in range(5)]
    gone = _entry("lt_never_existed")
    async with engine.begin() as conn:
        first = await store_clicks(conn, [*entries, gone])
    async with engine.begin() as conn:
        again = await store_clicks(conn, [*entries, entries[0]])
    assert (first.inserted, first.dropped) == (5, 1)
    assert (again.inserted, again.dropped) == (0, 0)
    assert await _count(sessionmaker, [kept]) == (5, 5)


async def test_unreadable_entries_are_acknowledged_not_retried_for_ever(
    fx: Fixture, settings: Settings, redis_url: str, engine: AsyncEngine, sessionmaker: Any
) -> None:
    tid = await fx.link(None, "https://alex.dev")
    stream = f"linkinsights-test-odd-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(redis_url)
    try:
        await redis.xadd(stream, {b"c": b"not json"})
        await redis.xadd(stream, {b"other": b"field"})
        await redis.xadd(stream, {b"c": encode(_entry(tid))})
        flusher = Flusher(redis, engine, stream=stream, group="g")
        assert await flusher.drain() == 3
        assert await redis.xlen(stream) == 0
    finally:
        await redis.delete(stream)
        await redis.aclose()
    assert await _count(sessionmaker, [tid]) == (1, 1)


async def test_a_flusher_killed_mid_batch_loses_and_duplicates_nothing(
    fx: Fixture,
    settings: Settings,
    database_url: str,
    redis_url: str,
    sessionmaker: Any,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    """20,000 clicks in the stream; `linkinsights worker` is SIGKILLed once rows start to
    appear (its batch read, written or being acknowledged); another flusher claims what it
    left pending. Every click is stored exactly once."""
    links = [await fx.link(None, f"https://alex.dev/{n}") for n in range(4)]
    stream = f"linkinsights-test-kill-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(redis_url)
    total = 20_000
    try:
        for start in range(0, total, 2000):
            pipe = redis.pipeline(transaction=False)
            for n in range(start, start + 2000):
                pipe.xadd(stream, {b"c": encode(_entry(links[n % 4]))})
            await pipe.execute()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CLICK_STREAM": stream,
            "QUEUE_NAME": f"linkinsights-test-kill-{uuid.uuid4().hex[:8]}",
            "DATA_DIR": str(tmp_path),
            "LOG_LEVEL": "WARNING",
        }
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "linkinsights", "worker", env=env, cwd=ROOT
        )
        try:

            async def rows_appear() -> bool:
                assert worker.returncode is None, "the worker exited"
                return (await _count(sessionmaker, links))[0] > 0

            await _until(rows_appear, within=60, what="the worker writing clicks")
        finally:
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
        stored_before, _ = await _count(sessionmaker, links)
        assert stored_before < total, "the worker finished before it was killed"
        survivor = Flusher(redis, engine, stream=stream, group="flushers", claim_idle=0.1)
        await survivor.drain()
        assert await redis.xlen(stream) == 0
    finally:
        await redis.delete(stream)
        await redis.aclose()
    assert await _count(sessionmaker, links) == (total, total)


# --- the spool ----------------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of the test's own, with AOF as production runs it: stopped and started again,
    it keeps what it had acknowledged."""
    server = EmbeddedRedis(tmp_path / "redis", durable=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_clicks_go_to_the_spool_while_redis_is_down_and_a_new_process_replays_them(
    own_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    redis = Redis.from_url(own_redis.url, socket_connect_timeout=1)
    spool_dir = tmp_path / "spool"
    first = ClickAppender(redis, Spool(spool_dir), stream="clicks", timeout=0.05)
    await first.start()
    assert await first.append(_entry("lt_a")) == "stream"
    own_redis.stop()
    where = await asyncio.gather(*(first.append(_entry("lt_a")) for _ in range(50)))
    assert where == ["spool"] * 50
    await first.close()  # the process ends with a non-empty spool
    assert sum(p.stat().st_size for p in spool_dir.iterdir()) > 0
    await redis.aclose()

    own_redis.start()  # Redis back, same port
    redis = Redis.from_url(own_redis.url)
    try:
        second = ClickAppender(redis, Spool(spool_dir), stream="clicks", timeout=0.05)
        await second.start()  # replays what the first process left
        try:

            async def replayed() -> bool:  # the click it took before it stopped, and 50 more
                try:
                    return int(await redis.xlen("clicks")) == 51
                except BusyLoadingError:  # still reading its AOF after the restart
                    return False

            await _until(replayed, within=10, what="the spool replay")
            assert list(spool_dir.iterdir()) == []
        finally:
            await second.close()
    finally:
        await redis.aclose()


def _files(folder: Path) -> list[Path]:
    return list(folder.iterdir())


def _tear(path: Path) -> None:
    with path.open("ab") as f:
        f.write(b"thr")  # a crash in the middle of a write that was never fsynced


async def test_a_torn_last_line_is_skipped_and_the_rest_replayed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    await spool.append([b"one", b"two"])
    spool.close()
    [path] = _files(tmp_path)
    _tear(path)
    sent: list[bytes] = []

    async def send(lines: Any) -> None:
        sent.extend(lines)

    assert await Spool(tmp_path).replay(send) == 2
    assert sent == [b"one", b"two"]
    assert _files(tmp_path) == []


async def test_a_live_process_spool_file_is_not_replayed_by_another(tmp_path: Path) -> None:
    live = Spool(tmp_path)
    await live.append([b"mine"])
    sent: list[bytes] = []

    async def send(lines: Any) -> None:
        sent.extend(lines)

    assert await Spool(tmp_path).replay(send) == 0
    assert sent == []
    live.close()
    assert await Spool(tmp_path).replay(send) == 1


# --- outages under redirect load ----------------------------------------------------------


async def _app_with(settings: Settings) -> tuple[Starlette, Any]:
    application = create_app(settings)
    lifespan = application.router.lifespan_context(application)
    await lifespan.__aenter__()
    return application, lifespan


async def _burst_of_redirects(app: Starlette, tracking_id: str, n: int) -> list[int]:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.77", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:

        async def one(k: int) -> int:
            response = await c.get(
                f"/track/{tracking_id}",
                headers={"user-agent": CHROME, "cookie": f"li_sid={k:022d}"},
            )
            return response.status_code

        return list(await asyncio.gather(*(one(k) for k in range(n))))


@pytest.mark.slow
async def test_redis_down_under_load_every_redirect_is_a_302_and_every_click_arrives(
    fx: Fixture,
    settings: Settings,
    sessionmaker: Any,
    engine: AsyncEngine,
    own_redis: EmbeddedRedis,
    tmp_path: Path,
) -> None:
    tid = await fx.link(None, "https://alex.dev/redis-outage")
    configured = settings.model_copy(
        update={
            "redis_url": own_redis.url,
            "click_stream": "clicks",
            "click_spool_dir": tmp_path / "spool",
        }
    )
    application, lifespan = await _app_with(configured)
    flusher_redis = Redis.from_url(own_redis.url, socket_connect_timeout=1)
    flusher = Flusher(flusher_redis, engine, stream="clicks", group="flushers", max_backoff=0.5)
    flusher.start()
    try:
        assert await _burst_of_redirects(application, tid, 20) == [302] * 20
        own_redis.stop()
        statuses = []
        for _ in range(5):  # several waves: the first finds Redis gone, the rest spool at once
            statuses += await _burst_of_redirects(application, tid, 40)
        assert statuses == [302] * 200
        assert application.state.spool.total_bytes() > 0
        own_redis.start()

        async def all_stored() -> bool:
            return (await _count(sessionmaker, [tid]))[0] == 220

        await _until(all_stored, within=30, what="every spooled click reaching PostgreSQL")
    finally:
        await flusher.stop()
        await flusher_redis.aclose()
        await lifespan.__aexit__(None, None, None)
    assert await _count(sessionmaker, [tid]) == (220, 220)


@pytest.fixture
async def own_postgres(tmp_path: Path) -> AsyncIterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path / "pg", durable=False)
    await asyncio.to_thread(server.start)
    try:
        await upgrade(server.url)
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@pytest.mark.slow
async def test_postgresql_down_under_load_cached_links_redirect_and_every_click_is_stored(
    settings: Settings, redis_url: str, own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:

    from db.engine import make_sessionmaker

    engine = make_engine(own_postgres.url, pool_size=2)
    own_sessions = make_sessionmaker(engine)
    account = await create_account(own_sessions)
    key = await create_key(own_sessions, account)
    configured = settings.model_copy(
        update={
            "database_url": own_postgres.url,
            "click_stream": f"linkinsights-test-pgdown-{uuid.uuid4().hex[:8]}",
            "click_spool_dir": tmp_path / "spool",
        }
    )
    application, lifespan = await _app_with(configured)
    redis = Redis.from_url(redis_url)
    flusher = Flusher(
        redis, engine, stream=configured.click_stream, group="flushers", max_backoff=0.5
    )
    flusher.start()
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            fixture = Fixture(GraphQLClient(c), key)
            cached = await fixture.link(None, "https://alex.dev/cached")
            uncached = await fixture.link(None, "https://alex.dev/uncached")
        assert await _burst_of_redirects(application, cached, 1) == [302]

        await asyncio.to_thread(own_postgres.stop)
        statuses = await _burst_of_redirects(application, cached, 200)
        assert statuses == [302] * 200
        down = await hit(application, uncached)
        assert (down.status_code, down.headers["retry-after"]) == (503, "5")
        ready = await httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ).get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["postgres"].startswith("down")

        await asyncio.to_thread(own_postgres.start)

        async def all_stored() -> bool:
            try:
                return (await _count(own_sessions, [cached]))[0] == 201
            except OSError:
                return False

        await _until(all_stored, within=30, what="every click reaching PostgreSQL")
        assert await _count(own_sessions, [cached]) == (201, 201)
    finally:
        await flusher.stop()
        await redis.delete(configured.click_stream)
        await redis.aclose()
        await lifespan.__aexit__(None, None, None)
        await engine.dispose()


# --- the link cache -----------------------------------------------------------------------


async def test_an_unknown_id_is_asked_of_postgresql_once_then_remembered(
    app: Starlette, count_statements: Any
) -> None:
    missing = f"lt_unknown_{uuid.uuid4().hex[:8]}"
    first = await hit(app, missing)
    after_first = count_statements.count
    again = [await hit(app, missing) for _ in range(5)]
    assert first.status_code == 404
    assert [r.status_code for r in again] == [404] * 5
    assert after_first == 1
    assert count_statements.count == after_first


async def test_concurrent_misses_share_one_lookup(
    app: Starlette, fx: Fixture, count_statements: Any
) -> None:
    tids = [await fx.link(None, f"https://alex.dev/{n}") for n in range(3)]
    before = count_statements.count
    responses = await asyncio.gather(*(hit(app, t) for t in tids for _ in range(10)))
    assert [r.status_code for r in responses] == [302] * 30
    assert count_statements.count - before == 1


async def _start_api(settings: Settings, port: int, tmp: Path) -> asyncio.subprocess.Process:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "API_WORKERS": "1",
        "CLICK_STREAM": settings.click_stream,
        "QUEUE_NAME": settings.queue_name,
        "DATA_DIR": str(tmp),
        "RATE_LIMIT_PER_KEY_PER_MINUTE": "100000",
        "LOG_LEVEL": "WARNING",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linkinsights", "api", "--port", str(port), env=env, cwd=ROOT
    )


@pytest.fixture(scope="module")
async def api_process(settings: Settings, tmp_path_factory: Any) -> AsyncIterator[str]:
    """Another API process, on the same database, Redis and click stream."""
    port = _free_port()
    proc = await _start_api(settings, port, tmp_path_factory.mktemp("api"))
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as c:

            async def up() -> bool:
                assert proc.returncode is None, "the API process exited"
                try:
                    return (await c.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await _until(up, within=60, what="the API process starting")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@pytest.mark.slow
async def test_deactivation_and_gdpr_delete_reach_another_process_within_a_second(
    fx: Fixture, api_process: str
) -> None:
    app_id = await fx.application()
    deactivated = await fx.link(app_id, "https://alex.dev/a", "A")
    deleted_app = await fx.application()
    deleted = await fx.link(deleted_app, "https://alex.dev/b", "B")
    async with httpx.AsyncClient(base_url=api_process) as other:
        for tid in (deactivated, deleted):
            assert (await other.get(f"/track/{tid}")).status_code == 302  # now cached there
        body = await fx.gql(DEACTIVATE, {"i": {"trackingId": deactivated}}, key=fx.key)
        assert body["data"]["deactivateTrackedLink"]["isActive"] is False
        body = await fx.gql(DELETE_APP, {"i": {"applicationId": deleted_app}}, key=fx.key)
        assert body["data"]["deleteApplication"]["links"] == 1

        # The cache's TTL is 30 s: only the change notice can make this happen within 1 s.
        for tid in (deactivated, deleted):

            async def gone(tid: str = tid) -> bool:
                return (await other.get(f"/track/{tid}")).status_code == 404

            await _until(gone, within=1.0, what=f"{tid} answering 404 in the other process")


# --- recordClick --------------------------------------------------------------------------


async def test_record_click_with_a_client_click_id_is_stored_once(
    app: Starlette, fx: Fixture, sessionmaker: Any
) -> None:
    tid = await fx.link(None, "https://alex.dev")
    variables = {"i": {"trackingId": tid, "clientClickId": "partner-42", "ipAddress": "192.0.2.9"}}
    first = await fx.gql(RECORD_CLICK, variables, key=fx.key)
    retried = await fx.gql(RECORD_CLICK, variables, key=fx.key)
    assert first["data"]["recordClick"]["id"] == retried["data"]["recordClick"]["id"]
    assert first["data"]["recordClick"]["isBot"] is False
    rows = await clicks_of(app, sessionmaker, tid)
    assert len(rows) == 1
    assert rows[0]["metadata"] == {"client_click_id": "partner-42"}


async def test_the_same_client_click_id_in_two_accounts_is_two_clicks(
    app: Starlette, gql: GraphQLClient, sessionmaker: Any
) -> None:
    ids = []
    for _ in range(2):
        key = await create_key(sessionmaker, await create_account(sessionmaker))
        tid = await Fixture(gql, key).link(None, "https://alex.dev")
        body = await gql(RECORD_CLICK, {"i": {"trackingId": tid, "clientClickId": "c1"}}, key=key)
        ids.append(body["data"]["recordClick"]["id"])
    assert ids[0] != ids[1]


async def test_record_click_has_the_click_recording_limit_not_the_query_limit(
    settings: Settings, gql: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    limited = settings.model_copy(
        update={"rate_limit_per_key_per_minute": 2, "rate_limit_record_click_per_minute": 5}
    )
    application = create_app(limited)
    async with application.router.lifespan_context(application):
        key = await create_key(sessionmaker, await create_account(sessionmaker))
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            client = GraphQLClient(c)
            tid = await Fixture(client, key).link(None, "https://alex.dev")  # query budget: 1
            codes = []
            for n in range(6):
                body = await client(
                    RECORD_CLICK, {"i": {"trackingId": tid, "clientClickId": f"r{n}"}}, key=key
                )
                codes.append((body.get("errors") or [{}])[0].get("extensions", {}).get("code"))
    assert codes == [None] * 5 + ["RATE_LIMITED"]


# --- the live feed ------------------------------------------------------------------------


@pytest.mark.slow
async def test_click_recorded_delivers_the_account_s_clicks_and_nothing_of_another(
    app: Starlette,
    fx: Fixture,
    gql: GraphQLClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    api_process: str,
) -> None:
    app_id = await fx.application()
    mine = await fx.link(app_id, "https://alex.dev/mine")
    other_key = await create_key(sessionmaker, await create_account(sessionmaker))
    theirs = await Fixture(gql, other_key).link(None, "https://other.dev")
    url = api_process.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            orjson.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {fx.key}"}}
            ).decode()
        )
        ack = await ws.recv()
        assert isinstance(ack, str)
        assert orjson.loads(ack)["type"] == "connection_ack"
        await ws.send(
            orjson.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription($a: ID) { clickRecorded(applicationId: $a)"
                        " { trackingId isBot } }",
                        "variables": {"a": app_id},
                    },
                }
            ).decode()
        )
        async with httpx.AsyncClient(base_url=api_process) as other:
            # The subscription is live once the server has subscribed to the channel: retry
            # the click of our own link until one arrives; the other account's comes first.
            for _ in range(50):
                assert (await other.get(f"/track/{theirs}")).status_code == 302
                assert (
                    await other.get(f"/track/{mine}", headers={"user-agent": CHROME})
                ).status_code == 302
                try:
                    frame = await asyncio.wait_for(ws.recv(), timeout=0.5)
                    assert isinstance(frame, str)  # text frames: what browsers' clients parse
                    message = orjson.loads(frame)
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail("no click was delivered")
    assert message["type"] == "next"
    assert message["payload"]["data"]["clickRecorded"] == {"trackingId": mine, "isBot": False}


async def test_a_websocket_without_a_key_is_refused(api_process: str) -> None:
    url = api_process.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_a_flushed_click_makes_the_account_s_cached_aggregates_fresh(
    app: Starlette, fx: Fixture
) -> None:
    summary = "{ engagementSummary { totalClicks computedAt } }"
    app_id = await fx.application()
    tid = await fx.link(app_id, "https://alex.dev")
    before = (await fx.gql(summary, key=fx.key))["data"]["engagementSummary"]
    cached = (await fx.gql(summary, key=fx.key))["data"]["engagementSummary"]
    assert cached == before  # the second read is the cache's
    assert (await hit(app, tid)).status_code == 302
    await flushed(app)
    after = (await fx.gql(summary, key=fx.key))["data"]["engagementSummary"]
    assert after["totalClicks"] == before["totalClicks"] + 1


async def test_metrics_show_the_stream_and_the_spool(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    text_ = (await client.get("/metrics")).text
    for name in (
        "linkinsights_click_stream_length",
        "linkinsights_click_stream_pending",
        "linkinsights_click_oldest_pending_seconds",
        "linkinsights_click_spool_bytes",
    ):
        assert any(line.startswith(name + " ") for line in text_.splitlines()), name
