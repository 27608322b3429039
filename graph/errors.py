"""Errors a client can act on. Each carries `extensions.code` (SPEC §7).

Anything else raised in a resolver is masked as INTERNAL_SERVER_ERROR by the view.
"""

from __future__ import annotations

from typing import Any


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
