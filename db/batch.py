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

Incremental runs (migration 0008): the statement takes the chunk's dirty marks first. A full run
recomputes every application of the range; an incremental run only the marked ones, and gives
the others the clock-only refresh (``_CLOCK``: velocity and intent from the stored row). Both
delete the marks they read. The rules the two paths share (velocity, intent) are one SQL
expression each (``_velocity``, ``_intent``), so they cannot drift apart.

Clock watermarks (migration 0011): each chunk also returns, per account it touched, the earliest
instant at which a row it computed changes with the clock alone (``_next_change``), and narrows
the account's ``analytics_clock`` interval with it. An incremental chunk gives the clock refresh
only to the accounts whose trusted interval does not cover its ``as_of`` (``_stale_accounts``);
a chunk, or a whole run (``idle_scope``), with no mark and nothing stale does nothing else.

A row is written only when a metric changes; ``calculated_at`` is then the run's ``as_of``. So
``calculated_at`` says since when the stored values hold, and two runs with the same ``as_of``,
or an incremental and a full run, give identical metrics.
"""

from __future__ import annotations

import re
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


# bigint arithmetic is exact while 2 * clicks * day_us * 10000 fits: up to this many clicks
# (8.64e18 < 2^63); numeric beyond. The clock refresh evaluates these expressions for every row
# with clicks each night, and numeric cost a third of its time.
_INT8_CLICKS = 5000
# "clicks * day_us > c * age" with clicks capped here is the same comparison for any age below
# ~100,000 years, and cannot overflow.
_CLICKS_CAP = 100_000_000


def _velocity(total: str, age_us: str) -> str:
    """total / max(age_days, 1), rounded half up to 4 places on the exact quotient."""
    a = f"greatest({age_us}, {DAY_US})"
    return (
        f"(CASE WHEN {total} <= {_INT8_CLICKS}"
        f" THEN ((2 * ({total})::bigint * {DAY_US} * 10000 + {a}) / (2 * {a}))::numeric"
        f" ELSE div(2 * ({total})::numeric * {DAY_US} * 10000 + {a}, 2::numeric * {a}) END"
        " / 10000::numeric)"
    )


def _clicks_days(total: str) -> str:
    """clicks * day_us as a bigint, for comparisons with an age (see _CLICKS_CAP)."""
    return f"(least({total}, {_CLICKS_CAP})::bigint * {DAY_US})"


def _intent(to_first_us: str, total: str, age_us: str, seq: str) -> str:
    """Seed 001 "Intent Score" on exact values: the only score that moves with ``as_of``
    (through the velocity thresholds, "velocity > 2" as ``clicks * day_us > 2 * age_us``)."""
    return f"""least(100,
           CASE WHEN {to_first_us} < 2::bigint * {HOUR_US} THEN 50
                WHEN {to_first_us} < 8::bigint * {HOUR_US} THEN 30 ELSE 0 END
           + CASE WHEN {_clicks_days(total)} > 2 * greatest({age_us}, {DAY_US}) THEN 30
                  WHEN {_clicks_days(total)} > greatest({age_us}, {DAY_US}) THEN 15
                  ELSE 0 END
           + CASE WHEN 'Calendly' = ANY({seq}) THEN 40 ELSE 0 END
           + CASE WHEN {total} > 3 THEN 20 ELSE 0 END
         )"""


# A bound far enough (about 95 years, in microseconds) to mean "no change ahead".
_FAR_US = 3_000_000_000_000_000


def _next_change(total: str, velocity: str, age_us: str, created: str) -> str:
    """The instant until which (exclusive) a row's velocity and intent keep the values computed
    for an ``as_of`` at which the application was ``age_us`` old (migration 0011).

    Both move with the age A = max(age, 1 day) alone. The velocity rounded to 4 places is
    k / 10000 while 2 * clicks * day_us * 10000 >= (2k - 1) * A (the rounding of ``_velocity``),
    so it holds while A <= M = div(2 * clicks * day_us * 10000, 2k - 1); the bound is M, one
    microsecond early. The intent's thresholds "velocity > 2" and "> 1" turn false at
    A = clicks * day_us / 2 and A = clicks * day_us. A velocity of 0 never moves again, and
    without clicks nothing does.
    """
    t = _clicks_days(total)
    a = f"greatest({age_us}, {DAY_US})"
    k = f"(({velocity}) * 10000)::bigint"
    m = (
        f"CASE WHEN {total} <= {_INT8_CLICKS} THEN 2 * {t} * 10000 / (2 * {k} - 1)"
        f" ELSE least(div(2 * ({total})::numeric * {DAY_US} * 10000, 2 * {k} - 1), {_FAR_US})"
        "::bigint END"
    )
    return f"""(CASE WHEN {total} = 0 THEN 'infinity'::timestamptz ELSE {created} + least(
           CASE WHEN {k} > 0 THEN {m} ELSE {_FAR_US} END,
           CASE WHEN {t} > 2 * {a} THEN {t} / 2 ELSE {_FAR_US} END,
           CASE WHEN {t} > {a} THEN {t} ELSE {_FAR_US} END,
           {_FAR_US})::bigint * interval '1 microsecond' END)"""


# The metrics of every selected application. :id_from/:id_to are inclusive bounds (null: open);
# :account_id restricts to one account (null: every account).
_COMPUTE = f"""
-- The dirty marks of the chunk's range (migration 0008), read once: the applications to
-- recompute in an incremental run, and exactly the marks the chunk deletes at the end.
marks AS (
  SELECT d.application_id, d.seq, d.clicks_until
  FROM analytics_dirty d
  WHERE {{mark_where}}
),
apps AS (
  SELECT ja.id, ja.account_id, ja.job_id, ja.created_at, a.timezone AS tz,
         {_US.format(a="CAST(:as_of AS timestamptz)", b="ja.created_at")} AS age_us
  FROM job_applications ja
  JOIN accounts a ON a.id = ja.account_id
  WHERE {{where}} {{dirty_only}}
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
  SELECT apps.id AS application_id, apps.account_id, apps.job_id, apps.age_us, apps.created_at,
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
         {_velocity("total", "age_us")} AS velocity,
         least(100,
           CASE WHEN total > 0 THEN 10 ELSE 0 END
           + CASE WHEN 'LinkedIn' = ANY(seq) THEN 25 ELSE 0 END
           + CASE WHEN 'Calendly' = ANY(seq) THEN 40 ELSE 0 END
           + least((total - uniq) * 5, 15) * (total > uniq)::int
           + CASE WHEN to_first_us < 4::bigint * {HOUR_US} THEN 30 ELSE 0 END
           + CASE WHEN dow_mask & 65 <> 0 THEN 20 ELSE 0 END  -- Sunday (bit 0) or Saturday (bit 6)
           + CASE WHEN uniq > 1 THEN (uniq - 1) * 10 ELSE 0 END
         ) AS engagement_score,
         {_intent("to_first_us", "total", "age_us", "seq")} AS intent_score
  FROM base
)
"""

_METRIC_COLUMNS = (
    "time_to_first_click",
    "hours_to_first_click",
    "time_between_first_last_click",
    "hours_between_first_last_click",
    "click_sequence",
    "unique_functions_clicked",
    "total_click_events",
    "peak_click_hour",
    "click_days_of_week",
    "engagement_velocity",
    "engagement_score",
    "intent_score",
)
_ANALYTICS_COLUMNS = ", ".join((*_METRIC_COLUMNS, "calculated_at"))
# calculated_at is not compared: a row is written only when a metric changes, and then
# calculated_at says as of when the stored values hold (an incremental run and a full one give
# the same metrics; which run last wrote a row may differ).
_DIFF_COLUMNS = ", ".join(("job_id", *_METRIC_COLUMNS))

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
         c.uniq, c.total, c.peak_hour, c.dows, c.velocity, c.engagement_score, c.intent_score)
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
),
{{clock}}
-- Per account touched: the earliest instant a row computed here changes with the clock alone
-- (migration 0011; rows without clicks never do). compute_analytics narrows the accounts'
-- clock watermarks with it.
bounds AS (
  SELECT account_id, min(valid_until) AS valid_until FROM (
    SELECT account_id,
           {_next_change("total", "velocity", "age_us", "created_at")} AS valid_until
    FROM computed WHERE total > 0
    {{clock_bounds}}
  ) touched
  GROUP BY account_id
),
-- The marks read above, once their application is computed (or gone: a GDPR delete). A mark
-- written meanwhile is a later seq and stays; so does a mark for a click after as_of (the
-- click is not counted yet: the next run recomputes the application).
cleared AS (
  DELETE FROM analytics_dirty d
  USING (
    SELECT m.application_id, m.seq
    FROM marks m LEFT JOIN job_applications ja ON ja.id = m.application_id
    WHERE (m.clicks_until IS NULL OR m.clicks_until <= CAST(:as_of AS timestamptz))
      -- computed above (of the run's account; a dirty one in an incremental run), or gone
      AND (ja.id IS NULL OR ({{where}}))
  ) m
  WHERE d.application_id = m.application_id AND d.seq = m.seq
  RETURNING 1
)
SELECT {{applications}} AS applications,
       (SELECT count(*) FROM computed) AS recomputed,
       (SELECT count(*) FROM upserted) AS analytics_written,
       {{clocked}} AS clock_written,
       (SELECT count(*) FROM refreshed) AS applications_written,
       (SELECT count(*) FROM cleared) AS marks_cleared,
       (SELECT array_agg(account_id ORDER BY account_id) FROM bounds) AS bound_accounts,
       (SELECT array_agg(valid_until ORDER BY account_id) FROM bounds) AS bound_until
"""

