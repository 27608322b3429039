"""SQL for jobs, applications and their status history. Every read is scoped to an account."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.tables import application_status_history, job_applications, jobs


@dataclass(frozen=True, slots=True)
class JobRow:
    id: uuid.UUID
    account_id: uuid.UUID
    title: str
    company: str | None
    url: str | None
    location: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApplicationRow:
    id: uuid.UUID
    account_id: uuid.UUID
    job_id: uuid.UUID | None
    status: str
    created_at: datetime
    updated_at: datetime
    first_click_timestamp: datetime | None
    last_click_timestamp: datetime | None
    total_clicks: int
    unique_click_sessions: int
    most_clicked_link_function: str | None
    engagement_score: int
    is_high_priority: bool


@dataclass(frozen=True, slots=True)
class StatusChangeRow:
    id: int
    application_id: uuid.UUID
    status: str
    changed_at: datetime


def job_row(row: Any) -> JobRow:
    return JobRow(
        id=row.id,
        account_id=row.account_id,
        title=row.title,
        company=row.company,
        url=row.url,
        location=row.location,
        created_at=row.created_at,
    )


def application_row(row: Any) -> ApplicationRow:
    return ApplicationRow(**{name: getattr(row, name) for name in ApplicationRow.__slots__})


@dataclass(frozen=True, slots=True)
class ApplicationFilter:
    status: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    min_engagement_score: int | None = None
    high_priority: bool | None = None


def filter_clauses(
    account_id: uuid.UUID, flt: ApplicationFilter | None
) -> list[ColumnElement[bool]]:
    ja = job_applications.c
    clauses: list[ColumnElement[bool]] = [ja.account_id == account_id]
    if flt is None:
        return clauses
    if flt.status is not None:
        clauses.append(ja.status == flt.status)
    if flt.start_date is not None:
        clauses.append(ja.created_at >= flt.start_date)
    if flt.end_date is not None:
        clauses.append(ja.created_at <= flt.end_date)
    if flt.min_engagement_score is not None:
        clauses.append(ja.engagement_score >= flt.min_engagement_score)
    if flt.high_priority is not None:
        clauses.append(ja.is_high_priority == flt.high_priority)
    return clauses


# Sort keys: (column, descending). Every order ends with the id, so keysets are total.
ORDERS: dict[str, Any] = {
    "APPLIED_AT_DESC": (job_applications.c.created_at, True),
    "APPLIED_AT_ASC": (job_applications.c.created_at, False),
    "ENGAGEMENT_SCORE_DESC": (job_applications.c.engagement_score, True),
    "LAST_CLICK_DESC": (job_applications.c.last_click_timestamp, True),
}


async def list_applications(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    first: int,
    after: tuple[Any, uuid.UUID] | None = None,
    flt: ApplicationFilter | None = None,
    order: str = "APPLIED_AT_DESC",
) -> list[ApplicationRow]:
    """One page (first + 1 rows, so the caller knows whether there is a next page)."""
    column, desc = ORDERS[order]
    ja = job_applications.c
    clauses = filter_clauses(account_id, flt)
    if after is not None:
        value, last_id = after
        if value is None:
            # NULLs sort last in a descending order: only NULL rows with a smaller id follow.
            clauses.append(and_(column.is_(None), ja.id < last_id))
        elif desc:
            clauses.append(
                or_(column < value, and_(column == value, ja.id < last_id), column.is_(None))
            )
        else:
            clauses.append(or_(column > value, and_(column == value, ja.id > last_id)))
    order_by = [column.desc().nulls_last(), ja.id.desc()] if desc else [column.asc(), ja.id.asc()]
    rows = (
        await session.execute(
            select(job_applications).where(*clauses).order_by(*order_by).limit(first + 1)
        )
    ).all()
    return [application_row(r) for r in rows]


async def count_applications(
    session: AsyncSession, *, account_id: uuid.UUID, flt: ApplicationFilter | None = None
) -> int:
    stmt = (
        select(func.count()).select_from(job_applications).where(*filter_clauses(account_id, flt))
    )
    return int((await session.execute(stmt)).scalar_one())


async def applications_by_ids(
    session: AsyncSession, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, ApplicationRow]:
    rows = (
        await session.execute(
            select(job_applications).where(
                job_applications.c.account_id == account_id, job_applications.c.id.in_(ids)
            )
        )
    ).all()
    return {r.id: application_row(r) for r in rows}


async def jobs_by_ids(
    session: AsyncSession, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, JobRow]:
    rows = (
        await session.execute(
            select(jobs).where(jobs.c.account_id == account_id, jobs.c.id.in_(ids))
        )
    ).all()
    return {r.id: job_row(r) for r in rows}


async def status_history_by_application(
    session: AsyncSession, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[StatusChangeRow]]:
    h = application_status_history.c
    rows = (
        await session.execute(
            select(application_status_history)
            .join(job_applications, job_applications.c.id == h.application_id)
            .where(job_applications.c.account_id == account_id, h.application_id.in_(ids))
            .order_by(h.application_id, h.changed_at, h.id)
        )
    ).all()
    out: dict[uuid.UUID, list[StatusChangeRow]] = defaultdict(list)
    for r in rows:
        out[r.application_id].append(
            StatusChangeRow(
                id=r.id, application_id=r.application_id, status=r.status, changed_at=r.changed_at
            )
        )
    return out
