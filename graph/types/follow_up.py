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
    row: strawberry.Private[DeliveryRow]

    @strawberry.field
    def attempt(self) -> int:
        return self.row.attempt

    @strawberry.field
    def url(self) -> str:
        return self.row.url

    @strawberry.field
    def event(self) -> str:
        return self.row.event

    @strawberry.field(description="HTTP status answered; null when no answer came.")
    def status_code(self) -> int | None:
        return self.row.status_code

    @strawberry.field
    def error(self) -> str | None:
        return self.row.error

    @strawberry.field
    def succeeded(self) -> bool:
        return self.row.succeeded

    @strawberry.field
    def attempted_at(self) -> datetime:
        return self.row.created_at


@strawberry.type(description="A follow-up due because an application became high priority.")
class FollowUp:
    row: strawberry.Private[FollowUpRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field
    def recommended_action(self) -> str | None:
        return self.row.recommended_action

    @strawberry.field(description="The engagement score when the follow-up was created.")
    def engagement_score(self) -> int | None:
        return self.row.engagement_score

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def due_at(self) -> datetime:
        return self.row.due_at

    @strawberry.field
    def completed_at(self) -> datetime | None:
        return self.row.completed_at

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
        return [WebhookDelivery(row=r) for r in rows or []]
