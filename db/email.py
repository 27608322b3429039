"""SQL for email engagement (seed 004, issue 17): pixel opens, provider events, machine
verdicts, undeliverable contacts and the email analytics.

Every read is scoped to an account through the contact's application. The machine rules are
in domain/email.py; :func:`reclassify_contacts` applies them to the contacts an insert touched.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from db.analytics import AnalyticsFilter, filter_clauses
from db.contacts import ContactRow, EmailEventRow, contact_row
from db.engine import Db
from domain.email import ContactEvent, classify_contact_events


def new_email_tracking_id() -> str:
    """`eo_` and 24 random hex digits: the pixel URL is public, so it must not be guessable."""
    return "eo_" + secrets.token_hex(12)


# --- tracking ids --------------------------------------------------------------------------


async def ensure_email_tracking_id(
    session: AsyncSession, *, account_id: uuid.UUID, contact_id: uuid.UUID
) -> ContactRow | None:
    """Give the contact an email tracking id unless it has one (then it keeps it). None when
    the contact is missing or belongs to another account."""
    row = (
        await session.execute(
            text(
                """
                UPDATE application_contacts c
                SET email_tracking_id = coalesce(c.email_tracking_id, :new_id)
                FROM job_applications ja
                WHERE ja.id = c.application_id AND ja.account_id = :account_id
                  AND c.id = :contact_id
                RETURNING c.*
                """
            ),
            {"account_id": account_id, "contact_id": contact_id, "new_id": new_email_tracking_id()},
        )
    ).one_or_none()
    return None if row is None else contact_row(row)


# --- pixel opens ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PixelOpen:
    """One fetch of an open pixel, as the request saw it (ip and agent None under DNT)."""

    event_id: uuid.UUID  # UUIDv7 made at the request: a replayed batch inserts nothing twice
    tracking_id: str
    opened_at: datetime
    user_agent: str | None
    ip_address: str | None
    is_machine: bool
    machine_reason: str | None
    dnt: bool


_INSERT_OPENS = text(
    """
    INSERT INTO engagement_tracking
      (id, campaign_contact_id, event_type, event_data, event_timestamp, tracking_id,
       user_agent, ip_address, created_at, is_machine, machine_reason)
    SELECT o.id, c.id, 'opened', CAST(o.data AS jsonb), o.at, o.tid, o.agent,
           CAST(o.ip AS inet), now(), o.machine, o.reason
    FROM unnest(CAST(:ids AS uuid[]), CAST(:tids AS text[]), CAST(:ats AS timestamptz[]),
                CAST(:agents AS text[]), CAST(:ips AS text[]), CAST(:machines AS boolean[]),
                CAST(:reasons AS text[]), CAST(:datas AS text[]))
         AS o(id, tid, at, agent, ip, machine, reason, data)
    JOIN application_contacts c ON c.email_tracking_id = o.tid
    ON CONFLICT (id) DO NOTHING
    RETURNING campaign_contact_id
    """
)


async def insert_opens(session: Db, opens: Sequence[PixelOpen]) -> set[uuid.UUID]:
    """Insert a batch of pixel opens in one statement, idempotent on the event id; an unknown
    tracking id inserts nothing. Returns the contacts that got a new event."""
    if not opens:
        return set()
    result = await session.execute(
        _INSERT_OPENS,
        {
            "ids": [o.event_id for o in opens],
            "tids": [o.tracking_id for o in opens],
            "ats": [o.opened_at for o in opens],
            "agents": [o.user_agent for o in opens],
            "ips": [o.ip_address for o in opens],
            "machines": [o.is_machine for o in opens],
            "reasons": [o.machine_reason for o in opens],
            "datas": [orjson.dumps({"source": "pixel", "dnt": o.dnt}).decode() for o in opens],
        },
    )
    return {r.campaign_contact_id for r in result}


# --- machine verdicts ----------------------------------------------------------------------

_CONTACT_EVENTS = text(
    """
    SELECT id, campaign_contact_id, event_type, event_timestamp, clicked_url, user_agent,
           host(ip_address) AS ip_address, is_machine, machine_reason
    FROM engagement_tracking
    WHERE campaign_contact_id = ANY(CAST(:contacts AS uuid[]))
      AND event_type IN ('opened', 'clicked', 'delivered')
    """
)

_SET_VERDICTS = text(
    """
    UPDATE engagement_tracking e
    SET is_machine = v.machine, machine_reason = v.reason
    FROM unnest(CAST(:ids AS uuid[]), CAST(:machines AS boolean[]), CAST(:reasons AS text[]))
         AS v(id, machine, reason)
    WHERE e.id = v.id
    """
)


async def reclassify_contacts(session: Db, contact_ids: Iterable[uuid.UUID]) -> int:
    """Apply the machine rules (domain.email.classify_contact_events) to every open and click
    of these contacts; returns how many verdicts changed."""
    contacts = sorted(set(contact_ids))
    if not contacts:
        return 0
    by_contact: dict[uuid.UUID, list[ContactEvent]] = {}
    for r in await session.execute(_CONTACT_EVENTS, {"contacts": contacts}):
        by_contact.setdefault(r.campaign_contact_id, []).append(
            ContactEvent(
                id=r.id,
                event_type=r.event_type,
                at=r.event_timestamp,
                clicked_url=r.clicked_url,
                user_agent=r.user_agent,
                ip_address=r.ip_address,
                is_machine=r.is_machine,
                machine_reason=r.machine_reason,
            )
        )
    ids: list[uuid.UUID] = []
    machines: list[bool] = []
    reasons: list[str | None] = []
    for events in by_contact.values():
        stored = {e.id: (e.is_machine, e.machine_reason) for e in events}
        for event_id, verdict in classify_contact_events(events).items():
            if stored[event_id] != (verdict.is_machine, verdict.reason):
                ids.append(event_id)
                machines.append(verdict.is_machine)
                reasons.append(verdict.reason)
    if ids:
        await session.execute(_SET_VERDICTS, {"ids": ids, "machines": machines, "reasons": reasons})
    return len(ids)


async def contact_ids_page(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Ids of contacts with email events, in id order, after ``after`` (all accounts)."""
    result = await session.execute(
        text(
            """
            SELECT c.id FROM application_contacts c
            WHERE (CAST(:after AS uuid) IS NULL OR c.id > CAST(:after AS uuid))
              AND EXISTS (SELECT 1 FROM engagement_tracking e WHERE e.campaign_contact_id = c.id)
            ORDER BY c.id
            LIMIT :limit
            """
        ),
        {"after": after, "limit": limit},
    )
    return list(result.scalars())


