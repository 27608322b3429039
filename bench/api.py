"""API latency and throughput through uvicorn over HTTP (issue 5).

Builds a database of `--accounts` x `--apps` applications with the demo generator, computes
their metrics with the batch, starts the real app (`linkinsights api`) in a subprocess and
measures p50/p95/p99 latency and requests per second for

  (a) one application with job, links, engagement and clicks,
  (b) a page of 100 applications with 12 fields,
  (c) engagementSummary,

at 1, 10 and 50 concurrent clients, each request as a random account (one API key each).
The baseline, measured in the same run at the same concurrency, is GET /healthz (no SQL):
the ratio shows what the query adds over the HTTP stack and the client on this machine.
"cpu ms/req" is the server processes' CPU time per request during the run: on a machine shared
with other work, latencies move with the load, this much less. The client is a minimal
keep-alive HTTP/1.1 one on uvloop (one connection per client), so that on this 2-core machine
it takes as little CPU from the server as it can.

    .venv/bin/python bench/api.py                       # 1,000 accounts x 100 = 100k
    .venv/bin/python bench/api.py --accounts 100 --seconds 3   # a quick look
    .venv/bin/python bench/api.py --keep                 # keep the database for a rerun
    .venv/bin/python bench/api.py --reuse                # skip building it

Uses DATABASE_URL / REDIS_URL when set, else the embedded services.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import Settings  # noqa: E402
from db import accounts as accounts_db  # noqa: E402
from db.engine import make_engine, make_sessionmaker  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from domain.apikeys import generate_key  # noqa: E402
from linkinsights.runtime import services  # noqa: E402

ONE_APPLICATION = """
query ($id: ID!) { application(id: $id) {
  id status createdAt
  job { id title company }
  links { trackingId linkFunction isActive }
  engagement { engagementScore intentScore hoursToFirstClick clickSequence }
  clicks(first: 5) { totalCount edges { node { clickedAt } } }
} }"""

PAGE_OF_100 = """
{ applications(first: 100) { totalCount edges { node {
  id status createdAt updatedAt firstClickTimestamp lastClickTimestamp totalClicks
  uniqueClickSessions mostClickedLinkFunction engagementScore isHighPriority job { title }
} } } }"""

SUMMARY = """
{ engagementSummary {
  totalApplications applicationsWithClicks engagementRate avgClicksPerApplication totalClicks
  outcomes { level count interviewRate offerRate }
  linkEffectiveness { function interviewRate totalClicks }
} }"""


@dataclass
class Target:
    key: str
    application_id: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def build(url: str, accounts: int, apps: int) -> None:
    from db.demo import seed_accounts
    from db.session import mark_app_writer
    from jobs.calculate import calculate_in_process

    await upgrade(url)
    engine = make_engine(url, pool_size=2, application_name="bench-api")
    sm = make_sessionmaker(engine)
    now = datetime.now(UTC)
    t = time.perf_counter()
    async with sm() as session, session.begin():
        await mark_app_writer(session)
        await seed_accounts(
            session, accounts=accounts, applications_per_account=apps, seed=5, now=now
        )
    print(f"  seeded {accounts * apps:,} applications in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    summary = await calculate_in_process(
        Settings(database_url=url), as_of=now, concurrency=2, sessionmaker=sm
    )
    print(f"  batch: {summary.applications:,} applications in {time.perf_counter() - t:.1f}s")
    await engine.dispose()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def make_targets(url: str) -> list[Target]:
    """One fresh API key per account, and one application of each."""
    engine = make_engine(url, pool_size=2, application_name="bench-api")
    sm = make_sessionmaker(engine)
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT ON (account_id) account_id, id FROM job_applications "
            "ORDER BY account_id, created_at DESC"
        )
    finally:
        await conn.close()
    targets: list[Target] = []
    async with sm() as session, session.begin():
        for r in rows:
            new = generate_key()
            await accounts_db.create_api_key(
                session,
                account_id=r["account_id"],
                name="bench",
                prefix=new.prefix,
                key_hash=new.key_hash,
                scopes=("read",),
            )
            targets.append(Target(key=new.key, application_id=str(r["id"])))
    await engine.dispose()
    return targets


def start_server(
    url: str, redis_url: str, port: int, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        REDIS_URL=redis_url,
        RATE_LIMIT_PER_KEY_PER_MINUTE="0",
        RATE_LIMIT_PER_IP_PER_MINUTE="0",
        LOG_LEVEL="WARNING",
        **(extra_env or {}),
    )
    return subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "linkinsights"), "api", "--port", str(port)],
        env=env,
        cwd=ROOT,
    )


async def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(200):
            if proc.poll() is not None:
                raise RuntimeError("the server exited")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the live process `pid` and its children."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(k) for k in f.read().split())
        except FileNotFoundError:  # exited meanwhile, or no /proc: counts as nothing
            pass
    return total


@dataclass
class Result:
    latencies: list[float]
    seconds: float
    errors: int
    server_cpu: float = 0.0  # CPU seconds the server processes used during the run

    @property
    def cpu_ms(self) -> float:
        """Server CPU per request: unlike latency, barely moved by other load on the machine."""
        return self.server_cpu / max(1, len(self.latencies) + self.errors) * 1000

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds


class Connection:
    """A minimal HTTP/1.1 keep-alive client connection.

    httpx costs the client ~3.5 ms of CPU per page of 100 and, at 50 connections, could not
    drive more than ~450 GET /healthz a second on this machine: it measured itself. This
    writes the request bytes and reads the status line, headers and Content-Length body.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method == "POST":
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        self.writer.close()


