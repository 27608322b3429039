"""SQL for follow-ups (seed 000 §3.3) and their webhook deliveries.

The analytics batch (issue 4) keeps ``job_applications.is_high_priority`` current; right after
it has updated the flags, in the same transaction, it calls :func:`after_batch`, and after the
commit it hands the returned ids to ``jobs.webhooks.enqueue_follow_up_webhooks``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.email import no_deliverable_contact_sql
from db.engine import Db
from db.params import any_of, param
from db.tables import accounts, follow_ups, webhook_deliveries
from domain.predictions import ACTION_FOLLOW_UP_24H


@dataclass(frozen=True, slots=True)
class FollowUpRow:
    id: uuid.UUID
    account_id: uuid.UUID
    application_id: uuid.UUID
    reason: str
    recommended_action: str | None
    engagement_score: int | None
    created_at: datetime
    due_at: datetime
    completed_at: datetime | None


def follow_up_row(row: Any) -> FollowUpRow:
    return FollowUpRow(**{name: getattr(row, name) for name in FollowUpRow.__slots__})


@dataclass(frozen=True, slots=True)
class NewFollowUp:
    id: uuid.UUID
    account_id: uuid.UUID
    application_id: uuid.UUID
    has_webhook: bool


# Set-based: every high-priority application still at `applied` that has never had a follow-up
# gets one. "Never" rather than "no open one": an application stays high priority after the user
# has completed its follow-up, and re-creating it at every batch run would nag about work done.
# The partial unique index (one open follow-up per application) makes concurrent runs safe.
# The candidates are sorted before the INSERT starts: a Sort consumes its whole input first, so
# the anti-join never reads follow_ups while this statement is appending to it (a nested loop
# over a growing table was quadratic at 1M applications).
# An application whose every contact hard-bounced, reported spam or unsubscribed gets no
# follow-up (issue 17): its recommended action is an email nobody may be sent.
_CREATE_SQL = text(
    f"""
    WITH candidates AS (
      SELECT ja.account_id, ja.id, ja.engagement_score
      FROM job_applications ja
      WHERE ja.is_high_priority AND ja.status = 'applied'
        AND (CAST(:account_id AS uuid) IS NULL OR ja.account_id = CAST(:account_id AS uuid))
        AND NOT EXISTS (SELECT 1 FROM follow_ups f WHERE f.application_id = ja.id)
        AND NOT {no_deliverable_contact_sql("ja.id")}
      ORDER BY ja.id
    ), created AS (
      INSERT INTO follow_ups (account_id, application_id, reason, recommended_action,
                              engagement_score)
      SELECT c.account_id, c.id,
             'Engagement score ' || c.engagement_score || ' made this application high priority',
             :action, c.engagement_score
      FROM candidates c
      ON CONFLICT (application_id) WHERE completed_at IS NULL DO NOTHING
      RETURNING id, account_id, application_id
    )
    SELECT c.id, c.account_id, c.application_id, (a.webhook_url IS NOT NULL) AS has_webhook
    FROM created c JOIN accounts a ON a.id = c.account_id
    ORDER BY c.account_id, c.id
    """
)


async def create_follow_ups_for_new_high_priority(
    session: AsyncSession, *, account_id: uuid.UUID | None = None
) -> list[NewFollowUp]:
    """Create the follow-ups of applications that became high priority (one account or all)."""
    rows = (
        await session.execute(
            _CREATE_SQL, {"account_id": account_id, "action": ACTION_FOLLOW_UP_24H}
        )
    ).all()
    return [
        NewFollowUp(
            id=r.id,
            account_id=r.account_id,
            application_id=r.application_id,
            has_webhook=bool(r.has_webhook),
        )
        for r in rows
    ]


async def after_batch(session: AsyncSession, *, account_id: uuid.UUID | None) -> list[uuid.UUID]:
    """For the analytics batch, after it has updated ``is_high_priority`` (same transaction).

    Creates the new follow-ups and returns the ids whose account has a webhook URL: pass them to
    ``jobs.webhooks.enqueue_follow_up_webhooks`` after the commit (never before: the job would
    not see the rows).
    """
    created = await create_follow_ups_for_new_high_priority(session, account_id=account_id)
    return [f.id for f in created if f.has_webhook]


_STILL_DELIVERABLE = text(f"NOT {no_deliverable_contact_sql('follow_ups.application_id')}")


async def list_follow_ups(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    first: int,
    after: tuple[datetime, uuid.UUID] | None = None,
    include_completed: bool = False,
) -> list[FollowUpRow]:
    """One page (first + 1 rows) by due time, then id. The open list leaves out the
    follow-ups of applications none of whose contacts may be written to any more."""
    f = follow_ups.c
    clauses: list[Any] = [f.account_id == account_id]
    if not include_completed:
        clauses += [f.completed_at.is_(None), _STILL_DELIVERABLE]
    if after is not None:
        due_at, last_id = after
        clauses.append(or_(f.due_at > due_at, and_(f.due_at == due_at, f.id > last_id)))
    rows = (
        await session.execute(
            select(follow_ups).where(*clauses).order_by(f.due_at, f.id).limit(first + 1)
        )
    ).all()
    return [follow_up_row(r) for r in rows]


async def count_follow_ups(
    session: AsyncSession, *, account_id: uuid.UUID, include_completed: bool = False
) -> int:
    f = follow_ups.c
    stmt = select(func.count()).select_from(follow_ups).where(f.account_id == account_id)
    if not include_completed:
        stmt = stmt.where(f.completed_at.is_(None), _STILL_DELIVERABLE)
    return int((await session.execute(stmt)).scalar_one())


async def complete_follow_up(
    session: AsyncSession, *, account_id: uuid.UUID, follow_up_id: uuid.UUID
) -> FollowUpRow | None:
    """Mark done (idempotent: a completed follow-up keeps its first completion time)."""
    f = follow_ups.c
    row = (
        await session.execute(
            update(follow_ups)
            .where(f.id == follow_up_id, f.account_id == account_id)
            .values(completed_at=func.coalesce(f.completed_at, func.now()))
            .returning(*follow_ups.c)
        )
    ).one_or_none()
    return None if row is None else follow_up_row(row)


# ------------------------------------------------------------------------- webhook deliveries


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """What one delivery attempt needs: the follow-up, where to send it, and past attempts."""

    follow_up: FollowUpRow
    url: str | None
    secret: str | None
    application_status: str
    application_created_at: datetime
    job_title: str | None
    company: str | None
    attempts: int
    delivered: bool
    undeliverable: bool  # no contact of the application may be written to (issue 17)


_TARGET_SQL = text(
    f"""
    SELECT f.*, a.webhook_url, a.webhook_secret, ja.status AS application_status,
           {no_deliverable_contact_sql("ja.id")} AS undeliverable,
           ja.created_at AS application_created_at, j.title AS job_title, j.company,
           (SELECT count(*) FROM webhook_deliveries d WHERE d.follow_up_id = f.id) AS attempts,
           EXISTS (SELECT 1 FROM webhook_deliveries d
                   WHERE d.follow_up_id = f.id AND d.succeeded) AS delivered
    FROM follow_ups f
    JOIN accounts a ON a.id = f.account_id
    JOIN job_applications ja ON ja.id = f.application_id
    LEFT JOIN jobs j ON j.id = ja.job_id
    WHERE f.id = :follow_up_id
    """
)


async def webhook_target(session: AsyncSession, *, follow_up_id: uuid.UUID) -> WebhookTarget | None:
    row = (await session.execute(_TARGET_SQL, {"follow_up_id": follow_up_id})).one_or_none()
    if row is None:
        return None
    return WebhookTarget(
        follow_up=follow_up_row(row),
        url=row.webhook_url,
        secret=row.webhook_secret,
        application_status=row.application_status,
        application_created_at=row.application_created_at,
        job_title=row.job_title,
        company=row.company,
        attempts=int(row.attempts),
        delivered=bool(row.delivered),
        undeliverable=bool(row.undeliverable),
    )


async def ensure_webhook_secret(
    session: AsyncSession, *, account_id: uuid.UUID, new_secret: str
) -> str:
    """The account's signing secret, set to ``new_secret`` first if it has none."""
    a = accounts.c
    await session.execute(
        update(accounts)
        .where(a.id == account_id, a.webhook_secret.is_(None))
        .values(webhook_secret=new_secret)
    )
    secret = (
        await session.execute(select(a.webhook_secret).where(a.id == account_id))
    ).scalar_one()
    return str(secret)


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: uuid.UUID
    follow_up_id: uuid.UUID | None
    url: str
    event: str
    attempt: int
    status_code: int | None
    error: str | None
    succeeded: bool
    created_at: datetime


