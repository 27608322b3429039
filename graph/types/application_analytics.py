"""Types of `applicationAnalytics` (seed 003 "Application Analytics"), built from
`db.application_analytics` rows and `domain.application_analytics` rules."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from graph.types.analytics import RateInterval
from graph.types.common import ApplicationStatus


@strawberry.enum(description="Steps of the funnel; each is reached through the status history.")
class FunnelStepName(Enum):
    APPLIED = "APPLIED"
    RESPONSE = "RESPONSE"
    INTERVIEW = "INTERVIEW"
    OFFER = "OFFER"


@strawberry.type
class StatusCount:
    status: ApplicationStatus
    applications: int
    percent: float | None = strawberry.field(description="Percent of the applications.")


@strawberry.type
class FunnelStep:
    step: FunnelStepName
    applications: int = strawberry.field(description="Applications that reached this step.")
    sample_size: int | None = strawberry.field(
        description="Applications that reached the step before (the conversion's base); "
        "null for APPLIED."
    )
    conversion_rate: float | None = strawberry.field(
        description="Percent of the step before that reached this one."
    )
    conversion_interval: RateInterval | None
    rate_from_applied: float | None = strawberry.field(
        description="Percent of all applications that reached this step."
    )


@strawberry.type(description="Quartiles of a duration in hours, from the status history.")
class DurationQuartiles:
    sample_size: int = strawberry.field(description="Applications the durations come from.")
    p25_hours: float | None
    median_hours: float | None
    p75_hours: float | None
    median_days: float | None


@strawberry.type
class ApplicationGroup:
    key: str = strawberry.field(description="The company, or the job-title keyword.")
    rank: int | None = strawberry.field(
        description="1 = highest interview rate; null for a group of fewer than "
        "`minimumSample` applications, which is never ranked."
    )
    applications: int
    interview_rate: float | None
    status_distribution: list[StatusCount]
    funnel: list[FunnelStep]
    time_to_first_response: DurationQuartiles
    time_to_interview: DurationQuartiles


@strawberry.type
class ApplicationGroups:
    groups: list[ApplicationGroup] = strawberry.field(
        description="Ranked groups first (by rank), then the rest by size; at most `groupLimit`."
    )
    total_groups: int
    ranked_groups: int
    minimum_sample: int


@strawberry.type
class WeeklyApplications:
    week_start: dt.date = strawberry.field(description="The Monday of the week (local time).")
    applications: int


@strawberry.type
class ApplicationAnalytics:
    timezone: str
    total_applications: int
    status_distribution: list[StatusCount] = strawberry.field(
        description="Applications by current status."
    )
    funnel: list[FunnelStep]
    time_to_first_response: DurationQuartiles = strawberry.field(
        description="From the application to the first interview, offer or rejection."
    )
    time_to_interview: DurationQuartiles = strawberry.field(
        description="From the application to the first interview (or offer)."
    )
    by_company: ApplicationGroups
    by_title_keyword: ApplicationGroups
    weekly: list[WeeklyApplications] = strawberry.field(
        description="Applications created per week in the account's timezone, from the first "
        "week with one to the last, empty weeks included."
    )
    insights: list[str]
    computed_at: dt.datetime = strawberry.field(
        description="When these figures were computed (they may come from the aggregate cache)."
    )
