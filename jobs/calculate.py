"""The analytics calculation as arq jobs (on demand and nightly) and in-process (CLI, demo).

A run is a row in ``analytics_runs`` with planned chunks (id ranges of job_applications).
Each chunk is one arq job with a deterministic id, ``calc:{run_id}:{chunk_no}``, so enqueueing
twice is harmless; any worker may take any chunk. A chunk's writes and its completion commit in
one transaction, so a worker killed mid-chunk leaves nothing behind: arq's in-progress key for the
job expires (after the largest function timeout + 10 s, see ``Worker.in_progress_timeout_s``), the
job is still in the queue, and the next worker polling it runs it again (``job_try`` + 1, up to
``max_tries``). The chunk recomputes the same range with the run's fixed ``as_of``, so the final
table equals an uninterrupted run.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arq import Retry, cron, func
from arq.connections import ArqRedis
from arq.cron import CronJob
from arq.worker import Function
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from db import analytics_runs as runs_db
from db import follow_ups as follow_ups_db
from db.batch import compute_analytics
from graph.aggregate_cache import invalidate_quietly
from jobs.schedule import cron_schedules

log = logging.getLogger("linkinsights.jobs.calculate")

CHUNK_FUNCTION = "calculate_chunk"
CHUNK_MAX_TRIES = 5


def chunk_job_id(run_id: uuid.UUID, chunk_no: int) -> str:
    return f"calc:{run_id}:{chunk_no}"


def nightly_lock_key(settings: Settings) -> str:
    return f"{settings.queue_name}:nightly-lock"


# Delete the lock only if it still names this run (another run may hold it after expiry).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


async def enqueue_chunks(
    redis: ArqRedis, settings: Settings, run_id: uuid.UUID, chunk_nos: list[int]
) -> None:
    """Enqueue the chunk jobs; raises on a Redis error (the caller undoes the run)."""
    for chunk_no in chunk_nos:
        await redis.enqueue_job(
            CHUNK_FUNCTION,
            str(run_id),
            chunk_no,
            _job_id=chunk_job_id(run_id, chunk_no),
            _queue_name=settings.queue_name,
        )


async def process_chunk(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    run_id: uuid.UUID,
    chunk_no: int,
) -> runs_db.RunRow | None:
    """Compute one chunk and record it; None when there was nothing to do."""
    async with sessionmaker() as session, session.begin():
        work = await runs_db.start_chunk(session, run_id=run_id, chunk_no=chunk_no)
    if work is None:
        return None
    async with sessionmaker() as session, session.begin():
        result = await compute_analytics(
            session,
            as_of=work.as_of,
            high_priority_threshold=settings.high_priority_threshold,
            account_id=work.account_id,
            id_from=work.id_from,
            id_to=work.id_to,
            incremental=work.incremental,
            planned=work.planned,
        )
        return await runs_db.finish_chunk(
            session, run_id=run_id, chunk_no=chunk_no, applications=result.applications
        )


async def create_follow_ups(
    sessionmaker: async_sessionmaker[AsyncSession], run: runs_db.RunRow
) -> list[uuid.UUID]:
    """Once a run is complete: follow-ups for applications that became high priority.

    Runs once per completed run (not per chunk, so chunks do not contend on the same rows);
    a retried last chunk finds nothing new. Returns the follow-ups whose account has a webhook,
    to be enqueued after this commit.
    """
    async with sessionmaker() as session, session.begin():
        return await follow_ups_db.after_batch(session, account_id=run.account_id)


async def enqueue_webhooks(redis: ArqRedis, settings: Settings, ids: list[uuid.UUID]) -> None:
    from jobs.webhooks import enqueue_follow_up_webhooks

    if ids:
        await enqueue_follow_up_webhooks(redis, ids, queue_name=settings.queue_name)


# ----------------------------------------------------------------------------- arq tasks


async def calculate_chunk(ctx: dict[str, Any], run_id: str, chunk_no: int) -> int | None:
    """arq task: one chunk of a run. Idempotent; errors retry, the last try fails the run."""
    settings: Settings = ctx["settings"]
    sessionmaker: async_sessionmaker[AsyncSession] = ctx["sessionmaker"]
    rid = uuid.UUID(run_id)
    try:
        run = await process_chunk(sessionmaker, settings, rid, chunk_no)
    except Exception as exc:
        job_try = int(ctx.get("job_try", 1))
        if job_try < CHUNK_MAX_TRIES:
            log.warning("chunk %s:%s failed (try %d), retrying: %r", run_id, chunk_no, job_try, exc)
            raise Retry(defer=min(2 * job_try, 30)) from exc
        async with sessionmaker() as session, session.begin():
            await runs_db.fail_run(session, run_id=rid, error=f"chunk {chunk_no}: {exc!r}")
        await _release_nightly(ctx, rid)
        raise
    if run is None:
        return None
    if run.status == "complete":
        await invalidate_quietly(ctx["redis"], _accounts_of(run))
        await enqueue_webhooks(ctx["redis"], settings, await create_follow_ups(sessionmaker, run))
    if run.status in ("complete", "failed"):
        await _release_nightly(ctx, rid)
    return run.applications_processed


def _accounts_of(run: runs_db.RunRow) -> list[uuid.UUID] | None:
    """The accounts whose cached aggregates a completed run makes stale; None: all."""
    return None if run.account_id is None else [run.account_id]


async def _release_nightly(ctx: dict[str, Any], run_id: uuid.UUID) -> None:
    redis: ArqRedis | None = ctx.get("redis")
    if redis is not None:
        await redis.eval(_RELEASE, 1, nightly_lock_key(ctx["settings"]), str(run_id))  # type: ignore[misc]


async def nightly_calculation(ctx: dict[str, Any]) -> str | None:
    """arq cron: the incremental run over every application. At most one nightly run at a time.

    The dirty applications are recomputed from their clicks, the others refreshed for the clock
    (db/batch.py); the result equals a full recompute.

    A Redis lock (SET NX with an expiry) guards the run across workers; the last chunk releases
    it. If the workers of a run die for good, the lock expires and the next night closes the
    stale run as failed before starting a new one.
    """
    settings: Settings = ctx["settings"]
    redis: ArqRedis = ctx["redis"]
    sessionmaker: async_sessionmaker[AsyncSession] = ctx["sessionmaker"]
    run_id = uuid.uuid4()
    key = nightly_lock_key(settings)
    if not await redis.set(key, str(run_id), nx=True, ex=settings.nightly_lock_seconds):
        log.info("nightly analytics: another run holds the lock, skipping")
        return None
    try:
        async with sessionmaker() as session, session.begin():
            await runs_db.fail_open_nightly_runs(session, error="superseded: its lock expired")
            run, chunks = await runs_db.create_run(
                session,
                kind="nightly",
                chunk_size=settings.analytics_chunk_size,
                incremental=True,
            )
        await redis.set(key, str(run.id), xx=True, ex=settings.nightly_lock_seconds)
        await enqueue_chunks(redis, settings, run.id, [c.chunk_no for c in chunks])
    except Exception:
        await redis.delete(key)
        raise
    if not chunks:
        await redis.delete(key)
    log.info("nightly analytics run %s: %d chunks", run.id, len(chunks))
    return str(run.id)


# ----------------------------------------------------------------------------- in process


@dataclass(frozen=True, slots=True)
class CalculationSummary:
    run_id: uuid.UUID
    applications: int
    chunks: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.applications / self.seconds if self.seconds > 0 else 0.0


async def calculate_in_process(
    settings: Settings,
    *,
    account_id: uuid.UUID | None = None,
    as_of: datetime | None = None,
    concurrency: int = 2,
    on_start: Callable[[int, int], None] | None = None,
    on_chunk: Callable[[int], None] | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    follow_ups: bool = True,
    incremental: bool = False,
) -> CalculationSummary:
    """The same chunked calculation, here and now (CLI, demo, benchmark).

    ``incremental``: recompute the dirty applications and refresh the others for the clock, as
    the nightly run does; else recompute every application (``--full``, a backfill).

    ``on_start(chunks, applications)`` and ``on_chunk(applications)`` report progress.
    ``follow_ups=False`` skips creating the follow-ups after the run (the batch benchmark times
    the calculation alone).
    """
    from db.engine import make_engine, make_sessionmaker

    engine = None
    if sessionmaker is None:
        assert settings.database_url is not None
        engine = make_engine(
            settings.database_url,
            pool_size=max(concurrency, 1),
            application_name="linkinsights-calc",
        )
        sessionmaker = make_sessionmaker(engine)
    try:
        started = time.perf_counter()
        async with sessionmaker() as session, session.begin():
            run, chunks = await runs_db.create_run(
                session,
                kind="cli",
                chunk_size=settings.analytics_chunk_size,
                as_of=as_of,
                account_id=account_id,
                incremental=incremental,
            )
        if on_start is not None:
            on_start(len(chunks), sum(c.applications for c in chunks))
        pending = list(chunks)

        async def worker() -> None:
            while pending:
                chunk = pending.pop(0)
                try:
                    await process_chunk(sessionmaker, settings, run.id, chunk.chunk_no)
                except Exception as exc:
                    async with sessionmaker() as session, session.begin():
                        await runs_db.fail_run(
                            session, run_id=run.id, error=f"chunk {chunk.chunk_no}: {exc!r}"
                        )
                    raise
                if on_chunk is not None:
                    on_chunk(chunk.applications)

        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
        async with sessionmaker() as session:
            final = await runs_db.get_run(session, run_id=run.id, account_id=None)
        assert final is not None
        webhook_ids = await create_follow_ups(sessionmaker, final) if follow_ups else []
        if settings.redis_url:
            from arq.connections import RedisSettings, create_pool

            redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
            try:
                await invalidate_quietly(redis, _accounts_of(final))
                await enqueue_webhooks(redis, settings, webhook_ids)
            finally:
                await redis.aclose()
        return CalculationSummary(
            run_id=run.id,
            applications=final.applications_processed,
            chunks=len(chunks),
            seconds=time.perf_counter() - started,
        )
    finally:
        if engine is not None:
            await engine.dispose()


async def calculate_all(settings: Settings) -> int:
    """Every application of every account, now; returns the applications processed."""
    return (await calculate_in_process(settings)).applications


# ----------------------------------------------------------------------------- registration


def analytics_functions() -> list[Function]:
    # One more try than the task's own limit, so the task (not arq) decides the last failure
    # and marks the run failed; a killed worker's try counts too.
    return [func(calculate_chunk, name=CHUNK_FUNCTION, max_tries=CHUNK_MAX_TRIES + 1)]


def nightly_cron_jobs(settings: Settings) -> list[CronJob]:
    """The nightly run on settings.nightly_cron: one arq schedule, or two when cron's "day of
    month or day of week" needs both. They share a name, so with unique=True a minute both
    match enqueues one job (arq's job id is the name and the time)."""
    return [
        cron(
            nightly_calculation,
            name="nightly_calculation",
            unique=True,
            run_at_startup=False,
            **schedule,
        )
        for schedule in cron_schedules(settings.nightly_cron)
    ]
