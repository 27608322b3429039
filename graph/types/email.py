"""Email analytics types (seed 004, issue 17), built from db.email counts."""

from __future__ import annotations

import strawberry

from db.email import EmailCounts, LinkCount
from db.email import EngagedContact as EngagedContactRow
from domain import stats
from graph.types.link import Contact


@strawberry.type(
    description="A rate in percent with its 95% Wilson interval: successes out of sampleSize. "
    "percent, low and high are null when the sample is empty."
)
class EmailRate:
    percent: float | None
    low: float | None
    high: float | None
    successes: int
    sample_size: int

    @classmethod
    def of(cls, successes: int, trials: int) -> EmailRate:
        found = stats.wilson_interval(successes, trials)
        return cls(
            percent=stats.percent(successes, trials),
            low=None if found is None else found.low,
            high=None if found is None else found.high,
            successes=successes,
            sample_size=trials,
        )


@strawberry.type(
    description="Email engagement of a set of contacts (seed 004). Counts are contacts except "
    "totalOpens and totalClicks; only human events count, machine opens and clicks (mail "
    "privacy proxies, image proxies, scanners) are reported beside them. A contact is delivered "
    "when it has a delivered event or a human open or click; sent when delivered or bounced."
)
class EmailAnalytics:
    contacts: int
    sent: int
    delivered: int
    opened: int = strawberry.field(description="Contacts with a human open (unique opens).")
    total_opens: int
    clicked: int = strawberry.field(description="Contacts with a human click.")
    total_clicks: int
    machine_opens: int
    machine_clicks: int
    bounced: int
    bounced_hard: int
    bounced_soft: int
    unsubscribed: int
    spam_reported: int
    open_rate: EmailRate = strawberry.field(description="opened / delivered")
    click_rate: EmailRate = strawberry.field(description="clicked / delivered")
    bounce_rate: EmailRate = strawberry.field(description="bounced / sent")
    median_hours_to_first_open: float | None = strawberry.field(
        description="Median over contacts of the time from delivery to the first human open."
    )
    first_opens_timed: int = strawberry.field(
        description="Contacts in that median (a delivery and a human open after it)."
    )

    @classmethod
    def build(cls, c: EmailCounts) -> EmailAnalytics:
        median = c.median_seconds_to_first_open
        return cls(
            contacts=c.contacts,
            sent=c.sent,
            delivered=c.delivered,
            opened=c.opened,
            total_opens=c.total_opens,
            clicked=c.clicked,
            total_clicks=c.total_clicks,
            machine_opens=c.machine_opens,
            machine_clicks=c.machine_clicks,
            bounced=c.bounced,
            bounced_hard=c.bounced_hard,
            bounced_soft=c.bounced_soft,
            unsubscribed=c.unsubscribed,
            spam_reported=c.spam_reported,
            open_rate=EmailRate.of(c.opened, c.delivered),
            click_rate=EmailRate.of(c.clicked, c.delivered),
            bounce_rate=EmailRate.of(c.bounced, c.sent),
            median_hours_to_first_open=None if median is None else stats.round2(median / 3600),
            first_opens_timed=c.first_opens_timed,
        )


@strawberry.type(description="A link clicked from emails: human clicks, and distinct contacts.")
class ClickedLink:
    url: str
    clicks: int
    unique_clicks: int

    @classmethod
    def build(cls, row: LinkCount) -> ClickedLink:
        return cls(url=row.url, clicks=row.clicks, unique_clicks=row.unique_clicks)


@strawberry.type(description="A contact with its human email opens and clicks.")
class EngagedContact:
    contact: Contact
    opens: int
    clicks: int

    @classmethod
    def build(cls, row: EngagedContactRow) -> EngagedContact:
        return cls(contact=Contact.from_row(row.contact), opens=row.opens, clicks=row.clicks)


@strawberry.type(description="The account's email engagement under the seed 000 filters.")
class AccountEmailAnalytics:
    summary: EmailAnalytics
    most_clicked_links: list[ClickedLink]
    most_engaged_contacts: list[EngagedContact]
