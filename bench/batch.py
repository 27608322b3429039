"""Benchmark: the analytics batch (db/batch.py via jobs.calculate) against a bare GROUP BY floor.

    .venv/bin/python bench/batch.py                      # 100k applications
    .venv/bin/python bench/batch.py --sizes 100000,1000000

For each size: a scratch database (created and dropped here) on DATABASE_URL's server (else the
embedded one) is filled by the demo generator (~20 clicks per application), then timed:

* floor: ``SELECT application_id, count(*), min(clicked_at), max(clicked_at) ... GROUP BY`` over
  the same human clicks joined through link_tracking (best of two, PostgreSQL may parallelise it);
* first: the full chunked calculation into empty tables (every row inserted);
* recompute: the same with asOf one day later (velocity changes: most rows rewritten);
* rerun: the same asOf again (nothing changes, nothing written).

Printed: applications/s, the ratio to the floor, the benchmark process's peak RSS growth during
the calculation, and PostgreSQL's work_mem and temp-file bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from db.batch import bare_click_aggregate  # noqa: E402
from db.engine import make_engine, make_sessionmaker  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.session import mark_app_writer  # noqa: E402
from jobs.calculate import calculate_in_process  # noqa: E402
from linkinsights.embedded import start_services  # noqa: E402
from linkinsights.settings import Settings  # noqa: E402


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """Peak resident memory of this process while a block runs."""

    def __init__(self) -> None:
        self.peak = 0.0
        self.start = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, _rss_mb())
            await asyncio.sleep(0.05)

    async def __aenter__(self) -> RssSampler:
        self.start = self.peak = _rss_mb()
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, _rss_mb())


async def _temp_bytes(admin_url: str, name: str) -> tuple[int, str]:
    conn = await asyncpg.connect(admin_url)
    try:
        temp = await conn.fetchval(
            "SELECT temp_bytes FROM pg_stat_database WHERE datname = $1", name
        )
        work_mem = await conn.fetchval("SHOW work_mem")
        return int(temp or 0), str(work_mem)
    finally:
        await conn.close()


async def bench_size(server_url: str, redis_url: str, n: int, seed: int) -> dict[str, Any]:
    from db.demo import seed_accounts

    name = f"li_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base, _, _ = server_url.rpartition("/")
    url = f"{base}/{name}"
    result: dict[str, Any] = {"n": n}
    try:
        await upgrade(url)
        engine = make_engine(url, pool_size=3)
        sm = make_sessionmaker(engine)
        accounts = max(1, n // 100_000)
        now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
        t0 = time.perf_counter()
        async with sm() as session, session.begin():
            await mark_app_writer(session)
            summary = await seed_accounts(
                session,
                accounts=accounts,
                applications_per_account=n // accounts,
                seed=seed,
                now=now,
                clicks_per_application=20.0,
            )
        result["seed_s"] = time.perf_counter() - t0
        result["clicks"] = summary.clicks
        result["bot_clicks"] = summary.bot_clicks
        raw = await asyncpg.connect(url)
        await raw.execute("VACUUM ANALYZE")
        await raw.close()

        floors = []
        for _ in range(2):
            t0 = time.perf_counter()
            async with sm() as session:
                await bare_click_aggregate(session, as_of=now)
            floors.append(time.perf_counter() - t0)
        result["floor_s"] = min(floors)

        settings = Settings(database_url=url, redis_url=redis_url)
        temp_before, result["work_mem"] = await _temp_bytes(server_url, name)
        for label, as_of in (
            ("first", now),
            ("recompute", now + timedelta(days=1)),
            ("rerun", now + timedelta(days=1)),
        ):
            async with RssSampler() as rss:
                calc = await calculate_in_process(
                    settings, as_of=as_of, concurrency=2, sessionmaker=sm
                )
            assert calc.applications == n, (calc.applications, n)
            result[f"{label}_s"] = calc.seconds
            result[f"{label}_rss_growth_mb"] = rss.peak - rss.start
        temp_after, _ = await _temp_bytes(server_url, name)
        result["temp_mb"] = (temp_after - temp_before) / 2**20
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        await engine.dispose()
    finally:
        admin = await asyncpg.connect(server_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return result


def _report(r: dict[str, Any]) -> None:
    n = r["n"]
    print(
        f"\n== {n:,} applications, {r['clicks']:,} clicks ({r['bot_clicks']:,} bots);"
        f" seeded in {r['seed_s']:.0f} s"
    )
    print(f"  floor (bare GROUP BY)  {r['floor_s']:7.2f} s  {n / r['floor_s']:>12,.0f} apps/s")
    for label in ("first", "recompute", "rerun"):
        s = r[f"{label}_s"]
        print(
            f"  {label:<22} {s:7.2f} s  {n / s:>12,.0f} apps/s"
            f"  ratio to floor {s / r['floor_s']:5.2f}"
            f"  RSS growth {r[f'{label}_rss_growth_mb']:6.1f} MB"
        )
    print(
        f"  PostgreSQL work_mem {r['work_mem']}, temp files during the runs {r['temp_mb']:.1f} MB;"
        f" bench process peak RSS {r['peak_rss_mb']:.0f} MB (the demo generator included)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000", help="comma-separated application counts")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    svc = start_services(
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        data_dir=ROOT / ".data" / "bench",
    )
    try:
        server = svc.database_url.replace("postgresql+asyncpg://", "postgresql://")
        for n in sizes:
            _report(await bench_size(server, svc.redis_url, n, args.seed))
    finally:
        svc.stop()


if __name__ == "__main__":
    asyncio.run(main())
