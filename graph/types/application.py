"""Application, Job and StatusChange types, built from db rows.

What the row carries (an application's columns and its job, read by the same statement) are
plain fields; what needs another read (links, history, metrics, ...) are async resolvers that
call the request's loaders.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.applications import ApplicationRow, JobRow, StatusChangeRow
from db.email import empty_counts
from graph.context import Context
from graph.types.common import STATUS_BY_VALUE, ApplicationStatus
from graph.types.engagement import EngagementMetrics
from graph.types.link import ClickConnection, Contact, TrackedLink, resolve_clicks

if TYPE_CHECKING:
    from graph.types.email import EmailAnalytics
    from graph.types.prediction import Prediction


@strawberry.type
class Job:
    id: strawberry.ID
    title: str
    company: str | None
    url: str | None
    location: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: JobRow) -> Job:
        return cls(
            id=strawberry.ID(str(row.id)),
            title=row.title,
            company=row.company,
            url=row.url,
            location=row.location,
            created_at=row.created_at,
        )


@strawberry.type
class StatusChange:
    status: ApplicationStatus
    changed_at: datetime

    @classmethod
    def from_row(cls, row: StatusChangeRow) -> StatusChange:
        return cls(status=STATUS_BY_VALUE[row.status], changed_at=row.changed_at)


@strawberry.type
class Application:
    row: strawberry.Private[ApplicationRow]  # for the nested fields: its id
    id: strawberry.ID
    status: ApplicationStatus
    created_at: datetime = strawberry.field(
        description="When the application was sent (the application date)."
    )
    updated_at: datetime
    first_click_timestamp: datetime | None
    last_click_timestamp: datetime | None
    total_clicks: int
    unique_click_sessions: int
    most_clicked_link_function: str | None
    engagement_score: int
    is_high_priority: bool
    job: Job | None

    @classmethod
    def from_row(cls, row: ApplicationRow) -> Application:
        return cls(
            row=row,
            id=strawberry.ID(str(row.id)),
            status=STATUS_BY_VALUE[row.status],
            created_at=row.created_at,
            updated_at=row.updated_at,
            first_click_timestamp=row.first_click_timestamp,
            last_click_timestamp=row.last_click_timestamp,
            total_clicks=row.total_clicks,
            unique_click_sessions=row.unique_click_sessions,
            most_clicked_link_function=row.most_clicked_link_function,
            engagement_score=row.engagement_score,
            is_high_priority=row.is_high_priority,
            job=None if row.job is None else Job.from_row(row.job),
        )

    @strawberry.field
    async def status_history(self, info: strawberry.Info[Context, None]) -> list[StatusChange]:
        rows = await info.context.loaders.status_history_by_application.load(self.row.id)
        return [StatusChange.from_row(r) for r in rows or []]

    @strawberry.field(
        description="Behavioural metrics from the last analytics run; null until calculated."
    )
    async def engagement(self, info: strawberry.Info[Context, None]) -> EngagementMetrics | None:
        row = await info.context.loaders.engagement_by_application.load(self.row.id)
        return None if row is None else EngagementMetrics.from_row(row)

    @strawberry.field(description="The application's tracked links, inactive ones too.")
    async def links(self, info: strawberry.Info[Context, None]) -> list[TrackedLink]:
        rows = await info.context.loaders.links_by_application.load(self.row.id)
        return [TrackedLink.from_row(r) for r in rows or []]

    @strawberry.field(description="Clicks on the application's links, oldest first.")
    async def clicks(
        self,
        info: strawberry.Info[Context, None],
        first: int = 20,
        after: str | None = None,
        include_bots: bool = False,
    ) -> ClickConnection:
        return await resolve_clicks(
            info,
            kind="application",
            key=self.row.id,
            first=first,
            after=after,
            include_bots=include_bots,
        )

    @strawberry.field(description="Who received the application.")
    async def contacts(self, info: strawberry.Info[Context, None]) -> list[Contact]:
        rows = await info.context.loaders.contacts_by_application.load(self.row.id)
        return [Contact.from_row(r) for r in rows or []]

    @strawberry.field(
        description="Email engagement of the application's contacts (human events only)."
    )
    async def email_analytics(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[EmailAnalytics, strawberry.lazy("graph.types.email")]:
        from graph.types.email import EmailAnalytics

        counts = await info.context.loaders.email_counts_by_application.load(self.row.id)
        return EmailAnalytics.build(counts or empty_counts())

    @strawberry.field(description="Live prediction from the clicks so far (SPEC §6).")
    async def prediction(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[Prediction, strawberry.lazy("graph.types.prediction")]:
        from graph.types.prediction import prediction_for

        return await prediction_for(info.context, self.row)


ApplicationRef = Annotated["Application", strawberry.lazy("graph.types.application")]
