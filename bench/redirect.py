"""Redirect throughput and latency: GET /track/{id} with the click stored, against a ceiling.

    .venv/bin/python bench/redirect.py [--duration 8] [--concurrency 50] [--links 150]

Starts what it needs: PostgreSQL and Redis from DATABASE_URL / REDIS_URL (else the embedded
default), a fresh database (migrated, one account with 50 applications x 3 links, dropped at
the end), and three uvicorn (uvloop + httptools) subprocesses on free ports, measured one at
a time by the same client (raw asyncio sockets on uvloop, keep-alive, 50 connections):

1. a raw asyncio server answering a constant 302: what the *client* can drive on this
   machine, so we know it is not the bottleneck;
2. a bare Starlette app with a constant 302 and no database: the ceiling;
3. the real app: /track/{id} with one click row stored per request (checked by counting).

For 2 and 3 it reports redirects/second and p50/p99 latency at saturation (closed loop, 50
clients), then the app's latency again at a paced load of half its throughput (open loop),
and the ratio app/ceiling. Targets: >= 50% of the ceiling, p99 <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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

    from linkinsights.server import run_api
    from linkinsights.settings import Settings

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


def start_server(
    kind: str, database_url: str, redis_url: str, workers: int
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port),
         "--database-url", database_url, "--redis-url", redis_url, "--workers", str(workers)],
        cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {proc.returncode}") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- the client -------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:<34} {self.rps:>9,.0f} req/s   p50 {self.pct(50):6.2f} ms   "
            f"p99 {self.pct(99):6.2f} ms   ({self.requests} requests, {self.errors} errors)"
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
) -> Result:
    """`concurrency` keep-alive connections; closed loop, or paced to `rate` req/s in total."""
    latencies: list[float] = []
    counted = errors = 0
    measuring = False
    stop = False
    interval = concurrency / rate if rate else 0.0

    async def worker(w: int) -> None:
        nonlocal counted, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = 0
        next_at = time.perf_counter() + (w / concurrency) * interval
        try:
            while not stop:
                if interval:
                    delay = next_at - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at += interval
                n += 1
                path = paths[(w * 7919 + n) % len(paths)]
                sid = f"b{w:05d}x{n:016d}"  # a distinct visitor per request: no bursts
                request = (
                    f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: {UA}\r\n"
                    f"Cookie: li_sid={sid}\r\nReferer: https://mail.google.com/\r\n\r\n"
                ).encode()
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                elapsed = (time.perf_counter() - start) * 1000
                if measuring:
                    if head.startswith(b"HTTP/1.1 302"):
                        counted += 1
                        latencies.append(elapsed)
                    else:
                        errors += 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(worker(w)) for w in range(concurrency)]
    await asyncio.sleep(warmup)
    measuring = True
    t0 = time.perf_counter()
    await asyncio.sleep(duration)
    measuring = False
    seconds = time.perf_counter() - t0
    stop = True
    await asyncio.gather(*tasks, return_exceptions=True)
    return Result(name, counted, seconds, latencies, errors)


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


# --- main -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    import uvloop

    from linkinsights.runtime import services
    from linkinsights.server import worker_count
    from linkinsights.settings import Settings

    base = Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        data_dir=ROOT / ".data" / "bench",
    )
    with services(base) as (settings, _svc):
        assert settings.database_url
        assert settings.redis_url
        server_url = settings.database_url
        url, ids = uvloop.run(make_database(server_url, args.links))
        paths = [f"/track/{t}" for t in ids]
        workers = worker_count(
            settings if args.workers is None else Settings(api_workers=args.workers)
        )
        kw = {"concurrency": args.concurrency, "duration": args.duration, "warmup": args.warmup}
        try:
            results: dict[str, Result] = {}
            for kind, label in (
                ("raw", "client capacity (raw 302 server)"),
                ("ceiling", "ceiling: bare Starlette 302"),
                ("app", "app: /track with click stored"),
            ):
                proc, port = start_server(kind, url, settings.redis_url, workers)
                try:
                    before = uvloop.run(count_clicks(url)) if kind == "app" else 0
                    results[kind] = uvloop.run(load(label, port, paths, **kw))
                    if kind == "app":
                        stored = uvloop.run(count_clicks(url)) - before
                        rate = results["app"].rps * args.paced_fraction
                        results["paced"] = uvloop.run(
                            load(f"app paced at {rate:,.0f} req/s", port, paths, rate=rate, **kw)
                        )
                finally:
                    stop_server(proc)
            app, ceiling = results["app"], results["ceiling"]
            print(
                f"redirect benchmark: {args.concurrency} clients, {args.duration:.0f} s each, "
                f"{len(ids)} links, {os.cpu_count()} CPUs, {workers} server process(es)"
            )
            for r in results.values():
                print("  " + r.line())
            measured_total = app.requests + app.errors
            print(
                f"  clicks stored during the app runs: {stored} "
                f"(>= {measured_total} measured 302s, warm-up and paced phase included)"
            )
            ratio = app.rps / ceiling.rps
            print(
                f"SUMMARY redirect: app {app.rps:,.0f} req/s vs ceiling {ceiling.rps:,.0f} req/s "
                f"= {ratio:.0%} (target >= 50%); p99 {app.pct(99):.2f} ms at saturation, "
                f"{results['paced'].pct(99):.2f} ms paced (target <= 10 ms); client capacity "
                f"{results['raw'].rps:,.0f} req/s"
            )
        finally:
            uvloop.run(drop_database(server_url, url))
    return 0


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
    parser.add_argument("--serve", choices=["raw", "ceiling", "app"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.database_url, args.redis_url, args.workers)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
