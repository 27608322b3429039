"""calculateAnalytics and analyticsJob: on-demand metric calculation through the arq workers."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import strawberry

from db import analytics_runs as runs_db
from db import applications as app_db
from graph.context import Context
from graph.errors import BadUserInput, NotFound, QueueUnavailable
from graph.types.analytics_job import AnalyticsJob
from graph.types.common import parse_id
from jobs.calculate import enqueue_chunks

log = logging.getLogger("linkinsights.graph.analytics_jobs")

ENQUEUE_TIMEOUT_SECONDS = 5


@strawberry.type
class AnalyticsJobQueries:
    @strawberry.field(description="A calculation started by calculateAnalytics (or nightly).")
    async def analytics_job(
        self, info: strawberry.Info[Context, None], id: strawberry.ID
    ) -> AnalyticsJob | None:
        ctx = info.context
        viewer = ctx.require("read")
        run_id = parse_id(id, field="id", what="analytics job")
        async with ctx.sessionmaker() as session:
            row = await runs_db.get_run(session, run_id=run_id, account_id=viewer.account_id)
        return None if row is None else AnalyticsJob.from_row(row)


@strawberry.type
class AnalyticsJobMutations:
    @strawberry.mutation(
        description="Recompute the behavioural metrics of one application, or without an id of "
        "every application of the account, as of `asOf` (default: now). Without an id or "
        "`asOf`, the applications whose clicks, links, status or timezone changed are "
        "recomputed and the others refreshed for the clock (the same result, faster); with "
        "`asOf` (a backfill) every application is recomputed. Runs on the workers; poll "
        "`analyticsJob(id)`."
    )
    async def calculate_analytics(
        self,
        info: strawberry.Info[Context, None],
        application_id: strawberry.ID | None = None,
        as_of: datetime | None = None,
    ) -> AnalyticsJob:
        ctx = info.context
        viewer = ctx.require("write")
        if as_of is not None and as_of.utcoffset() is None:
            raise BadUserInput("`asOf` needs a UTC offset, e.g. 2024-05-01T00:00:00Z", field="asOf")
        app_id = None
        if application_id is not None:
            app_id = parse_id(application_id, field="applicationId", what="application")
        async with ctx.sessionmaker() as session, session.begin():
            if app_id is not None:
                found = await app_db.applications_by_ids(
                    session, account_id=viewer.account_id, ids=[app_id]
                )
                if app_id not in found:
                    raise NotFound(
                        f"No application with id {application_id!r}", field="applicationId"
                    )
            run, chunks = await runs_db.create_run(
                session,
                kind="on_demand",
                chunk_size=ctx.settings.analytics_chunk_size,
                as_of=as_of,
                account_id=viewer.account_id,
                application_id=app_id,
                incremental=as_of is None,
            )
        # After the commit (workers must see the run). If Redis fails, the run is removed again:
        # chunk jobs that did get enqueued find no run and do nothing.
        try:
            async with asyncio.timeout(ENQUEUE_TIMEOUT_SECONDS):
                await enqueue_chunks(ctx.redis, ctx.settings, run.id, [c.chunk_no for c in chunks])
        except Exception as exc:
            log.warning("could not enqueue analytics run %s: %r", run.id, exc)
            async with ctx.sessionmaker() as session, session.begin():
                await runs_db.delete_run(session, run_id=run.id)
            raise QueueUnavailable("The job queue is unavailable; try again shortly.") from exc
        return AnalyticsJob.from_row(run)
