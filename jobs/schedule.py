"""Five-field cron expressions (settings.nightly_cron) as arq ``cron()`` keyword arguments."""

from __future__ import annotations

from typing import Any

# (name of the arq argument, lowest, highest) for minute hour day-of-month month day-of-week
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7))


def _values(field: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step < 1:
                raise ValueError(f"bad step in {field!r}")
        if part == "*":
            start, stop = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, stop = int(a), int(b)
        else:
            start = int(part)
            stop = high if step > 1 else start
        if not low <= start <= stop <= high:
            raise ValueError(f"{field!r} is outside {low}-{high}")
        values.update(range(start, stop + 1, step))
    return values


def parse_cron(expression: str) -> dict[str, Any]:
    """``"0 2 * * *"`` -> ``{"minute": {0}, "hour": {2}}`` (unrestricted fields left out).

    Day of week follows cron (0 or 7 = Sunday) and is converted to arq's (0 = Monday). arq
    requires every given field to match, so a restricted day of month *and* day of week mean
    both, not either as in Vixie cron.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"a cron expression has 5 fields, got {expression!r}")
    kwargs: dict[str, Any] = {}
    for text, (name, low, high) in zip(fields, _FIELDS, strict=True):
        if text == "*":
            continue
        values = _values(text, low, high)
        if name == "weekday":
            values = {(v + 6) % 7 for v in values}
        kwargs[name] = values
    return kwargs
