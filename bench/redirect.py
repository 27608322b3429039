"""Redirect throughput, latency and click durability: GET /track/{id}, against a ceiling.

    .venv/bin/python bench/redirect.py [--duration 8] [--concurrency 50] [--links 150]
    .venv/bin/python bench/redirect.py --outage postgres|redis [--rate 200] [--outage-load 30]

Starts what it needs: PostgreSQL and Redis from DATABASE_URL / REDIS_URL (else the embedded
default), a fresh database (migrated, one account with 50 applications x 3 links, dropped at
the end), a `linkinsights worker` subprocess (the click flusher) on a stream and queue of its
own (CLICK_STREAM / QUEUE_NAME unique per run, DATA_DIR in a temp folder), and three uvicorn
(uvloop + httptools) subprocesses on free ports, measured one at a time by the same client
(raw asyncio sockets on uvloop, keep-alive, 50 connections):

1. a raw asyncio server answering a constant 302: what the *client* can drive on this
   machine, so we know it is not the bottleneck;
2. a bare Starlette app with a constant 302 and no database: the ceiling;
3. the real app: /track/{id}, each click made durable (Redis Stream, or the local spool)
   before its 302, on the same CLICK_STREAM the worker flushes into link_clicks.

For 2 and 3 it reports redirects/second and p50/p99 latency at saturation (closed loop, 50
clients), then the app's latency again at a paced load of half its throughput (open loop),
and the ratio app/ceiling. Targets: >= 50% of the ceiling, p99 <= 10 ms.

Lag from 302 to row visible in link_clicks, measured by polling: one request in
`--sample-every` carries a known session cookie; the client notes when its 302 arrived, and a
poller (every `--poll-ms`) looks those session ids up in link_clicks and notes when each row
is first seen. The lag is therefore an upper bound, coarse by the poll interval. Target p99
<= 2 s at the measured rate.

Flusher throughput: with the worker stopped, `--flush-rows` clicks are appended to the stream;
the worker is started and the time from its first stored row to the last is measured.

`--outage postgres|redis`: the benchmark starts its OWN PostgreSQL (embedded, temp dir) or its
OWN Redis (embedded, AOF on, temp dir), never the machine's; warms the link cache (every link
once), runs paced redirects (`--rate`/s for `--outage-load` s), stops that service for
`--outage-seconds` in the middle, starts it again, waits (bounded) until every answered click
is stored, and prints redirects by status, clicks answered vs stored, lost (must be 0),
duplicates (must be 0) and how long the backlog took to drain after the service returned.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# --- servers (run in subprocesses) ------------------------------------------------------------


def serve(kind: str, port: int, database_url: str, redis_url: str, workers: int) -> None:
    import uvicorn

    if kind == "raw":
        import uvloop

        body = b"HTTP/1.1 302 Found\r\nlocation: https://example.com/\r\ncontent-length: 0\r\n\r\n"

        class Constant(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport
                self.buf = b""

            def data_received(self, data: bytes) -> None:
                self.buf += data
                while b"\r\n\r\n" in self.buf:
                    _, self.buf = self.buf.split(b"\r\n\r\n", 1)
                    self.transport.write(body)  # type: ignore[attr-defined]

        async def main() -> None:
            server = await asyncio.get_running_loop().create_server(Constant, "127.0.0.1", port)
            await server.serve_forever()

        uvloop.run(main())
        return

    from config import Settings
    from linkinsights.server import run_api

    settings = Settings(
        database_url=database_url, redis_url=redis_url, log_level="WARNING", api_workers=workers
    )
    if kind == "app":
        # Exactly as `linkinsights api` serves it (same worker processes, same heap settling).
        run_api(settings, host="127.0.0.1", port=port)
        return
    # The ceiling: a bare Starlette app, served by as many uvicorn processes as the app.
    uvicorn.run(
        "redirect:ceiling_app",
        factory=True,
        workers=workers,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


def ceiling_app() -> object:
    """A constant 302 from Starlette, no middleware and no database."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def constant(request: Request) -> Response:
        return Response(status_code=302, headers={"location": "https://example.com/"})

    return Starlette(routes=[Route("/track/{tracking_id}", constant)])