# The clock-only refresh of an incremental run: every application of the chunk without a mark
# has the same clicks as when its row was written, so only what depends on as_of can move:
# engagement_velocity, and intent_score across a velocity threshold (seed 001: no other rule
# reads the clock). Both are recomputed from the stored row with the expressions above (the
# exact microseconds to the first click come back from the stored interval, which has no
# months), and only rows whose values change are written. Neither column nor calculated_at is in
# an index that could change except idx_analytics_intent_score: with migration 0008's fill
# factor these are HOT updates.
#
# Only the accounts whose clock watermark (migration 0011) does not cover as_of are read
# (:stale); the others keep their values at this as_of. Each row is evaluated once
# (clock_new); the write applies only to the row version that was read (its xmin): a row
# recomputed concurrently by another run keeps that run's values, which that run vouched for.
_TO_FIRST_US = "(extract(epoch FROM lca.time_to_first_click) * 1000000)::bigint"
_AGE_US = _US.format(a="CAST(:as_of AS timestamptz)", b="ja.created_at")
_CLOCK = f"""
clock_new AS (
  SELECT application_id, account_id, created_at, total, age_us, row_xmin,
         old_velocity, old_intent,
         {_velocity("total", "age_us")} AS velocity,
         {_intent("to_first_us", "total", "age_us", "seq")} AS intent
  FROM (
    SELECT lca.application_id, ja.account_id, ja.created_at, lca.xmin AS row_xmin,
           lca.total_click_events AS total, {_AGE_US} AS age_us,
           {_TO_FIRST_US} AS to_first_us, lca.click_sequence AS seq,
           lca.engagement_velocity AS old_velocity, lca.intent_score AS old_intent
    FROM link_click_analytics lca
    JOIN job_applications ja ON ja.id = lca.application_id
    WHERE {{where}} AND {{lca_where}}
      AND ja.account_id = ANY(CAST(:stale AS uuid[]))
      -- without clicks both values are 0 at any as_of
      AND lca.total_click_events > 0
      AND NOT EXISTS (SELECT 1 FROM marks m WHERE m.application_id = lca.application_id)
  ) stored
),
clocked AS (
  UPDATE link_click_analytics lca SET
    engagement_velocity = n.velocity,
    intent_score = n.intent,
    calculated_at = CAST(:as_of AS timestamptz),
    updated_at = now()
  FROM clock_new n
  WHERE lca.application_id = n.application_id AND {{lca_where}}
    AND lca.xmin = n.row_xmin
    AND (n.old_velocity, n.old_intent) IS DISTINCT FROM (n.velocity, n.intent)
  RETURNING 1
),"""
_CLOCK_BOUNDS = f"""
    UNION ALL
    SELECT account_id, {_next_change("total", "velocity", "age_us", "created_at")}
    FROM clock_new"""


