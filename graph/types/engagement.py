"""EngagementMetrics: the SPEC §4 metrics of one application, as the batch stored them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import strawberry

from db.engagement import EngagementRow


def iso_duration(delta: timedelta | None) -> str | None:
    """ISO-8601 duration in hours, minutes and seconds: ``PT2H0M0S``, ``-PT0H0M30S``."""
    if delta is None:
        return None
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    hours, rest = divmod(micros, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, fraction = divmod(rest, 1_000_000)
    sec = f"{seconds}.{fraction:06d}".rstrip("0").rstrip(".") if fraction else str(seconds)
    return f"{sign}PT{hours}H{minutes}M{sec}S"


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@strawberry.type(
    description="Behavioural metrics of an application (SPEC §4), from human clicks up to "
    "`calculatedAt`. Durations are ISO-8601 strings in hours, minutes and seconds "
    "(e.g. PT26H30M0S); the matching `hours...` fields give them as numbers."
)
class EngagementMetrics:
    total_click_events: int
    click_sequence: list[str] = strawberry.field(
        description="The link function of each click, in click order."
    )
    unique_functions_clicked: int
    time_to_first_click: str | None = strawberry.field(
        description="First click minus the application date, ISO-8601 duration."
    )
    hours_to_first_click: float | None = strawberry.field(
        description="Hours to the first click, 2 decimal places."
    )
    time_between_first_last_click: str | None = strawberry.field(
        description="Last click minus first click, ISO-8601 duration."
    )
    hours_between_first_last_click: float | None
    peak_click_hour: int | None = strawberry.field(
        description="Local hour (0-23, account time zone) with most clicks."
    )
    click_days_of_week: list[int] = strawberry.field(
        description="Distinct local days of week, 0 = Sunday .. 6 = Saturday."
    )
    engagement_velocity: float = strawberry.field(
        description="Clicks per day since the application, 4 decimal places."
    )
    engagement_score: int
    intent_score: int
    calculated_at: datetime | None = strawberry.field(
        description="The instant the metrics describe: the asOf of the run that last changed "
        "them (runs since found the same values, so they still hold)."
    )

    @classmethod
    def from_row(cls, row: EngagementRow) -> EngagementMetrics:
        return cls(
            total_click_events=row.total_click_events,
            click_sequence=list(row.click_sequence),
            unique_functions_clicked=row.unique_functions_clicked,
            time_to_first_click=iso_duration(row.time_to_first_click),
            hours_to_first_click=_float(row.hours_to_first_click),
            time_between_first_last_click=iso_duration(row.time_between_first_last_click),
            hours_between_first_last_click=_float(row.hours_between_first_last_click),
            peak_click_hour=row.peak_click_hour,
            click_days_of_week=list(row.click_days_of_week),
            engagement_velocity=float(row.engagement_velocity),
            engagement_score=row.engagement_score,
            intent_score=row.intent_score,
            calculated_at=row.calculated_at,
        )
