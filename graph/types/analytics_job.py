"""AnalyticsJob: one calculateAnalytics call (or nightly run) and its progress."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from db.analytics_runs import RunRow


@strawberry.enum
class AnalyticsJobStatus(Enum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    FAILED = "failed"


@strawberry.type(description="A calculation of the behavioural metrics, run by the workers.")
class AnalyticsJob:
    row: strawberry.Private[RunRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def status(self) -> AnalyticsJobStatus:
        return AnalyticsJobStatus(self.row.status)

    @strawberry.field
    def enqueued_at(self) -> datetime:
        return self.row.enqueued_at

    @strawberry.field
    def finished_at(self) -> datetime | None:
        return self.row.finished_at

    @strawberry.field(description="Applications whose metrics were computed so far.")
    def applications_processed(self) -> int:
        return self.row.applications_processed

    @strawberry.field(description="The instant the metrics are computed as of.")
    def as_of(self) -> datetime:
        return self.row.as_of

    @strawberry.field(description="Why the job failed (FAILED only).")
    def error(self) -> str | None:
        return self.row.error