@dataclass(frozen=True, slots=True)
class BatchResult:
    applications: int  # applications of the chunk (recomputed, or refreshed for the clock)
    analytics_written: int  # link_click_analytics rows inserted or changed by a recompute
    applications_written: int  # job_applications rows whose §1.1 columns changed
    recomputed: int = 0  # applications recomputed from their clicks
    clock_written: int = 0  # rows whose velocity or intent the clock refresh changed
    marks_cleared: int = 0  # dirty marks deleted
    clock_skipped: bool = False  # every account's clock watermark covered as_of: no refresh


@dataclass(frozen=True, slots=True)
class ChunkRange:
    chunk_no: int
    id_from: uuid.UUID
    id_to: uuid.UUID
    applications: int


def _batch_statement(
    *,
    incremental: bool,
    clock: bool,
    account_id: uuid.UUID | None,
    id_from: uuid.UUID | None,
    id_to: uuid.UUID | None,
) -> Any:
    # Only the conditions in use, so the planner sees plain range predicates (an
    # "x IS NULL OR" form would lead generic plans to a full scan per chunk).
    where = ["true"]
    bounds: list[str] = []
    params = []
    if account_id is not None:
        where.append("ja.account_id = :account_id")
        params.append(bindparam("account_id", type_=UUID(as_uuid=True)))
    if id_from is not None:
        bounds.append("{col} >= :id_from")
        params.append(bindparam("id_from", type_=UUID(as_uuid=True)))
    if id_to is not None:
        bounds.append("{col} <= :id_to")
        params.append(bindparam("id_to", type_=UUID(as_uuid=True)))

    def on(col: str) -> str:
        return " AND ".join(["true", *(b.format(col=col) for b in bounds)])

    applications = " AND ".join([*where, on("ja.id")])
    slots = {
        "applications": (
            f"(SELECT count(*) FROM job_applications ja WHERE {applications})"
            if incremental
            else "(SELECT count(*) FROM computed)"
        ),
        "clocked": "(SELECT count(*) FROM clocked)" if clock else "0",
        "dirty_only": "AND ja.id IN (SELECT application_id FROM marks)" if incremental else "",
        "where": applications,
        "link_where": on("lt.application_id"),
        "old_where": on("old.application_id"),
        "lca_where": on("lca.application_id"),
        "mark_where": on("d.application_id"),
    }
    # The clock refresh's parts have slots of their own, filled before they go in.
    slots["clock"] = _fill(_CLOCK, slots) if clock else ""
    slots["clock_bounds"] = _fill(_CLOCK_BOUNDS, slots) if clock else ""
    return text(_fill(_RUN_BATCH, slots)).bindparams(*params)