async def run_load(
    port: int, server: int, kind: str, targets: list[Target], clients: int, seconds: float
) -> Result:
    rng = random.Random(clients * 7919 + hash(kind) % 1000)
    latencies: list[float] = []
    errors = 0

    async def one(conn: Connection) -> None:
        nonlocal errors
        t = rng.choice(targets)
        start = time.perf_counter()
        if kind == "healthz":
            status, body = await conn.request("GET", "/healthz")
            ok = status == 200
        else:
            query, variables = {
                "application": (ONE_APPLICATION, {"id": t.application_id}),
                "page100": (PAGE_OF_100, {}),
                "summary": (SUMMARY, {}),
            }[kind]
            status, body = await conn.request(
                "POST",
                "/graphql",
                json.dumps({"query": query, "variables": variables}).encode(),
                {"Authorization": f"Bearer {t.key}"},
            )
            ok = status == 200 and body.startswith(b'{"data":{') and b'"errors"' not in body
        elapsed = time.perf_counter() - start
        if ok:
            latencies.append(elapsed)
        else:
            errors += 1
            if errors == 1:
                print(f"    first error ({kind}): {status} {body[:300]!r}")

    conns = [await Connection.open(port) for _ in range(clients)]
    try:
        for i in range(min(20, clients * 2)):  # warm the pool and the keys
            await one(conns[i % clients])
        latencies.clear()
        cpu_before = tree_cpu(server)
        deadline = time.perf_counter() + seconds
        began = time.perf_counter()

        async def worker(conn: Connection) -> None:
            while time.perf_counter() < deadline:
                await one(conn)

        await asyncio.gather(*(worker(c) for c in conns))
        took = time.perf_counter() - began
        server_cpu = tree_cpu(server) - cpu_before
    finally:
        for c in conns:
            c.close()
    return Result(latencies, took, errors, server_cpu)


# --- the aggregate cache (issue 16): cached aggregates, warm against off ------------------------

ANALYTICS = """
{ applicationAnalytics {
  totalApplications statusDistribution { status applications percent }
  funnel { step applications conversionRate conversionInterval { low high sampleSize } }
  timeToFirstResponse { medianHours p25Hours p75Hours } timeToInterview { medianHours }
  byCompany { totalGroups groups { key rank applications interviewRate } }
  byTitleKeyword { totalGroups groups { key rank applications interviewRate } }
  weekly { weekStart applications } computedAt
} }"""

CACHED_QUERIES = {"summary": SUMMARY, "analytics": ANALYTICS}


async def run_query_load(
    port: int, query: str, targets: list[Target], clients: int, seconds: float, seed: int
) -> Result:
    """`clients` connections posting `query`, each request as a random target's key."""
    rng = random.Random(seed)
    latencies: list[float] = []
    errors = 0
    payload = json.dumps({"query": query}).encode()

    async def one(conn: Connection) -> None:
        nonlocal errors
        t = rng.choice(targets)
        start = time.perf_counter()
        status, body = await conn.request(
            "POST", "/graphql", payload, {"Authorization": f"Bearer {t.key}"}
        )
        elapsed = time.perf_counter() - start
        if status == 200 and body.startswith(b'{"data":{') and b'"errors"' not in body:
            latencies.append(elapsed)
        else:
            errors += 1
            if errors == 1:
                print(f"    first error: {status} {body[:300]!r}")

    conns = [await Connection.open(port) for _ in range(clients)]
    try:
        deadline = time.perf_counter() + seconds
        began = time.perf_counter()

        async def worker(conn: Connection) -> None:
            while time.perf_counter() < deadline:
                await one(conn)

        await asyncio.gather(*(worker(c) for c in conns))
        took = time.perf_counter() - began
    finally:
        for c in conns:
            c.close()
    return Result(latencies, took, errors)


async def warm(port: int, query: str, targets: list[Target]) -> None:
    """One request per target, 10 at a time: every account's entry is in the cache."""
    conns = [await Connection.open(port) for _ in range(10)]
    try:
        pending = list(targets)

        async def worker(conn: Connection) -> None:
            payload = json.dumps({"query": query}).encode()
            while pending:
                t = pending.pop()
                await conn.request(
                    "POST", "/graphql", payload, {"Authorization": f"Bearer {t.key}"}
                )

        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for c in conns:
            c.close()


