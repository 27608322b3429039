"""NIGHTLY_CRON, a five-field cron expression, as keyword arguments for arq's ``cron()``.

cronsim parses the expression, so it means what it means to cron. arq requires every given
field to match, while cron runs a job when *either* the day of month or the day of week matches
if both are restricted: such an expression becomes two arq schedules (see cron_schedules).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cronsim import CronSim, CronSimError

_ALL_MINUTES = set(range(60))
_ALL_HOURS = set(range(24))
_ALL_DAYS = set(range(1, 32))
_ALL_MONTHS = set(range(1, 13))
_ALL_WEEKDAYS = set(range(8))  # cron's 0 and 7 are both Sunday


def _plain(values: set[Any], field: str, expression: str) -> set[int]:
    """The field's values, refusing what arq's sets cannot say (L, W, #)."""
    if not all(isinstance(v, int) and v >= 0 for v in values):
        raise ValueError(
            f"cron expression {expression!r}: arq cannot schedule the {field} field "
            "(L, W and # are not supported)"
        )
    return values


def cron_schedules(expression: str) -> list[dict[str, Any]]:
    """``"0 2 * * *"`` -> ``[{"minute": {0}, "hour": {2}}]``: one dict of ``cron()`` keyword
    arguments per arq schedule, unrestricted fields left out.

    Raises ValueError for an expression cron would not accept or arq cannot express.
    """
    if len(expression.split()) != 5:
        raise ValueError(f"a cron expression has 5 fields, got {expression!r}")
    try:
        parsed = CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise ValueError(f"cron expression {expression!r}: {exc}") from None
    common: dict[str, Any] = {}
    for name, values, every in (
        ("minute", parsed.minutes, _ALL_MINUTES),
        ("hour", parsed.hours, _ALL_HOURS),
        ("month", parsed.months, _ALL_MONTHS),
    ):
        if set(values) != every:
            common[name] = _plain(values, name, expression)
    days = _plain(parsed.days, "day-of-month", expression)
    # cron counts Sunday as 0 (or 7), arq as 6 with Monday 0.
    weekdays = _plain(parsed.weekdays, "day-of-week", expression)
    by_day = {"day": days} if days != _ALL_DAYS else {}
    by_weekday = {"weekday": {(v + 6) % 7 for v in weekdays}} if weekdays != _ALL_WEEKDAYS else {}
    if parsed.day_and or not (by_day and by_weekday):
        return [{**common, **by_day, **by_weekday}]
    return [{**common, **by_day}, {**common, **by_weekday}]
