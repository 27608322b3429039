"""Reads of link_click_analytics (the batch's output), scoped to an account."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from db.params import any_of, param
from db.reader import Source, rows
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


# The columns of EngagementRow in its order (rows are built by position).
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
    source: Source, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, EngagementRow]:
    """The stored metrics of these applications (missing: not calculated yet, or foreign)."""
    values = {"account_id": account_id, "ids": ids}
    out: dict[uuid.UUID, EngagementRow] = {}
    for r in await rows(source, _ENGAGEMENT_BY_APPLICATION, values):
        row = engagement_row(r)
        out[row.application_id] = row
    return out


def engagement_row(values: Sequence[Any]) -> EngagementRow:
    """An EngagementRow from the values of ENGAGEMENT_COLUMNS (a metric never written reads
    as the batch writes it for no clicks)."""
    (
        application_id,
        total_click_events,
        click_sequence,
        unique_functions_clicked,
        time_to_first_click,
        hours_to_first_click,
        time_between_first_last_click,
        hours_between_first_last_click,
        peak_click_hour,
        click_days_of_week,
        engagement_velocity,
        engagement_score,
        intent_score,
        calculated_at,
    ) = values
    return EngagementRow(
        application_id=application_id,
        total_click_events=total_click_events or 0,
        click_sequence=tuple(click_sequence or ()),
        unique_functions_clicked=unique_functions_clicked or 0,
        time_to_first_click=time_to_first_click,
        hours_to_first_click=hours_to_first_click,
        time_between_first_last_click=time_between_first_last_click,
        hours_between_first_last_click=hours_between_first_last_click,
        peak_click_hour=peak_click_hour,
        click_days_of_week=tuple(click_days_of_week or ()),
        engagement_velocity=engagement_velocity or Decimal(0),
        engagement_score=engagement_score or 0,
        intent_score=intent_score or 0,
        calculated_at=calculated_at,
    )