async def cache_comparison(
    url: str,
    redis_url: str,
    targets: list[Target],
    kinds: list[str],
    levels: list[int],
    seconds: float,
) -> None:
    """Each cached aggregate through a server with the aggregate cache warm and through one
    with it off (AGGREGATE_CACHE_ENABLED=false: every request computes live), same accounts."""
    servers = {}
    for mode, env in (("warm", {}), ("off", {"AGGREGATE_CACHE_ENABLED": "false"})):
        port = free_port()
        servers[mode] = (port, start_server(url, redis_url, port, env))
    try:
        for port, proc in servers.values():
            await wait_ready(f"http://127.0.0.1:{port}", proc)
        print(
            f"\naggregate cache: {len(targets):,} accounts, each entry warmed first; "
            f"{seconds:g}s per row"
        )
        print(
            f"{'scenario':<12} {'clients':>7} {'cache':>5} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'p99 ms':>8} {'req/s':>8} {'errors':>6} {'warm/off req/s':>14}"
        )
        for kind in kinds:
            query = CACHED_QUERIES[kind]
            await warm(servers["warm"][0], query, targets)
            for clients in levels:
                rows = {}
                for mode in ("warm", "off"):
                    port = servers[mode][0]
                    rows[mode] = await run_query_load(
                        port, query, targets, clients, seconds, seed=clients
                    )
                for mode, r in rows.items():
                    ratio = f"{rows['warm'].rps / r.rps:.1f}x" if mode == "off" and r.rps else ""
                    print(
                        f"{kind:<12} {clients:>7} {mode:>5} {r.pct(0.50):>8.1f} "
                        f"{r.pct(0.95):>8.1f} {r.pct(0.99):>8.1f} {r.rps:>8.0f} "
                        f"{r.errors:>6} {ratio:>14}"
                    )
        print("target (cache warm): p95 <= 10 ms at 50 clients, >= 3x the req/s of cache off")
    finally:
        for _, proc in servers.values():
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--apps", type=int, default=100, help="applications per account")
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario and level")
    parser.add_argument("--clients", default="1,10,50")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database")
    parser.add_argument(
        "--scenarios",
        default="application,page100,summary",
        help="comma-separated subset of application,page100,summary",
    )
    parser.add_argument(
        "--cache-scenarios",
        default="summary,analytics",
        help="cached aggregates compared warm and off (summary,analytics; empty: skip)",
    )
    parser.add_argument("--cache-clients", default="10,50")
    parser.add_argument(
        "--cache-accounts", type=int, default=200, help="accounts the cache comparison uses"
    )
    args = parser.parse_args()
    cache_kinds = [s for s in args.cache_scenarios.split(",") if s]
    if set(cache_kinds) - set(CACHED_QUERIES):
        parser.error(f"unknown cache scenario(s): {args.cache_scenarios}")
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - {"application", "page100", "summary"}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    levels = [int(x) for x in args.clients.split(",")]

    with services(Settings()) as (settings, _svc):
        assert settings.database_url is not None
        assert settings.redis_url is not None
        server_url = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
        base_url, _, _ = server_url.rpartition("/")
        name = f"li_bench_api_{args.accounts}x{args.apps}"
        url = f"{base_url}/{name}"
        admin = await asyncpg.connect(server_url)
        try:
            exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not (args.reuse and exists):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{name}"')
                built = True
            else:
                built = False
        finally:
            await admin.close()
        if built:
            print(f"building {args.accounts:,} accounts x {args.apps} applications in {name}")
            await build(url, args.accounts, args.apps)
        targets = await make_targets(url)
        port = free_port()
        proc = start_server(url, settings.redis_url, port)
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_ready(base, proc)
            print(
                f"\n{len(targets):,} accounts; {args.seconds:g}s per row; client and server "
                f"share this {os.cpu_count()}-core machine\n"
            )
            print(
                f"{'scenario':<12} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
                f"{'req/s':>8} {'errors':>6} {'p95/baseline':>12} {'cpu ms/req':>10}"
            )
            for clients in levels:
                baseline = await run_load(
                    port, proc.pid, "healthz", targets, clients, args.seconds / 2
                )
                rows = [("healthz", baseline)]
                for kind in scenarios:
                    result = await run_load(port, proc.pid, kind, targets, clients, args.seconds)
                    rows.append((kind, result))
                for kind, r in rows:
                    ratio = r.pct(0.95) / baseline.pct(0.95)
                    print(
                        f"{kind:<12} {clients:>7} {r.pct(0.50):>8.1f} {r.pct(0.95):>8.1f} "
                        f"{r.pct(0.99):>8.1f} {r.rps:>8.0f} {r.errors:>6} {ratio:>11.1f}x "
                        f"{r.cpu_ms:>10.2f}"
                    )
                print()
            proc.terminate()
            proc.wait(timeout=10)
            if cache_kinds:
                await cache_comparison(
                    url,
                    settings.redis_url,
                    targets[: args.cache_accounts],
                    cache_kinds,
                    [int(x) for x in args.cache_clients.split(",")],
                    args.seconds,
                )
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if not args.keep:
                admin = await asyncpg.connect(server_url)
                try:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    await admin.close()
        print("targets: (b) page100 p95 <= 50 ms at 10 clients; every p95 < 200 ms at 50 clients")


if __name__ == "__main__":
    uvloop.run(main())
