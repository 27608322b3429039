"""The analytics batch (SPEC §4, seed 000 §1.1): every metric of a set of applications in SQL.

One statement per chunk computes the metrics of every application in an id range (optionally of
one account) from its human clicks with ``clicked_at <= as_of``, upserts ``link_click_analytics``
and refreshes the seed 000 §1.1 columns and ``is_high_priority`` on ``job_applications``. Rows
whose values did not change are not written (``IS DISTINCT FROM``), so a rerun is cheap and
leaves the rows byte-identical.

The rules are those of :mod:`domain.metrics`, evaluated on exact values:

* every duration is an integer number of microseconds; "first click < 4 h" is
  ``us < 4 * 3_600_000_000``, "velocity > 2" is ``clicks * day_us > 2 * greatest(age_us, day_us)``;
* rounding is half away from zero on the exact quotient, done with integer ``div`` (never on a
  rounded intermediate);
* local hour and day of week come from ``clicked_at AT TIME ZONE accounts.timezone``;
* the peak hour is ``mode()`` over the hours sorted ascending (PostgreSQL's ``mode`` keeps the
  first of equally frequent values, i.e. the earliest hour); the most clicked function likewise,
  with ``COLLATE "C"`` so ties go to the code-point-smallest name as in Python;
* the click sequence is ordered by ``clicked_at`` then ``click_id`` (uuid order is the order of
  its lowercase text);
* the days of week are a bit mask (``bit_or``), turned into the ascending array at the end.

Speed (bench/batch.py): a chunk reads its links by ``link_tracking(application_id)`` and their
human clicks by an index-only scan of ``idx_link_clicks_human_by_tracking`` (migration 0004), sorts
them once per application by (clicked_at, click_id) and aggregates them in one pass; the writes
touch the chunk's rows through their primary and unique keys. Nothing in a chunk's plan grows with
the size of the tables, so the time is linear in the clicks and the memory flat.

``calculated_at`` is the run's ``as_of``: the instant the metrics describe. Two runs with the
same ``as_of`` therefore give identical rows, ``updated_at`` included (nothing is rewritten).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

HOUR_US = 3_600_000_000
BATCH_WORK_MEM = "64MB"
DAY_US = 86_400_000_000

# Microseconds between two timestamptz values, exactly (extract(epoch) is numeric since PG 14).
_US = "(extract(epoch from ({a}) - ({b})) * 1000000)::bigint"


def _round_us(us: str, unit: int, places: int) -> str:
    """round_half_up(us / unit, places) on exact integers, sign-symmetric, as numeric."""
    scale = 10**places
    return (
        f"(sign(({us})::numeric)"
        f" * div(2 * abs({us})::numeric * {scale} + {unit}, 2::numeric * {unit})"
        f" / {scale}::numeric)"
    )


# The metrics of every selected application. :id_from/:id_to are inclusive bounds (null: open);
# :account_id restricts to one account (null: every account).
_COMPUTE = f"""
apps AS (
  SELECT ja.id, ja.account_id, ja.job_id, ja.created_at, a.timezone AS tz,
         {_US.format(a="CAST(:as_of AS timestamptz)", b="ja.created_at")} AS age_us
  FROM job_applications ja
  JOIN accounts a ON a.id = ja.account_id
  WHERE {{where}}
),
-- The chunk's human clicks, reached through indexes only: link_tracking(application_id) for the
-- chunk's links, then an index-only scan of idx_link_clicks_human_by_tracking (migration 0004)
-- per link. Without them the planner hash-joined the whole clicks table for every chunk.
clicks AS (
  SELECT lt.application_id, lc.click_id, lc.clicked_at, lc.session_id,
         lt.link_function::text AS link_function,
         lc.clicked_at AT TIME ZONE apps.tz AS local_at
  FROM apps
  JOIN link_tracking lt ON lt.application_id = apps.id
  JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id
  WHERE NOT lc.is_bot AND lc.clicked_at <= CAST(:as_of AS timestamptz)
    -- the chunk's id range again, on link_tracking: an index range scan of its links
    AND {{link_where}}
),
-- One group per application, fed by one sort of its clicks by (clicked_at, click_id). The
-- sequence still says ORDER BY itself: an aggregate's input order is not guaranteed without it,
-- and PostgreSQL 16+ re-sorts the input for the DISTINCT aggregates (the embedded PostgreSQL 18
-- returned sequences in function order). PostgreSQL 16+ can serve the ordered aggregate from
-- the presorted input; 15 sorts each group again. tests/test_batch.py checks the sequence
-- against domain.metrics on both.
-- mode() keeps the first of equally frequent values in its sort order: the code-point-smallest
-- function (COLLATE "C", as Python compares str) and the earliest hour.
agg AS (
  SELECT application_id,
         count(*)::int AS total,
         array_agg(link_function ORDER BY clicked_at, click_id) AS seq,
         min(clicked_at) AS first_at,
         max(clicked_at) AS last_at,
         count(DISTINCT link_function)::int AS uniq,
         count(DISTINCT session_id)::int AS sessions,
         mode() WITHIN GROUP (ORDER BY link_function COLLATE "C") AS top_function,
         mode() WITHIN GROUP (ORDER BY extract(hour FROM local_at)::int) AS peak_hour,
         -- bit d set: a click on local day of week d
         bit_or(1 << extract(dow FROM local_at)::int) AS dow_mask
  FROM (SELECT * FROM clicks ORDER BY application_id, clicked_at, click_id) in_click_order
  GROUP BY application_id
),
base AS (
  SELECT apps.id AS application_id, apps.account_id, apps.job_id, apps.age_us,
         coalesce(agg.total, 0) AS total,
         coalesce(agg.seq, ARRAY[]::text[]) AS seq,
         coalesce(agg.uniq, 0) AS uniq,
         coalesce(agg.sessions, 0) AS sessions,
         agg.first_at, agg.last_at, agg.top_function, agg.peak_hour,
         coalesce(agg.dow_mask, 0) AS dow_mask,
         -- the set bits of dow_mask as an ascending array of days
         coalesce(array_remove(ARRAY[
           CASE WHEN agg.dow_mask & 1 <> 0 THEN 0 END, CASE WHEN agg.dow_mask & 2 <> 0 THEN 1 END,
           CASE WHEN agg.dow_mask & 4 <> 0 THEN 2 END, CASE WHEN agg.dow_mask & 8 <> 0 THEN 3 END,
           CASE WHEN agg.dow_mask & 16 <> 0 THEN 4 END, CASE WHEN agg.dow_mask & 32 <> 0 THEN 5 END,
           CASE WHEN agg.dow_mask & 64 <> 0 THEN 6 END], NULL), ARRAY[]::int[]) AS dows,
         agg.first_at - apps.created_at AS to_first,
         agg.last_at - agg.first_at AS first_to_last,
         {_US.format(a="agg.first_at", b="apps.created_at")} AS to_first_us,
         {_US.format(a="agg.last_at", b="agg.first_at")} AS first_to_last_us
  FROM apps LEFT JOIN agg ON agg.application_id = apps.id
),
computed AS (
  SELECT base.*,
         {_round_us("to_first_us", HOUR_US, 2)} AS hours_to_first,
         {_round_us("first_to_last_us", HOUR_US, 2)} AS hours_first_to_last,
         -- total / max(age_days, 1), rounded half up to 4 places on the exact quotient
         div(2 * total::numeric * {DAY_US} * 10000 + greatest(age_us, {DAY_US}),
             2::numeric * greatest(age_us, {DAY_US})) / 10000::numeric AS velocity,
         least(100,
           CASE WHEN total > 0 THEN 10 ELSE 0 END
           + CASE WHEN 'LinkedIn' = ANY(seq) THEN 25 ELSE 0 END
           + CASE WHEN 'Calendly' = ANY(seq) THEN 40 ELSE 0 END
           + least((total - uniq) * 5, 15) * (total > uniq)::int
           + CASE WHEN to_first_us < 4::bigint * {HOUR_US} THEN 30 ELSE 0 END
           + CASE WHEN dow_mask & 65 <> 0 THEN 20 ELSE 0 END  -- Sunday (bit 0) or Saturday (bit 6)
           + CASE WHEN uniq > 1 THEN (uniq - 1) * 10 ELSE 0 END
         ) AS engagement_score,
         least(100,
           CASE WHEN to_first_us < 2::bigint * {HOUR_US} THEN 50
                WHEN to_first_us < 8::bigint * {HOUR_US} THEN 30 ELSE 0 END
           + CASE WHEN total::numeric * {DAY_US} > 2 * greatest(age_us, {DAY_US}) THEN 30
                  WHEN total::numeric * {DAY_US} > greatest(age_us, {DAY_US}) THEN 15
                  ELSE 0 END
           + CASE WHEN 'Calendly' = ANY(seq) THEN 40 ELSE 0 END
           + CASE WHEN total > 3 THEN 20 ELSE 0 END
         ) AS intent_score
  FROM base
)
"""

_ANALYTICS_COLUMNS = (
    "time_to_first_click, hours_to_first_click, time_between_first_last_click,"
    " hours_between_first_last_click, click_sequence, unique_functions_clicked,"
    " total_click_events, peak_click_hour, click_days_of_week, engagement_velocity,"
    " engagement_score, intent_score, calculated_at"
)
_DIFF_COLUMNS = "job_id, " + _ANALYTICS_COLUMNS

_RUN_BATCH = f"""
WITH {_COMPUTE},
upserted AS (
  INSERT INTO link_click_analytics AS lca (application_id, job_id, {_ANALYTICS_COLUMNS},
                                           created_at, updated_at)
  SELECT c.application_id, c.job_id, c.to_first, c.hours_to_first, c.first_to_last,
         c.hours_first_to_last, c.seq, c.uniq, c.total, c.peak_hour, c.dows, c.velocity,
         c.engagement_score, c.intent_score, CAST(:as_of AS timestamptz), now(), now()
  FROM computed c
  -- Only new or changed rows reach ON CONFLICT: it locks every conflicting row (a write: the
  -- row's xmax, its page dirtied) before its WHERE is evaluated, which made a no-op rerun cost
  -- as much as the first run. The WHERE below still guards rows changed concurrently.
  -- (the chunk's range again, so the old rows are read by index, not the whole table hashed)
  LEFT JOIN link_click_analytics old
    ON old.application_id = c.application_id AND {{old_where}}
  WHERE old.application_id IS NULL
     OR ({", ".join("old." + c.strip() for c in _DIFF_COLUMNS.split(","))})
        IS DISTINCT FROM
        (c.job_id, c.to_first, c.hours_to_first, c.first_to_last, c.hours_first_to_last, c.seq,
         c.uniq, c.total, c.peak_hour, c.dows, c.velocity, c.engagement_score, c.intent_score,
         CAST(:as_of AS timestamptz))
  ON CONFLICT (application_id) DO UPDATE SET
    job_id = EXCLUDED.job_id,
    time_to_first_click = EXCLUDED.time_to_first_click,
    hours_to_first_click = EXCLUDED.hours_to_first_click,
    time_between_first_last_click = EXCLUDED.time_between_first_last_click,
    hours_between_first_last_click = EXCLUDED.hours_between_first_last_click,
    click_sequence = EXCLUDED.click_sequence,
    unique_functions_clicked = EXCLUDED.unique_functions_clicked,
    total_click_events = EXCLUDED.total_click_events,
    peak_click_hour = EXCLUDED.peak_click_hour,
    click_days_of_week = EXCLUDED.click_days_of_week,
    engagement_velocity = EXCLUDED.engagement_velocity,
    engagement_score = EXCLUDED.engagement_score,
    intent_score = EXCLUDED.intent_score,
    calculated_at = EXCLUDED.calculated_at,
    updated_at = now()
  WHERE ({", ".join("lca." + c.strip() for c in _DIFF_COLUMNS.split(","))})
        IS DISTINCT FROM
        ({", ".join("EXCLUDED." + c.strip() for c in _DIFF_COLUMNS.split(","))})
  RETURNING 1
),
refreshed AS (
  UPDATE job_applications ja SET
    first_click_timestamp = c.first_at,
    last_click_timestamp = c.last_at,
    total_clicks = c.total,
    unique_click_sessions = c.sessions,
    most_clicked_link_function = c.top_function,
    engagement_score = c.engagement_score,
    is_high_priority = c.engagement_score > CAST(:threshold AS int)
  FROM computed c
  WHERE ja.id = c.application_id
    -- the chunk's range again, so the planner reads the chunk's rows by primary key instead
    -- of hashing the whole table for every chunk
    AND {{where}}
    AND (ja.first_click_timestamp, ja.last_click_timestamp, ja.total_clicks,
         ja.unique_click_sessions, ja.most_clicked_link_function, ja.engagement_score,
         ja.is_high_priority)
        IS DISTINCT FROM
        (c.first_at, c.last_at, c.total, c.sessions, c.top_function::varchar,
         c.engagement_score, c.engagement_score > CAST(:threshold AS int))
  RETURNING 1
)
SELECT (SELECT count(*) FROM computed) AS applications,
       (SELECT count(*) FROM upserted) AS analytics_written,
       (SELECT count(*) FROM refreshed) AS applications_written
"""


@dataclass(frozen=True, slots=True)
class BatchResult:
    applications: int  # applications computed
    analytics_written: int  # link_click_analytics rows inserted or changed
    applications_written: int  # job_applications rows whose §1.1 columns changed


@dataclass(frozen=True, slots=True)
class ChunkRange:
    chunk_no: int
    id_from: uuid.UUID
    id_to: uuid.UUID
    applications: int


def _batch_statement(
    *, account_id: uuid.UUID | None, id_from: uuid.UUID | None, id_to: uuid.UUID | None
) -> Any:
    # Only the conditions in use, so the planner sees plain range predicates (an
    # "x IS NULL OR" form would lead generic plans to a full scan per chunk).
    where = ["true"]
    link_where = ["true"]
    old_where = ["true"]
    params = []
    if account_id is not None:
        where.append("ja.account_id = :account_id")
        params.append(bindparam("account_id", type_=UUID(as_uuid=True)))
    if id_from is not None:
        where.append("ja.id >= :id_from")
        link_where.append("lt.application_id >= :id_from")
        old_where.append("old.application_id >= :id_from")
        params.append(bindparam("id_from", type_=UUID(as_uuid=True)))
    if id_to is not None:
        where.append("ja.id <= :id_to")
        link_where.append("lt.application_id <= :id_to")
        old_where.append("old.application_id <= :id_to")
        params.append(bindparam("id_to", type_=UUID(as_uuid=True)))
    sql = _RUN_BATCH.replace("{where}", " AND ".join(where))
    sql = sql.replace("{link_where}", " AND ".join(link_where))
    sql = sql.replace("{old_where}", " AND ".join(old_where))
    return text(sql).bindparams(*params)


async def compute_analytics(
    session: AsyncSession,
    *,
    as_of: datetime,
    high_priority_threshold: int,
    account_id: uuid.UUID | None = None,
    id_from: uuid.UUID | None = None,
    id_to: uuid.UUID | None = None,
) -> BatchResult:
    """Compute and store the metrics of the applications in [id_from, id_to] (of one account).

    One statement, set-based. The caller owns the transaction.
    """
    if as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    values: dict[str, Any] = {"as_of": as_of, "threshold": high_priority_threshold}
    for name, value in (("account_id", account_id), ("id_from", id_from), ("id_to", id_to)):
        if value is not None:
            values[name] = value
    statement = _batch_statement(account_id=account_id, id_from=id_from, id_to=id_to)
    # JIT compilation cost more than the whole chunk's work in measurements (bench/batch.py),
    # and the per-chunk sort fits in memory with a larger work_mem; both for this transaction.
    await session.execute(text("SET LOCAL jit = off"))
    await session.execute(text(f"SET LOCAL work_mem = '{BATCH_WORK_MEM}'"))
    # A chunk touches a small slice of the clicks and applications, through their indexes, and
    # that slice is in memory; with the default random_page_cost (4, for spinning disks) the
    # planner scanned the whole clicks table and the whole job_applications table per chunk.
    await session.execute(text("SET LOCAL random_page_cost = 1.1"))
    # The statement is prepared (asyncpg) and runs once per chunk: after five runs PostgreSQL may
    # switch to a generic plan that does not know the chunk's range. Planning costs ~5 ms.
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    row = (await session.execute(statement, values)).one()
    return BatchResult(
        applications=int(row.applications),
        analytics_written=int(row.analytics_written),
        applications_written=int(row.applications_written),
    )


async def plan_chunks(
    session: AsyncSession,
    *,
    chunk_size: int,
    account_id: uuid.UUID | None = None,
    application_id: uuid.UUID | None = None,
) -> list[ChunkRange]:
    """Split the applications (of one account, or one application) into id ranges.

    Each range holds ``chunk_size`` applications at planning time; applications created later
    fall into a range (and are computed) or wait for the next run.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    where = ["true"]
    params: dict[str, Any] = {"size": chunk_size}
    if account_id is not None:
        where.append("account_id = :account_id")
        params["account_id"] = account_id
    if application_id is not None:
        where.append("id = :application_id")
        params["application_id"] = application_id
    # The first and last id of every chunk (PostgreSQL 15 has no min(uuid)).
    rows = (
        await session.execute(
            text(
                f"""
                SELECT rn, id FROM (
                  SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn, count(*) OVER () AS n
                  FROM job_applications
                  WHERE {" AND ".join(where)}
                ) numbered
                WHERE rn % :size = 0 OR rn % :size = :size - 1 OR rn = n - 1
                ORDER BY rn
                """
            ),
            params,
        )
    ).all()
    bounds = {int(r.rn): r.id for r in rows}
    if not bounds:
        return []
    total = max(bounds) + 1
    chunks = []
    for chunk_no, first in enumerate(range(0, total, chunk_size)):
        last = min(first + chunk_size, total) - 1
        chunks.append(ChunkRange(chunk_no, bounds[first], bounds[last], last - first + 1))
    return chunks


# ----------------------------------------------------------------------------- floor (bench)


async def bare_click_aggregate(session: AsyncSession, *, as_of: datetime) -> int:
    """The floor the benchmark compares with: count/min/max of human clicks per application."""
    row = (
        await session.execute(
            text(
                """
                SELECT count(*) FROM (
                  SELECT lt.application_id, count(*), min(lc.clicked_at), max(lc.clicked_at)
                  FROM link_tracking lt
                  JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id
                  WHERE NOT lc.is_bot AND lc.clicked_at <= CAST(:as_of AS timestamptz)
                  GROUP BY lt.application_id
                ) per_application
                """
            ),
            {"as_of": as_of},
        )
    ).scalar_one()
    return int(row)