_SLOT = re.compile(r"\{([a-z_]+)\}")


def _fill(template: str, slots: dict[str, str]) -> str:
    """A part of the batch statement for one shape: each ``{name}`` in the template replaced by
    its fragment in one pass (a fragment is not searched again). A name without a fragment is
    a bug here, not SQL to send: it raises KeyError."""
    return _SLOT.sub(lambda match: slots[match.group(1)], template)


async def compute_analytics(
    session: AsyncSession,
    *,
    as_of: datetime,
    high_priority_threshold: int,
    account_id: uuid.UUID | None = None,
    id_from: uuid.UUID | None = None,
    id_to: uuid.UUID | None = None,
    incremental: bool = False,
    planned: int | None = None,
) -> BatchResult:
    """Compute and store the metrics of the applications in [id_from, id_to] (of one account).

    Full: every application of the range is recomputed from its clicks. Incremental: only those
    with a dirty mark; the others get the clock-only refresh. Both give the same rows (the
    metrics; ``calculated_at`` is when a row last changed) and both delete the marks they
    consumed. One statement, set-based. The caller owns the transaction.

    ``planned``: the applications of the range when its run was planned. An incremental chunk
    with nothing to do (no mark in its range, every watermark covering ``as_of``) reports them
    without counting again: an application added or changed since carries a mark.
    """
    if as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    values: dict[str, Any] = {"as_of": as_of, "threshold": high_priority_threshold}
    for name, value in (("account_id", account_id), ("id_from", id_from), ("id_to", id_to)):
        if value is not None:
            values[name] = value
    stale: list[uuid.UUID] = []
    if incremental:
        stale = await _stale_accounts(session, as_of=as_of, account_id=account_id)
        values["stale"] = stale
        if not stale:
            # Every account's watermark covers as_of: only marked applications have work. A
            # chunk without marks (a no-op rerun) costs one count, not the batch statement.
            idle = await _idle_chunk(
                session, account_id=account_id, id_from=id_from, id_to=id_to, planned=planned
            )
            if idle is not None:
                return BatchResult(
                    applications=idle,
                    analytics_written=0,
                    applications_written=0,
                    clock_skipped=True,
                )
    # For this transaction only (one round trip):
    # - JIT compilation cost more than the whole chunk's work in measurements (bench/batch.py),
    #   and the per-chunk sort fits in memory with a larger work_mem;
    # - a chunk touches a small slice of the clicks and applications, through their indexes,
    #   and that slice is in memory; with the default random_page_cost (4, for spinning disks)
    #   the planner scanned the whole clicks table and the whole job_applications table;
    # - the statement is prepared (asyncpg) and runs once per chunk: after five runs PostgreSQL
    #   may switch to a generic plan that does not know the chunk's range (planning: ~5 ms).
    await session.execute(
        text(
            "SELECT set_config('jit', 'off', true),"
            f" set_config('work_mem', '{BATCH_WORK_MEM}', true),"
            " set_config('random_page_cost', '1.1', true),"
            " set_config('plan_cache_mode', 'force_custom_plan', true)"
        )
    )
    statement = _batch_statement(
        incremental=incremental,
        clock=bool(stale),
        account_id=account_id,
        id_from=id_from,
        id_to=id_to,
    )
    row = (await session.execute(statement, values)).one()
    if row.bound_accounts:
        await _narrow_watermarks(
            session, as_of=as_of, accounts=row.bound_accounts, until=row.bound_until
        )
    return BatchResult(
        applications=int(row.applications),
        analytics_written=int(row.analytics_written),
        applications_written=int(row.applications_written),
        recomputed=int(row.recomputed),
        clock_written=int(row.clock_written),
        marks_cleared=int(row.marks_cleared),
        clock_skipped=incremental and not stale,
    )


