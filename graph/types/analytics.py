"""Types of the aggregate analytics (SPEC §5): built from `db.analytics` rows and the
rates, intervals and sentences of `domain.stats`."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from domain import stats


@strawberry.type(description="A 95% Wilson score interval for a rate, in percent.")
class RateInterval:
    low: float
    high: float
    successes: int
    sample_size: int


def interval(successes: int, trials: int) -> RateInterval | None:
    found = stats.wilson_interval(successes, trials)
    if found is None:
        return None
    return RateInterval(low=found.low, high=found.high, successes=successes, sample_size=trials)


@strawberry.enum(description="none = 0 human clicks, low = 1-2, high = 3 or more.")
class EngagementLevel(Enum):
    NONE = "NONE"
    LOW = "LOW"
    HIGH = "HIGH"


@strawberry.type
class EngagementOutcome:
    level: EngagementLevel
    count: int
    interviews: int
    offers: int
    interview_rate: float | None = strawberry.field(
        description="Percent of these applications that reached interview (two decimals)."
    )
    interview_interval: RateInterval | None
    offer_rate: float | None
    offer_interval: RateInterval | None


@strawberry.type
class LinkEffectiveness:
    function: str
    name: str
    applications_with_link: int
    total_clicks: int
    interview_rate: float | None = strawberry.field(
        description="Percent of applications with an active link of this function that "
        "reached interview (as the link_function_effectiveness view)."
    )
    clicked_interview_rate: float | None = strawberry.field(
        description="Percent reaching interview among applications whose link was clicked."
    )


@strawberry.type
class EngagementSummary:
    total_applications: int
    applications_with_clicks: int
    total_clicks: int
    engagement_rate: float | None = strawberry.field(
        description="Percent of applications with at least one human click."
    )
    avg_clicks_per_application: float | None
    outcomes: list[EngagementOutcome]
    link_effectiveness: list[LinkEffectiveness]
    insight: str
    computed_at: dt.datetime = strawberry.field(
        description="When these figures were computed (they may come from the aggregate cache)."
    )


@strawberry.type
class LinkFunction:
    name: str
    applications_with_link: int
    applications_with_clicks: int
    total_clicks: int
    avg_clicks_per_application: float | None
    interviews_generated: int
    offers_generated: int
    interview_conversion_rate: float | None = strawberry.field(
        description="Percent of applications with the link that reached interview."
    )
    interview_conversion_interval: RateInterval | None
    offer_conversion_rate: float | None
    offer_conversion_interval: RateInterval | None
    clicked_interview_rate: float | None = strawberry.field(
        description="Percent reaching interview among applications whose link was clicked."
    )
    clicked_interview_interval: RateInterval | None
    sample_size: int = strawberry.field(
        description="Applications the conversion rates are computed over."
    )
    clicked_sample_size: int = strawberry.field(
        description="Applications the clicked interview rate is computed over."
    )
    median_hours_to_first_click: float | None = strawberry.field(
        description="Median hours from the application to the first human click on this link."
    )


@strawberry.type
class LinkFunctionEffectiveness:
    link_functions: list[LinkFunction]
    recommendations: list[str]
    computed_at: dt.datetime = strawberry.field(
        description="When these figures were computed (they may come from the aggregate cache)."
    )


@strawberry.enum
class BehaviorPattern(Enum):
    ALL = "ALL"
    NO_CLICKS = "NO_CLICKS"
    ANY_CLICK = "ANY_CLICK"
    QUICK_RESPONSE = "QUICK_RESPONSE"
    MULTIPLE_FUNCTIONS = "MULTIPLE_FUNCTIONS"
    REPEAT_CLICKS = "REPEAT_CLICKS"
    HIGH_ENGAGEMENT = "HIGH_ENGAGEMENT"
    CALENDLY_CLICKED = "CALENDLY_CLICKED"
    LINKEDIN_CLICKED = "LINKEDIN_CLICKED"
    WEEKEND_FIRST_CLICK = "WEEKEND_FIRST_CLICK"


PATTERN_SUBJECTS: dict[BehaviorPattern, str] = {
    BehaviorPattern.ALL: "all applications",
    BehaviorPattern.NO_CLICKS: "applications whose links were never clicked",
    BehaviorPattern.ANY_CLICK: "applications with at least one click",
    BehaviorPattern.QUICK_RESPONSE: "applications whose first click came within 4 hours",
    BehaviorPattern.MULTIPLE_FUNCTIONS: "applications where two or more link types were clicked",
    BehaviorPattern.REPEAT_CLICKS: "applications where a link type was clicked more than once",
    BehaviorPattern.HIGH_ENGAGEMENT: "applications with 3 or more clicks",
    BehaviorPattern.CALENDLY_CLICKED: "applications whose Calendly link was clicked",
    BehaviorPattern.LINKEDIN_CLICKED: "applications whose LinkedIn link was clicked",
    BehaviorPattern.WEEKEND_FIRST_CLICK: "applications first clicked on a weekend",
}


@strawberry.type
class BehavioralPatternFigure:
    pattern: BehaviorPattern
    description: str
    applications: int
    interviews: int
    interview_rate: float | None
    interview_interval: RateInterval | None
    offer_rate: float | None
    lift: float | None = strawberry.field(
        description="Interview rate minus the rate of all applications, in percentage points."
    )
    insight: str


@strawberry.type
class HourClicks:
    hour: int
    clicks: int


@strawberry.type
class DayOfWeekClicks:
    day_of_week: int = strawberry.field(description="0 = Sunday .. 6 = Saturday (local).")
    clicks: int


@strawberry.type
class BehavioralPatterns:
    timezone: str
    patterns: list[BehavioralPatternFigure]
    clicks_by_hour: list[HourClicks]
    clicks_by_day_of_week: list[DayOfWeekClicks]
    peak_hour: int | None = strawberry.field(
        description="The local hour with most human clicks; ties: the earliest."
    )
    insights: list[str]
    computed_at: dt.datetime = strawberry.field(
        description="When these figures were computed (they may come from the aggregate cache)."
    )


@strawberry.type
class ClickSequence:
    sequence: list[str] = strawberry.field(
        description="The distinct link functions in the order of their first click."
    )
    applications: int
    interviews: int
    offers: int
    interview_rate: float | None
    interview_interval: RateInterval | None
    offer_rate: float | None
    insight: str


@strawberry.type
class TimingBucketFigure:
    bucket: str = strawberry.field(description="<1h, 1-4h, 4-24h, 1-3d, 3-7d or >7d.")
    applications: int
    interviews: int
    interview_rate: float | None
    interview_interval: RateInterval | None
    offer_rate: float | None
    median_hours_to_first_click: float | None
    insight: str


@strawberry.type
class TimingAnalysis:
    buckets: list[TimingBucketFigure]
    applications_with_clicks: int
    applications_without_clicks: int
    no_click_interview_rate: float | None
    median_hours_to_first_click: float | None
    insight: str
    computed_at: dt.datetime = strawberry.field(
        description="When these figures were computed (they may come from the aggregate cache)."
    )


@strawberry.type
class DailyClicks:
    date: dt.date
    clicks: int
    applications: int = strawberry.field(description="Applications clicked that day.")
    interview_rate: float | None = strawberry.field(
        description="Percent of the applications clicked that day that reached interview."
    )


@strawberry.type
class ClickTrends:
    timezone: str
    days: list[DailyClicks]
    total_clicks: int
    insight: str
    computed_at: dt.datetime = strawberry.field(
        description="When these figures were computed (they may come from the aggregate cache)."
    )