@dataclass
class Run:
    """What every subprocess of one benchmark run shares: services, stream, queue, data dir."""

    database_url: str
    redis_url: str
    workers: int
    tmp: Path
    stream: str = field(default_factory=lambda: f"li-bench:clicks:{uuid.uuid4().hex[:10]}")
    queue: str = field(default_factory=lambda: f"li-bench:queue:{uuid.uuid4().hex[:10]}")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            CLICK_STREAM=self.stream,
            QUEUE_NAME=self.queue,
            DATA_DIR=str(self.tmp / "data"),
            LOG_LEVEL="WARNING",
        )
        return env

    def spool_bytes(self) -> int:
        folder = self.tmp / "data" / "spool"
        return sum(f.stat().st_size for f in folder.glob("*.spool")) if folder.exists() else 0


def start_server(kind: str, run: Run) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = open(run.tmp / f"{kind}.log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port),
         "--database-url", run.database_url, "--redis-url", run.redis_url,
         "--workers", str(run.workers)],
        cwd=ROOT, env=run.env(), stdout=log, stderr=log,
    )  # fmt: skip
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pass
            if kind == "raw" or answers(port, deadline):
                return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{kind} server exited with {proc.returncode}; see {run.tmp / kind}.log"
                ) from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


def answers(port: int, deadline: float) -> bool:
    """True once 10 requests in a row, each on a new connection, are answered within 0.5 s:
    the port accepts as soon as uvicorn binds it, before its worker processes have started."""
    import uvloop

    async def probe() -> bool:
        in_a_row = 0
        while in_a_row < 10:
            if time.monotonic() > deadline:
                return False
            t0 = time.perf_counter()
            status = await get_status(port, "/track/lt_ready", f"r{in_a_row}")
            quick = status.isdigit() and time.perf_counter() - t0 < 0.5
            in_a_row = in_a_row + 1 if quick else 0
            if not quick:
                await asyncio.sleep(0.2)
        return True

    return uvloop.run(probe())


def start_worker(run: Run) -> subprocess.Popen[bytes]:
    """`linkinsights worker`: the arq worker, which runs the click flusher."""
    log = open(run.tmp / "worker.log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        [sys.executable, "-m", "linkinsights", "worker"],
        cwd=ROOT, env=run.env(), stdout=log, stderr=log,
    )  # fmt: skip
    log.close()
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- the client -------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        return pct(self.latencies_ms, p)

    def line(self) -> str:
        return (
            f"{self.name:<34} {self.rps:>9,.0f} req/s   p50 {self.pct(50):6.2f} ms   "
            f"p99 {self.pct(99):6.2f} ms   ({self.requests} requests, {self.errors} errors)"
        )


class LagProbe:
    """302 received -> row visible in link_clicks, by polling sampled session ids."""

    def __init__(self, database_url: str, poll: float) -> None:
        self.url = database_url.replace("postgresql+asyncpg://", "postgresql://")
        self.poll = poll
        self.waiting: dict[str, float] = {}
        self.lags: list[float] = []
        self.polls: list[float] = []  # how long each poll query took (its resolution)

    def sent(self, sid: str, answered_at: float) -> None:
        self.waiting[sid] = answered_at

    async def run(self, stop: asyncio.Event) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url)
        try:
            while not stop.is_set() or self.waiting:
                if self.waiting:
                    t0 = time.perf_counter()
                    rows = await conn.fetch(
                        "SELECT session_id FROM link_clicks WHERE session_id = ANY($1::text[])",
                        list(self.waiting),
                    )
                    seen = time.perf_counter()
                    self.polls.append(seen - t0)
                    for row in rows:
                        answered = self.waiting.pop(row["session_id"], None)
                        if answered is not None:
                            self.lags.append(seen - answered)
                await asyncio.sleep(self.poll)
        finally:
            await conn.close()

    async def finish(self, stop: asyncio.Event, task: asyncio.Task[None], bound: float) -> None:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), bound)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def line(self) -> str:
        return (
            f"lag 302 -> row visible: p50 {pct(self.lags, 50) * 1000:,.0f} ms, "
            f"p99 {pct(self.lags, 99) * 1000:,.0f} ms, max {max(self.lags, default=0) * 1000:,.0f}"
            f" ms ({len(self.lags)} sampled clicks, {len(self.waiting)} never seen; polled "
            f"every {self.poll * 1000:.0f} ms, query p50 {pct(self.polls, 50) * 1000:.1f} ms)"
        )


