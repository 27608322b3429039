"""Root fields over applications and jobs."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types.nodes import SelectedField

from db import applications as app_db
from db.applications import ApplicationFilter as DbFilter
from graph.context import Context
from graph.errors import BadUserInput
from graph.relay import Connection, build_connection, check_first, decode_cursor, encode_cursor
from graph.types.application import Application, Job
from graph.types.common import ApplicationStatus, require_uuid
from graph.types.engagement import EngagementMetrics
from graph.types.link import TrackedLink


@strawberry.input(description="The seed 000 filters: application date range and status.")
class AnalyticsFilter:
    start_date: datetime | None = None
    end_date: datetime | None = None
    status: ApplicationStatus | None = None


@strawberry.input
class ApplicationFilter:
    status: ApplicationStatus | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    min_engagement_score: int | None = None
    high_priority: bool | None = None


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


async def preload_engagement(ctx: Context, nodes: list[Application]) -> None:
    rows = await ctx.loaders.engagement_by_application.load_many([n.row.id for n in nodes])
    for node, row in zip(nodes, rows, strict=True):
        node.preloaded_engagement = None if row is None else EngagementMetrics(row=row)
        node.engagement_preloaded = True


async def preload_links(ctx: Context, nodes: list[Application]) -> None:
    found = await ctx.loaders.links_by_application.load_many([n.row.id for n in nodes])
    for node, rows in zip(nodes, found, strict=True):
        node.preloaded_links = [TrackedLink(row=r) for r in rows or []]


async def preload_page(info: strawberry.Info[Context, None], nodes: list[Application]) -> None:
    """Nested fields of a page that the query selects, loaded for the whole page at once.

    Each loader batches anyway (one statement per field either way); loaded here, every
    application answers the field synchronously instead of through an async resolver per
    row, which the executor schedules one by one (~15% of a page of 100 with `job`).
    """
    if not nodes:
        return
    wanted = [
        load(info.context, nodes)
        for field, load in (("engagement", preload_engagement), ("links", preload_links))
        if selects(info, "edges", "node", field)
    ]
    await asyncio.gather(*wanted)


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
        # The page, its total and (when asked) the jobs are one statement, hence one snapshot.
        with_job = selects(info, "edges", "node", "job")
        rows, total = await app_db.list_applications(
            ctx.reader,
            account_id=viewer.account_id,
            first=first,
            after=keyset,
            flt=db_filter,
            order=order,
            with_total=True,
            with_job=with_job,
        )
        if total is None:  # an empty page carries no count
            total = await app_db.count_applications(
                ctx.reader, account_id=viewer.account_id, flt=db_filter
            )
        ctx.loaders.application_by_id.remember({r.row.id: r.row for r in rows})
        nodes = [Application(row=r.row, loaders=ctx.loaders) for r in rows]
        if with_job:
            # Each application answers `job` synchronously (an async resolver per row cost
            # ~15% of a page of 100); applications of one job share its object.
            jobs: dict[Any, Job] = {}
            for node, r in zip(nodes, rows, strict=True):
                if r.job is None:
                    node.job = None
                else:
                    node.job = jobs.get(r.job.id) or jobs.setdefault(r.job.id, Job(row=r.job))
            ctx.loaders.job_by_id.remember({job_id: j.row for job_id, j in jobs.items()})
        await preload_page(info, nodes)
        return build_connection(
            nodes,
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
        with_job, with_engagement = selects(info, "job"), selects(info, "engagement")
        if not (with_job or with_engagement):
            row = await ctx.loaders.application_by_id.load(app_id)
            return None if row is None else Application(row=row, loaders=ctx.loaders)
        # The job and the metrics the query asks for, read with the application.
        bundle = await ctx.loaders.application_bundle_by_id.load(
            (app_id, with_job, with_engagement)
        )
        if bundle is None:
            return None
        node = Application(row=bundle.row, loaders=ctx.loaders)
        ctx.loaders.application_by_id.remember({app_id: bundle.row})
        if with_job:
            node.job = None if bundle.job is None else Job(row=bundle.job)
            if bundle.job is not None:
                ctx.loaders.job_by_id.remember({bundle.job.id: bundle.job})
        if with_engagement:
            engagement = bundle.engagement
            node.preloaded_engagement = (
                None if engagement is None else EngagementMetrics(row=engagement)
            )
            node.engagement_preloaded = True
        return node

    @strawberry.field
    async def job(self, info: strawberry.Info[Context, None], id: strawberry.ID) -> Job | None:
        info.context.require("read")
        row = await info.context.loaders.job_by_id.load(require_uuid(id, field="id"))
        return None if row is None else Job(row=row)
