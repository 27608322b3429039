"""Benchmark: the analytics batch (db/batch.py via jobs.calculate): full and incremental runs.

    .venv/bin/python bench/batch.py                      # 100k applications
    .venv/bin/python bench/batch.py --sizes 100000,1000000 --repeat 2

For each size: a scratch database (created and dropped here) on DATABASE_URL's server (else the
embedded one) is filled by the demo generator (~20 clicks per application), then timed:

* floor: ``SELECT application_id, count(*), min(clicked_at), max(clicked_at) ... GROUP BY`` over
  the same human clicks joined through link_tracking (best of two, PostgreSQL may parallelise it);
* writing floor: the same GROUP BY inserted into an empty copy of link_click_analytics with the
  same indexes and fill factor (what storing one row per application costs at the least);
* storing floor (for reference): the writing floor with link_click_analytics' foreign keys, plus
  the seed's §1.1 columns updated on a copy of job_applications in the same statement (what a
  full run must store at the least);
* full: the full chunked calculation into empty tables (every row inserted; target <= 2x the
  writing floor);
* day: a simulated day, 2% of the applications get 3 new human clicks (one INSERT, the dirty
  triggers included), then a VACUUM ANALYZE as autovacuum would have done during the day;
* nightly: the incremental run with asOf one day later (the dirty applications recomputed, the
  velocity of the others refreshed; target <= 1x the bare floor);
* rerun: the same incremental run again (nothing dirty, nothing moves; target <= 0.1x the floor);
* check: a full recompute with the nightly's asOf, which must write no row (the incremental
  table equals a full recompute).

Also the dirty-mark triggers' cost on the flusher's statement: a multi-row
``INSERT ... ON CONFLICT (click_id) DO NOTHING`` of 1,000 clicks with and without them.

The runs are timed without the follow-ups step that a completed run triggers
(``calculate_in_process(follow_ups=False)``): that is db.follow_ups' query, not the batch.

Printed: time, rows written, the ratio to the floors, the benchmark process's peak RSS growth
during each run, the largest PostgreSQL backend's private memory, and temp-file bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from config import Settings  # noqa: E402
from db.batch import bare_click_aggregate  # noqa: E402
from db.engine import make_engine, make_sessionmaker  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.session import mark_app_writer  # noqa: E402
from jobs.calculate import calculate_in_process  # noqa: E402
from linkinsights.embedded import start_services  # noqa: E402


def _rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:  # the process ended, or the server is not on this machine
        pass
    return 0.0


class RssSampler:
    """Peak resident memory while a block runs: of this process, and the largest private
    (anonymous) memory of a PostgreSQL backend serving the database -- sorts, hash tables and
    aggregate states live there; shared buffers do not count."""

    def __init__(self, url: str, database: str) -> None:
        self.url = url
        self.database = database
        self.peak = 0.0
        self.start = 0.0
        self.backend_peak = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            while True:
                self.peak = max(self.peak, _rss_mb())
                pids = await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'active'"
                    " AND pid <> pg_backend_pid()",
                    self.database,
                )
                for row in pids:
                    self.backend_peak = max(self.backend_peak, _rss_mb(row["pid"], "RssAnon"))
                await asyncio.sleep(0.05)
        finally:
            await conn.close()

    async def __aenter__(self) -> RssSampler:
        self.start = self.peak = _rss_mb()
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
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


async def _database_exists(server_url: str, name: str) -> bool:
    admin = await asyncpg.connect(server_url)
    try:
        return bool(await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await admin.close()


# The generated data's summary, kept in the database itself so --reuse can skip the generation.
_SEED_INFO = "bench_seed_info"


async def _seeded_info(url: str, n: int, seed: int) -> dict[str, Any] | None:
    conn = await asyncpg.connect(url)
    try:
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", _SEED_INFO):
            return None
        row = await conn.fetchrow(
            f"SELECT clicks, bot_clicks, seed_s FROM {_SEED_INFO} WHERE n = $1 AND seed = $2",
            n,
            seed,
        )
        return dict(row) if row is not None else None
    finally:
        await conn.close()


async def _reset_outputs(url: str) -> None:
    """Put a reused database back in the state a fresh one has before the first run."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"DELETE FROM link_clicks WHERE metadata ? '{_DAY_MARK}'")
        await conn.execute(
            "TRUNCATE link_click_analytics, webhook_deliveries, follow_ups,"
            " analytics_run_chunks, analytics_runs, analytics_dirty, analytics_clock"
        )
        await conn.execute("SET linkinsights.app_writer = 'on'")
        await conn.execute(
            """
            UPDATE job_applications SET first_click_timestamp = NULL,
              last_click_timestamp = NULL, total_clicks = 0, unique_click_sessions = 0,
              most_clicked_link_function = NULL, engagement_score = 0, is_high_priority = false
            WHERE total_clicks <> 0 OR first_click_timestamp IS NOT NULL OR engagement_score <> 0
              OR most_clicked_link_function IS NOT NULL OR is_high_priority
              OR unique_click_sessions <> 0
            """
        )
        # Rewrite the table (as compact as after the generation) and refresh the statistics.
        await conn.execute("VACUUM FULL job_applications")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


