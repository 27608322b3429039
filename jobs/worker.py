"""arq WorkerSettings: shared clients made in on_startup, tasks, cron schedule (STYLE 10)."""

from __future__ import annotations

import logging
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.typing import WorkerCoroutine
from arq.worker import Function, Worker
from redis.asyncio import Redis

from db.engine import make_engine, make_sessionmaker
from jobs.calculate import analytics_functions, nightly_cron_jobs
from jobs.flusher import flusher_from_settings
from jobs.tasks import anonymise_ips
from jobs.webhooks import webhook_function
from linkinsights.settings import Settings, get_settings

log = logging.getLogger("linkinsights.worker")


async def on_startup(ctx: dict[str, Any]) -> None:
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


def build_worker(settings: Settings, *, burst: bool = False, **overrides: Any) -> Worker:
    assert settings.redis_url is not None
    return Worker(
        functions=functions(),
        cron_jobs=cron_jobs(settings),
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
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
        handle_signals=not burst,
        **overrides,
    )


def run_worker(settings: Settings) -> None:
    build_worker(settings).run()


class WorkerSettings:
    """For `arq jobs.worker.WorkerSettings`; `linkinsights worker` is the usual way in."""

    functions = functions()
    on_startup = on_startup
    on_shutdown = on_shutdown
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url or "redis://127.0.0.1:6379")
    queue_name = get_settings().queue_name
    health_check_interval = get_settings().worker_health_check_interval
    cron_jobs = cron_jobs(get_settings())
