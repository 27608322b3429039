"""Application, Job and StatusChange types, built from db rows; nested fields use loaders."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Generator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry

from db.applications import ApplicationRow, JobRow, StatusChangeRow
from graph.context import Context
from graph.dataloaders import Loaders
from graph.types.common import STATUS_BY_VALUE, ApplicationStatus
from graph.types.engagement import EngagementMetrics
from graph.types.link import ClickConnection, Contact, TrackedLink, resolve_clicks

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

if TYPE_CHECKING:
    from graph.types.prediction import Prediction


class Deferred:
    """An awaitable that runs `load()` when, and only if, the executor awaits it.

    A plain attribute whose value is a Deferred resolves like an async resolver (graphql-core
    awaits awaitable values), while a value set in advance (a page's preloaded jobs) is read
    with a getattr and never goes through a resolver. Unlike a coroutine, a Deferred that is
    never awaited (the field was not asked for) starts nothing and leaves no warning.
    """

    __slots__ = ("_load",)

    def __init__(self, load: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self._load = load

    def __await__(self) -> Generator[Any, None, Any]:
        return self._load().__await__()


@strawberry.type
class Job:
    row: strawberry.Private[JobRow]
    # Plain attributes filled from the row in __post_init__ (the defaults are never seen).
    # Strawberry resolves them with a getattr, far cheaper than a method resolver per field,
    # and a page of 100 applications has over a thousand of them.
    id: strawberry.ID = strawberry.ID("")
    title: str = ""
    company: str | None = None
    url: str | None = None
    location: str | None = None
    created_at: datetime = _EPOCH

    def __post_init__(self) -> None:
        row = self.row
        self.id = strawberry.ID(str(row.id))
        self.title = row.title
        self.company = row.company
        self.url = row.url
        self.location = row.location
        self.created_at = row.created_at


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
    # Plain attributes filled from the row (see Job).
    id: strawberry.ID = strawberry.ID("")
    status: ApplicationStatus = ApplicationStatus.APPLIED
    created_at: datetime = strawberry.field(
        default=_EPOCH, description="When the application was sent (the application date)."
    )
    updated_at: datetime = _EPOCH
    first_click_timestamp: datetime | None = None
    last_click_timestamp: datetime | None = None
    total_clicks: int = 0
    unique_click_sessions: int = 0
    most_clicked_link_function: str | None = None
    engagement_score: int = 0
    is_high_priority: bool = False
    # The job: set by a page or `application(id)` that read it with the application,
    # otherwise a Deferred load through the request's loader.
    job: Job | None = None
    # The request's loaders (for the nested fields that are not preloaded).
    loaders: strawberry.Private[Loaders]
    # Set by a resolver that loaded these for a whole page at once (see `engagement`).
    preloaded_engagement: strawberry.Private[EngagementMetrics | None] = None
    engagement_preloaded: strawberry.Private[bool] = False
    preloaded_links: strawberry.Private[list[TrackedLink] | None] = None  # None: not loaded

    def __post_init__(self) -> None:
        row = self.row
        self.id = strawberry.ID(str(row.id))
        self.status = STATUS_BY_VALUE[row.status]
        self.created_at = row.created_at
        self.updated_at = row.updated_at
        self.first_click_timestamp = row.first_click_timestamp
        self.last_click_timestamp = row.last_click_timestamp
        self.total_clicks = row.total_clicks
        self.unique_click_sessions = row.unique_click_sessions
        self.most_clicked_link_function = row.most_clicked_link_function
        self.engagement_score = row.engagement_score
        self.is_high_priority = row.is_high_priority
        if row.job_id is not None:
            job_id, loaders = row.job_id, self.loaders
            self.job = cast(Job, Deferred(lambda: _load_job(loaders, job_id)))

    @strawberry.field
    async def status_history(self, info: strawberry.Info[Context, None]) -> list[StatusChange]:
        rows = await info.context.loaders.status_history_by_application.load(self.row.id)
        return [StatusChange(row=r) for r in rows or []]

    @strawberry.field(
        description="Behavioural metrics from the last analytics run; null until calculated."
    )
    def engagement(self, info: strawberry.Info[Context, None]) -> EngagementMetrics | None:
        if self.engagement_preloaded:  # synchronous, as for `job`
            return self.preloaded_engagement
        return cast("EngagementMetrics | None", self._load_engagement(info.context))

    async def _load_engagement(self, context: Context) -> EngagementMetrics | None:
        row = await context.loaders.engagement_by_application.load(self.row.id)
        return None if row is None else EngagementMetrics(row=row)

    @strawberry.field(description="The application's tracked links, inactive ones too.")
    def links(self, info: strawberry.Info[Context, None]) -> list[TrackedLink]:
        if self.preloaded_links is not None:  # synchronous, as for `job`
            return self.preloaded_links
        return cast("list[TrackedLink]", self._load_links(info.context))

    async def _load_links(self, context: Context) -> list[TrackedLink]:
        rows = await context.loaders.links_by_application.load(self.row.id)
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


async def _load_job(loaders: Loaders, job_id: uuid.UUID) -> Job | None:
    row = await loaders.job_by_id.load(job_id)
    return None if row is None else Job(row=row)


ApplicationRef = Annotated["Application", strawberry.lazy("graph.types.application")]
