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
    id: strawberry.ID
    status: AnalyticsJobStatus
    enqueued_at: datetime
    finished_at: datetime | None
    applications_processed: int = strawberry.field(
        description="Applications whose metrics were computed so far."
    )
    as_of: datetime = strawberry.field(description="The instant the metrics are computed as of.")
    error: str | None = strawberry.field(description="Why the job failed (FAILED only).")

    @classmethod
    def from_row(cls, row: RunRow) -> AnalyticsJob:
        return cls(
            id=strawberry.ID(str(row.id)),
            status=AnalyticsJobStatus(row.status),
            enqueued_at=row.enqueued_at,
            finished_at=row.finished_at,
            applications_processed=row.applications_processed,
            as_of=row.as_of,
            error=row.error,
        )
