"""Errors a client can act on. Each carries `extensions.code` (SPEC §7).

Anything else raised in a resolver is masked as INTERNAL_SERVER_ERROR by the view.
"""

from __future__ import annotations

from typing import Any

import asyncpg.exceptions as asyncpg_exc
import redis.exceptions as redis_exc
from sqlalchemy import exc as sa_exc


class AppError(Exception):
    code = "INTERNAL_SERVER_ERROR"
    http_status = 200

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code, **extra}


class Unauthenticated(AppError):
    code = "UNAUTHENTICATED"
    http_status = 401


class Forbidden(AppError):
    code = "FORBIDDEN"
    http_status = 403


class BadUserInput(AppError):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        if field is not None:
            extra["field"] = field
        super().__init__(message, **extra)


class NotFound(AppError):
    code = "NOT_FOUND"


class RateLimited(AppError):
    code = "RATE_LIMITED"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retryAfter=retry_after)
        self.retry_after = retry_after


class QueueUnavailable(AppError):
    code = "QUEUE_UNAVAILABLE"


class PayloadTooLarge(AppError):
    code = "BAD_USER_INPUT"
    http_status = 413


class ServiceUnavailable(AppError):
    """PostgreSQL or Redis cannot be reached: the request may succeed if retried shortly."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503

    def __init__(self, message: str, *, retry_after: int = 2) -> None:
        super().__init__(message, retryAfter=retry_after)
        self.retry_after = retry_after


def unavailable_service(exc: BaseException) -> str | None:
    """`"database"` or `"queue"` (or `"service"`) when `exc` comes from a lost or refused
    connection to PostgreSQL or Redis, found anywhere along its cause chain; None otherwise.

    These are the outages a client should retry, not bugs to mask as INTERNAL_SERVER_ERROR.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    found: str | None = None
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _REDIS_DOWN):
            return "queue"
        if isinstance(current, _POSTGRES_DOWN) or (
            isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated
        ):
            return "database"
        if isinstance(current, asyncpg_exc.InterfaceError) and "closed" in str(current):
            return "database"
        if isinstance(current, asyncpg_exc.InternalClientError) and "in progress" in str(current):
            # What asyncpg raises for a statement on a connection the server is terminating.
            return "database"
        if isinstance(current, OSError):  # TimeoutError and ConnectionError included
            # A refused connect or a timeout; the rest of the chain may say to which service.
            found = "service"
        if isinstance(current, sa_exc.DBAPIError):
            todo.append(current.orig)
        todo.extend((current.__cause__, current.__context__))
    return found


def service_unavailable(service: str) -> ServiceUnavailable:
    what = {"database": "The database", "queue": "The job queue (Redis)"}.get(
        service, "A service this request needs"
    )
    return ServiceUnavailable(f"{what} is unavailable right now; retry in a few seconds.")


_REDIS_DOWN = (redis_exc.ConnectionError, redis_exc.TimeoutError)
_POSTGRES_DOWN = (
    asyncpg_exc.PostgresConnectionError,
    # 57: shutting down, starting up, a statement cancelled by an operator or a timeout.
    asyncpg_exc.OperatorInterventionError,
    asyncpg_exc.TooManyConnectionsError,
    sa_exc.TimeoutError,  # no pool connection came free in time
)
