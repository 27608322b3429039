"""Reads of link_click_analytics (the batch's output), scoped to an account."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import RowMapping, select

from db.engine import Db
from db.params import any_of, param
from db.tables import job_applications, link_click_analytics


# Not frozen, as every row type read in bulk: a frozen dataclass's __init__ sets each field
# through object.__setattr__, ~7x slower (13 fields: 1.0 vs 0.14 µs), and a page of 100
# applications builds hundreds of rows. Rows are still never changed after they are read.
@dataclass(slots=True)
class EngagementRow:
    application_id: uuid.UUID
    total_click_events: int
    click_sequence: tuple[str, ...]
    unique_functions_clicked: int
    time_to_first_click: timedelta | None
    hours_to_first_click: Decimal | None
    time_between_first_last_click: timedelta | None
    hours_between_first_last_click: Decimal | None
    peak_click_hour: int | None
    click_days_of_week: tuple[int, ...]
    engagement_velocity: Decimal
    engagement_score: int
    intent_score: int
    calculated_at: datetime | None


# The columns of EngagementRow.
ENGAGEMENT_COLUMNS = tuple(link_click_analytics.c[name] for name in EngagementRow.__slots__)

# Built once (db/params.py): :account_id and the :ids array.
_ENGAGEMENT_BY_APPLICATION = (
    select(*ENGAGEMENT_COLUMNS)
    .join(job_applications, job_applications.c.id == link_click_analytics.c.application_id)
    .where(
        job_applications.c.account_id == param("account_id", job_applications.c.account_id),
        any_of(link_click_analytics.c.application_id),
    )
)


async def engagement_by_applications(
    db: Db, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, EngagementRow]:
    """The stored metrics of these applications (missing: not calculated yet, or foreign)."""
    result = await db.execute(_ENGAGEMENT_BY_APPLICATION, {"account_id": account_id, "ids": ids})
    out: dict[uuid.UUID, EngagementRow] = {}
    for r in result.mappings():
        row = engagement_row(r)
        out[row.application_id] = row
    return out


def engagement_row(r: RowMapping, prefix: str = "") -> EngagementRow:
    """An EngagementRow from a row of ENGAGEMENT_COLUMNS, each named `prefix` + its name (a
    metric never written reads as the batch writes it for no clicks)."""
    return EngagementRow(
        application_id=r[prefix + "application_id"],
        total_click_events=r[prefix + "total_click_events"] or 0,
        click_sequence=tuple(r[prefix + "click_sequence"] or ()),
        unique_functions_clicked=r[prefix + "unique_functions_clicked"] or 0,
        time_to_first_click=r[prefix + "time_to_first_click"],
        hours_to_first_click=r[prefix + "hours_to_first_click"],
        time_between_first_last_click=r[prefix + "time_between_first_last_click"],
        hours_between_first_last_click=r[prefix + "hours_between_first_last_click"],
        peak_click_hour=r[prefix + "peak_click_hour"],
        click_days_of_week=tuple(r[prefix + "click_days_of_week"] or ()),
        engagement_velocity=r[prefix + "engagement_velocity"] or Decimal(0),
        engagement_score=r[prefix + "engagement_score"] or 0,
        intent_score=r[prefix + "intent_score"] or 0,
        calculated_at=r[prefix + "calculated_at"],
    )
