"""The Starlette application: /graphql, /track, /dashboard, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from arq.connections import RedisSettings, create_pool
from prometheus_client import CONTENT_TYPE_LATEST
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp

from config import Settings
from db.engine import make_engine, make_sessionmaker, reads
from db.health import DatabaseMisconfigured, ping
from graph import pages
from graph.key_cache import KeyCache
from graph.key_usage import KeyUsage
from graph.link_cache import LinkCache
from graph.observability import (
    CLICK_OLDEST_PENDING,
    CLICK_SPOOL_BYTES,
    CLICK_STREAM_LENGTH,
    CLICK_STREAM_PENDING,
    QUEUE_DEPTH,
    BodyLimitMiddleware,
    RequestIdMiddleware,
    metrics_text,
)
from graph.pixel import Pixel
from graph.ratelimit import RateLimiter
from graph.rest import make_routes
from graph.schema import schema
from graph.track import Tracker
from graph.track_asgi import TrackFastPath
from graph.view import GraphQLView, Resources
from jobs.click_stream import ClickAppender, stream_stats
from jobs.spool import Spool

log = logging.getLogger("linkinsights.app")


class App(Starlette):
    """Starlette, with /track redirects answered in front of its whole middleware stack
    (graph.track_asgi); everything else, lifespan included, goes through Starlette."""

    def __init__(self, *, tracker: Tracker, max_body_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # `/graphql/` is a 404, not a 307 to an absolute URL built from the Host header.
        self.router.redirect_slashes = False
        self.tracker = tracker
        self.max_body_bytes = max_body_bytes

    def build_middleware_stack(self) -> ASGIApp:
        return TrackFastPath(
            super().build_middleware_stack(),
            tracker=self.tracker,
            max_body_bytes=self.max_body_bytes,
        )


def create_app(settings: Settings) -> Starlette:
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError(
            "create_app needs database_url and redis_url (see linkinsights.embedded)"
        )
    view = GraphQLView(schema, graphql_ide="graphiql", allow_queries_via_get=False)
    tracker = Tracker(settings)
    pixel = Pixel()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        assert settings.database_url is not None
        assert settings.redis_url is not None
        # One engine, one pool of DB_POOL_SIZE connections: mutations on sessions, reads of
        # one statement (key lookups, loader batches, the page, the summary) on connections of
        # the same engine in autocommit mode (db.engine.reads). No overflow: an overflow
        # connection is opened for one checkout and closed on return (a PostgreSQL backend
        # started and stopped per loader batch); under load that churn halved throughput
        # (bench/api.py, one application at 10 clients: 90 -> 154 req/s without it). A request
        # waits for one of the pool's connections instead; no resolver holds a connection
        # while it waits for another.
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size, max_overflow=0)
        try:
            await ping(engine)
        except DatabaseMisconfigured:
            await engine.dispose()
            raise  # a wrong URL: fail the start, as waiting would not help
        except Exception as exc:  # an outage: start anyway, /track works from Redis or spool
            log.warning("PostgreSQL does not answer at startup (%s); starting anyway", exc)
        redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        # The click pipeline's own client: it connects on first use (so /track starts, and
        # keeps answering from the spool, while Redis is down) and gives up quickly.
        click_redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=5)
        links = LinkCache(
            engine,
            size=settings.link_cache_size,
            ttl=settings.link_cache_ttl,
            negative_ttl=settings.link_cache_negative_ttl,
        )
        # Change notices: a connection that waits as long as it must (no socket timeout).
        notices_redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1)
        links.listen(notices_redis)
        keys = KeyCache(reads(engine))
        keys.listen(notices_redis)
        spool = Spool(settings.spool_dir)
        appender = ClickAppender(
            click_redis,
            spool,
            stream=settings.click_stream,
            timeout=settings.click_append_timeout,
        )
        await appender.start()
        sessionmaker = make_sessionmaker(engine)
        limiter = RateLimiter(redis)
        key_usage = KeyUsage(sessionmaker)
        resources = Resources(
            settings=settings,
            sessionmaker=sessionmaker,
            engine=reads(engine),
            redis=redis,
            limiter=limiter,
            links=links,
            clicks=appender,
            key_usage=key_usage,
            keys=keys,
            slots=(
                asyncio.Semaphore(settings.graphql_concurrency)
                if settings.graphql_concurrency
                else None
            ),
        )
        view.resources = resources
        tracker.start(links, appender)
        pixel.appender = appender
        app.state.resources = resources
        app.state.spool = spool
        try:
            yield
        finally:
            await key_usage.aclose()
            await limiter.aclose()
            await appender.close()
            await links.close()
            await keys.close()
            await notices_redis.aclose()
            await click_redis.aclose()
            await redis.aclose()
            await engine.dispose()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Ready while /track can keep its promise: a click is made durable in Redis or, with
        Redis down, in the spool. PostgreSQL being down is reported, but the instance stays
        ready: cached links still redirect and every click is kept for the flusher."""
        res: Resources = request.app.state.resources
        checks: dict[str, str] = {}
        try:
            await ping(res.sessionmaker.kw["bind"])
            checks["postgres"] = "ok"
        except Exception as exc:
            checks["postgres"] = f"down: {type(exc).__name__}"
        try:
            async with asyncio.timeout(2):
                await res.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"down: {type(exc).__name__} (clicks are spooled)"
        checks["clicks"] = "ok" if tracker.appender is not None else "down"
        ready = checks["clicks"] == "ok"
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def metrics(request: Request) -> Response:
        res: Resources = request.app.state.resources
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                QUEUE_DEPTH.set(await res.redis.zcard(settings.queue_name))
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                stats = await stream_stats(
                    res.redis, stream=settings.click_stream, group=settings.click_stream_group
                )
                CLICK_STREAM_LENGTH.set(stats["length"])
                CLICK_STREAM_PENDING.set(stats["pending"])
                CLICK_OLDEST_PENDING.set(stats["oldest"])
        CLICK_SPOOL_BYTES.set(request.app.state.spool.total_bytes())
        return Response(metrics_text(), media_type=CONTENT_TYPE_LATEST)

    async def dashboard(request: Request) -> Response:
        return pages.dashboard(request, settings)

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/graphql", view, methods=["GET", "POST"]),
        Route("/dashboard", dashboard),
        Mount("/static", app=pages.static_files()),
        WebSocketRoute("/graphql", view),  # subscriptions (graphql-transport-ws)
        Route("/track/health", tracker.health),
        Route("/o/{tracking_id}.gif", pixel.endpoint, methods=["GET"]),
        # Answered by TrackFastPath before Starlette sees them, except with a root path.
        Route("/track/{tracking_id}", tracker.redirect, methods=["GET", "HEAD"]),
        # The seed 000 REST paths, answered by the GraphQL resolvers (graph.rest).
        *make_routes(view, schema, settings),
    ]
    return App(
        tracker=tracker,
        max_body_bytes=settings.max_body_bytes,
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
    )
