"""Application, Job and StatusChange types, built from db rows; nested fields use loaders."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.applications import ApplicationRow, JobRow, StatusChangeRow
from graph.context import Context
from graph.types.common import ApplicationStatus
from graph.types.engagement import EngagementMetrics
from graph.types.link import ClickConnection, Contact, TrackedLink, resolve_clicks

if TYPE_CHECKING:
    from graph.types.prediction import Prediction


@strawberry.type
class Job:
    row: strawberry.Private[JobRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def company(self) -> str | None:
        return self.row.company

    @strawberry.field
    def url(self) -> str | None:
        return self.row.url

    @strawberry.field
    def location(self) -> str | None:
        return self.row.location

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type
class StatusChange:
    row: strawberry.Private[StatusChangeRow]

    @strawberry.field
    def status(self) -> ApplicationStatus:
        return ApplicationStatus(self.row.status)

    @strawberry.field
    def changed_at(self) -> datetime:
        return self.row.changed_at


@strawberry.type
class Application:
    row: strawberry.Private[ApplicationRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def status(self) -> ApplicationStatus:
        return ApplicationStatus(self.row.status)

    @strawberry.field(description="When the application was sent (the application date).")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field
    def first_click_timestamp(self) -> datetime | None:
        return self.row.first_click_timestamp

    @strawberry.field
    def last_click_timestamp(self) -> datetime | None:
        return self.row.last_click_timestamp

    @strawberry.field
    def total_clicks(self) -> int:
        return self.row.total_clicks

    @strawberry.field
    def unique_click_sessions(self) -> int:
        return self.row.unique_click_sessions

    @strawberry.field
    def most_clicked_link_function(self) -> str | None:
        return self.row.most_clicked_link_function

    @strawberry.field
    def engagement_score(self) -> int:
        return self.row.engagement_score

    @strawberry.field
    def is_high_priority(self) -> bool:
        return self.row.is_high_priority

    @strawberry.field
    async def job(self, info: strawberry.Info[Context, None]) -> Job | None:
        if self.row.job_id is None:
            return None
        row = await info.context.loaders.job_by_id.load(self.row.job_id)
        return None if row is None else Job(row=row)

    @strawberry.field
    async def status_history(self, info: strawberry.Info[Context, None]) -> list[StatusChange]:
        rows = await info.context.loaders.status_history_by_application.load(self.row.id)
        return [StatusChange(row=r) for r in rows or []]

    @strawberry.field(
        description="Behavioural metrics from the last analytics run; null until calculated."
    )
    async def engagement(self, info: strawberry.Info[Context, None]) -> EngagementMetrics | None:
        row = await info.context.loaders.engagement_by_application.load(self.row.id)
        return None if row is None else EngagementMetrics(row=row)

    @strawberry.field(description="The application's tracked links, inactive ones too.")
    async def links(self, info: strawberry.Info[Context, None]) -> list[TrackedLink]:
        rows = await info.context.loaders.links_by_application.load(self.row.id)
        return [TrackedLink(row=r) for r in rows or []]

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
        return [Contact(row=r) for r in rows or []]

    @strawberry.field(description="Live prediction from the clicks so far (SPEC §6).")
    async def prediction(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[Prediction, strawberry.lazy("graph.types.prediction")]:
        from graph.types.prediction import prediction_for

        return await prediction_for(info.context, self.row)


ApplicationRef = Annotated["Application", strawberry.lazy("graph.types.application")]
