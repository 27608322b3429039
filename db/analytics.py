"""SQL for the aggregate analytics of SPEC §5. Every statement is scoped to one account.

Each aggregate is one statement (the engagement summary too) that starts from the
account's applications (`idx_applications_account_created` / `_status`) and reaches the
clicks through the account's links (`idx_link_tracking_account_function`, then
`idx_link_clicks_tracking`). Only human clicks count (`NOT is_bot`), and outcomes are
"reached" (SPEC §2), read from the `application_outcomes` view.

The engagement summary and the link-function figures read through the seed 000 views
(`application_engagement_outcomes`, and `application_link_functions`, which
`link_function_effectiveness` aggregates: migration 0007), so a direct SQL user and the API
cannot disagree; the request's filters apply to the views' application date and status.

The statements group in the database and return a handful of rows; rates, intervals and
sentences are made from the counts by `domain.stats`.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import Db
from domain.stats import TIMING_BUCKETS


@dataclass(frozen=True, slots=True)
class AnalyticsFilter:
    """The seed 000 filters: application date range (inclusive) and current status."""

    start_date: datetime | None = None
    end_date: datetime | None = None
    status: str | None = None


def filter_clauses(flt: AnalyticsFilter | None, params: dict[str, Any]) -> list[str]:
    """The seed 000 filters as conditions on applications ``ja``; their values go to ``params``."""
    where: list[str] = []
    if flt is not None:
        if flt.start_date is not None:
            where.append("ja.created_at >= :start_date")
            params["start_date"] = flt.start_date
        if flt.end_date is not None:
            where.append("ja.created_at <= :end_date")
            params["end_date"] = flt.end_date
        if flt.status is not None:
            where.append("ja.status = :status")
            params["status"] = flt.status
    return where


def _apps_cte(account_id: uuid.UUID, flt: AnalyticsFilter | None) -> tuple[str, dict[str, Any]]:
    """The filtered applications of the account, with their reached outcomes as the
    `application_outcomes` view defines them (the current status or any history row; one
    lateral probe of the history per application since migration 0007)."""
    params: dict[str, Any] = {"account_id": account_id}
    where = ["ja.account_id = :account_id", *filter_clauses(flt, params)]
    sql = f"""apps AS MATERIALIZED (
  SELECT ja.id, ja.created_at, o.reached_interview, o.reached_offer
  FROM job_applications ja
  JOIN application_outcomes o ON o.application_id = ja.id
  WHERE {" AND ".join(where)}
)"""
    return sql, params


# Human clicks on the links of the filtered applications, grouped per (application, function).
_FUNCTION_CLICKS_CTE = """fn AS (
  SELECT lt.application_id, lt.link_function,
         count(*) AS clicks,
         min(lc.clicked_at) AS first_at,
         (array_agg(lc.click_id ORDER BY lc.clicked_at, lc.click_id))[1] AS first_click_id
  FROM link_tracking lt
  JOIN apps a ON a.id = lt.application_id
  JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id AND NOT lc.is_bot
  WHERE lt.account_id = :account_id
  GROUP BY lt.application_id, lt.link_function
)"""


def _bucket_case(expr: str) -> str:
    parts = []
    for b in TIMING_BUCKETS:
        if b.high_hours is None:
            parts.append(f"ELSE '{b.label}'")
        else:
            parts.append(f"WHEN {expr} < {b.high_hours} THEN '{b.label}'")
    return "CASE " + " ".join(parts) + " END"


@dataclass(frozen=True, slots=True)
class ClickCountGroup:
    """Applications having exactly `clicks` human clicks."""

    clicks: int
    applications: int
    interviews: int
    offers: int


def _view_where(
    alias: str, account_id: uuid.UUID, flt: AnalyticsFilter | None
) -> tuple[str, dict[str, Any]]:
    """The seed filters on a view with `account_id`, `application_date` and `status`."""
    params: dict[str, Any] = {"account_id": account_id}
    where = [f"{alias}.account_id = :account_id"]
    if flt is not None:
        if flt.start_date is not None:
            where.append(f"{alias}.application_date >= :start_date")
            params["start_date"] = flt.start_date
        if flt.end_date is not None:
            where.append(f"{alias}.application_date <= :end_date")
            params["end_date"] = flt.end_date
        if flt.status is not None:
            where.append(f"{alias}.status = :status")
            params["status"] = flt.status
    return " AND ".join(where), params


# Applications per number of human clicks, with their reached outcomes: the per-application
# figures of the `application_engagement_outcomes` view (migrations 0001, 0007).
def _click_count_groups(where: str) -> str:
    return f"""count_groups AS (
  SELECT o.total_clicks AS clicks,
         count(*) AS applications,
         count(*) FILTER (WHERE o.reached_interview) AS interviews,
         count(*) FILTER (WHERE o.reached_offer) AS offers
  FROM application_engagement_outcomes o
  WHERE {where}
  GROUP BY o.total_clicks
)"""


def _click_count_group(r: Any) -> ClickCountGroup:
    return ClickCountGroup(
        clicks=int(r["clicks"]),
        applications=int(r["applications"]),
        interviews=int(r["interviews"]),
        offers=int(r["offers"]),
    )


async def click_count_groups(
    session: AsyncSession, *, account_id: uuid.UUID, flt: AnalyticsFilter | None = None
) -> list[ClickCountGroup]:
    where, params = _view_where("o", account_id, flt)
    sql = f"WITH {_click_count_groups(where)} SELECT * FROM count_groups ORDER BY clicks"
    rows = (await session.execute(text(sql), params)).mappings().all()
    return [_click_count_group(r) for r in rows]


@dataclass(frozen=True, slots=True)
class FunctionRow:
    """One link function, as the fixed `link_function_effectiveness` view counts it."""

    link_function: str
    applications_with_link: int
    applications_with_clicks: int
    total_clicks: int
    interviews: int
    offers: int
    clicked_interviews: int
    clicked_offers: int
    median_hours_to_first_click: float | None


# Per link function over the applications with an active link of that function: the rows of
# the `application_link_functions` view, aggregated as the `link_function_effectiveness` view
# aggregates them (migration 0007), with the request's filters.
def _function_effectiveness(where: str) -> str:
    return f"""functions AS (
  SELECT p.link_function,
         count(*) AS applications_with_link,
         count(*) FILTER (WHERE p.clicks > 0) AS applications_with_clicks,
         coalesce(sum(p.clicks), 0) AS total_clicks,
         count(*) FILTER (WHERE p.reached_interview) AS interviews,
         count(*) FILTER (WHERE p.reached_offer) AS offers,
         count(*) FILTER (WHERE p.reached_interview AND p.clicks > 0) AS clicked_interviews,
         count(*) FILTER (WHERE p.reached_offer AND p.clicks > 0) AS clicked_offers,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY p.hours_to_first_click) AS median_hours
  FROM application_link_functions p
  WHERE {where}
  GROUP BY p.link_function
)"""


def _function_row(r: Any) -> FunctionRow:
    median = r["median_hours"]
    return FunctionRow(
        link_function=r["link_function"],
        applications_with_link=int(r["applications_with_link"]),
        applications_with_clicks=int(r["applications_with_clicks"]),
        total_clicks=int(r["total_clicks"]),
        interviews=int(r["interviews"]),
        offers=int(r["offers"]),
        clicked_interviews=int(r["clicked_interviews"]),
        clicked_offers=int(r["clicked_offers"]),
        median_hours_to_first_click=None if median is None else float(median),
    )


async def function_effectiveness(
    session: AsyncSession, *, account_id: uuid.UUID, flt: AnalyticsFilter | None = None
) -> list[FunctionRow]:
    """Per link function over applications with an active link of that function."""
    where, params = _view_where("p", account_id, flt)
    sql = f"WITH {_function_effectiveness(where)} SELECT * FROM functions ORDER BY link_function"
    rows = (await session.execute(text(sql), params)).mappings().all()
    return [_function_row(r) for r in rows]


@functools.cache
def _summary_statement(outcomes_where: str, functions_where: str) -> Any:
    """Built once per filter shape (the `_view_where` SQL names its values)."""
    return text(
        f"""WITH {_click_count_groups(outcomes_where)},
{_function_effectiveness(functions_where)}
SELECT (SELECT coalesce(json_agg(g ORDER BY g.clicks), '[]') FROM count_groups g) AS groups,
       (SELECT coalesce(json_agg(f ORDER BY f.link_function), '[]') FROM functions f)
         AS functions"""
    )


async def summary_counts(
    db: Db, *, account_id: uuid.UUID, flt: AnalyticsFilter | None = None
) -> tuple[list[ClickCountGroup], list[FunctionRow]]:
    """``click_count_groups`` and ``function_effectiveness`` in one statement (the
    engagement summary needs both): one snapshot without a transaction around two statements."""
    outcomes_where, params = _view_where("o", account_id, flt)
    functions_where, _ = _view_where("p", account_id, flt)
    statement = _summary_statement(outcomes_where, functions_where)
    row = (await db.execute(statement, params)).one()
    groups, functions = row.groups, row.functions
    if isinstance(groups, str):  # json, not jsonb: a driver may hand over the text
        groups, functions = orjson.loads(groups), orjson.loads(functions)
    return [_click_count_group(g) for g in groups], [_function_row(f) for f in functions]


@dataclass(frozen=True, slots=True)
class TimingRow:
    """Applications whose first human click fell in `bucket` (None: never clicked; the
    row with `total=True` covers every application, its median the clicked ones)."""

    bucket: str | None
    total: bool
    applications: int
    interviews: int
    offers: int
    median_hours: float | None


async def timing(
    session: AsyncSession, *, account_id: uuid.UUID, flt: AnalyticsFilter | None = None
) -> list[TimingRow]:
    apps, params = _apps_cte(account_id, flt)
    sql = f"""WITH {apps},