_DAY_MARK = "bench_day"


async def _empty_copy(conn: asyncpg.Connection, copy: str, table: str) -> None:
    """An empty table like `table`: its columns, indexes and fill factor (no foreign keys)."""
    await conn.execute(f"DROP TABLE IF EXISTS {copy}")
    reloptions = await conn.fetchval(
        "SELECT array_to_string(reloptions, ', ') FROM pg_class WHERE oid = $1::regclass", table
    )
    await conn.execute(
        f"CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)"
        + (f" WITH ({reloptions})" if reloptions else "")
    )


async def _writing_floor(url: str, as_of: datetime) -> float:
    """The bare GROUP BY inserted into an empty copy of link_click_analytics (same indexes)."""
    conn = await asyncpg.connect(url)
    try:
        await _empty_copy(conn, "bench_analytics_floor", "link_click_analytics")
        await conn.execute("SET jit = off")
        t0 = time.perf_counter()
        await conn.execute(
            """
            INSERT INTO bench_analytics_floor (application_id, total_click_events,
                                               time_between_first_last_click, calculated_at)
            SELECT lt.application_id, count(*), max(lc.clicked_at) - min(lc.clicked_at),
                   max(lc.clicked_at)
            FROM link_tracking lt
            JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id
            WHERE NOT lc.is_bot AND lc.clicked_at <= $1
            GROUP BY lt.application_id
            """,
            as_of,
        )
        seconds = time.perf_counter() - t0
        await conn.execute("DROP TABLE bench_analytics_floor")
        return seconds
    finally:
        await conn.close()


async def _storing_floor(url: str, as_of: datetime) -> float:
    """The writing floor plus the rest of what a full run must store, at the least: the copy
    of link_click_analytics has its foreign keys too (application and job), and the seed's
    §1.1 columns are updated on a copy of job_applications (same indexes and fill factor, in
    the state the run starts from), by one statement. For reference, not a target."""
    conn = await asyncpg.connect(url)
    try:
        await _empty_copy(conn, "bench_analytics_floor", "link_click_analytics")
        await _empty_copy(conn, "bench_applications_floor", "job_applications")
        for definition in await conn.fetch(
            "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint"
            " WHERE conrelid = 'link_click_analytics'::regclass AND contype = 'f'"
        ):
            await conn.execute(f"ALTER TABLE bench_analytics_floor ADD {definition['d']}")
        await conn.execute("INSERT INTO bench_applications_floor SELECT * FROM job_applications")
        await conn.execute("VACUUM ANALYZE bench_applications_floor")
        await conn.execute("SET jit = off")
        t0 = time.perf_counter()
        await conn.execute(
            """
            WITH agg AS (
              SELECT lt.application_id, count(*) AS n, min(lc.clicked_at) AS first_at,
                     max(lc.clicked_at) AS last_at
              FROM link_tracking lt
              JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id
              WHERE NOT lc.is_bot AND lc.clicked_at <= $1
              GROUP BY lt.application_id
            ), stored AS (
              INSERT INTO bench_analytics_floor (application_id, job_id, total_click_events,
                                                 time_between_first_last_click, calculated_at)
              SELECT agg.application_id, ja.job_id, agg.n, agg.last_at - agg.first_at,
                     agg.last_at
              FROM agg JOIN job_applications ja ON ja.id = agg.application_id
              RETURNING 1
            )
            UPDATE bench_applications_floor ja
            SET total_clicks = agg.n, first_click_timestamp = agg.first_at,
                last_click_timestamp = agg.last_at
            FROM agg WHERE ja.id = agg.application_id AND (SELECT count(*) FROM stored) >= 0
            """,
            as_of,
        )
        seconds = time.perf_counter() - t0
        await conn.execute("DROP TABLE bench_analytics_floor, bench_applications_floor")
        return seconds
    finally:
        await conn.close()


