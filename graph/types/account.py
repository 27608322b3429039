"""The caller's account: time zone, saved profile links, webhook."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db.accounts import AccountRow


@strawberry.type(description="One of the account's own URLs, keyed by link function.")
class ProfileLink:
    link_function: str
    url: str


@strawberry.type
class Account:
    row: strawberry.Private[AccountRow]
    reveal_secret: strawberry.Private[bool] = False

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def timezone(self) -> str:
        return self.row.timezone

    @strawberry.field(description="The URLs the standard link package is made from.")
    def profile_links(self) -> list[ProfileLink]:
        return [
            ProfileLink(link_function=k, url=v) for k, v in sorted(self.row.profile_links.items())
        ]

    @strawberry.field
    def webhook_url(self) -> str | None:
        return self.row.webhook_url

    @strawberry.field(
        description="The HMAC secret of webhook deliveries: shown only in the updateAccount "
        "result that set a new one, null everywhere else."
    )
    def webhook_secret(self) -> str | None:
        return self.row.webhook_secret if self.reveal_secret else None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type(
    name="Viewer",
    description="Who is asking: the API key's own account and what the key may do.",
)
class KeyViewer:
    account: Account
    scopes: list[str] = strawberry.field(description="The key's scopes: read, write, admin.")
    can_write: bool = strawberry.field(
        description="Whether the key may change data (updateAccount, completeFollowUp, ...)."
    )
