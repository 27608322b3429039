"""Scalars that refuse, at the boundary, values the rest of the code cannot hold.

Strawberry's DateTime accepts any instant Python can parse; `9999-12-31T23:59:59+14:00` then
overflowed in the first conversion to UTC and `0001-01-01T00:00:00Z` in the first time-zone
shift, each an INTERNAL_SERVER_ERROR. This one answers BAD_USER_INPUT instead, with the range.
"""

from __future__ import annotations

import datetime as dt

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

from domain.validation import ValidationError, validate_instant


def parse_datetime(value: object) -> dt.datetime:
    """ISO 8601, within `domain.validation.validate_instant`."""
    if not isinstance(value, str):
        raise StrawberryInputCoercionError(
            f"DateTime must be an ISO 8601 string such as 2026-01-31T09:00:00Z (got {value!r})."
        )
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (ValueError, OverflowError) as exc:
        raise StrawberryInputCoercionError(
            f"DateTime must be an ISO 8601 string such as 2026-01-31T09:00:00Z "
            f"(got {value[:40]!r}: {exc})."
        ) from None
    try:
        return validate_instant(parsed, field="DateTime")
    except ValidationError as exc:
        raise StrawberryInputCoercionError(exc.message) from None


def _isoformat(value: dt.datetime) -> str:
    return value.isoformat()


# Name and description as Strawberry's own, so the SDL is unchanged.
DateTime = ScalarDefinition(
    name="DateTime",
    description="Date with time (isoformat)",
    specified_by_url=None,
    serialize=_isoformat,
    parse_value=parse_datetime,
    parse_literal=None,
    origin=dt.datetime,
)

SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {dt.datetime: DateTime}