firsts AS (
  SELECT lt.application_id, min(lc.clicked_at) AS first_at
  FROM link_tracking lt
  JOIN apps a ON a.id = lt.application_id
  JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id AND NOT lc.is_bot
  WHERE lt.account_id = :account_id
  GROUP BY lt.application_id
),
per_app AS (
  SELECT a.reached_interview, a.reached_offer, h.hours,
         CASE WHEN h.hours IS NULL THEN NULL ELSE {_bucket_case("h.hours")} END AS bucket
  FROM apps a
  LEFT JOIN firsts f ON f.application_id = a.id
  CROSS JOIN LATERAL (
    SELECT (extract(epoch FROM f.first_at - a.created_at) / 3600)::float8 AS hours
  ) h
)
SELECT bucket,
       GROUPING(bucket) = 1 AS is_total,
       count(*) AS applications,
       count(*) FILTER (WHERE reached_interview) AS interviews,
       count(*) FILTER (WHERE reached_offer) AS offers,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_hours
FROM per_app
GROUP BY GROUPING SETS ((bucket), ())"""
    rows = (await session.execute(text(sql), params)).all()
    return [
        TimingRow(
            bucket=r.bucket,
            total=bool(r.is_total),
            applications=int(r.applications),
            interviews=int(r.interviews),
            offers=int(r.offers),
            median_hours=None if r.median_hours is None else float(r.median_hours),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class PatternRow:
    pattern: str
    applications: int
    interviews: int
    offers: int


# Name -> condition on the per-application features below. ALL is the baseline.
PATTERNS: dict[str, str] = {
    "ALL": "true",
    "NO_CLICKS": "clicks = 0",
    "ANY_CLICK": "clicks > 0",
    "QUICK_RESPONSE": "hours < 4",
    "MULTIPLE_FUNCTIONS": "functions >= 2",
    "REPEAT_CLICKS": "clicks > functions",
    "HIGH_ENGAGEMENT": "clicks >= 3",
    "CALENDLY_CLICKED": "calendly",
    "LINKEDIN_CLICKED": "linkedin",
    "WEEKEND_FIRST_CLICK": "first_dow IN (0, 6)",
}


async def patterns(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    timezone: str,
    flt: AnalyticsFilter | None = None,
) -> list[PatternRow]:
    apps, params = _apps_cte(account_id, flt)
    params["tz"] = timezone
    values = ", ".join(f"('{name}', {cond})" for name, cond in PATTERNS.items())
    sql = f"""WITH {apps},
{_FUNCTION_CLICKS_CTE},
per_app AS (
  SELECT a.reached_interview, a.reached_offer,
         coalesce(sum(fn.clicks), 0) AS clicks,
         count(fn.link_function) AS functions,
         (extract(epoch FROM min(fn.first_at) - a.created_at) / 3600)::float8 AS hours,
         extract(dow FROM min(fn.first_at) AT TIME ZONE :tz) AS first_dow,
         coalesce(bool_or(fn.link_function = 'Calendly'), false) AS calendly,
         coalesce(bool_or(fn.link_function = 'LinkedIn'), false) AS linkedin
  FROM apps a LEFT JOIN fn ON fn.application_id = a.id
  GROUP BY a.id, a.created_at, a.reached_interview, a.reached_offer
)
SELECT p.pattern,
       count(*) AS applications,
       count(*) FILTER (WHERE reached_interview) AS interviews,
       count(*) FILTER (WHERE reached_offer) AS offers