async def load(
    name: str,
    port: int,
    paths: list[str],
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    rate: float | None = None,
    prefix: str = "b",
    probe: LagProbe | None = None,
    sample_every: int = 50,
    answered: list[str] | None = None,
    request_timeout: float = 10.0,
) -> Result:
    """`concurrency` keep-alive connections; closed loop, or paced to `rate` req/s in total.

    Every request has its own session id (`prefix` + connection + sequence: distinct visitors,
    no bursts). A request that fails (connection refused or reset, no answer within
    `request_timeout`) is counted by kind and its connection opened again."""
    latencies: list[float] = []
    statuses: collections.Counter[str] = collections.Counter()
    counted = errors = 0
    measuring = False
    stop = False
    interval = concurrency / rate if rate else 0.0

    async def worker(w: int) -> None:
        nonlocal counted, errors
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        n = 0
        next_at = time.perf_counter() + (w / concurrency) * interval
        while not stop:
            if interval:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at += interval
            n += 1
            path = paths[(w * 7919 + n) % len(paths)]
            sid = f"{prefix}{w:05d}x{n:016d}"
            request = (
                f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: {UA}\r\n"
                f"Cookie: li_sid={sid}\r\nReferer: https://mail.google.com/\r\n\r\n"
            ).encode()
            start = time.perf_counter()
            try:
                async with asyncio.timeout(request_timeout):
                    if conn is None:
                        conn = await asyncio.open_connection("127.0.0.1", port)
                    reader, writer = conn
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line[:15].lower() == b"content-length:":
                            length = int(line[15:])
                    if length:
                        await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                if measuring:
                    errors += 1
                    statuses[
                        "timeout" if isinstance(exc, TimeoutError) else "connection failed"
                    ] += 1
                if conn is not None:
                    conn[1].close()
                conn = None
                await asyncio.sleep(0.05)
                continue
            now = time.perf_counter()
            if not measuring:
                continue
            status = head[9:12].decode()
            statuses[status] += 1
            if status == "302":
                counted += 1
                latencies.append((now - start) * 1000)
                if answered is not None:
                    answered.append(sid)
                if probe is not None and n % sample_every == 0:
                    probe.sent(sid, now)
            else:
                errors += 1
        if conn is not None:
            conn[1].close()

    tasks = [asyncio.create_task(worker(w)) for w in range(concurrency)]
    await asyncio.sleep(warmup)
    measuring = True
    t0 = time.perf_counter()
    await asyncio.sleep(duration)
    measuring = False
    seconds = time.perf_counter() - t0
    stop = True
    await asyncio.gather(*tasks, return_exceptions=True)
    return Result(name, counted, seconds, latencies, errors, statuses)


async def load_with_lag(
    name: str, port: int, paths: list[str], database_url: str, args: argparse.Namespace, **kw: Any
) -> tuple[Result, LagProbe]:
    probe = LagProbe(database_url, args.poll_ms / 1000)
    stop = asyncio.Event()
    task = asyncio.create_task(probe.run(stop))
    result = await load(name, port, paths, probe=probe, sample_every=args.sample_every, **kw)
    await probe.finish(stop, task, bound=120)
    return result, probe


# --- the database -----------------------------------------------------------------------------