# ----------------------------------------------------------------------------- clock watermarks
# Migration 0011: per account, the as_of values [valid_from, valid_until) over which every
# application without a dirty mark keeps its stored velocity and intent. Trusted once the run
# that last reset it (basis_run) is complete. Rows are locked in account order everywhere.

_COVERED = """
  (r.status = 'complete' AND c.valid_from <= CAST(:as_of AS timestamptz)
   AND CAST(:as_of AS timestamptz) < c.valid_until)
"""


async def idle_scope(
    session: AsyncSession, *, as_of: datetime, account_id: uuid.UUID | None
) -> int | None:
    """The applications of an incremental run's scope (one account, or all) when the run has
    nothing to do: no dirty mark and every watermark covering ``as_of``. Else None."""
    if await _stale_accounts(session, as_of=as_of, account_id=account_id):
        return None
    scope = "true" if account_id is None else "ja.account_id = :account_id"
    marked = (
        "SELECT 1 FROM analytics_dirty"
        if account_id is None
        else "SELECT 1 FROM analytics_dirty d JOIN job_applications ja"
        " ON ja.id = d.application_id WHERE ja.account_id = :account_id"
    )
    row = (
        await session.execute(
            text(
                f"""
                SELECT EXISTS ({marked}) AS dirty,
                       (SELECT count(*) FROM job_applications ja WHERE {scope}) AS n
                """
            ),
            {"account_id": account_id},
        )
    ).one()
    return None if row.dirty else int(row.n)


