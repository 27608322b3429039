"""Root field of the account's email analytics (seed 004, issue 17)."""

from __future__ import annotations

import strawberry

from db import email as email_db
from graph.context import Context
from graph.errors import BadUserInput
from graph.resolvers.analytics import to_db_filter
from graph.resolvers.applications import AnalyticsFilter
from graph.types.email import AccountEmailAnalytics, ClickedLink, EmailAnalytics, EngagedContact

MAX_FIRST = 200


def _first(value: int, field: str) -> int:
    if not 1 <= value <= MAX_FIRST:
        raise BadUserInput(f"{field} must be between 1 and {MAX_FIRST}", field=field)
    return value


@strawberry.type
class EmailQueries:
    @strawberry.field(
        description="Email engagement of the account's contacts (seed 004): counts, open, "
        "click and bounce rates with 95% intervals, the median time to a first human open, the "
        "most clicked links and the most engaged contacts (at least minClicks human clicks). "
        "The filter selects applications as in the other analytics."
    )
    async def email_analytics(
        self,
        info: strawberry.Info[Context, None],
        filter: AnalyticsFilter | None = None,
        links_first: int = 20,
        contacts_first: int = 20,
        min_clicks: int = 3,
    ) -> AccountEmailAnalytics:
        ctx = info.context
        viewer = ctx.require("read")
        flt = to_db_filter(filter)
        links_first = _first(links_first, "linksFirst")
        contacts_first = _first(contacts_first, "contactsFirst")
        if min_clicks < 0:
            raise BadUserInput("minClicks must not be negative", field="minClicks")
        # One snapshot for the three statements, so the figures agree with each other.
        async with ctx.sessionmaker() as session, session.begin():
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            counts = await email_db.email_counts(
                session, account_id=viewer.account_id, by="account", flt=flt
            )
            links = await email_db.most_clicked_links(
                session, account_id=viewer.account_id, flt=flt, limit=links_first
            )
            engaged = await email_db.most_engaged_contacts(
                session,
                account_id=viewer.account_id,
                flt=flt,
                min_clicks=min_clicks,
                limit=contacts_first,
            )
        return AccountEmailAnalytics(
            summary=EmailAnalytics.build(counts.get(viewer.account_id, email_db.empty_counts())),
            most_clicked_links=[ClickedLink.build(r) for r in links],
            most_engaged_contacts=[EngagedContact.build(r) for r in engaged],
        )
