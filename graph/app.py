"""The Starlette application: /graphql, /track, /dashboard, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from arq.connections import RedisSettings, create_pool
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from db.engine import make_engine, make_sessionmaker, reads
from graph import pages
from graph.burst_gate import BurstGate
from graph.key_usage import KeyUsage
from graph.observability import (
    QUEUE_DEPTH,
    BodyLimitMiddleware,
    RequestIdMiddleware,
    metrics_text,
)
from graph.rest import make_routes
from graph.schema import schema
from graph.track import Tracker
from graph.track_asgi import TrackFastPath
from graph.view import GraphQLView, Resources
from linkinsights.settings import Settings

log = logging.getLogger("linkinsights.app")


class App(Starlette):
    """Starlette, with /track redirects answered in front of its whole middleware stack
    (graph.track_asgi); everything else, lifespan included, goes through Starlette."""

    def __init__(self, *, tracker: Tracker, max_body_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
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
        redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        gate = BurstGate(redis)
        sessionmaker = make_sessionmaker(engine)
        key_usage = KeyUsage(sessionmaker)
        resources = Resources(
            settings=settings,
            sessionmaker=sessionmaker,
            engine=reads(engine),
            redis=redis,
            burst_gate=gate,
            key_usage=key_usage,
            slots=(
                asyncio.Semaphore(settings.graphql_concurrency)
                if settings.graphql_concurrency
                else None
            ),
        )
        view.resources = resources
        await tracker.start(gate)
        app.state.resources = resources
        try:
            yield
        finally:
            await key_usage.aclose()
            await tracker.stop()
            await redis.aclose()
            await engine.dispose()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        res: Resources = request.app.state.resources
        checks: dict[str, str] = {}
        try:
            # Through the /track pool: the GraphQL pool has no overflow, so under load a probe
            # waiting there for a free connection would call a busy instance unready.
            async with asyncio.timeout(2):
                await tracker.pool.fetchval("SELECT 1")
            checks["postgres"] = "ok"
        except Exception as exc:
            checks["postgres"] = f"down: {type(exc).__name__}"
        try:
            async with asyncio.timeout(2):
                await res.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"down: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def metrics(request: Request) -> Response:
        res: Resources = request.app.state.resources
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                QUEUE_DEPTH.set(await res.redis.zcard(settings.queue_name))
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
        Route("/track/health", tracker.health),
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