# --- provider events -----------------------------------------------------------------------

_EVENT_COLUMNS = """id, campaign_contact_id, event_type, event_data, event_timestamp,
  tracking_id, user_agent, host(ip_address) AS ip_address, clicked_url, created_at, is_machine,
  machine_reason, provider_event_id"""

_INSERT_EVENT = text(
    f"""
    INSERT INTO engagement_tracking
      (id, campaign_contact_id, event_type, event_data, event_timestamp, tracking_id,
       user_agent, ip_address, clicked_url, created_at, provider_event_id, is_machine,
       machine_reason)
    VALUES (:id, :contact_id, :event_type, CAST(:event_data AS jsonb),
            coalesce(CAST(:event_timestamp AS timestamptz), now()), :tracking_id, :user_agent,
            CAST(:ip_address AS inet), :clicked_url, now(), :provider_event_id, :is_machine,
            :machine_reason)
    ON CONFLICT (campaign_contact_id, provider_event_id) WHERE provider_event_id IS NOT NULL
    DO NOTHING
    RETURNING {_EVENT_COLUMNS}
    """
)

_EVENT_BY_ID = text(f"SELECT {_EVENT_COLUMNS} FROM engagement_tracking WHERE id = :id")
_EVENT_BY_PROVIDER_ID = text(
    f"""SELECT {_EVENT_COLUMNS} FROM engagement_tracking
    WHERE campaign_contact_id = :contact_id AND provider_event_id = :provider_event_id"""
)


