"""EngagementMetrics: the SPEC §4 metrics of one application, as the batch stored them."""

from __future__ import annotations

from datetime import datetime, timedelta

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


@strawberry.type(
    description="Behavioural metrics of an application (SPEC §4), from human clicks up to "
    "`calculatedAt`. Durations are ISO-8601 strings in hours, minutes and seconds "
    "(e.g. PT26H30M0S); the matching `hours...` fields give them as numbers."
)
class EngagementMetrics:
    row: strawberry.Private[EngagementRow]

    @strawberry.field
    def total_click_events(self) -> int:
        return self.row.total_click_events

    @strawberry.field(description="The link function of each click, in click order.")
    def click_sequence(self) -> list[str]:
        return list(self.row.click_sequence)

    @strawberry.field
    def unique_functions_clicked(self) -> int:
        return self.row.unique_functions_clicked

    @strawberry.field(description="First click minus the application date, ISO-8601 duration.")
    def time_to_first_click(self) -> str | None:
        return iso_duration(self.row.time_to_first_click)

    @strawberry.field(description="Hours to the first click, 2 decimal places.")
    def hours_to_first_click(self) -> float | None:
        value = self.row.hours_to_first_click
        return None if value is None else float(value)

    @strawberry.field(description="Last click minus first click, ISO-8601 duration.")
    def time_between_first_last_click(self) -> str | None:
        return iso_duration(self.row.time_between_first_last_click)

    @strawberry.field
    def hours_between_first_last_click(self) -> float | None:
        value = self.row.hours_between_first_last_click
        return None if value is None else float(value)

    @strawberry.field(description="Local hour (0-23, account time zone) with most clicks.")
    def peak_click_hour(self) -> int | None:
        return self.row.peak_click_hour

    @strawberry.field(description="Distinct local days of week, 0 = Sunday .. 6 = Saturday.")
    def click_days_of_week(self) -> list[int]:
        return list(self.row.click_days_of_week)

    @strawberry.field(description="Clicks per day since the application, 4 decimal places.")
    def engagement_velocity(self) -> float:
        return float(self.row.engagement_velocity)

    @strawberry.field
    def engagement_score(self) -> int:
        return self.row.engagement_score

    @strawberry.field
    def intent_score(self) -> int:
        return self.row.intent_score

    @strawberry.field(
        description="The instant the metrics describe: the asOf of the run that last changed "
        "them (runs since found the same values, so they still hold)."
    )
    def calculated_at(self) -> datetime | None:
        return self.row.calculated_at