FROM per_app CROSS JOIN LATERAL (VALUES {values}) AS p(pattern, matches)
WHERE p.matches
GROUP BY p.pattern"""
    rows = (await session.execute(text(sql), params)).all()
    return [
        PatternRow(
            pattern=r.pattern,
            applications=int(r.applications),
            interviews=int(r.interviews),
            offers=int(r.offers),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class ClockRow:
    """Human clicks in one local hour of the day (`hour`) or day of the week (`dow`)."""

    hour: int | None
    dow: int | None
    clicks: int


async def click_clock(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    timezone: str,
    flt: AnalyticsFilter | None = None,
) -> list[ClockRow]:
    apps, params = _apps_cte(account_id, flt)
    params["tz"] = timezone
    sql = f"""WITH {apps},
local AS (
  SELECT lc.clicked_at AT TIME ZONE :tz AS t
  FROM link_tracking lt
  JOIN apps a ON a.id = lt.application_id
  JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id AND NOT lc.is_bot
  WHERE lt.account_id = :account_id
)
SELECT extract(hour FROM t)::int AS hour, extract(dow FROM t)::int AS dow, count(*) AS clicks
FROM local
GROUP BY GROUPING SETS ((extract(hour FROM t)::int), (extract(dow FROM t)::int))"""
    rows = (await session.execute(text(sql), params)).all()
    return [
        ClockRow(
            hour=None if r.hour is None else int(r.hour),
            dow=None if r.dow is None else int(r.dow),
            clicks=int(r.clicks),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class SequenceRow:
    sequence: list[str]
    applications: int
    interviews: int
    offers: int
    total_groups: int


async def click_sequences(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    limit: int,
    offset: int = 0,
    flt: AnalyticsFilter | None = None,
) -> list[SequenceRow]:
    """Groups of applications by the distinct functions in order of their first click
    (clicks ordered by time, then id, as SPEC §4), most common first."""
    apps, params = _apps_cte(account_id, flt)
    params["limit"] = limit
    params["offset"] = offset
    sql = f"""WITH {apps},
{_FUNCTION_CLICKS_CTE},
seqs AS (
  SELECT fn.application_id,
         array_agg(fn.link_function::text ORDER BY fn.first_at, fn.first_click_id) AS seq
  FROM fn GROUP BY fn.application_id
),
groups AS (
  SELECT s.seq, count(*) AS applications,
         count(*) FILTER (WHERE a.reached_interview) AS interviews,
         count(*) FILTER (WHERE a.reached_offer) AS offers
  FROM seqs s JOIN apps a ON a.id = s.application_id
  GROUP BY s.seq
)
SELECT seq, applications, interviews, offers, count(*) OVER () AS total_groups
FROM groups
ORDER BY applications DESC, interviews DESC, seq
LIMIT :limit OFFSET :offset"""
    rows = (await session.execute(text(sql), params)).all()
    return [
        SequenceRow(
            sequence=list(r.seq),
            applications=int(r.applications),
            interviews=int(r.interviews),
            offers=int(r.offers),
            total_groups=int(r.total_groups),
        )
        for r in rows
    ]


async def count_sequence_groups(
    session: AsyncSession, *, account_id: uuid.UUID, flt: AnalyticsFilter | None = None
) -> int:
    """The number of groups, for a page past the end (where no row carries the total)."""
    apps, params = _apps_cte(account_id, flt)
    sql = f"""WITH {apps},
{_FUNCTION_CLICKS_CTE}
SELECT count(DISTINCT s.seq) FROM (
  SELECT array_agg(fn.link_function::text ORDER BY fn.first_at, fn.first_click_id) AS seq
  FROM fn GROUP BY fn.application_id
) s"""
    value = (await session.execute(text(sql), params)).scalar()
    return int(value or 0)


@dataclass(frozen=True, slots=True)
class DayRow:
    day: Any  # datetime.date, local to the requested timezone
    clicks: int
    applications: int
    interviews: int


async def daily_clicks(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    timezone: str,
    since: datetime,
    until: datetime,
    flt: AnalyticsFilter | None = None,
) -> list[DayRow]:
    """Human clicks per local day in [since, until), with the applications clicked that day
    and how many of those reached interview."""
    apps, params = _apps_cte(account_id, flt)
    params.update(tz=timezone, since=since, until=until)
    sql = f"""WITH {apps}
SELECT (lc.clicked_at AT TIME ZONE :tz)::date AS day,
       count(*) AS clicks,
       count(DISTINCT a.id) AS applications,
       count(DISTINCT a.id) FILTER (WHERE a.reached_interview) AS interviews
FROM link_tracking lt
JOIN apps a ON a.id = lt.application_id
JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id AND NOT lc.is_bot
WHERE lt.account_id = :account_id AND lc.clicked_at >= :since AND lc.clicked_at < :until
GROUP BY 1 ORDER BY 1"""
    rows = (await session.execute(text(sql), params)).all()
    return [
        DayRow(
            day=r.day,
            clicks=int(r.clicks),
            applications=int(r.applications),
            interviews=int(r.interviews),
        )
        for r in rows
    ]