async def _idle_chunk(
    session: AsyncSession,
    *,
    account_id: uuid.UUID | None,
    id_from: uuid.UUID | None,
    id_to: uuid.UUID | None,
    planned: int | None,
) -> int | None:
    """The applications of a range without a dirty mark (``planned``, else counted), or None
    when the range has a mark."""
    where, marks = ["true"], ["true"]
    values: dict[str, Any] = {}
    if account_id is not None:
        where.append("ja.account_id = :account_id")
        values["account_id"] = account_id
    for name, op, value in (("id_from", ">=", id_from), ("id_to", "<=", id_to)):
        if value is not None:
            where.append(f"ja.id {op} :{name}")
            marks.append(f"d.application_id {op} :{name}")
            values[name] = value
    count = (
        "CAST(:planned AS int)"
        if planned is not None
        else f"(SELECT count(*) FROM job_applications ja WHERE {' AND '.join(where)})"
    )
    row = (
        await session.execute(
            text(
                f"""
                SELECT {count} AS n,
                       EXISTS (SELECT 1 FROM analytics_dirty d WHERE {" AND ".join(marks)}) AS dirty
                """
            ),
            {**values, "planned": planned},
        )
    ).one()
    return None if row.dirty else int(row.n)


async def _stale_accounts(
    session: AsyncSession, *, as_of: datetime, account_id: uuid.UUID | None
) -> list[uuid.UUID]:
    """The accounts (in scope) whose clock watermark does not vouch for ``as_of``."""
    rows = await session.execute(
        text(
            f"""
            SELECT a.id FROM accounts a
            LEFT JOIN analytics_clock c ON c.account_id = a.id
            LEFT JOIN analytics_runs r ON r.id = c.basis_run
            WHERE {"a.id = :account_id" if account_id is not None else "true"}
              AND NOT coalesce({_COVERED}, false)
            """
        ),
        {"as_of": as_of, "account_id": account_id},
    )
    return [r.id for r in rows]


# The basis of a watermark row no run vouches for (no run has this id).
_UNTRUSTED = "00000000-0000-0000-0000-000000000000"


async def _narrow_watermarks(
    session: AsyncSession, *, as_of: datetime, accounts: list[uuid.UUID], until: list[datetime]
) -> None:
    """Intersect each account's watermark with the rows a chunk just computed for ``as_of``:
    they hold from ``as_of`` until their ``until`` (``accounts`` in ascending order).

    An account without a row gets an untrusted one rather than nothing: a run restarting the
    account's watermark concurrently then waits for this transaction (the row is locked), so
    either it restarts after this write is visible to its chunks, or this narrows its restart.
    With a plain UPDATE, a write committing just after the restart was neither re-read by the
    run's chunks (they read the row before it) nor counted in the interval.
    """
    await session.execute(
        text(
            f"""
            INSERT INTO analytics_clock AS c (account_id, valid_from, valid_until, basis_run)
            SELECT b.account_id, CAST(:as_of AS timestamptz), b.valid_until, '{_UNTRUSTED}'
            FROM unnest(CAST(:accounts AS uuid[]), CAST(:until AS timestamptz[]))
                   AS b(account_id, valid_until)
            JOIN accounts a ON a.id = b.account_id
            ORDER BY b.account_id
            ON CONFLICT (account_id) DO UPDATE SET
              valid_from = greatest(c.valid_from, EXCLUDED.valid_from),
              valid_until = least(c.valid_until, EXCLUDED.valid_until)
            """
        ),
        {"as_of": as_of, "accounts": accounts, "until": until},
    )