async def _simulate_day(url: str, as_of: datetime, seed: int) -> tuple[int, float]:
    """2% of the applications get 3 human clicks during the day after ``as_of``."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT setseed($1)", (seed % 1000) / 1000)
        t0 = time.perf_counter()
        inserted = await conn.fetchval(
            f"""
            WITH picked AS (
              SELECT id FROM job_applications TABLESAMPLE BERNOULLI (2) REPEATABLE ({seed})
            ), links AS (
              SELECT DISTINCT ON (p.id) lt.tracking_id
              FROM picked p JOIN link_tracking lt ON lt.application_id = p.id
              ORDER BY p.id, lt.tracking_id
            ), ins AS (
              INSERT INTO link_clicks (tracking_id, clicked_at, session_id, metadata)
              SELECT l.tracking_id, $1::timestamptz + (k * interval '6 hours'),
                     'bench-day', '{{"{_DAY_MARK}": true}}'::jsonb
              FROM links l CROSS JOIN generate_series(1, 3) k
              RETURNING 1
            )
            SELECT count(*) FROM ins
            """,
            as_of,
        )
        seconds = time.perf_counter() - t0
        await conn.execute("VACUUM ANALYZE")
        return int(inserted), seconds
    finally:
        await conn.close()


async def _trigger_cost(url: str, as_of: datetime, rounds: int = 15) -> tuple[float, float]:
    """Median ms of the flusher's 1,000-click statement with and without the dirty triggers
    (each in a transaction rolled back, so the data stays as it was)."""
    conn = await asyncpg.connect(url)
    try:
        links = [
            r["tracking_id"]
            for r in await conn.fetch(
                "SELECT tracking_id FROM link_tracking TABLESAMPLE SYSTEM (5) LIMIT 1000"
            )
        ]
        links = (links * (1000 // max(len(links), 1) + 1))[:1000]
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for with_triggers in (True, False):
                ids = [uuid.uuid4() for _ in links]
                tr = conn.transaction()
                await tr.start()
                if not with_triggers:
                    await conn.execute("ALTER TABLE link_clicks DISABLE TRIGGER USER")
                t0 = time.perf_counter()
                await conn.execute(
                    """
                    INSERT INTO link_clicks (click_id, tracking_id, clicked_at, session_id)
                    SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[])
                    ON CONFLICT (click_id) DO NOTHING
                    """,
                    ids,
                    links,
                    [as_of] * len(links),
                    ["bench"] * len(links),
                )
                times[with_triggers].append((time.perf_counter() - t0) * 1000)
                await tr.rollback()
        return statistics.median(times[True]), statistics.median(times[False])
    finally:
        await conn.close()


async def _written_since(url: str, since: datetime) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM link_click_analytics WHERE updated_at >= $1", since
            )
        )
    finally:
        await conn.close()


async def bench_size(
    server_url: str,
    redis_url: str,
    n: int,
    seed: int,
    *,
    reuse: bool = False,
    seed_only: bool = False,
    repeat: int = 1,
) -> dict[str, Any]:
    from db.demo import seed_accounts

    # --reuse: one database per (size, seed), kept after the run; else a scratch database.
    name = f"li_bench_{n}_s{seed}" if reuse else f"li_bench_{uuid.uuid4().hex[:10]}"
    base, _, _ = server_url.rpartition("/")
    url = f"{base}/{name}"
    if not (reuse and await _database_exists(server_url, name)):
        admin = await asyncpg.connect(server_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
    result: dict[str, Any] = {"n": n, "repeat": repeat}
    try:
        await upgrade(url)  # a reused database gets any newer migration (e.g. an index)
        engine = make_engine(url, pool_size=3)
        sm = make_sessionmaker(engine)
        accounts = max(1, n // 100_000)
        now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
        info = await _seeded_info(url, n, seed) if reuse else None
        if info is not None:
            result.update(info, reused=True)
            await _reset_outputs(url)
        else:
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
            if reuse:
                await raw.execute(
                    f"CREATE TABLE IF NOT EXISTS {_SEED_INFO}"
                    " (n int, seed int, clicks bigint, bot_clicks bigint, seed_s float8)"
                )
                await raw.execute(
                    f"INSERT INTO {_SEED_INFO} VALUES ($1, $2, $3, $4, $5)",
                    n,
                    seed,
                    summary.clicks,
                    summary.bot_clicks,
                    result["seed_s"],
                )
            await raw.close()
        if seed_only:
            await engine.dispose()
            return result

        settings = Settings(database_url=url, redis_url=redis_url)
        temp_before, result["work_mem"] = await _temp_bytes(server_url, name)
        labels = (
            "floor",
            "writing_floor",
            "storing_floor",
            "full",
            "day",
            "nightly",
            "rerun",
            "check",
        )
        runs = (
            # label, asOf, incremental
            ("full", now, False),
            ("nightly", now + timedelta(days=1), True),
            ("rerun", now + timedelta(days=1), True),
            ("check", now + timedelta(days=1), False),
        )
        for label in labels:
            result[f"{label}_all"] = []
        for rep in range(repeat):
            if rep > 0:
                await _reset_outputs(url)
            # The floor: best of two (the second run finds the clicks cached, as the batch does).
            floors = []
            for _ in range(2):
                t0 = time.perf_counter()
                async with sm() as session:
                    await bare_click_aggregate(session, as_of=now)
                floors.append(time.perf_counter() - t0)
            result["floor_all"].append(min(floors))
            result["writing_floor_all"].append(
                min([await _writing_floor(url, now) for _ in range(2)])
            )
            result["storing_floor_all"].append(await _storing_floor(url, now))
            for label, as_of, incremental in runs:
                if label == "nightly":
                    clicks, seconds = await _simulate_day(url, now, seed + rep)
                    result["day_clicks"] = clicks
                    result["day_all"].append(seconds)
                since = datetime.now(UTC)
                async with RssSampler(url, name) as rss:
                    calc = await calculate_in_process(
                        settings,
                        as_of=as_of,
                        concurrency=2,
                        sessionmaker=sm,
                        follow_ups=False,
                        incremental=incremental,
                    )
                assert calc.applications == n, (calc.applications, n)
                result[f"{label}_all"].append(calc.seconds)
                result[f"{label}_written"] = await _written_since(url, since)
                result[f"{label}_rss_growth_mb"] = max(
                    result.get(f"{label}_rss_growth_mb", 0.0), rss.peak - rss.start
                )
                result[f"{label}_backend_mb"] = max(
                    result.get(f"{label}_backend_mb", 0.0), rss.backend_peak
                )
                if label == "full":
                    # what autovacuum does between the first run and the next night
                    raw = await asyncpg.connect(url)
                    await raw.execute("VACUUM ANALYZE link_click_analytics")
                    await raw.close()
            assert result["check_written"] == 0, "the incremental table differs from a full run"
            print(
                f"  [{n:,} run {rep + 1}/{repeat}] "
                + "  ".join(f"{lb} {result[f'{lb}_all'][-1]:.2f} s" for lb in labels),
                flush=True,
            )
        result["trigger_ms"] = await _trigger_cost(url, now)
        for label in labels:
            result[f"{label}_s"] = min(result[f"{label}_all"])
            result[f"{label}_median_s"] = statistics.median(result[f"{label}_all"])
            result[f"{label}_max_s"] = max(result[f"{label}_all"])
        temp_after, _ = await _temp_bytes(server_url, name)
        result["temp_mb"] = (temp_after - temp_before) / 2**20
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        await engine.dispose()
    finally:
        if not reuse:
            admin = await asyncpg.connect(server_url)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    return result


def _report(r: dict[str, Any]) -> None:
    n = r["n"]
    print(
        f"\n== {n:,} applications ({r['repeat']} runs: best-worst), {r['clicks']:,} clicks"
        f" ({r['bot_clicks']:,} bots);"
        f" seeded in {r['seed_s']:.0f} s"
    )

    def span(label: str) -> str:
        lo, hi = r[f"{label}_s"], r[f"{label}_max_s"]
        return f"{lo:7.2f}-{hi:7.2f} s"

    floor, wfloor = r["floor_s"], r["writing_floor_s"]
    print(f"  floor (bare GROUP BY)     {span('floor')}  {n / floor:>10,.0f} apps/s")
    print(
        f"  writing floor             {span('writing_floor')}  {n / wfloor:>10,.0f} apps/s"
        f"  ({wfloor / floor:.2f}x the floor)"
    )
    sfloor = r["storing_floor_s"]
    print(
        f"  storing floor             {span('storing_floor')}  {n / sfloor:>10,.0f} apps/s"
        f"  ({sfloor / wfloor:.2f}x the writing floor; with the foreign keys and the §1.1"
        " update of job_applications)"
    )
    targets = {"full": ("writing floor", wfloor, 2.0), "nightly": ("floor", floor, 1.0)}
    targets["rerun"] = ("floor", floor, 0.1)
    targets["check"] = ("writing floor", wfloor, 2.0)
    names = {
        "full": "full (empty table)",
        "nightly": "nightly (day later, 2%)",
        "rerun": "no-op rerun",
        "check": "full check (same asOf)",
    }
    print(
        f"  simulated day: {r['day_clicks']:,} clicks inserted in {span('day')}"
        " (one INSERT, triggers included)"
    )
    for label in ("full", "nightly", "rerun", "check"):
        what, base, target = targets[label]
        also = f", {r['full_s'] / sfloor:.2f}x the storing floor" if label == "full" else ""
        print(
            f"  {names[label]:<25} {span(label)}  written {r[f'{label}_written']:>9,}"
            f"  {r[f'{label}_s'] / base:5.2f}x the {what} (target <= {target:g}x){also}"
            f"  RSS growth {r[f'{label}_rss_growth_mb']:5.1f} MB"
            f"  backend peak {r[f'{label}_backend_mb']:6.1f} MB"
        )
    with_t, without_t = r["trigger_ms"]
    print(
        f"  flusher INSERT of 1,000 clicks: {with_t:.1f} ms with the dirty triggers,"
        f" {without_t:.1f} ms without (median of 15)"
    )
    print(
        f"  PostgreSQL work_mem {r['work_mem']}, temp files during the runs {r['temp_mb']:.1f} MB;"
        f" bench process peak RSS {r['peak_rss_mb']:.0f} MB (the demo generator included)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000", help="comma-separated application counts")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the generated database (li_bench_<size>_s<seed>) and reuse it next time",
    )
    parser.add_argument(
        "--seed-only", action="store_true", help="only generate (with --reuse), time nothing"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="time the runs this many times (best and median)"
    )
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
            r = await bench_size(
                server,
                svc.redis_url,
                n,
                args.seed,
                reuse=args.reuse,
                seed_only=args.seed_only,
                repeat=args.repeat,
            )
            if args.seed_only:
                print(
                    f"{n:,} applications: {r['clicks']:,} clicks, generated in {r['seed_s']:.0f} s"
                )
            else:
                _report(r)
    finally:
        svc.stop()


if __name__ == "__main__":
    asyncio.run(main())
