"""Prometheus metrics and structured JSON logs with a request id on every line (SPEC §10)."""

from __future__ import annotations

import contextvars
import functools
import logging
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

REGISTRY = CollectorRegistry(auto_describe=True)
GRAPHQL_REQUESTS = Counter(
    "linkinsights_graphql_requests_total",
    "GraphQL operations executed",
    ["operation"],
    registry=REGISTRY,
)
GRAPHQL_LATENCY = Histogram(
    "linkinsights_graphql_request_seconds",
    "GraphQL operation latency",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
GRAPHQL_ERRORS = Counter(
    "linkinsights_graphql_errors_total", "GraphQL errors by code", ["code"], registry=REGISTRY
)
HTTP_REQUESTS = Counter(
    "linkinsights_http_requests_total", "HTTP requests", ["route", "status"], registry=REGISTRY
)
CLICK_STREAM_LENGTH = Gauge(
    "linkinsights_click_stream_length",
    "Clicks in the Redis Stream not yet written to PostgreSQL",
    registry=REGISTRY,
    multiprocess_mode="max",
)
CLICK_STREAM_PENDING = Gauge(
    "linkinsights_click_stream_pending",
    "Clicks delivered to a flusher and not yet acknowledged",
    registry=REGISTRY,
    multiprocess_mode="max",
)
CLICK_OLDEST_PENDING = Gauge(
    "linkinsights_click_oldest_pending_seconds",
    "Age of the oldest click delivered to a flusher and not yet acknowledged",
    registry=REGISTRY,
    multiprocess_mode="max",
)
CLICK_SPOOL_BYTES = Gauge(
    "linkinsights_click_spool_bytes",
    "Bytes of clicks in the local spool, waiting for Redis",
    registry=REGISTRY,
    multiprocess_mode="max",
)
REDIRECTS = Counter(
    "linkinsights_redirects_total", "/track redirects by outcome", ["outcome"], registry=REGISTRY
)


@functools.cache
def counter_child(counter: Counter, *labels: str) -> Any:
    """`counter.labels(*labels)`, looked up once: `labels()` costs a few µs a call, and every
    redirect counts itself twice. Made on first use, as `labels()` makes it."""
    return counter.labels(*labels)


AGGREGATE_CACHE_HITS = Counter(
    "linkinsights_aggregate_cache_hits_total",
    "Account aggregates answered from the aggregate cache",
    ["aggregate"],
    registry=REGISTRY,
)
AGGREGATE_CACHE_MISSES = Counter(
    "linkinsights_aggregate_cache_misses_total",
    "Account aggregates computed (no fresh entry, or the cache unavailable)",
    ["aggregate"],
    registry=REGISTRY,
)
REST_REQUESTS = Counter(
    "linkinsights_rest_requests_total",
    "REST analytics requests by endpoint and status",
    ["endpoint", "status"],
    registry=REGISTRY,
)

QUEUE_DEPTH = Gauge(
    "linkinsights_queue_depth",
    "Jobs waiting in the arq queue",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",  # with several API processes: the latest reading
)


def metrics_text() -> bytes:
    """The Prometheus exposition of this process, or of every API process together.

    With several API processes (linkinsights.server sets PROMETHEUS_MULTIPROC_DIR for them)
    each writes its samples to that directory and a scrape, whichever process answers it,
    adds them up; otherwise a scrape would see one process's share, jumping between them.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key in ("operation", "duration_ms", "status", "path", "code", "job_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "arq.worker", "arq.jobs"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's access log duplicates ours, which carries the request id.
    logging.getLogger("uvicorn.access").disabled = True


access_log = logging.getLogger("linkinsights.access")


class RequestIdMiddleware:
    """Gives every request an id (or keeps a sane X-Request-ID), logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = scope.get("path", "")
            route = "/track" if path.startswith("/track/") and path != "/track/health" else path
            if path.startswith("/api/"):
                route = "/api"
            if route not in (
                "/api",
                "/graphql",
                "/track",
                "/track/health",
                "/healthz",
                "/readyz",
                "/metrics",
            ):
                route = "other"
            HTTP_REQUESTS.labels(route=route, status=str(status)).inc()
            if route != "/track" and access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s",
                    scope.get("method"),
                    path,
                    status,
                    extra={
                        "status": status,
                        "path": path,
                        "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                    },
                )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuses request bodies over the limit before anything parses them (413)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        on_too_large: Callable[[int], Awaitable[Any]] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = orjson.dumps(
            {
                "errors": [
                    {
                        "message": f"Request body is larger than {self.max_bytes} bytes",
                        "extensions": {"code": "BAD_USER_INPUT", "maxBytes": self.max_bytes},
                    }
                ]
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
