"""SQL for predictions: human clicks per application, past applications with their outcome and
clicks (calibration and backtest), and the high-priority list. Every read is account-scoped."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.applications import (
    APPLICATION_WITH_JOB_COLUMNS,
    APPLICATIONS_WITH_JOBS,
    ApplicationRow,
    application_row,
)
from db.engine import Db
from db.params import any_of, param
from db.tables import job_applications, link_clicks, link_tracking
from domain.engagement_facts import PastApplication
from domain.metrics import ClickEvent

# Built once (db/params.py): :account_id and the :ids array.
_HUMAN_CLICKS_BY_APPLICATION = (
    select(
        link_tracking.c.application_id,
        link_clicks.c.click_id,
        link_clicks.c.clicked_at,
        link_tracking.c.link_function,
        link_clicks.c.session_id,
    )
    .join(link_tracking, link_tracking.c.tracking_id == link_clicks.c.tracking_id)
    .where(
        link_tracking.c.account_id == param("account_id", link_tracking.c.account_id),
        any_of(link_tracking.c.application_id),
        link_clicks.c.is_bot.is_(False),
    )
    .order_by(link_tracking.c.application_id, link_clicks.c.clicked_at, link_clicks.c.click_id)
)


async def human_clicks_by_application(
    db: Db, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[ClickEvent]]:
    """Human clicks of each application, in click order: one statement for all of them."""
    values = {"account_id": account_id, "ids": ids}
    out: dict[uuid.UUID, list[ClickEvent]] = defaultdict(list)
    for r in await db.execute(_HUMAN_CLICKS_BY_APPLICATION, values):
        out[r.application_id].append(
            ClickEvent(
                click_id=str(r.click_id),
                clicked_at=r.clicked_at,
                link_function=r.link_function,
                session_id=r.session_id,
            )
        )
    return dict(out)


@dataclass(frozen=True, slots=True)
class PastApplications:
    """An account's applications old enough to have an outcome, with their early clicks."""

    timezone: str
    applications: list[PastApplication]


# One statement: the account's applications created before the cutoff, whether they reached an
# interview (SPEC §2 "reached": history holds interview or offer, or the current status is one)
# and when first, and their human clicks within the horizon after applying, aggregated per
# application (later clicks are never used, so they are not fetched).
_PAST_SQL = text(
    """
    WITH apps AS (
      SELECT ja.id, ja.created_at, ja.status
      FROM job_applications ja
      WHERE ja.account_id = :account_id AND ja.created_at <= :created_before
    ), firsts AS (
      SELECT h.application_id, min(h.changed_at) AS first_interview_at
      FROM application_status_history h JOIN apps ON apps.id = h.application_id
      WHERE h.status IN ('interview', 'offer')
      GROUP BY h.application_id
    ), clicks AS (
      SELECT lt.application_id,
             array_agg(lc.clicked_at ORDER BY lc.clicked_at, lc.click_id) AS clicked_at,
             array_agg(lt.link_function::text ORDER BY lc.clicked_at, lc.click_id) AS functions
      FROM apps
      JOIN link_tracking lt ON lt.application_id = apps.id AND lt.account_id = :account_id
      JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id
      WHERE NOT lc.is_bot
        AND lc.clicked_at <= apps.created_at + make_interval(days => :horizon_days)
      GROUP BY lt.application_id
    )
    SELECT a.id AS application_id, a.created_at,
           (a.status IN ('interview', 'offer') OR f.first_interview_at IS NOT NULL)
             AS reached_interview,
           f.first_interview_at, c.clicked_at, c.functions,
           (SELECT timezone FROM accounts WHERE id = :account_id) AS timezone
    FROM apps a
    LEFT JOIN firsts f ON f.application_id = a.id
    LEFT JOIN clicks c ON c.application_id = a.id
    ORDER BY a.created_at, a.id
    """
)


async def past_applications(
    db: Db,
    *,
    account_id: uuid.UUID,
    created_before: datetime,
    horizon_days: int,
) -> PastApplications:
    """Applications created at or before ``created_before``, oldest first, each with its human
    clicks of the first ``horizon_days`` days after applying (in click order).

    Scores are recomputed from these clicks (``domain.engagement_facts.to_history_point``) rather
    than read from ``job_applications.engagement_score``: the stored score is the batch's score
    as of its last run, i.e. of all clicks ever, including those after the interview was set up,
    and it is 0 until the batch has run. Recomputing on a fixed window is what a live prediction
    is compared with, and does not depend on when the batch last ran. Fine for thousands of
    applications per account; past that, the batch's ``asOf`` run is the way.
    """
    values = {
        "account_id": account_id,
        "created_before": created_before,
        "horizon_days": horizon_days,
    }
    found = (await db.execute(_PAST_SQL, values)).all()
    return PastApplications(
        timezone=found[0].timezone if found else "UTC",
        applications=[
            PastApplication(
                application_id=str(r.application_id),
                created_at=r.created_at,
                reached_interview=bool(r.reached_interview),
                first_interview_at=r.first_interview_at,
                # Ids only break ties in ordering, and the rows already come in click order.
                clicks=tuple(
                    ClickEvent(click_id=f"{i:06d}", clicked_at=at, link_function=function)
                    for i, (at, function) in enumerate(
                        zip(r.clicked_at or (), r.functions or (), strict=True)
                    )
                ),
            )
            for r in found
        ],
    )


async def high_priority_applications(
    session: AsyncSession, *, account_id: uuid.UUID, threshold: int, first: int
) -> list[ApplicationRow]:
    """Applications still at ``applied`` whose stored engagement score (kept by the batch) is
    above ``threshold``, highest first, then newest."""
    ja = job_applications.c
    rows = (
        await session.execute(
            select(*APPLICATION_WITH_JOB_COLUMNS)
            .select_from(APPLICATIONS_WITH_JOBS)
            .where(
                ja.account_id == account_id,
                ja.status == "applied",
                ja.engagement_score > threshold,
            )
            .order_by(ja.engagement_score.desc(), ja.created_at.desc(), ja.id.desc())
            .limit(first)
        )
    ).mappings()
    return [application_row(r) for r in rows]
