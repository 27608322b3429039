"""FollowUp and WebhookDelivery types (seed 000 §3.3)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.follow_ups import DeliveryRow, FollowUpRow
from graph.context import Context

if TYPE_CHECKING:
    from graph.types.application import Application


@strawberry.type(description="One attempt to deliver a follow-up to the account's webhook.")
class WebhookDelivery:
    attempt: int
    url: str
    event: str
    status_code: int | None = strawberry.field(
        description="HTTP status answered; null when no answer came."
    )
    error: str | None
    succeeded: bool
    attempted_at: datetime

    @classmethod
    def from_row(cls, row: DeliveryRow) -> WebhookDelivery:
        return cls(
            attempt=row.attempt,
            url=row.url,
            event=row.event,
            status_code=row.status_code,
            error=row.error,
            succeeded=row.succeeded,
            attempted_at=row.created_at,
        )


@strawberry.type(description="A follow-up due because an application became high priority.")
class FollowUp:
    row: strawberry.Private[FollowUpRow]  # for the nested fields: its id, its application's id
    id: strawberry.ID
    reason: str
    recommended_action: str | None
    engagement_score: int | None = strawberry.field(
        description="The engagement score when the follow-up was created."
    )
    created_at: datetime
    due_at: datetime
    completed_at: datetime | None

    @classmethod
    def from_row(cls, row: FollowUpRow) -> FollowUp:
        return cls(
            row=row,
            id=strawberry.ID(str(row.id)),
            reason=row.reason,
            recommended_action=row.recommended_action,
            engagement_score=row.engagement_score,
            created_at=row.created_at,
            due_at=row.due_at,
            completed_at=row.completed_at,
        )

    @strawberry.field
    async def application(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[Application, strawberry.lazy("graph.types.application")] | None:
        from graph.types.application import Application

        row = await info.context.loaders.application_by_id.load(self.row.application_id)
        return None if row is None else Application.from_row(row)

    @strawberry.field(description="Webhook delivery attempts, oldest first.")
    async def webhook_deliveries(
        self, info: strawberry.Info[Context, None]
    ) -> list[WebhookDelivery]:
        rows = await info.context.loaders.webhook_deliveries_by_follow_up.load(self.row.id)
        return [WebhookDelivery.from_row(r) for r in rows or []]
