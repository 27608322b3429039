"""`applicationAnalytics(filter)` (seed 003 "Application Analytics"): status distribution,
the funnel with conversion intervals, time to response and to interview, the same per company
and per job-title keyword (ranked only from 5 applications), and applications per local week.
One SQL statement (db.application_analytics); rules from domain.application_analytics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import strawberry

from db import application_analytics as app_analytics_db
from db.application_analytics import ALL, COMPANY, KEYWORD, WEEK, GroupRow
from domain import application_analytics as rules
from domain import stats
from domain.validation import STATUSES
from graph.context import Context
from graph.errors import BadUserInput
from graph.resolvers.analytics import cached_aggregate, to_db_filter
from graph.resolvers.applications import AnalyticsFilter
from graph.types.analytics import interval
from graph.types.application_analytics import (
    ApplicationAnalytics,
    ApplicationGroup,
    ApplicationGroups,
    DurationQuartiles,
    FunnelStep,
    FunnelStepName,
    StatusCount,
    WeeklyApplications,
)
from graph.types.common import STATUS_BY_VALUE

MAX_GROUP_LIMIT = 100


def _status_distribution(row: GroupRow | None) -> list[StatusCount]:
    total = row.applications if row else 0
    return [
        StatusCount(
            status=STATUS_BY_VALUE[s],
            applications=row.by_status[s] if row else 0,
            percent=stats.percent(row.by_status[s], total) if row else None,
        )
        for s in STATUSES
    ]


def _funnel(row: GroupRow | None) -> list[FunnelStep]:
    counts = (
        rules.FunnelCounts(row.applications, row.responses, row.interviews, row.offers)
        if row
        else rules.FunnelCounts(0, 0, 0, 0)
    )
    out = []
    for step in rules.funnel(counts):
        out.append(
            FunnelStep(
                step=FunnelStepName(step.step.value),
                applications=step.applications,
                sample_size=step.sample_size,
                conversion_rate=step.conversion_rate,
                conversion_interval=None
                if step.sample_size is None
                else interval(step.applications, step.sample_size),
                rate_from_applied=step.rate_from_applied,
            )
        )
    return out


def _quartiles(hours: Sequence[float | None], sample: int) -> DurationQuartiles:
    p25, p50, p75 = (None if h is None else stats.round2(h) for h in hours)
    return DurationQuartiles(
        sample_size=sample,
        p25_hours=p25,
        median_hours=p50,
        p75_hours=p75,
        median_days=None if hours[1] is None else stats.round2(hours[1] / 24),
    )


def _groups(rows: list[GroupRow], limit: int) -> ApplicationGroups:
    ranks = rules.rank_groups(
        [rules.GroupFigures(r.key, r.applications, r.interviews) for r in rows]
    )
    ordered = sorted(
        rows,
        key=lambda r: (0, ranks[r.key], "") if r.key in ranks else (1, -r.applications, r.key),
    )
    return ApplicationGroups(
        groups=[
            ApplicationGroup(
                key=r.key,
                rank=ranks.get(r.key),
                applications=r.applications,
                interview_rate=stats.percent(r.interviews, r.applications),
                status_distribution=_status_distribution(r),
                funnel=_funnel(r),
                time_to_first_response=_quartiles(r.response_hours, r.response_sample),
                time_to_interview=_quartiles(r.interview_hours, r.interview_sample),
            )
            for r in ordered[:limit]
        ],
        total_groups=len(rows),
        ranked_groups=len(ranks),
        minimum_sample=stats.MIN_SAMPLE,
    )


def _insights(
    overall: GroupRow | None, companies: ApplicationGroups, keywords: ApplicationGroups
) -> list[str]:
    if overall is None:
        return ["No applications match yet."]
    rate = stats.percent(overall.responses, overall.applications) or 0.0
    out = [
        f"{overall.responses} of {overall.applications} applications "
        f"({stats.percent_text(rate)}) had a response (an interview, offer or rejection)."
    ]
    median = overall.response_hours[1]
    if overall.response_sample >= stats.MIN_SAMPLE and median is not None:
        out.append(
            f"Half of the responses came within {stats.round2(median / 24):g} days "
            f"({overall.response_sample} responses)."
        )
    for label, groups in (("company", companies), ("job-title keyword", keywords)):
        best = next((g for g in groups.groups if g.rank == 1), None)
        if best is not None and groups.ranked_groups >= 2 and best.interview_rate is not None:
            out.append(
                f"Best {label} by interview rate: {best.key} "
                f"({stats.percent_text(best.interview_rate)} of {best.applications} applications)."
            )
    if companies.ranked_groups < 2 and keywords.ranked_groups < 2:
        out.append(
            f"Groups are ranked from {stats.MIN_SAMPLE} applications each; "
            "too few groups are that large yet to compare them."
        )
    return out


@strawberry.type
class ApplicationAnalyticsQueries:
    @strawberry.field(
        description="Status distribution, the applied -> response -> interview -> offer funnel "
        "with conversion intervals, time to response and interview, the same per company and "
        "job-title keyword, and applications per week (account timezone)."
    )
    async def application_analytics(
        self,
        info: strawberry.Info[Context, None],
        filter: AnalyticsFilter | None = None,
        group_limit: int = 20,
    ) -> ApplicationAnalytics:
        ctx = info.context
        viewer = ctx.require("read")
        flt = to_db_filter(filter)
        if not 1 <= group_limit <= MAX_GROUP_LIMIT:
            raise BadUserInput(
                f"`groupLimit` must be between 1 and {MAX_GROUP_LIMIT}", field="groupLimit"
            )
        tz = viewer.timezone

        async def compute() -> ApplicationAnalytics:
            computed_at = dt.datetime.now(dt.UTC)
            async with ctx.sessionmaker() as session:
                rows = await app_analytics_db.application_groups(
                    session, account_id=viewer.account_id, timezone=tz, flt=flt
                )
            overall = next((r for r in rows if r.dimension == ALL), None)
            companies = _groups([r for r in rows if r.dimension == COMPANY], group_limit)
            keywords = _groups([r for r in rows if r.dimension == KEYWORD], group_limit)
            weeks = {
                dt.date.fromisoformat(r.key): r.applications for r in rows if r.dimension == WEEK
            }
            return ApplicationAnalytics(
                timezone=tz,
                total_applications=overall.applications if overall else 0,
                status_distribution=_status_distribution(overall),
                funnel=_funnel(overall),
                time_to_first_response=_quartiles(
                    overall.response_hours if overall else [None, None, None],
                    overall.response_sample if overall else 0,
                ),
                time_to_interview=_quartiles(
                    overall.interview_hours if overall else [None, None, None],
                    overall.interview_sample if overall else 0,
                ),
                by_company=companies,
                by_title_keyword=keywords,
                weekly=[
                    WeeklyApplications(week_start=w, applications=n)
                    for w, n in rules.weekly_series(weeks)
                ],
                insights=_insights(overall, companies, keywords),
                computed_at=computed_at,
            )

        return await cached_aggregate(
            ctx,
            viewer,
            "applicationAnalytics",
            {"filter": flt, "timezone": tz, "groupLimit": group_limit},
            ApplicationAnalytics,
            compute,
        )