def delivery_row(row: Any) -> DeliveryRow:
    return DeliveryRow(**{name: getattr(row, name) for name in DeliveryRow.__slots__})


async def record_delivery(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    follow_up_id: uuid.UUID,
    url: str,
    event: str,
    attempt: int,
    status_code: int | None,
    error: str | None,
    succeeded: bool,
) -> DeliveryRow:
    row = (
        await session.execute(
            webhook_deliveries.insert()
            .values(
                id=uuid.uuid4(),
                account_id=account_id,
                follow_up_id=follow_up_id,
                url=url,
                event=event,
                attempt=attempt,
                status_code=status_code,
                error=error,
                succeeded=succeeded,
            )
            .returning(*webhook_deliveries.c)
        )
    ).one()
    return delivery_row(row)


# Built once (db/params.py): :account_id and the :ids array; DeliveryRow's columns.
_DELIVERIES_BY_FOLLOW_UP = (
    select(*(webhook_deliveries.c[name] for name in DeliveryRow.__slots__))
    .where(
        webhook_deliveries.c.account_id == param("account_id", webhook_deliveries.c.account_id),
        any_of(webhook_deliveries.c.follow_up_id),
    )
    .order_by(
        webhook_deliveries.c.follow_up_id,
        webhook_deliveries.c.attempt,
        webhook_deliveries.c.created_at,
    )
)


async def deliveries_by_follow_up(
    db: Db, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[DeliveryRow]]:
    result = await db.execute(_DELIVERIES_BY_FOLLOW_UP, {"account_id": account_id, "ids": ids})
    out: dict[uuid.UUID, list[DeliveryRow]] = defaultdict(list)
    for r in result.mappings():
        delivery = DeliveryRow(**r)
        assert delivery.follow_up_id is not None  # selected by follow-up id
        out[delivery.follow_up_id].append(delivery)
    return dict(out)
