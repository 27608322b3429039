"""Chaos: mixed load on `linkinsights serve` while its PostgreSQL, then its Redis, go away.

    .venv/bin/python bench/chaos.py [--duration 60] [--outage 10] [--clients 6]

Starts everything it uses, of its own: an embedded PostgreSQL (linkinsights.embedded) and a
redis-server (append-only file on, as a production Redis keeps its data), a migrated database
with one account, 40 applications x 3 tracked links, and `linkinsights serve` (one API
process and one worker) on a free port. Then, for `--duration` seconds, `--clients` clients
send back to back a mix of redirects (/track, 60%), GraphQL reads (35%) and a mutation (5%),
and one more starts an analytics run (calculateAnalytics) every 5 s. PostgreSQL is stopped at
1/6 of the run for `--outage` seconds, Redis at 7/12 for as long.

Per phase it prints the requests by HTTP status and GraphQL error code, and p99 latency; per
outage the seconds from the service's return to the last failed request ("recovered in");
and at the end the redirects answered (a 302: a click the user was promised is kept) against
the rows in link_clicks, counted once the worker's flusher has drained (bounded wait), and
whether `serve` had to restart a child ("crashes").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linkinsights.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
REQUEST_TIMEOUT = 10.0
READ = "{ applications(first: 20) { totalCount edges { node { id status engagementScore } } } }"
SUMMARY = "{ engagementSummary { totalApplications } }"
MUTATION = 'mutation { createJob(input: {title: "Chaos engineer", company: "Bench"}) { id } }'
RUN = "mutation { calculateAnalytics { id status } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


async def prepare(url: str) -> tuple[str, list[str]]:
    """Migrate; one account, its API key, 40 applications with three links each."""
    import asyncpg

    from db import accounts as accounts_db
    from db.engine import make_engine, make_sessionmaker
    from db.migrate import upgrade
    from domain.apikeys import generate_key

    await upgrade(url)
    engine = make_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            account = await accounts_db.create_account(session, name="chaos", timezone="UTC")
            new = generate_key()
            await accounts_db.create_api_key(
                session,
                account_id=account.id,
                name="chaos",
                prefix=new.prefix,
                key_hash=new.key_hash,
                scopes=("read", "write"),
            )
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(url)
    ids: list[str] = []
    try:
        for a in range(40):
            app_id = await conn.fetchval(
                "INSERT INTO job_applications (account_id) VALUES ($1) RETURNING id", account.id
            )
            for n, function in enumerate(("LinkedIn", "Calendly", "Portfolio")):
                tid = f"lt_chaos{a:04x}{n:02x}"
                await conn.execute(
                    "INSERT INTO link_tracking (tracking_id, account_id, application_id,"
                    " link_function, link_type, original_url, redirect_url)"
                    " VALUES ($1, $2, $3, $4, 'profile', $5, $6)",
                    tid,
                    account.id,
                    app_id,
                    function,
                    f"https://example.com/{function.lower()}/{a}",
                    f"http://127.0.0.1/track/{tid}",
                )
                ids.append(tid)
    finally:
        await conn.close()
    return new.key, ids


async def count_clicks(url: str) -> int | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        return int(await conn.fetchval("SELECT count(*) FROM link_clicks"))
    finally:
        await conn.close()


@dataclass
class Sample:
    at: float  # seconds since the load started
    kind: str
    outcome: str  # "302", "200 ok", "503 SERVICE_UNAVAILABLE", "timeout", "refused", ...
    seconds: float


@dataclass
class Run:
    started: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    events: dict[str, float] = field(default_factory=dict)  # "postgres stopped" -> seconds

    def now(self) -> float:
        return time.monotonic() - self.started


async def request(
    client: httpx.AsyncClient, run: Run, kind: str, method: str, path: str, **kw: Any
) -> None:
    start = time.monotonic()
    try:
        response = await client.request(method, path, **kw)
    except httpx.TimeoutException:
        outcome = "timeout"
    except httpx.TransportError as exc:
        outcome = f"refused ({type(exc).__name__})"
    else:
        outcome = str(response.status_code)
        if kind != "redirect":
            try:
                body = response.json()
                codes = sorted({e["extensions"]["code"] for e in body.get("errors") or []})
            except (ValueError, KeyError, TypeError):
                codes = ["(not GraphQL)"]
            outcome += " " + (",".join(codes) or "ok")
    run.samples.append(Sample(start - run.started, kind, outcome, time.monotonic() - start))


async def client_loop(base: str, key: str, ids: list[str], run: Run, until: float) -> None:
    rng = random.Random()
    auth = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT) as client:
        while run.now() < until:
            roll = rng.random()
            if roll < 0.60:
                tid = rng.choice(ids)
                await request(
                    client, run, "redirect", "GET", f"/track/{tid}", headers={"User-Agent": UA}
                )
            elif roll < 0.95:
                query = READ if roll < 0.80 else SUMMARY
                await request(
                    client, run, "query", "POST", "/graphql", json={"query": query}, headers=auth
                )
            else:
                await request(
                    client, run, "mutation", "POST", "/graphql", json={"query": MUTATION},
                    headers=auth,
                )  # fmt: skip


async def analytics_loop(base: str, key: str, run: Run, until: float) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT) as client:
        while run.now() < until:
            await request(
                client, run, "analytics", "POST", "/graphql", json={"query": RUN},
                headers={"Authorization": f"Bearer {key}"},
            )  # fmt: skip
            await asyncio.sleep(5)


async def outages(
    pg: EmbeddedPostgres, redis: EmbeddedRedis, run: Run, duration: float, outage: float
) -> None:
    async def at(second: float) -> None:
        await asyncio.sleep(max(0.0, second - run.now()))

    await at(duration / 6)
    run.events["postgres stopped"] = run.now()
    await asyncio.to_thread(pg.stop)
    await at(duration / 6 + outage)
    await asyncio.to_thread(pg.start)
    run.events["postgres back"] = run.now()
    await at(duration * 7 / 12)
    run.events["redis stopped"] = run.now()
    await asyncio.to_thread(redis.stop)
    await at(duration * 7 / 12 + outage)
    await asyncio.to_thread(redis.start)
    run.events["redis back"] = run.now()


def ok(sample: Sample) -> bool:
    return sample.outcome in ("302", "200 ok")


def p99(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def report(run: Run, duration: float, answered: int, stored: int | None, log: str) -> None:
    ev = run.events
    phases = [
        ("before", 0.0, ev["postgres stopped"]),
        ("postgres down", ev["postgres stopped"], ev["postgres back"]),
        ("postgres back", ev["postgres back"], ev["redis stopped"]),
        ("redis down", ev["redis stopped"], ev["redis back"]),
        ("redis back", ev["redis back"], duration + REQUEST_TIMEOUT),
    ]
    print(f"\n{len(run.samples)} requests in {duration:.0f} s")
    for name, start, end in phases:
        inside = [s for s in run.samples if start <= s.at < end]
        print(f"\n== {name} ({start:.1f}-{min(end, duration):.1f} s): {len(inside)} requests")
        by_kind: dict[str, Counter[str]] = defaultdict(Counter)
        for s in inside:
            by_kind[s.kind][s.outcome] += 1
        for kind in ("redirect", "query", "mutation", "analytics"):
            if kind in by_kind:
                outcomes = ", ".join(f"{o}: {n}" for o, n in by_kind[kind].most_common())
                print(f"   {kind:<9} {outcomes}")
        latencies = [s.seconds for s in inside]
        print(
            f"   p99 {p99(latencies) * 1000:.1f} ms, max {max(latencies, default=0) * 1000:.1f} ms"
        )
    print()
    for service, until in (("postgres", ev["redis stopped"]), ("redis", duration)):
        back = ev[f"{service} back"]
        failed_after = [s.at + s.seconds for s in run.samples if back <= s.at < until and not ok(s)]
        # Requests that started during the outage and ended after it do not count.
        recovered = max(failed_after, default=back) - back
        print(f"{service}: recovered in {recovered:.1f} s after it came back")
    internal = sum("INTERNAL_SERVER_ERROR" in s.outcome for s in run.samples)
    hangs = sum(s.outcome == "timeout" for s in run.samples)
    refused = sum(s.outcome.startswith("refused") for s in run.samples)
    crashes = log.count("exited unexpectedly")
    lost = None if stored is None else answered - stored
    print(f"INTERNAL_SERVER_ERROR: {internal}; timeouts (> {REQUEST_TIMEOUT:.0f} s): {hangs}")
    print(f"refused connections: {refused}; crashes (children restarted by serve): {crashes}")
    print(f"clicks answered (302): {answered}; stored: {stored}; lost: {lost}")


async def main(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="linkinsights-chaos-"))
    os.chmod(work, 0o755)
    pg = EmbeddedPostgres(work / "pg")
    redis = EmbeddedRedis(work / "redis", durable=True)  # AOF: a restart keeps its clicks
    (work / "redis").mkdir()
    serve: subprocess.Popen[bytes] | None = None
    log_path = work / "serve.log"
    try:
        print(f"starting PostgreSQL and Redis under {work} ...")
        await asyncio.to_thread(pg.start)
        redis.start()
        key, ids = await prepare(pg.url)
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": pg.url,
            "REDIS_URL": redis.url,
            "QUEUE_NAME": f"linkinsights-chaos-{uuid.uuid4().hex[:6]}",
            "API_WORKERS": "1",
            "DB_POOL_SIZE": "6",
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_PER_KEY_PER_MINUTE": "1000000",
            "RATE_LIMIT_PER_IP_PER_MINUTE": "1000000",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
        with log_path.open("wb") as out:
            serve = subprocess.Popen(  # noqa: ASYNC220 - started once, before the load
                [sys.executable, "-m", "linkinsights", "serve", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not port_answers(port):
            if serve.poll() is not None or time.monotonic() > deadline:
                print(log_path.read_text())
                raise SystemExit("serve did not start")
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)
        print(f"load for {args.duration:.0f} s: {args.clients} clients + analytics runs; "
              f"PostgreSQL down at {args.duration / 6:.0f} s, Redis at "
              f"{args.duration * 7 / 12:.0f} s, {args.outage:.0f} s each")  # fmt: skip
        run = Run(started=time.monotonic())
        await asyncio.gather(
            *(client_loop(base, key, ids, run, args.duration) for _ in range(args.clients)),
            analytics_loop(base, key, run, args.duration),
            outages(pg, redis, run, args.duration, args.outage),
        )
        answered = sum(s.kind == "redirect" and s.outcome == "302" for s in run.samples)
        # Clicks may still be on their way (a spool, a stream, a batch): wait until the count
        # reaches the answers or stops moving for 10 s (at most 120 s).
        stored = await count_clicks(pg.url)
        steady_since, deadline = time.monotonic(), time.monotonic() + 120
        while time.monotonic() < deadline and (stored is None or stored < answered):
            await asyncio.sleep(1)
            now = await count_clicks(pg.url)
            if now != stored:
                stored, steady_since = now, time.monotonic()
            elif time.monotonic() - steady_since > 10:
                break
        alive = serve.poll() is None
        report(run, args.duration, answered, stored, log_path.read_text())
        print(f"serve still running at the end: {alive}")
        return 0
    finally:
        if serve is not None and serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
        redis.stop()
        pg.started_here = True
        await asyncio.to_thread(pg.stop)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    sys.exit(asyncio.run(main(parser.parse_args())))