async def make_database(server_url: str, links: int) -> tuple[str, list[str]]:
    import asyncpg

    from db.migrate import upgrade

    plain = server_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"li_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(plain)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"{plain.rpartition('/')[0]}/{name}"
    await upgrade(url)
    conn = await asyncpg.connect(url)
    try:
        account = await conn.fetchval("INSERT INTO accounts (name) VALUES ('bench') RETURNING id")
        ids: list[str] = []
        functions = ("LinkedIn", "Calendly", "Portfolio")
        for a in range(max(1, links // 3)):
            app_id = await conn.fetchval(
                "INSERT INTO job_applications (account_id) VALUES ($1) RETURNING id", account
            )
            for f in functions:
                tid = f"lt_{a:06x}{functions.index(f):06x}"
                await conn.execute(
                    "INSERT INTO link_tracking (tracking_id, account_id, application_id,"
                    " link_function, link_type, original_url, redirect_url)"
                    " VALUES ($1, $2, $3, $4, 'profile', $5, $6)",
                    tid,
                    account,
                    app_id,
                    f,
                    f"https://example.com/{f.lower()}/{a}",
                    f"http://127.0.0.1/track/{tid}",
                )
                ids.append(tid)
    finally:
        await conn.close()
    return url, ids


async def count_clicks(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM link_clicks"))
    finally:
        await conn.close()


async def drop_database(server_url: str, url: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(server_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
    finally:
        await admin.close()


async def stored_clicks(url: str, prefix: str) -> tuple[int, int, int, set[str]]:
    """Rows whose session id starts with `prefix`: (rows, distinct click ids, distinct session
    ids, the session ids)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT click_id, session_id FROM link_clicks WHERE starts_with(session_id, $1)",
            prefix,
        )
    finally:
        await conn.close()
    sids = [r["session_id"] for r in rows]
    return len(rows), len({r["click_id"] for r in rows}), len(set(sids)), set(sids)


async def fill_stream(redis_url: str, stream: str, ids: list[str], n: int, prefix: str) -> None:
    """`n` clicks as the redirect encodes them, appended to the stream the worker reads."""
    from datetime import UTC, datetime

    from redis.asyncio import Redis

    from db.ingest import ClickEntry
    from domain.ids import uuid7
    from jobs.click_stream import FIELD, encode

    redis = Redis.from_url(redis_url)
    try:
        for start in range(0, n, 1000):
            pipe = redis.pipeline(transaction=False)
            now = datetime.now(UTC)
            for i in range(start, min(n, start + 1000)):
                entry = ClickEntry(
                    click_id=uuid7(),
                    tracking_id=ids[i % len(ids)],
                    clicked_at=now,
                    ip_address="127.0.0.1",
                    user_agent=UA,
                    referrer_url="https://mail.google.com/",
                    session_id=f"{prefix}{i:016d}",
                    click_source="email",
                    is_bot=False,
                    bot_reason=None,
                    request_method="GET",
                )
                pipe.xadd(stream, {FIELD: encode(entry)})
            await pipe.execute()
    finally:
        await redis.aclose()


async def stream_length(redis_url: str, stream: str) -> int | None:
    """XLEN of the stream (the flusher deletes what it stored), None if Redis does not answer."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    redis = Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return int(await redis.xlen(stream))
    except (RedisError, OSError):
        return None
    finally:
        await redis.aclose()


async def wait_drained(redis_url: str, stream: str, bound: float) -> float | None:
    """Seconds until the stream is empty (the flusher deletes what it stored); None past the
    bound."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < bound:
        if await stream_length(redis_url, stream) == 0:
            return time.perf_counter() - t0
        await asyncio.sleep(0.1)
    return None


async def wait_stored(
    url: str, prefix: str, count: int, bound: float, poll: float = 0.1
) -> tuple[float | None, int, float | None]:
    """Poll until `count` rows with `prefix` are visible: (seconds to the first rows, how many
    they were, seconds to the last), None where the bound passed first."""
    import asyncpg

    t0 = time.perf_counter()
    first: float | None = None
    at_first = 0
    conn = None
    while time.perf_counter() - t0 < bound:
        try:
            if conn is None:
                conn = await asyncpg.connect(url)
            n = int(
                await conn.fetchval(
                    "SELECT count(*) FROM link_clicks WHERE starts_with(session_id, $1)", prefix
                )
            )
        except (OSError, asyncpg.PostgresError):
            conn = None
            await asyncio.sleep(poll)
            continue
        if n and first is None:
            first, at_first = time.perf_counter() - t0, n
        if n >= count:
            await conn.close()
            return first, at_first, time.perf_counter() - t0
        await asyncio.sleep(poll)
    if conn is not None:
        await conn.close()
    return first, at_first, None


async def wait_sids(url: str, sids: list[str], bound: float, poll: float = 0.2) -> float | None:
    """Seconds until every one of `sids` has its row in link_clicks; None past the bound."""
    import asyncpg

    t0 = time.perf_counter()
    conn = None
    while time.perf_counter() - t0 < bound:
        try:
            if conn is None:
                conn = await asyncpg.connect(url)
            n = int(
                await conn.fetchval(
                    "SELECT count(DISTINCT session_id) FROM link_clicks"
                    " WHERE session_id = ANY($1::text[])",
                    sids,
                )
            )
        except (OSError, asyncpg.PostgresError):
            conn = None
            await asyncio.sleep(poll)
            continue
        if n >= len(set(sids)):
            await conn.close()
            return time.perf_counter() - t0
        await asyncio.sleep(poll)
    if conn is not None:
        await conn.close()
    return None


async def get_status(port: int, path: str, sid: str) -> str:
    """One GET on a connection of its own: the status, or why there was none."""
    try:
        async with asyncio.timeout(5):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: {UA}\r\n"
                f"Cookie: li_sid={sid}\r\nConnection: close\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            writer.close()
            return head[9:12].decode()
    except TimeoutError:
        return "timeout"
    except (OSError, asyncio.IncompleteReadError):
        return "connection failed"


# --- main -------------------------------------------------------------------------------------


def base_settings(**urls: str | None) -> Any:
    from config import Settings

    return Settings(
        database_url=urls.get("database_url") or os.environ.get("DATABASE_URL") or None,
        redis_url=urls.get("redis_url") or os.environ.get("REDIS_URL") or None,
        data_dir=ROOT / ".data" / "bench",
    )


def server_workers(settings: Any, args: argparse.Namespace) -> int:
    from config import Settings
    from linkinsights.server import worker_count

    return worker_count(settings if args.workers is None else Settings(api_workers=args.workers))


def run(args: argparse.Namespace) -> int:
    import uvloop

    from linkinsights.runtime import services

    print(f"load average at start: {loadavg()} ({os.cpu_count()} CPUs)", flush=True)
    with (
        services(base_settings()) as (settings, _svc),
        tempfile.TemporaryDirectory(prefix="li-bench-") as tmp,
    ):
        assert settings.database_url
        assert settings.redis_url
        server_url = settings.database_url
        url, ids = uvloop.run(make_database(server_url, args.links))
        paths = [f"/track/{t}" for t in ids]
        bench = Run(url, settings.redis_url, server_workers(settings, args), Path(tmp))
        kw = {"concurrency": args.concurrency, "duration": args.duration, "warmup": args.warmup}
        worker = start_worker(bench)
        try:
            results: dict[str, Result] = {}
            lags: dict[str, LagProbe] = {}
            for kind, label in (
                ("raw", "client capacity (raw 302 server)"),
                ("ceiling", "ceiling: bare Starlette 302"),
                ("app", "app: /track, click durable"),
            ):
                proc, port = start_server(kind, bench)
                try:
                    if kind != "app":
                        results[kind] = uvloop.run(load(label, port, paths, **kw))
                        continue
                    results["app"], lags["app"] = uvloop.run(
                        load_with_lag(label, port, paths, url, args, prefix="s", **kw)
                    )
                    # The paced run starts on an empty stream: the backlog left by the
                    # saturation run is drained first (and how long that took is printed).
                    drain = uvloop.run(wait_drained(bench.redis_url, bench.stream, bound=300))
                    rate = results["app"].rps * args.paced_fraction
                    results["paced"], lags["paced"] = uvloop.run(
                        load_with_lag(
                            f"app paced at {rate:,.0f} req/s", port, paths, url, args,
                            rate=rate, prefix="p", **kw,
                        )
                    )  # fmt: skip
                finally:
                    stop_server(proc)
            # Every 302 of the app runs (warm-up included) has its row once the stream drains.
            answered = results["app"].requests + results["paced"].requests
            uvloop.run(wait_stored(url, "", answered, bound=60))
            rows = {p: uvloop.run(stored_clicks(url, p)) for p in ("s", "p")}

            # The flusher alone: the stream filled while no worker runs, then drained.
            stop_server(worker)
            n = args.flush_rows
            uvloop.run(fill_stream(bench.redis_url, bench.stream, ids, n, "f"))
            started = time.perf_counter()
            worker = start_worker(bench)
            first, at_first, last = uvloop.run(wait_stored(url, "f", n, bound=300, poll=0.05))
            startup = time.perf_counter() - started
            left = uvloop.run(stream_length(bench.redis_url, bench.stream))
        finally:
            stop_server(worker)
            uvloop.run(drop_database(server_url, url))

    app, ceiling, paced = results["app"], results["ceiling"], results["paced"]
    print(
        f"redirect benchmark: {args.concurrency} clients, {args.duration:.0f} s each, "
        f"{len(ids)} links, {os.cpu_count()} CPUs, {bench.workers} server process(es), "
        f"1 worker (flusher) process"
    )
    for r in results.values():
        print("  " + r.line())
    for name, (nrows, _ids, nsids, _) in rows.items():
        label, measured = ("saturation", app) if name == "s" else ("paced", paced)
        print(
            f"  {label}: {nrows} rows stored for >= {measured.requests} measured 302s "
            f"(warm-up included), {nrows - nsids} duplicates"
        )
    print(f"  {lags['app'].line()} -- at saturation")
    print(
        "  stream backlog after the saturation run drained in "
        + (f"{drain:.1f} s" if drain is not None else "NOT within 300 s")
        + " (before the paced run started)"
    )
    print(f"  {lags['paced'].line()} -- paced")
    if first is not None and last is not None and last > first:
        flush_rate = (n - at_first) / (last - first)
        print(
            f"  flusher: {n:,} clicks in the stream, worker started: first rows after "
            f"{first:.2f} s, all {n:,} stored after {last:.2f} s -> {flush_rate:,.0f} rows/s "
            f"(stream left: {left})"
        )
    else:
        flush_rate = float("nan")
        print(f"  flusher: {n:,} clicks not all stored within 300 s (first after {first} s)")
    del startup
    ratio = app.rps / ceiling.rps
    print(
        f"SUMMARY redirect: app {app.rps:,.0f} req/s vs ceiling {ceiling.rps:,.0f} req/s "
        f"= {ratio:.0%} (target >= 50%); p99 {app.pct(99):.2f} ms at saturation, "
        f"{paced.pct(99):.2f} ms paced (target <= 10 ms); lag to row p99 "
        f"{pct(lags['app'].lags, 99):.2f} s at saturation, {pct(lags['paced'].lags, 99):.2f} s "
        f"paced (target <= 2 s); flusher {flush_rate:,.0f} rows/s; client capacity "
        f"{results['raw'].rps:,.0f} req/s"
    )
    print(f"load average at end: {loadavg()}")
    return 0


def run_outage(args: argparse.Namespace) -> int:
    import uvloop

    from linkinsights.embedded import EmbeddedPostgres, EmbeddedRedis
    from linkinsights.runtime import services

    print(f"load average at start: {loadavg()} ({os.cpu_count()} CPUs)", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="li-bench-outage-"))
    own: EmbeddedPostgres | EmbeddedRedis
    if args.outage == "postgres":
        own = EmbeddedPostgres(tmp / "postgres", durable=False)
        own.start()
        urls = {"database_url": own.url}
    else:
        own = EmbeddedRedis(tmp / "redis", durable=True)
        own.start()
        urls = {"redis_url": own.url}
    try:
        with services(base_settings(**urls)) as (settings, _svc):
            assert settings.database_url
            assert settings.redis_url
            server_url = settings.database_url
            uncached_n = 9 if args.outage == "postgres" else 0
            url, ids = uvloop.run(make_database(server_url, args.links + uncached_n))
            cached = ids[: len(ids) - uncached_n]
            uncached = ids[len(ids) - uncached_n :]
            bench = Run(url, settings.redis_url, server_workers(settings, args), tmp)
            procs = {"worker": start_worker(bench)}
            app, port = start_server("app", bench)
            procs["app"] = app
            try:
                report = uvloop.run(outage(args, bench, port, own, cached, uncached, procs))
                for name, p in procs.items():
                    if p.poll() is not None:
                        tail = (tmp / f"{name}.log").read_text(errors="replace")[-1500:]
                        report.append(f"  the {name} process EXITED ({p.returncode}):\n{tail}")
            finally:
                stop_server(app)
                stop_server(procs["worker"])
                if own.started_here or args.outage == "redis":
                    with contextlib.suppress(Exception):
                        uvloop.run(drop_database(server_url, url))
    finally:
        own.stop()
        if args.keep_tmp:
            print(f"kept {tmp} (logs of the app and the worker)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for line in report:
        print(line)
    print(f"load average at end: {loadavg()}")
    return 0


async def outage(
    args: argparse.Namespace,
    bench: Run,
    port: int,
    own: Any,
    cached: list[str],
    uncached: list[str],
    procs: dict[str, subprocess.Popen[bytes]],
) -> list[str]:
    url = bench.database_url
    # A supervisor, as systemd's Restart= would be: a worker process that exits is started
    # again (and each exit is reported: the flusher should outlive an outage on its own).
    exits: list[str] = []
    t_start = time.perf_counter()

    async def supervise() -> None:
        while True:
            await asyncio.sleep(0.5)
            if procs["worker"].poll() is not None:
                exits.append(
                    f"{time.perf_counter() - t_start:.1f} s (code {procs['worker'].returncode})"
                )
                procs["worker"] = start_worker(bench)

    supervisor = asyncio.create_task(supervise())
    # Warm the link cache: every link once, on as many connections as there are processes
    # (each process holds a cache of its own), until each link has answered everywhere.
    warm = [await get_status(port, f"/track/{t}", f"w{i:06d}{k}")
            for k in range(4 * bench.workers) for i, t in enumerate(cached)]  # fmt: skip
    paths = [f"/track/{t}" for t in cached]
    answered: list[str] = []
    before = (args.outage_load - args.outage_seconds) / 2
    load_task = asyncio.create_task(
        load(
            "outage", port, paths, concurrency=args.outage_clients, duration=args.outage_load,
            warmup=0.0, rate=args.rate, prefix="o", answered=answered, request_timeout=5.0,
        )
    )  # fmt: skip
    await asyncio.sleep(before)
    stopped_at = time.perf_counter()
    await asyncio.to_thread(own.stop)
    uncached_statuses: collections.Counter[str] = collections.Counter()
    await asyncio.sleep(min(2.0, args.outage_seconds / 2))
    for i, t in enumerate(uncached):
        uncached_statuses[await get_status(port, f"/track/{t}", f"u{i:06d}")] += 1
    await asyncio.sleep(max(0.0, args.outage_seconds - (time.perf_counter() - stopped_at)))
    down_for = time.perf_counter() - stopped_at
    await asyncio.to_thread(own.start)
    spool_at_return = bench.spool_bytes()
    stream_at_return = await stream_length(bench.redis_url, bench.stream)
    backlog = list(answered)  # answered before the service came back
    drain_task = asyncio.create_task(wait_sids(url, backlog, bound=args.drain_bound))
    result = await load_task
    load_ended = time.perf_counter()
    drained = await drain_task
    everything = await wait_sids(url, answered, bound=args.drain_bound)
    if everything is not None:
        everything = time.perf_counter() - load_ended
    supervisor.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await supervisor
    rows, click_ids, sids, stored = await stored_clicks(url, "o")
    lost = len(set(answered) - stored)
    unanswered_stored = len(stored - set(answered))
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses.items()))
    lines = [
        f"outage benchmark: {args.outage} (the benchmark's own, on port {own.port}) stopped for "
        f"{down_for:.1f} s, {before:.0f} s into {args.outage_load:.0f} s of redirects paced at "
        f"{args.rate:.0f}/s on {args.outage_clients} connections; {len(cached)} links "
        f"(cache warmed: {sum(s == '302' for s in warm)}/{len(warm)} warm-up 302s); "
        f"{bench.workers} server process(es), 1 worker",
        f"  redirects by status: {statuses} ({result.requests + result.errors} measured)",
        f"  latency of the 302s: p50 {result.pct(50):.2f} ms, p99 {result.pct(99):.2f} ms, "
        f"max {max(result.latencies_ms, default=0):.2f} ms",
    ]
    if uncached:
        lines.append(
            "  uncached links during the outage (expected 503): "
            + ", ".join(f"{k}: {v}" for k, v in sorted(uncached_statuses.items()))
        )
    lines += [
        f"  at the return: stream length {stream_at_return}, spool {spool_at_return:,} bytes; "
        f"{len(backlog)} clicks answered before it",
        "  backlog drained (every click answered before the return stored): "
        + (
            f"{drained:.2f} s after the return"
            if drained is not None
            else f"NOT within {args.drain_bound:.0f} s"
        ),
        "  all answered clicks stored: "
        + (
            f"{everything:.2f} s after the load ended"
            if everything is not None
            else f"NOT within {args.drain_bound:.0f} s"
        ),
        f"  clicks answered (302): {len(answered)}, rows stored: {rows}, lost: {lost}, "
        f"duplicates: {rows - sids} by session id ({rows - click_ids} by click id); "
        f"stored without a 302 seen by the client: {unanswered_stored}",
        f"  stream left: {await stream_length(bench.redis_url, bench.stream)}, "
        f"spool left: {bench.spool_bytes():,} bytes",
        "  the worker (flusher) process exited and was started again by the benchmark at: "
        + (", ".join(exits) + " after the load began" if exits else "never (it did not exit)"),
        f"SUMMARY outage {args.outage}: {result.statuses.get('302', 0)} x 302, "
        f"{sum(v for k, v in result.statuses.items() if k != '302')} failed; "
        f"lost {lost} (target 0), duplicates {rows - sids} (target 0); drained "
        + (f"{drained:.2f} s" if drained is not None else "NOT")
        + " after the return",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--links", type=int, default=150)
    parser.add_argument(
        "--paced-fraction", type=float, default=0.5, help="paced load, share of app throughput"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes for the ceiling and the app (default: API_WORKERS, 0 = per core)",
    )
    parser.add_argument("--sample-every", type=int, default=50, help="lag: 1 request in N")
    parser.add_argument("--poll-ms", type=float, default=50.0, help="lag: poll interval")
    parser.add_argument("--flush-rows", type=int, default=50_000, help="flusher throughput")
    parser.add_argument("--outage", choices=["postgres", "redis"], help="outage mode")
    parser.add_argument("--rate", type=float, default=200.0, help="outage: redirects/s")
    parser.add_argument("--outage-load", type=float, default=30.0, help="outage: seconds of load")
    parser.add_argument("--outage-seconds", type=float, default=10.0, help="outage: down for")
    parser.add_argument("--outage-clients", type=int, default=20, help="outage: connections")
    parser.add_argument("--drain-bound", type=float, default=120.0, help="outage: wait at most")
    parser.add_argument("--keep-tmp", action="store_true", help="outage: keep logs")
    parser.add_argument("--serve", choices=["raw", "ceiling", "app"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.database_url, args.redis_url, args.workers)
        return 0
    return run_outage(args) if args.outage else run(args)


if __name__ == "__main__":
    sys.exit(main())
