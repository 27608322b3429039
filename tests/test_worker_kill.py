"""A real `linkinsights worker` killed with SIGKILL mid-chunk loses nothing.

The test holds a row lock on one application so the worker's chunk blocks inside its batch
statement (mid-run, deterministically), kills the worker, releases the lock, starts a second
worker and waits for the run to complete. arq re-runs the killed chunk once its in-progress key
expires (job timeout + 10 s; the workers here run with JOB_TIMEOUT_SECONDS=5).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arq.connections import RedisSettings, create_pool
from factories import analytics_rows, create_account, create_applications
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_batch import _random_apps
from waiting import eventually

from config import Settings
from db import analytics_runs as runs_db
from db.batch import compute_analytics
from jobs.calculate import enqueue_chunks

ROOT = Path(__file__).resolve().parent.parent
AS_OF = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)


def _start_worker(settings: Settings, queue: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "QUEUE_NAME": queue,
        "JOB_TIMEOUT_SECONDS": "5",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "linkinsights", "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_sigkill_mid_chunk_loses_nothing(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account = await create_account(sessionmaker, timezone="America/New_York")
    apps = _random_apps(random.Random(99), [account], 300)
    ids = await create_applications(sessionmaker, None, apps)
    queue = f"{settings.queue_name}-kill"
    async with sessionmaker() as session, session.begin():
        run, chunks = await runs_db.create_run(
            session, kind="on_demand", chunk_size=100, as_of=AS_OF, account_id=account
        )
    assert len(chunks) == 3
    # An application with clicks in the middle chunk: its row will be updated by the batch.
    middle = chunks[1]
    victim = next(
        app_id
        for app_id, a in zip(ids, apps, strict=True)
        if middle.id_from <= app_id <= middle.id_to
        and any(not c.bot for c in a.clicks)
        and min(a.clicked_at(c) for c in a.clicks if not c.bot) <= AS_OF
    )
    assert settings.redis_url is not None
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    locker = sessionmaker()
    first = second = None
    try:
        await locker.begin()
        await locker.execute(
            text("SELECT 1 FROM job_applications WHERE id = :id FOR UPDATE"), {"id": victim}
        )
        await enqueue_chunks(
            redis, settings.model_copy(update={"queue_name": queue}), run.id, [1, 0, 2]
        )
        first = _start_worker(settings, queue)

        async def middle_started() -> bool:
            async with sessionmaker() as session:
                row = (
                    await session.execute(
                        text(
                            "SELECT started_at, finished_at FROM analytics_run_chunks"
                            " WHERE run_id = :id AND chunk_no = 1"
                        ),
                        {"id": run.id},
                    )
                ).one()
            return row.started_at is not None and row.finished_at is None

        await eventually(middle_started, within=60, what="the middle chunk to start")
        locker_pid = (await locker.execute(text("SELECT pg_backend_pid()"))).scalar_one()

        async def blocked_on_the_lock() -> bool:
            async with sessionmaker() as session:
                waiting = await session.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE :pid = ANY(pg_blocking_pids(pid))"
                    ),
                    {"pid": locker_pid},
                )
            return bool(waiting.scalar_one())

        # The worker is inside the batch statement, waiting for the locked row.
        await eventually(
            blocked_on_the_lock, within=60, what="the batch to wait for the locked row"
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        await locker.rollback()
        second = _start_worker(settings, queue)

        async def complete() -> Any:
            async with sessionmaker() as session:
                found = await runs_db.get_run(session, run_id=run.id, account_id=account)
            return found if found is not None and found.status == "complete" else None

        done = await eventually(complete, within=90, what="the run to complete")
        assert (done.applications_processed, done.chunks_done, done.error) == (300, 3, None)
        async with sessionmaker() as session:
            attempts = (
                await session.execute(
                    text(
                        "SELECT attempts FROM analytics_run_chunks"
                        " WHERE run_id = :id AND chunk_no = 1"
                    ),
                    {"id": run.id},
                )
            ).scalar_one()
        assert attempts == 2  # killed once, re-run once
    finally:
        await locker.close()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        await redis.delete(queue)
        await redis.aclose()

    after_kill = await analytics_rows(sessionmaker, [account])
    assert len(after_kill) == 300
    assert all(r["application_id"] is not None for r in after_kill.values())
    # An uninterrupted run over the same data writes nothing: the tables already equal it.
    async with sessionmaker() as session, session.begin():
        clean = await compute_analytics(
            session, as_of=AS_OF, high_priority_threshold=70, account_id=account
        )
    assert (clean.applications, clean.analytics_written, clean.applications_written) == (300, 0, 0)
    assert await analytics_rows(sessionmaker, [account]) == after_kill
