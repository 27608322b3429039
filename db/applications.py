"""SQL for jobs, applications and their status history. Every read is scoped to an account."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    RowMapping,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.engagement import ENGAGEMENT_COLUMNS, EngagementRow, engagement_row
from db.engine import Db
from db.params import any_of, param
from db.tables import (
    analytics_run_chunks,
    analytics_runs,
    application_contacts,
    application_status_history,
    engagement_tracking,
    follow_ups,
    job_applications,
    jobs,
    link_click_analytics,
    link_clicks,
    link_tracking,
    webhook_deliveries,
)


# Not frozen, as every row type read in bulk: a frozen dataclass's __init__ sets each field
# through object.__setattr__, ~7x slower (13 fields: 1.0 vs 0.14 µs), and a page of 100
# applications builds hundreds of rows. Rows are still never changed after they are read.
@dataclass(slots=True)
class JobRow:
    id: uuid.UUID
    account_id: uuid.UUID
    title: str
    company: str | None
    url: str | None
    location: str | None
    created_at: datetime


@dataclass(slots=True)
class ApplicationRow:
    """An application as every read returns it: its own columns and its job (read by the same
    statement, so a page of applications with their jobs is one statement and the `job`
    field needs no loader)."""

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
    job: JobRow | None  # None: no job, or (never written so) a job of another account


@dataclass(slots=True)
class StatusChangeRow:
    id: int
    application_id: uuid.UUID
    status: str
    changed_at: datetime


JOB_COLUMNS = tuple(jobs.c[name] for name in JobRow.__slots__)
# The job's columns beside an application's, named job__<column>.
_JOB_PREFIX = "job__"
_JOB_LABELLED = tuple(c.label(_JOB_PREFIX + c.name) for c in JOB_COLUMNS)
# The metrics' columns beside an application's, named engagement__<column>.
_ENGAGEMENT_PREFIX = "engagement__"
_ENGAGEMENT_LABELLED = tuple(c.label(_ENGAGEMENT_PREFIX + c.name) for c in ENGAGEMENT_COLUMNS)


def job_row(r: RowMapping, prefix: str = "") -> JobRow:
    """A JobRow from a row with the job's columns, each named `prefix` + its name."""
    return JobRow(
        id=r[prefix + "id"],
        account_id=r[prefix + "account_id"],
        title=r[prefix + "title"],
        company=r[prefix + "company"],
        url=r[prefix + "url"],
        location=r[prefix + "location"],
        created_at=r[prefix + "created_at"],
    )


APPLICATION_COLUMNS = tuple(
    job_applications.c[name] for name in ApplicationRow.__slots__ if name != "job"
)
# What every read of applications selects from, and its columns: the application's, then its
# job's (of the same account only), named job__<column>.
APPLICATIONS_WITH_JOBS = job_applications.outerjoin(
    jobs,
    and_(
        jobs.c.id == job_applications.c.job_id, jobs.c.account_id == job_applications.c.account_id
    ),
)
APPLICATION_WITH_JOB_COLUMNS = (*APPLICATION_COLUMNS, *_JOB_LABELLED)


