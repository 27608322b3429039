"""The /graphql endpoint: authentication, rate limits, error shaping, orjson responses."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from arq.connections import ArqRedis
from cross_web import HTTPException
from graphql import GraphQLError, OperationDefinitionNode, parse
from graphql.error import GraphQLSyntaxError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError, StrawberryGraphQLError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from config import Settings
from db import accounts as accounts_db
from domain.apikeys import hash_key, looks_like_key
from graph import pages
from graph.context import Context, Viewer
from graph.dataloaders import Loaders
from graph.errors import (
    AppError,
    BadUserInput,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
    service_unavailable,
    unavailable_service,
)
from graph.key_cache import KeyCache
from graph.key_usage import KeyUsage
from graph.link_cache import LinkCache
from graph.observability import GRAPHQL_ERRORS
from graph.ratelimit import RateLimiter
from jobs.click_stream import ClickAppender

log = logging.getLogger("linkinsights.graphql")


@dataclass
class Resources:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    # The same engine in autocommit mode, for reads of one statement (db.engine.reads).
    engine: AsyncEngine
    redis: ArqRedis
    # The rate limits, counted in this process and synced to Redis in batches (see there).
    limiter: RateLimiter
    links: LinkCache | None = None
    clicks: ClickAppender | None = None
    key_usage: KeyUsage | None = None
    # The API keys this process has seen (graph/key_cache.py); None: read each request's key.
    keys: KeyCache | None = None
    # GraphQL requests executed at once in this process (None: no limit); see __call__.
    slots: asyncio.Semaphore | None = None


def error_body(exc: AppError) -> dict[str, Any]:
    return {"data": None, "errors": [{"message": exc.message, "extensions": exc.extensions}]}


def _is_introspection_only(query: str) -> bool:
    try:
        document = parse(query)
    except GraphQLSyntaxError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations or any(op.operation.value != "query" for op in operations):
        return False
    for op in operations:
        for selection in op.selection_set.selections:
            name = getattr(getattr(selection, "name", None), "value", "")
            if not name.startswith("__"):
                return False
    return True


class TextFrames(ASGIWebSocketAdapter):
    """Subscriptions answered in text frames: graphql-transport-ws clients (GraphiQL's, the
    dashboard's) parse text; `encode_json` gives bytes, which would go out as binary frames."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GraphQLView(GraphQL[Context, None]):
    websocket_adapter_class = TextFrames
    resources: Resources | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        if request.method == "POST":
            # Read before a slot is taken: a slow upload must not hold one.
            await request.body()
        response = await self._in_turn(request)
        await response(scope, receive, send)

    async def _in_turn(self, request: Request) -> Response:
        """`_respond`, once one of the process's slots is free (see there); a request that
        waits longer than GRAPHQL_QUEUE_TIMEOUT is answered RATE_LIMITED instead, so that an
        overloaded process sheds work rather than queueing without end."""
        res = self.resources
        slots = res.slots if res is not None else None
        if slots is None or res is None:
            return await self._respond(request)
        try:
            async with asyncio.timeout(res.settings.graphql_queue_timeout):
                await slots.acquire()
        except TimeoutError:
            busy = RateLimited(
                "The server is busy; retry in a moment", retry_after=_BUSY_RETRY_SECONDS
            )
            return self._error_response(busy)
        try:
            return await self._respond(request)
        finally:
            slots.release()

    async def _respond(self, request: Request) -> Response:
        """The response to one GraphQL request, errors of the request itself included.

        Requests beyond the process's `slots` wait their turn, first come first served, instead
        of all running at once: with every request of a busy process interleaved at each of
        its awaits, a request took as long as its neighbours made it, and under 50 clients
        the slowest 5% waited twice the median (bench/api.py). Taken in turn, each waits for
        the ones ahead of it, and a few at a time still overlap their database round trips.
        """
        try:
            return await self.run(request)
        except HTTPException as exc:
            # Not a GraphQL request at all (a body that is not JSON, the wrong content type):
            # still a GraphQL-shaped answer, with the HTTP status that says so.
            bad = BadUserInput(exc.reason)
            bad.http_status = exc.status_code
            return self._error_response(bad)
        except AppError as exc:
            return self._error_response(exc)
        except Exception as exc:
            # The API key lookup or the rate limiter could not reach PostgreSQL or Redis.
            service = unavailable_service(exc)
            if service is None:
                raise
            note_unavailable(service, exc)
            return self._error_response(service_unavailable(service))

    def _error_response(self, exc: AppError) -> Response:
        """A request-level error (authentication, rate limits) as its HTTP response."""
        GRAPHQL_ERRORS.labels(code=exc.code).inc()
        headers = {}
        if isinstance(exc, RateLimited | ServiceUnavailable):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, Unauthenticated):
            headers["WWW-Authenticate"] = "Bearer"
        return Response(
            orjson.dumps(error_body(exc)),
            status_code=exc.http_status if exc.http_status != 200 else 400,
            media_type="application/json",
            headers=headers,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        # From the package's own files, not a CDN (graph/pages.py).
        return pages.graphiql(request, self.resources.settings if self.resources else None)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """The request body as a JSON object; anything else is the client's mistake (400)."""
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise HTTPException(
                400, "The request body is not valid JSON in UTF-8; send a JSON object."
            ) from None
        if not isinstance(payload, dict):
            raise HTTPException(
                400,
                'The request body must be a JSON object such as {"query": "{ __typename }"}, '
                f"not {_json_kind(payload)}.",
            )
        return payload

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert self.resources is not None, "the lifespan sets the resources"
        res = self.resources
        viewer = await self._authenticate(request)
        loaders = Loaders(res.engine, viewer.account_id if viewer else _NO_ACCOUNT)
        return Context(
            settings=res.settings,
            sessionmaker=res.sessionmaker,
            engine=res.engine,
            redis=res.redis,
            links=res.links,
            clicks=res.clicks,
            viewer=viewer,
            loaders=loaders,
            request=request,
            response=response,
        )

    async def _authenticate(self, request: Request | WebSocket) -> Viewer | None:
        res = self.resources
        assert res is not None
        client_ip = request.client.host if request.client else "unknown"
        header = request.headers.get("authorization", "")
        if not header:
            if isinstance(request, WebSocket) or request.method == "GET":
                return None  # the GraphiQL page; queries via GET are disabled
            body = await request.body() if isinstance(request, Request) else b""
            query = ""
            try:
                payload = orjson.loads(body) if body else {}
                query = payload.get("query", "") if isinstance(payload, dict) else ""
            except orjson.JSONDecodeError:
                pass
            if isinstance(query, str) and query and _is_introspection_only(query):
                res.limiter.hit(
                    bucket=f"ip:{client_ip}",
                    limit=res.settings.rate_limit_per_ip_per_minute,
                )
                return None
            raise Unauthenticated("Send an API key: Authorization: Bearer <key>")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise Unauthenticated("Use the form Authorization: Bearer <key>")
        return await self._viewer_for_key(key, client_ip, operation=await _operation(request))

    async def _viewer_for_key(self, key: str, client_ip: str, *, operation: str = "") -> Viewer:
        """The viewer of an API key, its use counted against its rate limit."""
        res = self.resources
        assert res is not None
        if not looks_like_key(key):
            res.limiter.hit(
                bucket=f"ip:{client_ip}", limit=res.settings.rate_limit_per_ip_per_minute
            )
            raise Unauthenticated("Unknown or revoked API key")
        if res.keys is not None:
            row = await res.keys.find(hash_key(key))
        else:
            async with res.engine.connect() as conn:
                row = await accounts_db.find_key(conn, key_hash=hash_key(key))
        if row is None or row.revoked_at is not None:
            res.limiter.hit(
                bucket=f"ip:{client_ip}", limit=res.settings.rate_limit_per_ip_per_minute
            )
            raise Unauthenticated("Unknown or revoked API key")
        if res.key_usage is not None and (row.last_used_at is None or _stale(row.last_used_at)):
            res.key_usage.seen(row.id)
        if operation == "recordClick":
            # seed 002: click recording has its own, higher limit
            res.limiter.hit(
                bucket=f"key:{row.id}:clicks",
                limit=res.settings.rate_limit_record_click_per_minute,
            )
        else:
            res.limiter.hit(
                bucket=f"key:{row.id}", limit=res.settings.rate_limit_per_key_per_minute
            )
        return Viewer(
            account_id=row.account_id,
            key_id=row.id,
            scopes=frozenset(row.scopes),
            timezone=row.timezone,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A WebSocket client without an Authorization header (a browser) sends its key in
        `connection_init`: {"Authorization": "Bearer <key>"}."""
        if context.viewer is not None:
            return _ACK
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        scheme, _, key = str(header or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ConnectionRejectionError({"message": "Send an API key in connection_init"})
        client = context.request.client if context.request is not None else None
        try:
            context.viewer = await self._viewer_for_key(
                key.strip(), client.host if client else "unknown"
            )
        except AppError as exc:
            raise ConnectionRejectionError({"message": exc.message}) from exc
        assert self.resources is not None
        context.loaders = Loaders(self.resources.engine, context.viewer.account_id)
        return _ACK

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            data["errors"] = [self._format_error(e) for e in result.errors]
        if result.extensions:
            data["extensions"] = result.extensions
        return data

    def _format_error(self, error: GraphQLError) -> dict[str, Any]:
        original = error.original_error
        formatted: dict[str, Any] = dict(error.formatted)
        if isinstance(original, AppError):
            formatted["message"] = original.message
            formatted["extensions"] = dict(original.extensions)
        elif original is not None and (service := unavailable_service(original)) is not None:
            note_unavailable(service, original)
            down = service_unavailable(service)
            formatted["message"] = down.message
            formatted["extensions"] = dict(down.extensions)
        elif original is None or isinstance(original, StrawberryGraphQLError | GraphQLError):
            # Parse and validation errors (depth, aliases, tokens, unknown fields, bad variables).
            extensions = dict(formatted.get("extensions") or {})
            extensions.setdefault("code", "BAD_USER_INPUT")
            formatted["extensions"] = extensions
        else:
            log.error(
                "unhandled error in %s",
                ".".join(str(p) for p in error.path or []),
                exc_info=(type(original), original, original.__traceback__),
            )
            formatted = {
                "message": "Internal server error",
                "locations": formatted.get("locations"),
                "path": formatted.get("path"),
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        GRAPHQL_ERRORS.labels(code=formatted["extensions"]["code"]).inc()
        return formatted


async def _operation(request: Request | WebSocket) -> str:
    """ "recordClick" when the request's document asks for that mutation alone, else ""."""
    if not isinstance(request, Request) or request.method != "POST":
        return ""
    body = await request.body()
    if b"recordClick" not in body:
        return ""
    try:
        payload = orjson.loads(body)
        query = payload.get("query", "") if isinstance(payload, dict) else ""
        document = parse(query) if isinstance(query, str) else None
    except (orjson.JSONDecodeError, GraphQLSyntaxError):
        return ""
    if document is None:
        return ""
    fields = {
        getattr(getattr(selection, "name", None), "value", "")
        for op in document.definitions
        if isinstance(op, OperationDefinitionNode)
        for selection in op.selection_set.selections
    }
    return "recordClick" if fields == {"recordClick"} else ""


_ACK: UnsetType = UNSET  # on_ws_connect: acknowledge without a payload


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array (batched requests are not supported)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return "a number"


def note_unavailable(service: str, exc: BaseException) -> None:
    """Log that requests fail for an outage: a line without a traceback (not a bug), at most
    one per service every _OUTAGE_LOG_SECONDS, saying how many were answered since."""
    now = time.monotonic()
    last, count = _outage_log.get(service, (0.0, 0))
    if now - last < _OUTAGE_LOG_SECONDS:
        _outage_log[service] = (last, count + 1)
        return
    _outage_log[service] = (now, 0)
    log.warning(
        "%s unavailable, answering SERVICE_UNAVAILABLE (%d more since the last line): %s: %s",
        service,
        count,
        type(exc).__name__,
        exc,
    )


_OUTAGE_LOG_SECONDS = 10.0
_outage_log: dict[str, tuple[float, int]] = {}


def _stale(when: datetime) -> bool:
    return datetime.now(UTC) - when > timedelta(minutes=1)


# What a request turned away by a busy process is told to wait before retrying.
_BUSY_RETRY_SECONDS = 1

# Loaders of an unauthenticated (introspection-only) request match no account's rows.
_NO_ACCOUNT = uuid.UUID(int=0)
