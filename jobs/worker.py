"""arq WorkerSettings: shared clients made in on_startup, tasks, cron schedule (STYLE 10)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import replace
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.typing import WorkerCoroutine
from arq.worker import Function, Worker
from redis.asyncio import Redis
from redis.exceptions import RedisError

from config import Settings, get_settings
from db.engine import make_engine, make_sessionmaker
from jobs.calculate import analytics_functions, nightly_cron_jobs
from jobs.flusher import flusher_from_settings
from jobs.tasks import anonymise_ips
from jobs.webhooks import webhook_function

log = logging.getLogger("linkinsights.worker")


async def on_startup(ctx: dict[str, Any]) -> None:
    if "sessionmaker" in ctx:
        return  # the worker's loop started again after a Redis outage (run_until_stopped)
    settings: Settings = ctx.get("settings") or get_settings()
    assert settings.database_url is not None
    ctx["settings"] = settings
    ctx["engine"] = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        application_name="linkinsights-worker",
    )
    ctx["sessionmaker"] = make_sessionmaker(ctx["engine"])
    if settings.run_flusher:
        # The click flusher (SPEC §3.1) runs beside the jobs, on a Redis client of its own,
        # and outlives Redis and PostgreSQL outages on its own (jobs/flusher.py).
        assert settings.redis_url is not None
        ctx["click_redis"] = Redis.from_url(
            settings.redis_url, socket_connect_timeout=2, socket_timeout=10
        )
        ctx["flusher"] = flusher_from_settings(ctx["click_redis"], ctx["engine"], settings)
        ctx["flusher"].start()


async def on_shutdown(ctx: dict[str, Any]) -> None:
    flusher = ctx.pop("flusher", None)
    if flusher is not None:
        await flusher.stop()
    click_redis = ctx.pop("click_redis", None)
    if click_redis is not None:
        await click_redis.aclose()
    engine = ctx.get("engine")
    if engine is not None:
        await engine.dispose()


def functions() -> list[WorkerCoroutine | Function]:
    return [anonymise_ips, webhook_function(), *analytics_functions()]


def cron_jobs(settings: Settings) -> list[Any]:
    return [
        # Retention: once a day, at a quiet time; unique so only one worker runs it.
        cron(anonymise_ips, hour={3}, minute={17}, unique=True, run_at_startup=False),
        # Analytics for every application (settings.nightly_cron, seed "0 2 * * *").
        *nightly_cron_jobs(settings),
    ]


def build_worker(
    settings: Settings,
    *,
    burst: bool = False,
    handle_signals: bool | None = None,
    **overrides: Any,
) -> Worker:
    assert settings.redis_url is not None
    return Worker(
        functions=functions(),
        cron_jobs=cron_jobs(settings),
        # No retries inside arq's connect: run_until_stopped waits for Redis, and says so once.
        redis_settings=replace(RedisSettings.from_dsn(settings.redis_url), conn_retries=0),
        queue_name=settings.queue_name,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        ctx={"settings": settings},
        max_jobs=settings.worker_max_jobs,
        job_timeout=settings.job_timeout_seconds,
        health_check_interval=settings.worker_health_check_interval,
        health_check_key=f"{settings.queue_name}:health-check",
        keep_result=3600,
        burst=burst,
        handle_signals=not burst if handle_signals is None else handle_signals,
        **overrides,
    )


def run_worker(settings: Settings) -> None:
    """Run a worker until SIGINT or SIGTERM, through Redis outages of any length."""
    asyncio.run(run_until_stopped(settings))


async def run_until_stopped(settings: Settings, **overrides: Any) -> None:
    """arq's loop, started again whenever a lost Redis connection ends it.

    arq's own `Worker.run` ends (and `serve` with it, before) on the first Redis error. Here
    the loop waits for Redis with a capped backoff, says so once when Redis goes and once when
    it comes back, and resumes polling and cron. A job that was running keeps running; if its
    end could not be recorded, arq runs it again once its in-progress mark expires (tasks are
    idempotent: STYLE 10).
    """
    assert settings.redis_url is not None
    redis_url = settings.redis_url
    worker = build_worker(settings, handle_signals=False, **overrides)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _on_signal, worker, stop, signum)
    try:
        while not stop.is_set():
            worker.main_task = asyncio.ensure_future(worker.main())
            try:
                await worker.main_task
                return  # a burst worker that ran out of jobs
            except asyncio.CancelledError:
                if stop.is_set():
                    return
                raise
            except (RedisError, OSError) as exc:
                await _wait_for_redis(redis_url, stop, exc)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        with contextlib.suppress(RedisError, OSError):
            await worker.close()


def _on_signal(worker: Worker, stop: asyncio.Event, signum: signal.Signals) -> None:
    stop.set()
    worker.handle_sig(signum)  # cancels the running jobs and the loop, as arq would


async def _wait_for_redis(redis_url: str, stop: asyncio.Event, exc: BaseException) -> None:
    """Return once Redis answers a PING (or the worker is asked to stop)."""
    started = time.monotonic()
    log.warning("Redis unavailable (%s: %s): jobs and cron paused", type(exc).__name__, exc)
    delay = REDIS_RETRY_MIN_SECONDS
    probe = Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, REDIS_RETRY_MAX_SECONDS)
            if stop.is_set():
                return
            try:
                await probe.ping()
            except (RedisError, OSError):
                continue
            waited = time.monotonic() - started
            log.warning("Redis is back after %.1f s: jobs and cron resumed", waited)
            return
    finally:
        await probe.aclose()


# Between PINGs while Redis is away: short at first, so a blip costs little, then capped, so
# the worker is back within a couple of seconds of Redis whatever the length of the outage.
REDIS_RETRY_MIN_SECONDS = 0.1
REDIS_RETRY_MAX_SECONDS = 2.0


class WorkerSettings:
    """For `arq jobs.worker.WorkerSettings`; `linkinsights worker` is the usual way in."""

    functions = functions()
    on_startup = on_startup
    on_shutdown = on_shutdown
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url or "redis://127.0.0.1:6379")
    queue_name = get_settings().queue_name
    health_check_interval = get_settings().worker_health_check_interval
    cron_jobs = cron_jobs(get_settings())
