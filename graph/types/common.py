"""Enums and helpers shared by the GraphQL types."""

from __future__ import annotations

import uuid
from enum import Enum

import strawberry

from graph.errors import BadUserInput, NotFound


@strawberry.enum
class ApplicationStatus(Enum):
    APPLIED = "applied"
    INTERVIEW = "interview"
    OFFER = "offer"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


# A dict lookup, where ApplicationStatus(value) goes through Enum's __call__ (a page of 100
# makes 100 of them).
STATUS_BY_VALUE: dict[str, ApplicationStatus] = {s.value: s for s in ApplicationStatus}


def parse_id(value: str, *, field: str = "id", what: str = "object") -> uuid.UUID:
    """A malformed id answers like a missing one would, naming the field."""
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound(f"No {what} with {field} {value!r}", field=field) from exc


def require_uuid(value: str, *, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise BadUserInput(f"`{field}` must be an id (a UUID)", field=field) from exc
