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
    id: strawberry.ID
    name: str
    timezone: str
    profile_links: list[ProfileLink] = strawberry.field(
        description="The URLs the standard link package is made from."
    )
    webhook_url: str | None
    webhook_secret: str | None = strawberry.field(
        description="The HMAC secret of webhook deliveries: shown only in the updateAccount "
        "result that set a new one, null everywhere else."
    )
    created_at: datetime

    @classmethod
    def from_row(cls, row: AccountRow, *, reveal_secret: bool = False) -> Account:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            timezone=row.timezone,
            profile_links=[
                ProfileLink(link_function=k, url=v) for k, v in sorted(row.profile_links.items())
            ],
            webhook_url=row.webhook_url,
            webhook_secret=row.webhook_secret if reveal_secret else None,
            created_at=row.created_at,
        )


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
