"""Root fields of the aggregate analytics (SPEC §5). Each is one or two SQL statements
scoped to the viewer's account; the figures are computed from their counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import strawberry

from db import analytics as analytics_db
from db.analytics import AnalyticsFilter as DbAnalyticsFilter
from domain import stats
from domain.validation import ValidationError, validate_timezone
from graph import aggregate_cache
from graph.context import Context, Viewer
from graph.errors import BadUserInput
from graph.relay import Connection, build_connection, check_first, decode_cursor, encode_cursor
from graph.resolvers.applications import AnalyticsFilter
from graph.types.analytics import (
    PATTERN_SUBJECTS,
    BehavioralPatternFigure,
    BehavioralPatterns,
    BehaviorPattern,
    ClickSequence,
    ClickTrends,
    DailyClicks,
    DayOfWeekClicks,
    EngagementLevel,
    EngagementOutcome,
    EngagementSummary,
    HourClicks,
    LinkEffectiveness,
    LinkFunction,
    LinkFunctionEffectiveness,
    TimingAnalysis,
    TimingBucketFigure,
    interval,
)

MAX_TREND_DAYS = 366


async def cached_aggregate(
    ctx: Context,
    viewer: Viewer,
    aggregate: str,
    params: dict[str, Any],
    output: type[T],
    compute: Callable[[], Awaitable[T]],
    *,
    trends: bool = False,
) -> T:
    """`compute()`, through the aggregate cache (graph.aggregate_cache) when it is on."""
    settings = ctx.settings
    ttl = settings.aggregate_trends_ttl_seconds if trends else settings.aggregate_cache_ttl_seconds
    return await aggregate_cache.cached(
        ctx.redis if settings.aggregate_cache_enabled else None,
        account_id=viewer.account_id,
        aggregate=aggregate,
        params=params,
        ttl_seconds=ttl,
        wait_seconds=settings.aggregate_cache_timeout,
        output=output,
        compute=compute,
    )


T = TypeVar("T")

_BUCKET_PHRASES = {
    "<1h": "within an hour of applying",
    "1-4h": "1 to 4 hours after applying",
    "4-24h": "4 to 24 hours after applying",
    "1-3d": "1 to 3 days after applying",
    "3-7d": "3 to 7 days after applying",
    ">7d": "more than 7 days after applying",
}


def _instant(value: dt.datetime | None, field: str) -> dt.datetime | None:
    """An aware instant in UTC; a naive one (no offset) or one out of range is refused."""
    if value is None:
        return None
    if value.utcoffset() is None:
        raise BadUserInput(f"`{field}` needs a UTC offset (e.g. Z or +02:00)", field=field)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise BadUserInput(f"`{field}` is out of range", field=field) from exc


def to_db_filter(flt: AnalyticsFilter | None) -> DbAnalyticsFilter | None:
    if flt is None:
        return None
    # The order of the two is checked as the filter is built (AnalyticsFilter.__post_init__).
    start = _instant(flt.start_date, "filter.startDate")
    end = _instant(flt.end_date, "filter.endDate")
    return DbAnalyticsFilter(
        start_date=start,
        end_date=end,
        status=flt.status.value if flt.status is not None else None,
    )


def _rate_delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 2)


def _function_sort_key(f: LinkFunction) -> tuple[float, int, str]:
    rate = f.interview_conversion_rate
    return (-(rate if rate is not None else -1.0), -f.applications_with_link, f.name)


def _link_function(row: analytics_db.FunctionRow) -> LinkFunction:
    n, c = row.applications_with_link, row.applications_with_clicks
    median = row.median_hours_to_first_click
    return LinkFunction(
        name=row.link_function,
        applications_with_link=n,
        applications_with_clicks=c,
        total_clicks=row.total_clicks,
        avg_clicks_per_application=stats.average(row.total_clicks, n),
        interviews_generated=row.interviews,
        offers_generated=row.offers,
        interview_conversion_rate=stats.percent(row.interviews, n),
        interview_conversion_interval=interval(row.interviews, n),
        offer_conversion_rate=stats.percent(row.offers, n),
        offer_conversion_interval=interval(row.offers, n),
        clicked_interview_rate=stats.percent(row.clicked_interviews, c),
        clicked_interview_interval=interval(row.clicked_interviews, c),
        sample_size=n,
        clicked_sample_size=c,
        median_hours_to_first_click=None if median is None else stats.round2(median),
    )


@strawberry.type
class AnalyticsQueries:
    @strawberry.field(description="Totals, engagement rate and outcomes by engagement level.")
    async def engagement_summary(
        self, info: strawberry.Info[Context, None], filter: AnalyticsFilter | None = None
    ) -> EngagementSummary:
        ctx = info.context
        viewer = ctx.require("read")
        flt = to_db_filter(filter)

        async def compute() -> EngagementSummary:
            computed_at = dt.datetime.now(dt.UTC)
            # One statement, its own snapshot.
            async with ctx.engine.connect() as conn:
                groups, functions = await analytics_db.summary_counts(
                    conn, account_id=viewer.account_id, flt=flt
                )
            total = sum(g.applications for g in groups)
            clicked = sum(g.applications for g in groups if g.clicks > 0)
            clicks = sum(g.clicks * g.applications for g in groups)
            per_level: dict[stats.EngagementLevel, list[int]] = {
                level: [0, 0, 0] for level in stats.EngagementLevel
            }
            for g in groups:
                acc = per_level[stats.engagement_level(g.clicks)]
                acc[0] += g.applications
                acc[1] += g.interviews
                acc[2] += g.offers
            outcomes = [
                EngagementOutcome(
                    level=EngagementLevel(level.value),
                    count=n,
                    interviews=iv,
                    offers=of,
                    interview_rate=stats.percent(iv, n),
                    interview_interval=interval(iv, n),
                    offer_rate=stats.percent(of, n),
                    offer_interval=interval(of, n),
                )
                for level, (n, iv, of) in per_level.items()
            ]
            links = [_link_function(r) for r in functions]
            links.sort(key=_function_sort_key)
            effectiveness = [
                LinkEffectiveness(
                    function=f.name,
                    name=f.name,
                    applications_with_link=f.applications_with_link,
                    total_clicks=f.total_clicks,
                    interview_rate=f.interview_conversion_rate,
                    clicked_interview_rate=f.clicked_interview_rate,
                )
                for f in links
            ]
            high = per_level[stats.EngagementLevel.HIGH]
            none = per_level[stats.EngagementLevel.NONE]
            rate = stats.percent(clicked, total)
            insight = (
                "No applications match yet."
                if total == 0
                else f"{clicked} of {total} applications ({stats.percent_text(rate or 0.0)}) "
                "had a human click. "
                + stats.reach_sentence("applications with 3 or more clicks", high[1], high[0])
                + " "
                + stats.reach_sentence("applications never clicked", none[1], none[0])
            )
            return EngagementSummary(
                total_applications=total,
                applications_with_clicks=clicked,
                total_clicks=clicks,
                engagement_rate=rate,
                avg_clicks_per_application=stats.average(clicks, total),
                outcomes=outcomes,
                link_effectiveness=effectiveness,
                insight=insight,
                computed_at=computed_at,
            )

        return await cached_aggregate(
            ctx,
            viewer,
            "engagementSummary",
            {"filter": flt},
            EngagementSummary,
            compute,
            trends=False,
        )

    @strawberry.field(
        description="Per link function: reach, clicks and conversion with 95% intervals."
    )
    async def link_function_effectiveness(
        self, info: strawberry.Info[Context, None], filter: AnalyticsFilter | None = None
    ) -> LinkFunctionEffectiveness:
        ctx = info.context
        viewer = ctx.require("read")
        flt = to_db_filter(filter)

        async def compute() -> LinkFunctionEffectiveness:
            computed_at = dt.datetime.now(dt.UTC)
            async with ctx.sessionmaker() as session:
                rows = await analytics_db.function_effectiveness(
                    session, account_id=viewer.account_id, flt=flt
                )
            functions = sorted((_link_function(r) for r in rows), key=_function_sort_key)
            advice = stats.recommendations(
                [
                    stats.FunctionFigures(
                        name=r.link_function,
                        applications_with_link=r.applications_with_link,
                        applications_with_clicks=r.applications_with_clicks,
                        interviews=r.interviews,
                        clicked_interviews=r.clicked_interviews,
                    )
                    for r in rows
                ]
            )
            return LinkFunctionEffectiveness(
                link_functions=functions, recommendations=advice, computed_at=computed_at
            )

        return await cached_aggregate(
            ctx,
            viewer,
            "linkFunctionEffectiveness",
            {"filter": flt},
            LinkFunctionEffectiveness,
            compute,
            trends=False,
        )

    @strawberry.field(
        description="How applications with a behaviour (quick first click, Calendly clicked, "
        "...) fare against all applications, and when clicks arrive (account timezone)."
    )
    async def behavioral_patterns(
        self, info: strawberry.Info[Context, None], filter: AnalyticsFilter | None = None
    ) -> BehavioralPatterns:
        ctx = info.context
        viewer = ctx.require("read")
        flt = to_db_filter(filter)
        tz = viewer.timezone

        async def compute() -> BehavioralPatterns:
            computed_at = dt.datetime.now(dt.UTC)
            async with ctx.sessionmaker() as session:
                rows = await analytics_db.patterns(
                    session, account_id=viewer.account_id, timezone=tz, flt=flt
                )
                clock = await analytics_db.click_clock(
                    session, account_id=viewer.account_id, timezone=tz, flt=flt
                )
            found = {r.pattern: r for r in rows}
            base = found.get("ALL")
            base_rate = None if base is None else stats.percent(base.interviews, base.applications)
            figures: list[BehavioralPatternFigure] = []
            for pattern in BehaviorPattern:
                row = found.get(pattern.value)
                n, iv, of = (row.applications, row.interviews, row.offers) if row else (0, 0, 0)
                subject = PATTERN_SUBJECTS[pattern]
                figures.append(
                    BehavioralPatternFigure(
                        pattern=pattern,
                        description=subject[0].upper() + subject[1:],
                        applications=n,
                        interviews=iv,
                        interview_rate=stats.percent(iv, n),
                        interview_interval=interval(iv, n),
                        offer_rate=stats.percent(of, n),
                        lift=_rate_delta(stats.percent(iv, n), base_rate),
                        insight=stats.reach_sentence(subject, iv, n),
                    )
                )
            notable = sorted(
                (
                    f
                    for f in figures
                    if f.pattern is not BehaviorPattern.ALL
                    and f.applications >= stats.MIN_SAMPLE
                    and f.lift is not None
                    and f.lift != 0
                ),
                key=lambda f: (-abs(f.lift or 0.0), f.pattern.value),
            )
            insights = [
                f.insight[:-1]
                + f", {abs(f.lift or 0.0):g} points {'above' if (f.lift or 0) > 0 else 'below'}"
                " all applications."
                for f in notable[:3]
            ]
            if not insights:
                insights = [
                    f"Not enough data yet: insights need at least {stats.MIN_SAMPLE} applications "
                    "showing a behaviour."
                ]
            by_hour = {r.hour: r.clicks for r in clock if r.hour is not None}
            by_dow = {r.dow: r.clicks for r in clock if r.dow is not None}
            peak = max(by_hour, key=lambda h: (by_hour[h], -h)) if by_hour else None
            return BehavioralPatterns(
                timezone=tz,
                patterns=figures,
                clicks_by_hour=[HourClicks(hour=h, clicks=by_hour.get(h, 0)) for h in range(24)],
                clicks_by_day_of_week=[
                    DayOfWeekClicks(day_of_week=d, clicks=by_dow.get(d, 0)) for d in range(7)
                ],
                peak_hour=peak,
                insights=insights,
                computed_at=computed_at,
            )

        return await cached_aggregate(
            ctx,
            viewer,
            "behavioralPatterns",
            {"filter": flt, "timezone": tz},
            BehavioralPatterns,
            compute,
            trends=False,
        )

    @strawberry.field(
        description="Applications grouped by the order in which their link types were first "
        "clicked, most common first."
    )
    async def click_sequences(
        self,
        info: strawberry.Info[Context, None],
        filter: AnalyticsFilter | None = None,
        first: int = 10,
        after: str | None = None,
    ) -> Connection[ClickSequence]:
        ctx = info.context
        viewer = ctx.require("read")
        check_first(first, maximum=ctx.settings.max_page_size)
        flt = to_db_filter(filter)
        offset = 0
        if after is not None:
            (position,) = decode_cursor(after, length=1)
            if not isinstance(position, int) or position < 0:
                raise BadUserInput("`after` is not a cursor this API returned", field="after")
            offset = position + 1
        async with ctx.sessionmaker() as session:
            rows = await analytics_db.click_sequences(
                session, account_id=viewer.account_id, limit=first + 1, offset=offset, flt=flt
            )
            if rows:
                total = rows[0].total_groups
            elif offset == 0:
                total = 0
            else:
                total = await analytics_db.count_sequence_groups(
                    session, account_id=viewer.account_id, flt=flt
                )
        nodes = []
        for r in rows:
            if len(r.sequence) == 1:
                subject = f"applications where only the {r.sequence[0]} link was clicked"
            else:
                subject = "applications whose links were first clicked in the order " + (
                    ", then ".join(r.sequence)
                )
            nodes.append(
                ClickSequence(
                    sequence=r.sequence,
                    applications=r.applications,
                    interviews=r.interviews,
                    offers=r.offers,
                    interview_rate=stats.percent(r.interviews, r.applications),
                    interview_interval=interval(r.interviews, r.applications),
                    offer_rate=stats.percent(r.offers, r.applications),
                    insight=stats.reach_sentence(subject, r.interviews, r.applications),
                )
            )
        return build_connection(
            nodes,
            [encode_cursor([offset + i]) for i in range(len(nodes))],
            first=first,
            total_count=total,
            has_previous=offset > 0,
        )

    @strawberry.field(
        description="Hours from application to first human click, in buckets with their "
        "interview rates, and the median."
    )
    async def timing_analysis(
        self, info: strawberry.Info[Context, None], filter: AnalyticsFilter | None = None
    ) -> TimingAnalysis:
        ctx = info.context
        viewer = ctx.require("read")
        flt = to_db_filter(filter)

        async def compute() -> TimingAnalysis:
            computed_at = dt.datetime.now(dt.UTC)
            async with ctx.sessionmaker() as session:
                rows = await analytics_db.timing(session, account_id=viewer.account_id, flt=flt)
            by_bucket = {r.bucket: r for r in rows if not r.total}
            total_row = next((r for r in rows if r.total), None)
            buckets: list[TimingBucketFigure] = []
            for b in stats.TIMING_BUCKETS:
                row = by_bucket.get(b.label)
                n, iv, of = (row.applications, row.interviews, row.offers) if row else (0, 0, 0)
                median = None if row is None or row.median_hours is None else row.median_hours
                buckets.append(
                    TimingBucketFigure(
                        bucket=b.label,
                        applications=n,
                        interviews=iv,
                        interview_rate=stats.percent(iv, n),
                        interview_interval=interval(iv, n),
                        offer_rate=stats.percent(of, n),
                        median_hours_to_first_click=None
                        if median is None
                        else stats.round2(median),
                        insight=stats.reach_sentence(
                            f"applications first clicked {_BUCKET_PHRASES[b.label]}", iv, n
                        ),
                    )
                )
            unclicked = by_bucket.get(None)
            quick = [f for f in buckets if f.bucket in ("<1h", "1-4h")]
            later = [f for f in buckets if f.bucket not in ("<1h", "1-4h")]
            quick_n, quick_iv = sum(f.applications for f in quick), sum(f.interviews for f in quick)
            later_n, later_iv = sum(f.applications for f in later), sum(f.interviews for f in later)
            insight = stats.reach_sentence(
                "applications whose first click came within 4 hours", quick_iv, quick_n
            )
            if later_n >= stats.MIN_SAMPLE and quick_n >= stats.MIN_SAMPLE:
                later_rate = stats.percent(later_iv, later_n)
                assert later_rate is not None
                insight += f" Those first clicked later: {stats.percent_text(later_rate)}."
            median_all = None if total_row is None else total_row.median_hours
            return TimingAnalysis(
                buckets=buckets,
                applications_with_clicks=sum(f.applications for f in buckets),
                applications_without_clicks=0 if unclicked is None else unclicked.applications,
                no_click_interview_rate=None
                if unclicked is None
                else stats.percent(unclicked.interviews, unclicked.applications),
                median_hours_to_first_click=None
                if median_all is None
                else stats.round2(median_all),
                insight=insight,
                computed_at=computed_at,
            )

        return await cached_aggregate(
            ctx, viewer, "timingAnalysis", {"filter": flt}, TimingAnalysis, compute, trends=False
        )

    @strawberry.field(
        description="Human clicks per day over the last `days` days, in `timezone` "
        "(default: the account's)."
    )
    async def click_trends(
        self,
        info: strawberry.Info[Context, None],
        filter: AnalyticsFilter | None = None,
        days: int = 30,
        timezone: str | None = None,
    ) -> ClickTrends:
        ctx = info.context
        viewer = ctx.require("read")
        flt = to_db_filter(filter)
        if not 1 <= days <= MAX_TREND_DAYS:
            raise BadUserInput(f"`days` must be between 1 and {MAX_TREND_DAYS}", field="days")
        try:
            tz_name = validate_timezone(timezone) if timezone is not None else viewer.timezone
        except ValidationError as exc:
            raise BadUserInput(exc.message, field=exc.field) from exc
        tz = ZoneInfo(tz_name)
        today = dt.datetime.now(tz).date()
        start = today - dt.timedelta(days=days - 1)
        since = dt.datetime.combine(start, dt.time(0), tzinfo=tz)
        until = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), tzinfo=tz)

        async def compute() -> ClickTrends:
            computed_at = dt.datetime.now(dt.UTC)
            async with ctx.sessionmaker() as session:
                rows = await analytics_db.daily_clicks(
                    session,
                    account_id=viewer.account_id,
                    timezone=tz_name,
                    since=since,
                    until=until,
                    flt=flt,
                )
            found = {r.day: r for r in rows}
            series: list[DailyClicks] = []
            for i in range(days):
                day = start + dt.timedelta(days=i)
                row = found.get(day)
                n, iv = (row.applications, row.interviews) if row else (0, 0)
                series.append(
                    DailyClicks(
                        date=day,
                        clicks=row.clicks if row else 0,
                        applications=n,
                        interview_rate=stats.percent(iv, n),
                    )
                )
            total = sum(d.clicks for d in series)
            if total == 0:
                insight = f"No human clicks in the last {days} days ({tz_name})."
            else:
                busiest = max(series, key=lambda d: (d.clicks, -d.date.toordinal()))
                insight = (
                    f"{total} human click{'s' if total != 1 else ''} over the last {days} days "
                    f"({tz_name}); the busiest day was {busiest.date.isoformat()} with "
                    f"{busiest.clicks}."
                )
            return ClickTrends(
                timezone=tz_name,
                days=series,
                total_clicks=total,
                insight=insight,
                computed_at=computed_at,
            )

        return await cached_aggregate(
            ctx,
            viewer,
            "clickTrends",
            {"filter": flt, "days": days, "timezone": tz_name, "today": today},
            ClickTrends,
            compute,
            trends=True,
        )
