"""SQL of the application analytics (seed 003 "Application Analytics"), scoped to one account.

One statement over the account's filtered applications, each with its job and what its status
history says (reached response / interview / offer, and when first: the `application_outcomes`
view, migration 0007, whose statuses are `domain.application_analytics`'), grouped four ways:
all, per company, per job-title keyword, and per local week of creation. The
figures a client sees (rates, intervals, ranks) are made from these counts by
`domain.application_analytics`; the quartiles are PostgreSQL's `percentile_cont`, which
`domain.application_analytics.quantile` mirrors (tests/test_application_analytics.py checks
the one against the other).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from db.analytics import AnalyticsFilter
from domain.application_analytics import KEYWORD_PATTERN, MIN_KEYWORD_LENGTH, STOPWORDS
from domain.validation import STATUSES

#: The dimensions a row of `application_groups` belongs to.
ALL, COMPANY, KEYWORD, WEEK = "all", "company", "keyword", "week"


@dataclass(frozen=True, slots=True)
class GroupRow:
    """The applications of one group: all (key ''), a company, a title keyword, or a local
    week (key: its Monday, ISO date)."""

    dimension: str
    key: str
    applications: int
    by_status: dict[str, int]  # current status -> applications
    responses: int
    interviews: int
    offers: int
    response_hours: list[float | None]  # quartiles (25, 50, 75) of hours to first response
    response_sample: int
    interview_hours: list[float | None]  # ... of hours to interview
    interview_sample: int


@functools.cache
def _statement(has_start: bool, has_end: bool, has_status: bool) -> TextClause:
    where = ["ja.account_id = :account_id"]
    if has_start:
        where.append("ja.created_at >= :start_date")
    if has_end:
        where.append("ja.created_at <= :end_date")
    if has_status:
        where.append("ja.status = :status")
    by_status = ",\n       ".join(
        f"count(*) FILTER (WHERE status = '{s}') AS status_{s}" for s in STATUSES
    )
    sql = f"""WITH apps AS MATERIALIZED (
  SELECT ja.id, ja.status, j.company, j.title,
         o.reached_response, o.reached_interview, o.reached_offer,
         (extract(epoch FROM o.first_response_at - ja.created_at) / 3600)::float8
           AS response_hours,
         (extract(epoch FROM o.first_interview_at - ja.created_at) / 3600)::float8
           AS interview_hours,
         to_char(date_trunc('week', ja.created_at AT TIME ZONE :tz), 'YYYY-MM-DD') AS week
  FROM job_applications ja
  JOIN application_outcomes o ON o.application_id = ja.id
  LEFT JOIN jobs j ON j.id = ja.job_id AND j.account_id = ja.account_id
  WHERE {" AND ".join(where)}
),
keyed AS (
  SELECT '{ALL}' AS dimension, '' AS group_key, a.* FROM apps a
  UNION ALL
  SELECT '{COMPANY}', btrim(a.company), a.* FROM apps a WHERE btrim(a.company) <> ''
  UNION ALL
  SELECT '{KEYWORD}', k.word, a.*
  FROM apps a
  CROSS JOIN LATERAL (
    SELECT DISTINCT w AS word
    FROM regexp_split_to_table(lower(a.title), :pattern) AS w
    WHERE length(w) >= :min_length AND w <> ALL(:stopwords)
  ) k
  UNION ALL
  SELECT '{WEEK}', a.week, a.* FROM apps a
)
SELECT dimension, group_key,
       count(*) AS applications,
       {by_status},
       count(*) FILTER (WHERE reached_response) AS responses,
       count(*) FILTER (WHERE reached_interview) AS interviews,
       count(*) FILTER (WHERE reached_offer) AS offers,
       count(response_hours) AS response_sample,
       percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY response_hours)
         AS response_hours,
       count(interview_hours) AS interview_sample,
       percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY interview_hours)
         AS interview_hours
FROM keyed
GROUP BY dimension, group_key"""
    return text(sql).bindparams(bindparam("stopwords", type_=ARRAY(Text)))


def _quartiles(value: Any) -> list[float | None]:
    if value is None:
        return [None, None, None]
    return [None if v is None else float(v) for v in value]


async def application_groups(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    timezone: str,
    flt: AnalyticsFilter | None = None,
) -> list[GroupRow]:
    """Every group of the account's filtered applications (see `GroupRow`); no row for the
    `all` group when no application matches."""
    flt = flt or AnalyticsFilter()
    params: dict[str, Any] = {
        "account_id": account_id,
        "tz": timezone,
        "pattern": KEYWORD_PATTERN,
        "min_length": MIN_KEYWORD_LENGTH,
        "stopwords": sorted(STOPWORDS),
    }
    if flt.start_date is not None:
        params["start_date"] = flt.start_date
    if flt.end_date is not None:
        params["end_date"] = flt.end_date
    if flt.status is not None:
        params["status"] = flt.status
    statement = _statement(
        flt.start_date is not None, flt.end_date is not None, flt.status is not None
    )
    rows = (await session.execute(statement, params)).mappings().all()
    return [
        GroupRow(
            dimension=r["dimension"],
            key=r["group_key"],
            applications=int(r["applications"]),
            by_status={s: int(r[f"status_{s}"]) for s in STATUSES},
            responses=int(r["responses"]),
            interviews=int(r["interviews"]),
            offers=int(r["offers"]),
            response_hours=_quartiles(r["response_hours"]),
            response_sample=int(r["response_sample"]),
            interview_hours=_quartiles(r["interview_hours"]),
            interview_sample=int(r["interview_sample"]),
        )
        for r in rows
    ]
