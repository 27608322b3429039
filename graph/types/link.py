"""TrackedLink, Click (with its connection), Contact and EmailEvent, built from db rows.

Nested fields resolve through the per-request loaders; click pages batch all parents of a
request into one statement (see db.clicks.click_pages).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import strawberry
from strawberry.scalars import JSON

from db.clicks import ClickRow, Keyset
from db.contacts import ContactRow, EmailEventRow
from db.email import empty_counts
from db.links import LinkRow
from graph.context import Context
from graph.errors import BadUserInput
from graph.relay import Edge, PageInfo, check_first, decode_cursor, encode_cursor
from graph.types.common import require_uuid

if TYPE_CHECKING:
    from graph.types.application import Application, Job
    from graph.types.email import EmailAnalytics


@strawberry.type(description="One click on a tracked link, with its bot verdict.")
class Click:
    id: strawberry.ID
    tracking_id: str
    clicked_at: datetime
    click_source: str | None = strawberry.field(
        description="email, linkedin, indeed, dashboard, direct, external or custom"
    )
    referrer_url: str | None
    session_id: str | None
    user_agent: str | None = strawberry.field(description="Null for clicks sent with DNT: 1.")
    ip_address: str | None = strawberry.field(
        description="Null for clicks sent with DNT: 1; anonymised after 90 days."
    )
    request_method: str
    is_bot: bool
    bot_reason: str | None = strawberry.field(
        description="crawler_user_agent, head_request, email_security_scanner or scanner_burst"
    )
    metadata: JSON = strawberry.field(
        description="UTM parameters of the redirect request, or recordClick data."
    )

    @classmethod
    def from_row(cls, row: ClickRow) -> Click:
        return cls(
            id=strawberry.ID(str(row.click_id)),
            tracking_id=row.tracking_id,
            clicked_at=row.clicked_at,
            click_source=row.click_source,
            referrer_url=row.referrer_url,
            session_id=row.session_id,
            user_agent=row.user_agent,
            ip_address=row.ip_address,
            request_method=row.request_method,
            is_bot=row.is_bot,
            bot_reason=row.bot_reason,
            metadata=cast(JSON, row.metadata),
        )


ClickParent = Literal["application", "link"]


@strawberry.type
class ClickConnection:
    edges: list[Edge[Click]]
    page_info: PageInfo
    parent: strawberry.Private[tuple[ClickParent, Any, bool]]
    # Counted by the page's own statement (a first page), else None: loaded when asked.
    known_total: strawberry.Private[int | None] = None

    @strawberry.field(description="Clicks of the parent (human only unless includeBots).")
    async def total_count(self, info: strawberry.Info[Context, None]) -> int:
        if self.known_total is not None:
            return self.known_total
        kind, key, include_bots = self.parent
        loaders = info.context.loaders
        loader = (
            loaders.click_count_by_application
            if kind == "application"
            else loaders.click_count_by_link
        )
        return int(await loader.load((key, include_bots)) or 0)


def _keyset(after: str | None) -> Keyset | None:
    if after is None:
        return None
    at, click_id = decode_cursor(after, length=2)
    try:
        when = datetime.fromisoformat(str(at))
    except ValueError as exc:
        raise BadUserInput("`after` is not a cursor this API returned", field="after") from exc
    return when, require_uuid(str(click_id), field="after")


async def resolve_clicks(
    info: strawberry.Info[Context, None],
    *,
    kind: ClickParent,
    key: Any,
    first: int,
    after: str | None,
    include_bots: bool,
) -> ClickConnection:
    ctx = info.context
    check_first(first, maximum=ctx.settings.max_page_size)
    keyset = _keyset(after)
    loader = (
        ctx.loaders.click_page_by_application
        if kind == "application"
        else ctx.loaders.click_page_by_link
    )
    rows, total = await loader.load((key, include_bots, first, keyset)) or ([], None)
    has_next = len(rows) > first
    rows = rows[:first]
    cursors = [encode_cursor([r.clicked_at.isoformat(), str(r.click_id)]) for r in rows]
    return ClickConnection(
        edges=[Edge(cursor=c, node=Click.from_row(r)) for r, c in zip(rows, cursors, strict=True)],
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        parent=(kind, key, include_bots),
        known_total=total,
    )


@strawberry.type(description="A tracked link (seed 002): /track/{trackingId} redirects to it.")
class TrackedLink:
    row: strawberry.Private[LinkRow]  # for the nested fields: its application's and job's ids
    tracking_id: str
    redirect_url: str
    original_url: str
    link_function: str
    link_type: str
    is_active: bool
    description: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: LinkRow) -> TrackedLink:
        return cls(
            row=row,
            tracking_id=row.tracking_id,
            redirect_url=row.redirect_url,
            original_url=row.original_url,
            link_function=row.link_function,
            link_type=row.link_type,
            is_active=row.is_active,
            description=row.description,
            created_at=row.created_at,
        )

    @strawberry.field
    async def application(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[Application, strawberry.lazy("graph.types.application")] | None:
        from graph.types.application import Application

        if self.row.application_id is None:
            return None
        row = await info.context.loaders.application_by_id.load(self.row.application_id)
        return None if row is None else Application.from_row(row)

    @strawberry.field
    async def job(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[Job, strawberry.lazy("graph.types.application")] | None:
        from graph.types.application import Job

        if self.row.job_id is None:
            return None
        row = await info.context.loaders.job_by_id.load(self.row.job_id)
        return None if row is None else Job.from_row(row)

    @strawberry.field(description="Clicks on this link, oldest first.")
    async def clicks(
        self,
        info: strawberry.Info[Context, None],
        first: int = 20,
        after: str | None = None,
        include_bots: bool = False,
    ) -> ClickConnection:
        return await resolve_clicks(
            info,
            kind="link",
            key=self.row.tracking_id,
            first=first,
            after=after,
            include_bots=include_bots,
        )


@strawberry.type(description="Who received an application (the seed 004 campaign contact).")
class Contact:
    row: strawberry.Private[ContactRow]  # for the nested fields: its id
    id: strawberry.ID
    application_id: strawberry.ID
    email: str
    name: str | None
    role: str | None
    created_at: datetime
    email_tracking_id: str | None = strawberry.field(
        description="The id in the contact's open pixel; createEmailTrackingId makes one."
    )

    @classmethod
    def from_row(cls, row: ContactRow) -> Contact:
        return cls(
            row=row,
            id=strawberry.ID(str(row.id)),
            application_id=strawberry.ID(str(row.application_id)),
            email=row.email,
            name=row.name,
            role=row.role,
            created_at=row.created_at,
            email_tracking_id=row.email_tracking_id,
        )

    @strawberry.field(
        description="The open pixel to embed in an email to this contact: "
        '<img src="..." width="1" height="1" alt="">.'
    )
    def open_pixel_url(self, info: strawberry.Info[Context, None]) -> str | None:
        tid = self.email_tracking_id
        if tid is None:
            return None
        return f"{info.context.settings.public_base_url.rstrip('/')}/o/{tid}.gif"

    @strawberry.field(
        description="True after a hard bounce, a spam report or an unsubscribe: nothing in "
        "linkinsights suggests writing to this contact again."
    )
    async def undeliverable(self, info: strawberry.Info[Context, None]) -> bool:
        return await self.undeliverable_reason(info) is not None

    @strawberry.field(description="hard_bounce, spam_reported or unsubscribed; null if none.")
    async def undeliverable_reason(self, info: strawberry.Info[Context, None]) -> str | None:
        found = await info.context.loaders.deliverability_by_contact.load(self.row.id)
        return None if found is None else found.undeliverable_reason

    @strawberry.field(description="This contact's email engagement (human events only).")
    async def email_analytics(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[EmailAnalytics, strawberry.lazy("graph.types.email")]:
        from graph.types.email import EmailAnalytics

        counts = await info.context.loaders.email_counts_by_contact.load(self.row.id)
        return EmailAnalytics.build(counts or empty_counts())


@strawberry.type(description="An email event of a contact (seed 004 engagement_tracking).")
class EmailEvent:
    id: strawberry.ID
    contact_id: strawberry.ID
    event_type: str = strawberry.field(
        description="opened, clicked, bounced, delivered, unsubscribed or spam_reported"
    )
    event_data: JSON | None
    event_timestamp: datetime
    tracking_id: str | None
    clicked_url: str | None
    user_agent: str | None
    ip_address: str | None
    is_machine: bool = strawberry.field(
        description="A mail privacy proxy, an image proxy or a scanner rather than a person "
        "(opens and clicks); machineReason says which rule."
    )
    machine_reason: str | None = strawberry.field(
        description="apple_mpp_user_agent, apple_mpp_network, gmail_image_proxy, "
        "opened_at_delivery or scanner_burst"
    )
    provider_event_id: str | None = strawberry.field(
        description="The email provider's id of the event, when it sent one."
    )

    @classmethod
    def from_row(cls, row: EmailEventRow) -> EmailEvent:
        return cls(
            id=strawberry.ID(str(row.id)),
            contact_id=strawberry.ID(str(row.contact_id)),
            event_type=row.event_type,
            event_data=cast(JSON | None, row.event_data),
            event_timestamp=row.event_timestamp,
            tracking_id=row.tracking_id,
            clicked_url=row.clicked_url,
            user_agent=row.user_agent,
            ip_address=row.ip_address,
            is_machine=row.is_machine,
            machine_reason=row.machine_reason,
            provider_event_id=row.provider_event_id,
        )