def application_row(r: RowMapping) -> ApplicationRow:
    """An ApplicationRow from a row with APPLICATION_WITH_JOB_COLUMNS (and maybe more)."""
    return ApplicationRow(
        id=r["id"],
        account_id=r["account_id"],
        job_id=r["job_id"],
        status=r["status"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        first_click_timestamp=r["first_click_timestamp"],
        last_click_timestamp=r["last_click_timestamp"],
        total_clicks=r["total_clicks"],
        unique_click_sessions=r["unique_click_sessions"],
        most_clicked_link_function=r["most_clicked_link_function"],
        engagement_score=r["engagement_score"],
        is_high_priority=r["is_high_priority"],
        job=None if r[_JOB_PREFIX + "id"] is None else job_row(r, _JOB_PREFIX),
    )


@dataclass(frozen=True, slots=True)
class ApplicationFilter:
    status: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    min_engagement_score: int | None = None
    high_priority: bool | None = None


# The filter's fields, in the order their clauses are written: (name, column, operator).
_FILTERS: tuple[tuple[str, Any, str], ...] = (
    ("status", job_applications.c.status, "=="),
    ("start_date", job_applications.c.created_at, ">="),
    ("end_date", job_applications.c.created_at, "<="),
    ("min_engagement_score", job_applications.c.engagement_score, ">="),
    ("high_priority", job_applications.c.is_high_priority, "=="),
)


def _filter_values(account_id: uuid.UUID, flt: ApplicationFilter | None) -> dict[str, Any]:
    """The bound values of the filter: account_id and every field that is set."""
    values: dict[str, Any] = {"account_id": account_id}
    if flt is not None:
        for name, _column, _op in _FILTERS:
            value = getattr(flt, name)
            if value is not None:
                values[name] = value
    return values


def _filter_clauses(names: frozenset[str]) -> list[ColumnElement[bool]]:
    """The clauses for the account and the filter fields in `names`, as bound parameters."""
    ja = job_applications.c
    clauses: list[ColumnElement[bool]] = [ja.account_id == param("account_id", ja.account_id)]
    for name, column, op in _FILTERS:
        if name in names:
            bound = param(name, column)
            if op == "==":
                clauses.append(column == bound)
            elif op == ">=":
                clauses.append(column >= bound)
            else:
                clauses.append(column <= bound)
    return clauses


# Sort keys: (expression, descending, nullable). Every order ends with the id, in the
# opposite direction to the key, so that one index (account_id, key DESC, id) serves both
# directions of a key (forward and backward scans) and keysets are total.
_INTENT_SCORE = func.coalesce(link_click_analytics.c.intent_score, 0)
ORDERS: dict[str, tuple[Any, bool, bool]] = {
    "APPLIED_AT_DESC": (job_applications.c.created_at, True, False),
    "APPLIED_AT_ASC": (job_applications.c.created_at, False, False),
    "ENGAGEMENT_SCORE_DESC": (job_applications.c.engagement_score, True, False),
    "LAST_CLICK_DESC": (job_applications.c.last_click_timestamp, True, True),
    # The batch's intent score (link_click_analytics); applications not yet scored count as 0.
    "INTENT_SCORE_DESC": (_INTENT_SCORE, True, False),
}


@dataclass(slots=True)
class PageRow:
    row: ApplicationRow
    sort_value: Any  # the value of the order's key, for the cursor


_NOT_FILTERS = frozenset({"account_id", "limit", "after_id", "after_value"})


@functools.cache
def _page_statement(
    order: str, filters: frozenset[str], after_kind: str | None, with_total: bool
) -> Any:
    """The page statement for one shape, built once (db/params.py). Values: account_id, the
    filter fields in `filters`, limit, and after_id / after_value as `after_kind` needs.
    Columns: the application's and its job's, the sort value, then the total, if asked."""
    key, desc, nullable = ORDERS[order]
    ja = job_applications.c
    clauses = _filter_clauses(filters)
    extra: list[Any] = []
    if with_total:
        total = select(func.count()).select_from(job_applications).where(*clauses)
        extra.append(total.scalar_subquery().label("total_count"))
    if after_kind is not None:
        last_id = param("after_id", ja.id)
        if after_kind == "null":
            # NULLs sort last in a descending order: only NULL rows with a larger id follow.
            clauses.append(and_(key.is_(None), ja.id > last_id))
        else:
            value = bindparam("after_value", type_=key.type)
            if desc:
                later = [key < value, and_(key == value, ja.id > last_id)]
                if nullable:
                    later.append(key.is_(None))
                else:
                    clauses.append(key <= value)  # an index bound; the OR below is a filter
                clauses.append(or_(*later))
            else:
                clauses.append(key >= value)
                clauses.append(or_(key > value, and_(key == value, ja.id < last_id)))
    if desc:
        order_by = [key.desc().nulls_last() if nullable else key.desc(), ja.id.asc()]
    else:
        order_by = [key.asc(), ja.id.desc()]
    source: Any = APPLICATIONS_WITH_JOBS
    if order == "INTENT_SCORE_DESC":
        source = source.outerjoin(
            link_click_analytics, link_click_analytics.c.application_id == ja.id
        )
    return (
        select(*APPLICATION_WITH_JOB_COLUMNS, key.label("sort_value"), *extra)
        .select_from(source)
        .where(*clauses)
        .order_by(*order_by)
        .limit(bindparam("limit", type_=Integer()))
    )


async def list_applications(
    db: Db,
    *,
    account_id: uuid.UUID,
    first: int,
    after: tuple[Any, uuid.UUID] | None = None,
    flt: ApplicationFilter | None = None,
    order: str = "APPLIED_AT_DESC",
    with_total: bool = False,
) -> tuple[list[PageRow], int | None]:
    """One page (first + 1 rows, so the caller knows whether there is a next page).

    With ``with_total``, also the number of applications matching the filter (ignoring
    ``after``), counted by the same statement; None when the page is empty (count then).
    """
    values = _filter_values(account_id, flt)
    values["limit"] = first + 1
    after_kind: str | None = None
    if after is not None:
        value, values["after_id"] = after
        if value is None:
            after_kind = "null"
        else:
            after_kind = "value"
            values["after_value"] = value
    filters = frozenset(values) - _NOT_FILTERS
    statement = _page_statement(order, filters, after_kind, with_total)
    found = (await db.execute(statement, values)).mappings().all()
    page = [PageRow(row=application_row(r), sort_value=r["sort_value"]) for r in found]
    return page, (int(found[0]["total_count"]) if with_total and found else None)


@functools.cache
def _count_statement(filters: frozenset[str]) -> Any:
    return select(func.count()).select_from(job_applications).where(*_filter_clauses(filters))


async def count_applications(
    db: Db, *, account_id: uuid.UUID, flt: ApplicationFilter | None = None
) -> int:
    values = _filter_values(account_id, flt)
    statement = _count_statement(frozenset(values) - _NOT_FILTERS)
    return int((await db.execute(statement, values)).scalar_one())


# Loader statements, built once (db/params.py): :account_id and the :ids array.
_APPLICATIONS_BY_IDS = (
    select(*APPLICATION_WITH_JOB_COLUMNS)
    .select_from(APPLICATIONS_WITH_JOBS)
    .where(
        job_applications.c.account_id == param("account_id", job_applications.c.account_id),
        any_of(job_applications.c.id),
    )
)
_JOBS_BY_IDS = select(*JOB_COLUMNS).where(
    jobs.c.account_id == param("account_id", jobs.c.account_id), any_of(jobs.c.id)
)
_HISTORY_BY_APPLICATION = (
    select(*(application_status_history.c[name] for name in StatusChangeRow.__slots__))
    .join(
        job_applications,
        job_applications.c.id == application_status_history.c.application_id,
    )
    .where(
        job_applications.c.account_id == param("account_id", job_applications.c.account_id),
        any_of(application_status_history.c.application_id),
    )
    .order_by(
        application_status_history.c.application_id,
        application_status_history.c.changed_at,
        application_status_history.c.id,
    )
)


@dataclass(slots=True)
class ApplicationWithMetrics:
    """An application (with its job) and its metrics row, read by one statement."""

    row: ApplicationRow
    engagement: EngagementRow | None  # None: not calculated yet


_APPLICATIONS_WITH_METRICS = (
    select(*APPLICATION_WITH_JOB_COLUMNS, *_ENGAGEMENT_LABELLED)
    .select_from(
        APPLICATIONS_WITH_JOBS.outerjoin(
            link_click_analytics,
            link_click_analytics.c.application_id == job_applications.c.id,
        )
    )
    .where(
        job_applications.c.account_id == param("account_id", job_applications.c.account_id),
        any_of(job_applications.c.id),
    )
)


async def applications_with_metrics(
    db: Db, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, ApplicationWithMetrics]:
    """These applications of the account with their jobs and metrics: one statement, where
    the application and engagement loaders would take two."""
    values = {"account_id": account_id, "ids": ids}
    out: dict[uuid.UUID, ApplicationWithMetrics] = {}
    for r in (await db.execute(_APPLICATIONS_WITH_METRICS, values)).mappings():
        metrics = (
            None
            if r[_ENGAGEMENT_PREFIX + "application_id"] is None
            else engagement_row(r, _ENGAGEMENT_PREFIX)
        )
        out[r["id"]] = ApplicationWithMetrics(application_row(r), metrics)
    return out


async def applications_by_ids(
    db: Db, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, ApplicationRow]:
    result = await db.execute(_APPLICATIONS_BY_IDS, {"account_id": account_id, "ids": ids})
    return {r["id"]: application_row(r) for r in result.mappings()}


async def jobs_by_ids(
    db: Db, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, JobRow]:
    result = await db.execute(_JOBS_BY_IDS, {"account_id": account_id, "ids": ids})
    return {r["id"]: job_row(r) for r in result.mappings()}


async def status_history_by_application(
    db: Db, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[StatusChangeRow]]:
    result = await db.execute(_HISTORY_BY_APPLICATION, {"account_id": account_id, "ids": ids})
    out: dict[uuid.UUID, list[StatusChangeRow]] = defaultdict(list)
    for r in result.mappings():
        change = StatusChangeRow(**r)
        out[change.application_id].append(change)
    return out


# --- writes (callers run `mark_app_writer` first: the history is written here) -----------


async def _written_with_job(session: AsyncSession, written: Any) -> ApplicationRow | None:
    """The application an INSERT or UPDATE wrote, with its job: the statement as a CTE,
    returning the application's columns, joined to jobs, so it is still one round trip."""
    done = written.returning(*job_applications.c).cte("written")
    statement = select(*(done.c[c.name] for c in APPLICATION_COLUMNS), *_JOB_LABELLED).select_from(
        done.outerjoin(
            jobs, and_(jobs.c.id == done.c.job_id, jobs.c.account_id == done.c.account_id)
        )
    )
    row = (await session.execute(statement)).mappings().one_or_none()
    return None if row is None else application_row(row)


async def create_application(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    job_id: uuid.UUID | None,
    status: str,
    applied_at: datetime | None,
) -> ApplicationRow:
    """A new application and its first history row (changed_at = the application date)."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "job_id": job_id,
        "status": status,
    }
    if applied_at is not None:
        values["created_at"] = applied_at
    row = await _written_with_job(session, insert(job_applications).values(**values))
    assert row is not None  # an INSERT ... VALUES writes its row or raises
    await session.execute(
        insert(application_status_history).values(
            application_id=row.id, status=status, changed_at=row.created_at
        )
    )
    return row


async def update_application_status(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    application_id: uuid.UUID,
    status: str,
    changed_at: datetime | None,
) -> ApplicationRow | None:
    """Set the status and write the history row; None when the id is not the account's."""
    ja = job_applications.c
    row = await _written_with_job(
        session,
        update(job_applications)
        .where(ja.id == application_id, ja.account_id == account_id)
        .values(status=status, updated_at=func.now()),
    )
    if row is None:
        return None
    await session.execute(
        insert(application_status_history).values(
            application_id=application_id,
            status=status,
            changed_at=changed_at if changed_at is not None else func.now(),
        )
    )
    return row


@dataclass(frozen=True, slots=True)
class DeletedCounts:
    applications: int
    status_changes: int
    links: int
    clicks: int
    contacts: int
    email_events: int
    metrics: int
    follow_ups: int
    webhook_deliveries: int
    analytics_runs: int


async def delete_application(
    session: AsyncSession, *, account_id: uuid.UUID, application_id: uuid.UUID
) -> DeletedCounts | None:
    """GDPR erasure: the application and every row about it, in the caller's transaction.

    Deletes explicitly (not through ON DELETE CASCADE) so the counts are exact. None when the
    id is not the account's. The row lock keeps a concurrent status change out.
    """
    ja = job_applications.c
    found = (
        await session.execute(
            select(ja.id)
            .where(ja.id == application_id, ja.account_id == account_id)
            .with_for_update()
        )
    ).one_or_none()
    if found is None:
        return None

    async def run(stmt: Any) -> int:
        return int((await session.execute(stmt)).rowcount or 0)  # type: ignore[attr-defined]

    links_of_app = select(link_tracking.c.tracking_id).where(
        link_tracking.c.application_id == application_id
    )
    contacts_of_app = select(application_contacts.c.id).where(
        application_contacts.c.application_id == application_id
    )
    follow_ups_of_app = select(follow_ups.c.id).where(follow_ups.c.application_id == application_id)
    runs_of_app = select(analytics_runs.c.id).where(
        analytics_runs.c.application_id == application_id
    )
    clicks = await run(delete(link_clicks).where(link_clicks.c.tracking_id.in_(links_of_app)))
    events = await run(
        delete(engagement_tracking).where(
            engagement_tracking.c.campaign_contact_id.in_(contacts_of_app)
        )
    )
    contacts = await run(
        delete(application_contacts).where(application_contacts.c.application_id == application_id)
    )
    links = await run(delete(link_tracking).where(link_tracking.c.application_id == application_id))
    metrics = await run(
        delete(link_click_analytics).where(link_click_analytics.c.application_id == application_id)
    )
    deliveries = await run(
        delete(webhook_deliveries).where(webhook_deliveries.c.follow_up_id.in_(follow_ups_of_app))
    )
    follow = await run(delete(follow_ups).where(follow_ups.c.application_id == application_id))
    await run(delete(analytics_run_chunks).where(analytics_run_chunks.c.run_id.in_(runs_of_app)))
    runs = await run(
        delete(analytics_runs).where(analytics_runs.c.application_id == application_id)
    )
    history = await run(
        delete(application_status_history).where(
            application_status_history.c.application_id == application_id
        )
    )
    apps = await run(delete(job_applications).where(ja.id == application_id))
    return DeletedCounts(
        applications=apps,
        status_changes=history,
        links=links,
        clicks=clicks,
        contacts=contacts,
        email_events=events,
        metrics=metrics,
        follow_ups=follow,
        webhook_deliveries=deliveries,
        analytics_runs=runs,
    )