def event_row(r: Any) -> EmailEventRow:
    return EmailEventRow(
        id=r.id,
        contact_id=r.campaign_contact_id,
        event_type=r.event_type,
        event_data=r.event_data,
        event_timestamp=r.event_timestamp,
        tracking_id=r.tracking_id,
        user_agent=r.user_agent,
        ip_address=r.ip_address,
        clicked_url=r.clicked_url,
        created_at=r.created_at,
        is_machine=r.is_machine,
        machine_reason=r.machine_reason,
        provider_event_id=r.provider_event_id,
    )


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    row: EmailEventRow
    created: bool  # False: the provider event id was recorded before; `row` is that event


async def record_event(
    session: AsyncSession,
    *,
    contact_id: uuid.UUID,
    event_type: str,
    event_data: dict[str, Any] | None,
    event_timestamp: datetime | None,
    tracking_id: str | None,
    user_agent: str | None,
    ip_address: str | None,
    clicked_url: str | None,
    provider_event_id: str | None,
    is_machine: bool,
    machine_reason: str | None,
) -> RecordedEvent:
    """Insert one event (the caller has checked the contact's account) and apply the machine
    rules to its contact. A provider event id seen before for this contact inserts nothing
    and returns the event recorded then."""
    event_id = uuid.uuid4()
    inserted = (
        await session.execute(
            _INSERT_EVENT,
            {
                "id": event_id,
                "contact_id": contact_id,
                "event_type": event_type,
                "event_data": None if event_data is None else orjson.dumps(event_data).decode(),
                "event_timestamp": event_timestamp,
                "tracking_id": tracking_id,
                "user_agent": user_agent,
                "ip_address": ip_address,
                "clicked_url": clicked_url,
                "provider_event_id": provider_event_id,
                "is_machine": is_machine,
                "machine_reason": machine_reason,
            },
        )
    ).one_or_none()
    if inserted is None:
        existing = (
            await session.execute(
                _EVENT_BY_PROVIDER_ID,
                {"contact_id": contact_id, "provider_event_id": provider_event_id},
            )
        ).one()
        return RecordedEvent(event_row(existing), created=False)
    if event_type in ("opened", "clicked", "delivered"):
        await reclassify_contacts(session, [contact_id])
        inserted = (await session.execute(_EVENT_BY_ID, {"id": event_id})).one()
    return RecordedEvent(event_row(inserted), created=True)


# --- undeliverable contacts ----------------------------------------------------------------


def undeliverable_event_sql(e: str) -> str:
    """True for an event (alias ``e``) that makes its contact undeliverable (domain.email:
    a hard bounce, a spam report, an unsubscribe); idx_engagement_tracking_undeliverable."""
    return (
        f"({e}.event_type IN ('unsubscribed', 'spam_reported')"
        f" OR ({e}.event_type = 'bounced' AND {e}.event_data ->> 'bounce_type' = 'hard'))"
    )


def no_deliverable_contact_sql(application_id: str) -> str:
    """True for an application (its id expression) that has contacts, none of which may be
    written to. An application without contacts is not one: nothing is known against it."""
    return f"""(EXISTS (SELECT 1 FROM application_contacts nc
          WHERE nc.application_id = {application_id})
  AND NOT EXISTS (
    SELECT 1 FROM application_contacts nc
    WHERE nc.application_id = {application_id}
      AND NOT EXISTS (SELECT 1 FROM engagement_tracking nu
                      WHERE nu.campaign_contact_id = nc.id AND {undeliverable_event_sql("nu")})))"""


@dataclass(frozen=True, slots=True)
class Deliverability:
    undeliverable_reason: str | None
    since: datetime | None


DELIVERABLE = Deliverability(None, None)


