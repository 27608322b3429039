"""Root fields over applications and jobs."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types.nodes import SelectedField

from db import applications as app_db
from db.applications import ApplicationFilter as DbFilter
from domain.validation import ValidationError, validate_period
from graph.context import Context
from graph.errors import BadUserInput
from graph.relay import Connection, build_connection, check_first, decode_cursor, encode_cursor
from graph.types.application import Application, Job
from graph.types.common import ApplicationStatus, require_uuid


@strawberry.input(description="The seed 000 filters: application date range and status.")
class AnalyticsFilter:
    start_date: datetime | None = None
    end_date: datetime | None = None
    status: ApplicationStatus | None = None

    def __post_init__(self) -> None:
        check_period(self.start_date, self.end_date)


@strawberry.input
class ApplicationFilter:
    status: ApplicationStatus | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    min_engagement_score: int | None = None
    high_priority: bool | None = None

    def __post_init__(self) -> None:
        check_period(self.start_date, self.end_date)


def check_period(start: datetime | None, end: datetime | None) -> None:
    """Checked as the filter is built from its argument, before any resolver runs."""
    try:
        validate_period(start, end, start_field="filter.startDate", end_field="filter.endDate")
    except ValidationError as exc:
        raise BadUserInput(exc.message, field=exc.field) from None


@strawberry.enum
class ApplicationOrder(Enum):
    APPLIED_AT_DESC = "APPLIED_AT_DESC"
    APPLIED_AT_ASC = "APPLIED_AT_ASC"
    ENGAGEMENT_SCORE_DESC = "ENGAGEMENT_SCORE_DESC"
    LAST_CLICK_DESC = "LAST_CLICK_DESC"
    INTENT_SCORE_DESC = "INTENT_SCORE_DESC"


def to_db_filter(flt: ApplicationFilter | None) -> DbFilter | None:
    if flt is None:
        return None
    return DbFilter(
        status=flt.status.value if flt.status else None,
        start_date=flt.start_date,
        end_date=flt.end_date,
        min_engagement_score=flt.min_engagement_score,
        high_priority=flt.high_priority,
    )


_SCORE_ORDERS = ("ENGAGEMENT_SCORE_DESC", "INTENT_SCORE_DESC")


def _sort_value(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _parse_sort_value(value: object, order: str) -> object:
    if value is None:
        return None
    if order in _SCORE_ORDERS:
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadUserInput("`after` is not a cursor for this order", field="after")
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise BadUserInput("`after` is not a cursor for this order", field="after") from exc


def selects(info: strawberry.Info[Context, None], *path: str) -> bool:
    """Whether the query selects the field at `path` below this one (fragments included)."""

    def walk(selections: list[Any], rest: tuple[str, ...]) -> bool:
        for sel in selections:
            name = getattr(sel, "name", None)
            if isinstance(sel, SelectedField):
                if name == rest[0] and (len(rest) == 1 or walk(sel.selections, rest[1:])):
                    return True
            elif walk(sel.selections, rest):  # a fragment: look inside
                return True
        return False

    return any(walk(f.selections, path) for f in info.selected_fields)


def page_cursors(
    info: strawberry.Info[Context, None], rows: list[app_db.PageRow], first: int
) -> list[str]:
    """The page's cursors: every edge's if the query asks for edge cursors, else only the
    first and the last edge's (pageInfo's startCursor and endCursor); encoding 100 cursors
    that nobody reads cost ~8% of a page of 100."""

    def cursor(r: app_db.PageRow) -> str:
        return encode_cursor([_sort_value(r.sort_value), str(r.row.id)])

    if selects(info, "edges", "cursor"):
        return [cursor(r) for r in rows]
    shown = rows[:first]
    ends = {0, len(shown) - 1} if shown else set()
    return [cursor(r) if i in ends else "" for i, r in enumerate(rows)]


@strawberry.type
class ApplicationQueries:
    @strawberry.field(description="The caller's applications, newest first by default.")
    async def applications(
        self,
        info: strawberry.Info[Context, None],
        first: int = 20,
        after: str | None = None,
        filter: ApplicationFilter | None = None,
        order_by: ApplicationOrder = ApplicationOrder.APPLIED_AT_DESC,
    ) -> Connection[Application]:
        ctx = info.context
        viewer = ctx.require("read")
        check_first(first, maximum=ctx.settings.max_page_size)
        order = order_by.value if isinstance(order_by, ApplicationOrder) else str(order_by)
        keyset = None
        if after is not None:
            value, last_id = decode_cursor(after, length=2)
            keyset = (_parse_sort_value(value, order), require_uuid(str(last_id), field="after"))
        db_filter = to_db_filter(filter)
        # The page, its jobs and its total are one statement, hence one snapshot.
        async with ctx.engine.connect() as conn:
            rows, total = await app_db.list_applications(
                conn,
                account_id=viewer.account_id,
                first=first,
                after=keyset,
                flt=db_filter,
                order=order,
                with_total=True,
            )
            if total is None:  # an empty page carries no count
                total = await app_db.count_applications(
                    conn, account_id=viewer.account_id, flt=db_filter
                )
        # What the page read, handed to the loader: `links { application }` loads nothing more.
        for r in rows:
            ctx.loaders.application_by_id.prime(r.row.id, r.row)
        return build_connection(
            [Application.from_row(r.row) for r in rows],
            page_cursors(info, rows, first),
            first=first,
            total_count=total,
            has_previous=after is not None,
        )

    @strawberry.field
    async def application(
        self, info: strawberry.Info[Context, None], id: strawberry.ID
    ) -> Application | None:
        ctx = info.context
        ctx.require("read")
        app_id = require_uuid(id, field="id")
        loaders = ctx.loaders
        if not selects(info, "engagement"):
            row = await loaders.application_by_id.load(app_id)
            return None if row is None else Application.from_row(row)
        # The metrics the query asks for, read with the application and its job and handed
        # to their loader.
        found = await loaders.application_with_metrics_by_id.load(app_id)
        if found is None:
            return None
        loaders.application_by_id.prime(app_id, found.row)
        loaders.engagement_by_application.prime(app_id, found.engagement)
        return Application.from_row(found.row)

    @strawberry.field
    async def job(self, info: strawberry.Info[Context, None], id: strawberry.ID) -> Job | None:
        info.context.require("read")
        row = await info.context.loaders.job_by_id.load(require_uuid(id, field="id"))
        return None if row is None else Job.from_row(row)