async def reset_watermarks(
    session: AsyncSession, *, run_id: uuid.UUID, as_of: datetime, account_id: uuid.UUID | None
) -> None:
    """A run over whole accounts (one, or all) starts: the watermarks that do not cover its
    ``as_of`` restart at ``[as_of, infinity)``, to be trusted once this run is complete (its
    chunks evaluate every row of those accounts and narrow the interval)."""
    await session.execute(
        text(
            f"""
            INSERT INTO analytics_clock AS c (account_id, valid_from, valid_until, basis_run)
            SELECT a.id, CAST(:as_of AS timestamptz), 'infinity', :run_id
            FROM accounts a
            WHERE {"a.id = :account_id" if account_id is not None else "true"}
            ORDER BY a.id
            ON CONFLICT (account_id) DO UPDATE SET
              valid_from = EXCLUDED.valid_from,
              valid_until = EXCLUDED.valid_until,
              basis_run = EXCLUDED.basis_run
            WHERE NOT coalesce((
              SELECT {_COVERED} FROM analytics_runs r WHERE r.id = c.basis_run
            ), false)
            """
        ),
        {"as_of": as_of, "run_id": run_id, "account_id": account_id},
    )


async def mark_clicks_after(
    session: AsyncSession,
    *,
    as_of: datetime,
    account_id: uuid.UUID | None = None,
    application_id: uuid.UUID | None = None,
) -> int:
    """Mark the applications (in scope) with human clicks after ``as_of``; returns the marks.

    A run leaves those clicks out. Their marks were cleared by an earlier run with a later
    ``as_of`` (or never written, for rows loaded before migration 0008), so without a new mark
    a later incremental run would count the row as clean. Called when a run is created; with
    ``as_of`` = now it finds nothing, through ``idx_link_clicks_clicked_at``.
    """
    where = ["lc.clicked_at > CAST(:as_of AS timestamptz)", "NOT lc.is_bot"]
    values: dict[str, Any] = {"as_of": as_of}
    if account_id is not None:
        where.append("lt.account_id = :account_id")
        values["account_id"] = account_id
    if application_id is not None:
        where.append("lt.application_id = :application_id")
        values["application_id"] = application_id
    result = await session.execute(
        text(
            f"""
            INSERT INTO analytics_dirty (application_id, clicks_until)
            SELECT lt.application_id, max(lc.clicked_at)
            FROM link_clicks lc JOIN link_tracking lt ON lt.tracking_id = lc.tracking_id
            WHERE {" AND ".join(where)} AND lt.application_id IS NOT NULL
            GROUP BY lt.application_id
            """
        ),
        values,
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def dirty_count(session: AsyncSession, *, account_id: uuid.UUID | None = None) -> int:
    """Applications with a dirty mark (of one account)."""
    sql = "SELECT count(DISTINCT d.application_id) FROM analytics_dirty d"
    if account_id is not None:
        sql += " JOIN job_applications ja ON ja.id = d.application_id WHERE ja.account_id = :a"
    return int((await session.execute(text(sql), {"a": account_id})).scalar_one())


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
    # The first and last id of every chunk (PostgreSQL 15 has no min(uuid)), in one streaming
    # pass over the primary key: lead() looks one row ahead for the last id, where a count(*)
    # OVER () would hold every id until the end (twice the time of a no-op incremental run's
    # planning).
    rows = (
        await session.execute(
            text(
                f"""
                SELECT rn, id FROM (
                  SELECT id, row_number() OVER w - 1 AS rn, lead(id) OVER w IS NULL AS last
                  FROM job_applications
                  WHERE {" AND ".join(where)}
                  WINDOW w AS (ORDER BY id)
                ) numbered
                WHERE rn % :size = 0 OR rn % :size = :size - 1 OR last
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