async def deliverability_by_contacts(
    session: Db, *, account_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Deliverability]:
    """For each contact of the account among ``ids``: why it is undeliverable, if it is."""
    result = await session.execute(
        text(
            f"""
            SELECT c.id, u.reason, u.since
            FROM application_contacts c
            JOIN job_applications ja ON ja.id = c.application_id
            LEFT JOIN LATERAL (
              SELECT CASE WHEN e.event_type = 'bounced' THEN 'hard_bounce'
                          ELSE e.event_type END AS reason,
                     e.event_timestamp AS since
              FROM engagement_tracking e
              WHERE e.campaign_contact_id = c.id
                AND {undeliverable_event_sql("e")}
              ORDER BY e.event_timestamp, e.id
              LIMIT 1
            ) u ON true
            WHERE ja.account_id = :account_id AND c.id = ANY(CAST(:ids AS uuid[]))
            """
        ),
        {"account_id": account_id, "ids": list(ids)},
    )
    return {r.id: Deliverability(r.reason, r.since) for r in result}


async def applications_without_deliverable_contact(
    session: Db, *, account_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """The applications among ``ids`` that have contacts and none of them may be written to
    (each hard-bounced, reported spam or unsubscribed)."""
    result = await session.execute(
        text(
            f"""
            SELECT ja.id
            FROM job_applications ja
            WHERE ja.account_id = :account_id AND ja.id = ANY(CAST(:ids AS uuid[]))
              AND {no_deliverable_contact_sql("ja.id")}
            """
        ),
        {"account_id": account_id, "ids": list(ids)},
    )
    return {r.id for r in result}


# --- analytics -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmailCounts:
    """Counts over the contacts of one group (an account, an application or a contact).

    Contacts, not events, except ``total_opens`` and ``total_clicks``; human events only,
    except ``machine_opens`` and ``machine_clicks``. A contact is ``delivered`` when it has a
    delivered event or a human open or click (which proves the mail arrived); ``sent`` when
    it is delivered or bounced.
    """

    contacts: int
    sent: int
    delivered: int
    opened: int
    total_opens: int
    clicked: int
    total_clicks: int
    machine_opens: int
    machine_clicks: int
    bounced: int
    bounced_hard: int
    bounced_soft: int
    unsubscribed: int
    spam_reported: int
    median_seconds_to_first_open: float | None
    first_opens_timed: int


_EMPTY = EmailCounts(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, None, 0)


def empty_counts() -> EmailCounts:
    return _EMPTY


# One contact's figures from its events `e`; NULL-safe for a contact without events.
_CONTACT_AGGREGATES = """
    coalesce(bool_or(e.event_type = 'delivered'), false) AS delivered_event,
    min(e.event_timestamp) FILTER (WHERE e.event_type = 'delivered') AS first_delivered,
    count(e.id) FILTER (WHERE e.event_type = 'opened' AND NOT e.is_machine) AS opens,
    count(e.id) FILTER (WHERE e.event_type = 'opened' AND e.is_machine) AS machine_opens,
    min(e.event_timestamp) FILTER (WHERE e.event_type = 'opened' AND NOT e.is_machine)
      AS first_open,
    count(e.id) FILTER (WHERE e.event_type = 'clicked' AND NOT e.is_machine) AS clicks,
    count(e.id) FILTER (WHERE e.event_type = 'clicked' AND e.is_machine) AS machine_clicks,
    coalesce(bool_or(e.event_type = 'bounced' AND e.event_data ->> 'bounce_type' = 'hard'),
             false) AS hard_bounce,
    coalesce(bool_or(e.event_type = 'bounced'
                     AND coalesce(e.event_data ->> 'bounce_type', '') <> 'hard'), false)
      AS soft_bounce,
    coalesce(bool_or(e.event_type = 'unsubscribed'), false) AS unsubscribed,
    coalesce(bool_or(e.event_type = 'spam_reported'), false) AS spam_reported"""

# The whole account: one pass over its events, hashed by contact.
_PER_CONTACT_JOINED = f"""per_contact AS (
  SELECT ct.key, ct.contact_id, {_CONTACT_AGGREGATES}
  FROM contacts ct
  LEFT JOIN engagement_tracking e ON e.campaign_contact_id = ct.contact_id
  GROUP BY ct.key, ct.contact_id
)"""

# A loader's few contacts: each contact's events through its index (the planner, seeing a
# LEFT JOIN, would rather scan every event of the table).
_PER_CONTACT_LATERAL = f"""per_contact AS (
  SELECT ct.key, ct.contact_id, agg.*
  FROM contacts ct
  CROSS JOIN LATERAL (
    SELECT {_CONTACT_AGGREGATES}
    FROM engagement_tracking e WHERE e.campaign_contact_id = ct.contact_id
  ) agg
)"""

_AGGREGATE = """
SELECT pc.key,
  count(*) AS contacts,
  count(*) FILTER (WHERE pc.delivered_event OR pc.opens > 0 OR pc.clicks > 0
                   OR pc.hard_bounce OR pc.soft_bounce) AS sent,
  count(*) FILTER (WHERE pc.delivered_event OR pc.opens > 0 OR pc.clicks > 0) AS delivered,
  count(*) FILTER (WHERE pc.opens > 0) AS opened,
  coalesce(sum(pc.opens), 0) AS total_opens,
  count(*) FILTER (WHERE pc.clicks > 0) AS clicked,
  coalesce(sum(pc.clicks), 0) AS total_clicks,
  coalesce(sum(pc.machine_opens), 0) AS machine_opens,
  coalesce(sum(pc.machine_clicks), 0) AS machine_clicks,
  count(*) FILTER (WHERE pc.hard_bounce OR pc.soft_bounce) AS bounced,
  count(*) FILTER (WHERE pc.hard_bounce) AS bounced_hard,
  count(*) FILTER (WHERE pc.soft_bounce AND NOT pc.hard_bounce) AS bounced_soft,
  count(*) FILTER (WHERE pc.unsubscribed) AS unsubscribed,
  count(*) FILTER (WHERE pc.spam_reported) AS spam_reported,
  percentile_cont(0.5) WITHIN GROUP (
    ORDER BY extract(epoch FROM pc.first_open - pc.first_delivered))
    FILTER (WHERE pc.first_open >= pc.first_delivered) AS median_seconds_to_first_open,
  count(*) FILTER (WHERE pc.first_open >= pc.first_delivered) AS first_opens_timed
FROM per_contact pc
GROUP BY pc.key
"""


def _filter_sql(flt: AnalyticsFilter | None, params: dict[str, Any]) -> str:
    return "".join(f" AND {w}" for w in filter_clauses(flt, params))


def _counts(r: Any) -> EmailCounts:
    median = r.median_seconds_to_first_open
    return EmailCounts(
        contacts=r.contacts,
        sent=r.sent,
        delivered=r.delivered,
        opened=r.opened,
        total_opens=int(r.total_opens),
        clicked=r.clicked,
        total_clicks=int(r.total_clicks),
        machine_opens=int(r.machine_opens),
        machine_clicks=int(r.machine_clicks),
        bounced=r.bounced,
        bounced_hard=r.bounced_hard,
        bounced_soft=r.bounced_soft,
        unsubscribed=r.unsubscribed,
        spam_reported=r.spam_reported,
        median_seconds_to_first_open=None if median is None else float(median),
        first_opens_timed=r.first_opens_timed,
    )


async def email_counts(
    session: Db,
    *,
    account_id: uuid.UUID,
    by: str,
    ids: Sequence[uuid.UUID] | None = None,
    flt: AnalyticsFilter | None = None,
) -> dict[Any, EmailCounts]:
    """Email figures in one statement, grouped ``by`` "account" (key: the account id),
    "application" or "contact" (keys: ``ids``, which those two need). Groups without
    contacts are missing from the result."""
    key = {"account": "ja.account_id", "application": "ja.id", "contact": "c.id"}[by]
    params: dict[str, Any] = {"account_id": account_id}
    where = _filter_sql(flt, params)
    if by != "account":
        where += f" AND {key} = ANY(CAST(:ids AS uuid[]))"
        params["ids"] = list(ids or ())
    sql = f"""
    WITH contacts AS (
      SELECT {key} AS key, c.id AS contact_id
      FROM application_contacts c
      JOIN job_applications ja ON ja.id = c.application_id
      WHERE ja.account_id = :account_id{where}
    ), {_PER_CONTACT_JOINED if by == "account" else _PER_CONTACT_LATERAL}
    {_AGGREGATE}"""
    result = await session.execute(text(sql), params)
    return {r.key: _counts(r) for r in result}


@dataclass(frozen=True, slots=True)
class LinkCount:
    url: str
    clicks: int
    unique_clicks: int


async def most_clicked_links(
    session: Db, *, account_id: uuid.UUID, flt: AnalyticsFilter | None, limit: int
) -> list[LinkCount]:
    """Seed 004 "most clicked links", on human email clicks of the account."""
    params: dict[str, Any] = {"account_id": account_id, "limit": limit}
    where = _filter_sql(flt, params)
    result = await session.execute(
        text(
            f"""
            SELECT e.clicked_url AS url, count(*) AS clicks,
                   count(DISTINCT e.campaign_contact_id) AS unique_clicks
            FROM engagement_tracking e
            JOIN application_contacts c ON c.id = e.campaign_contact_id
            JOIN job_applications ja ON ja.id = c.application_id
            WHERE ja.account_id = :account_id{where}
              AND e.event_type = 'clicked' AND NOT e.is_machine AND e.clicked_url IS NOT NULL
            GROUP BY e.clicked_url
            ORDER BY clicks DESC, unique_clicks DESC, url
            LIMIT :limit
            """
        ),
        params,
    )
    return [LinkCount(r.url, r.clicks, r.unique_clicks) for r in result]


@dataclass(frozen=True, slots=True)
class EngagedContact:
    contact: ContactRow
    opens: int
    clicks: int


async def most_engaged_contacts(
    session: Db,
    *,
    account_id: uuid.UUID,
    flt: AnalyticsFilter | None,
    min_clicks: int,
    limit: int,
) -> list[EngagedContact]:
    """Seed 004 "highly engaged contacts" (at least ``min_clicks`` clicks), on human events."""
    params: dict[str, Any] = {"account_id": account_id, "limit": limit, "min_clicks": min_clicks}
    where = _filter_sql(flt, params)
    result = await session.execute(
        text(
            f"""
            SELECT c.*, s.opens, s.clicks
            FROM (
              SELECT c.id,
                     count(e.id) FILTER (WHERE e.event_type = 'opened') AS opens,
                     count(e.id) FILTER (WHERE e.event_type = 'clicked') AS clicks
              FROM application_contacts c
              JOIN job_applications ja ON ja.id = c.application_id
              LEFT JOIN engagement_tracking e
                ON e.campaign_contact_id = c.id AND NOT e.is_machine
              WHERE ja.account_id = :account_id{where}
              GROUP BY c.id
              HAVING count(e.id) FILTER (WHERE e.event_type = 'clicked') >= :min_clicks
            ) s
            JOIN application_contacts c ON c.id = s.id
            ORDER BY s.clicks DESC, s.opens DESC, c.id
            LIMIT :limit
            """
        ),
        params,
    )
    return [EngagedContact(contact_row(r), r.opens, r.clicks) for r in result]


async def first_human_opens(
    session: Db, *, account_id: uuid.UUID, created_before: datetime
) -> dict[str, datetime]:
    """The first human open of each application created at or before ``created_before`` that
    had one (any of its contacts), keyed by the application id as text (PastApplication)."""
    result = await session.execute(
        text(
            """
            SELECT ja.id, min(e.event_timestamp) AS first_open
            FROM job_applications ja
            JOIN application_contacts c ON c.application_id = ja.id
            JOIN engagement_tracking e ON e.campaign_contact_id = c.id
            WHERE ja.account_id = :account_id AND ja.created_at <= :created_before
              AND e.event_type = 'opened' AND NOT e.is_machine
            GROUP BY ja.id
            """
        ),
        {"account_id": account_id, "created_before": created_before},
    )
    return {str(r.id): r.first_open for r in result}
