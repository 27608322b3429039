"""The one way tests put rows into the database: `create_<thing>(db, ..., **overrides)`.

Each factory inserts one thing with SQLAlchemy Core against `db/tables.py`, fills every
column a test does not care about with a sensible default, lets a keyword override any
column, and returns what a test needs next (the id, or the plain API key).

`db` is where the rows go:
- an `AsyncSession` or `AsyncConnection`: the caller's transaction (a test in the rolled-back
  outer transaction passes its `db` fixture; see tests/conftest.py);
- an `async_sessionmaker`: a transaction of the factory's own, committed before it returns
  (the tests that drive the app over HTTP, a subprocess or the flusher, which only see
  committed rows).

Applications are written as our own code writes them (`mark_app_writer`): the factory writes
the status history itself, with the times the test asks for. `AppSpec`/`ClickSpec` describe an
application with its job, history, links and clicks for `create_applications`, which writes
many of them in one multi-row INSERT per table, with the same defaults as the one-row
factories (`_job_row`, `_application_row`, `_link_row`, `_click_row`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from db.engine import Db
from db.session import mark_app_writer
from db.tables import (
    accounts,
    analytics_runs,
    api_keys,
    application_contacts,
    application_status_history,
    engagement_tracking,
    follow_ups,
    job_applications,
    jobs,
    link_click_analytics,
    link_clicks,
    link_tracking,
    webhook_deliveries,
)
from domain.apikeys import generate_key

Target = AsyncSession | AsyncConnection | async_sessionmaker[AsyncSession]

# 2025-01-08 was a Wednesday: history built on it has no weekend click unless a test wants one.
WEDNESDAY = datetime(2025, 1, 8, 9, 0, tzinfo=UTC)


def recent_wednesday(now: datetime | None = None) -> datetime:
    """The latest Wednesday 09:00 UTC at least a day ago (less than outcome_age_days ago), so
    clicks a few hours after it fall on the Wednesday and before now."""
    day = (now or datetime.now(UTC)) - timedelta(days=1)
    day -= timedelta(days=(day.weekday() - 2) % 7)
    return day.replace(hour=9, minute=0, second=0, microsecond=0)


@asynccontextmanager
async def _writing(target: Target) -> AsyncIterator[Db]:
    """The caller's session or connection as is, or a transaction of our own that commits."""
    if isinstance(target, async_sessionmaker):
        async with target.begin() as session:
            yield session
    else:
        yield target


@asynccontextmanager
async def _reading(target: Target) -> AsyncIterator[Db]:
    if isinstance(target, async_sessionmaker):
        async with target() as session:
            yield session
    else:
        yield target


async def _insert(
    db: Target,
    table: Table,
    row: dict[str, Any],
    *,
    key: str = "id",
    app_writer: bool = False,
) -> uuid.UUID:
    """Insert one row and return its `key`. `app_writer`: mark the transaction as our own
    code's (db/session.py), so the triggers leave the status history to us."""
    async with _writing(db) as conn:
        if app_writer:
            await mark_app_writer(conn)
        await conn.execute(insert(table).values(**row))
    value = row[key]
    assert isinstance(value, uuid.UUID)
    return value


# --- rows: each table's defaults, for one row (create_<thing>) or many (create_applications) --


def _job_row(account_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "title": "Engineer",
        "company": "Acme",
        **overrides,
    }


def _application_row(account_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "status": "applied",
        "created_at": datetime.now(UTC),
        **overrides,
    }
    row.setdefault("updated_at", row["created_at"])
    return row


def _link_row(account_id: uuid.UUID, link_function: str, **overrides: Any) -> dict[str, Any]:
    tracking_id = overrides.pop("tracking_id", None) or f"t{uuid.uuid4().hex[:20]}"
    return {
        "tracking_id": tracking_id,
        "account_id": account_id,
        "link_function": link_function,
        "link_type": "profile",
        "original_url": f"https://example.com/{link_function.lower()}",
        "redirect_url": f"https://go.example.com/{tracking_id}",
        **overrides,
    }


def _click_row(tracking_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "click_id": uuid.uuid4(),
        "tracking_id": tracking_id,
        "clicked_at": datetime.now(UTC),
        "metadata": {},
        "is_bot": False,
        "request_method": "GET",
        **overrides,
    }


# --- one row each ---------------------------------------------------------------------------


async def create_account(db: Target, **overrides: Any) -> uuid.UUID:
    """An account (name "Test account", timezone UTC unless overridden)."""
    defaults = {"id": uuid.uuid4(), "name": "Test account", "timezone": "UTC", "profile_links": {}}
    return await _insert(db, accounts, {**defaults, **overrides})


async def create_key(
    db: Target,
    account_id: uuid.UUID,
    scopes: Sequence[str] = ("read", "write"),
    **overrides: Any,
) -> str:
    """An API key of the account; returns the key itself (only its hash is stored)."""
    new = generate_key()
    defaults = {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "name": "test",
        "prefix": new.prefix,
        "key_hash": new.key_hash,
        "scopes": list(scopes),
    }
    await _insert(db, api_keys, {**defaults, **overrides})
    return new.key


async def create_account_with_key(
    db: Target, scopes: Sequence[str] = ("read",), **overrides: Any
) -> tuple[uuid.UUID, str]:
    """An account (named "Analytics" unless overridden) and a key of it with `scopes`."""
    async with _writing(db) as conn:
        account_id = await create_account(conn, **{"name": "Analytics", **overrides})
        key = await create_key(conn, account_id, scopes)
    return account_id, key


async def create_job(db: Target, account_id: uuid.UUID, **overrides: Any) -> uuid.UUID:
    return await _insert(db, jobs, _job_row(account_id, **overrides))


async def create_application(
    db: Target,
    account_id: uuid.UUID,
    *,
    history: Sequence[tuple[str, datetime]] | None = None,
    **overrides: Any,
) -> uuid.UUID:
    """An application (status "applied", created now unless overridden) and its history:
    `history` as (status, changed_at) pairs, by default the status at the creation time."""
    row = _application_row(account_id, **overrides)
    changes = [(row["status"], row["created_at"])] if history is None else history
    async with _writing(db) as conn:
        application_id = await _insert(conn, job_applications, row, app_writer=True)
        if changes:
            await conn.execute(
                insert(application_status_history),
                [
                    {"application_id": application_id, "status": status, "changed_at": at}
                    for status, at in changes
                ],
            )
    return application_id


async def create_link(
    db: Target,
    account_id: uuid.UUID,
    *,
    link_function: str = "LinkedIn",
    **overrides: Any,
) -> str:
    """A tracked link of the account (of no application unless `application_id` is given);
    returns its tracking id."""
    row = _link_row(account_id, link_function, **overrides)
    async with _writing(db) as conn:
        await mark_app_writer(conn)
        await conn.execute(insert(link_tracking).values(**row))
    tracking_id: str = row["tracking_id"]
    return tracking_id


async def create_click(db: Target, tracking_id: str, **overrides: Any) -> uuid.UUID:
    """A human GET click on the link, now unless `clicked_at` is given."""
    return await _insert(db, link_clicks, _click_row(tracking_id, **overrides), key="click_id")


async def create_contact(db: Target, application_id: uuid.UUID, **overrides: Any) -> uuid.UUID:
    """A contact of the application (a recruiter at example.com unless overridden)."""
    defaults = {
        "id": uuid.uuid4(),
        "application_id": application_id,
        "email": f"recruiter-{uuid.uuid4().hex[:8]}@example.com",
        "name": "Recruiter",
        "role": "recruiter",
    }
    return await _insert(db, application_contacts, {**defaults, **overrides})


async def create_email_event(
    db: Target, contact_id: uuid.UUID, event_type: str = "opened", **overrides: Any
) -> uuid.UUID:
    """An email event of the contact, as a direct integration writes one: the columns not
    given keep the database's defaults (now, no verdict: `is_machine` false)."""
    defaults = {"id": uuid.uuid4(), "campaign_contact_id": contact_id, "event_type": event_type}
    return await _insert(db, engagement_tracking, {**defaults, **overrides})


async def create_analytics(db: Target, application_id: uuid.UUID, **overrides: Any) -> uuid.UUID:
    """A link_click_analytics row of the application (the other columns NULL unless given)."""
    defaults = {"id": uuid.uuid4(), "application_id": application_id}
    return await _insert(db, link_click_analytics, {**defaults, **overrides})


async def create_follow_up(
    db: Target, account_id: uuid.UUID, application_id: uuid.UUID, **overrides: Any
) -> uuid.UUID:
    """A follow-up of the application (reason "high engagement", due in a day by default)."""
    defaults = {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "application_id": application_id,
        "reason": "high engagement",
    }
    return await _insert(db, follow_ups, {**defaults, **overrides})


async def create_webhook_delivery(
    db: Target, account_id: uuid.UUID, follow_up_id: uuid.UUID | None, **overrides: Any
) -> uuid.UUID:
    """A first, unanswered delivery attempt of the follow-up's webhook."""
    defaults = {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "follow_up_id": follow_up_id,
        "url": "https://hooks.example",
        "event": "follow_up",
        "attempt": 1,
    }
    return await _insert(db, webhook_deliveries, {**defaults, **overrides})


async def create_analytics_run(
    db: Target, account_id: uuid.UUID | None, **overrides: Any
) -> uuid.UUID:
    """An analytics run of the account (the database's defaults for kind, status, counters)."""
    defaults = {"id": uuid.uuid4(), "account_id": account_id}
    return await _insert(db, analytics_runs, {**defaults, **overrides})


# --- many applications with their links and clicks -----------------------------------------


@dataclass
class ClickSpec:
    """A click on the application's `function` link, `hours` after applying (or `at`)."""

    function: str
    hours: float = 0.0
    bot: bool = False
    session_id: str | None = None
    at: datetime | None = None
    # A fixed id (the batch breaks ties between equal times by it); else a new one per insert.
    click_id: uuid.UUID | None = None


@dataclass
class AppSpec:
    """An application with its job, status history, links and clicks.

    The history has one row per `history` status, `history_hours` after `created_at` (default:
    one day apart); the status is the last of them unless `status` says otherwise. There is a
    link for each of `functions`, `inactive` (inactive links) and every clicked function."""

    created_at: datetime
    _: KW_ONLY
    clicks: list[ClickSpec] = field(default_factory=list)
    status: str | None = None
    history: tuple[str, ...] = ("applied",)
    history_hours: tuple[float, ...] | None = None
    functions: tuple[str, ...] = ()
    inactive: tuple[str, ...] = ()
    job_title: str = "Engineer"
    company: str | None = "Acme"
    engagement_score: int = 0
    is_high_priority: bool = False
    # The account, when specs given together belong to several (else create_applications').
    account_id: uuid.UUID | None = None
    # A fixed id; else a new one per insert (create_applications returns them), so a list of
    # specs can be written twice.
    id: uuid.UUID | None = None

    def clicked_at(self, click: ClickSpec) -> datetime:
        return click.at if click.at is not None else self.created_at + timedelta(hours=click.hours)


def interview_after(days: float | None) -> dict[str, Any]:
    """`AppSpec` keywords for an application invited to interview `days` after it was sent
    (none when `days` is None)."""
    if days is None:
        return {}
    return {"history": ("applied", "interview"), "history_hours": (0.0, days * 24)}


async def create_applications(
    db: Target, account_id: uuid.UUID | None, specs: Sequence[AppSpec]
) -> list[uuid.UUID]:
    """Write the specs (one multi-row INSERT per table); returns their ids in order."""
    job_rows: list[dict[str, Any]] = []
    app_rows: list[dict[str, Any]] = []
    history_rows: list[dict[str, Any]] = []
    link_rows: list[dict[str, Any]] = []
    click_rows: list[dict[str, Any]] = []
    ids: list[uuid.UUID] = []
    for spec in specs:
        account = spec.account_id or account_id
        assert account is not None, "give the account, to create_applications or in the spec"
        app_id = spec.id or uuid.uuid4()
        ids.append(app_id)
        job = _job_row(
            account, title=spec.job_title, company=spec.company, created_at=spec.created_at
        )
        job_rows.append(job)
        app_rows.append(
            _application_row(
                account,
                id=app_id,
                job_id=job["id"],
                status=spec.status or spec.history[-1],
                created_at=spec.created_at,
                engagement_score=spec.engagement_score,
                is_high_priority=spec.is_high_priority,
            )
        )
        for i, status in enumerate(spec.history):
            after = (
                timedelta(days=i)
                if spec.history_hours is None
                else timedelta(hours=spec.history_hours[i])
            )
            history_rows.append(
                {"application_id": app_id, "status": status, "changed_at": spec.created_at + after}
            )
        links: dict[str, str] = {}
        functions = (*spec.functions, *spec.inactive, *(c.function for c in spec.clicks))
        for function in dict.fromkeys(functions):
            link = _link_row(
                account,
                function,
                job_id=job["id"],
                application_id=app_id,
                created_at=spec.created_at,
                is_active=function not in spec.inactive,
            )
            links[function] = link["tracking_id"]
            link_rows.append(link)
        for click in spec.clicks:
            click_rows.append(
                _click_row(
                    links[click.function],
                    click_id=click.click_id or uuid.uuid4(),
                    clicked_at=spec.clicked_at(click),
                    session_id=click.session_id,
                    is_bot=click.bot,
                    bot_reason="scanner_burst" if click.bot else None,
                )
            )
    async with _writing(db) as conn:
        await mark_app_writer(conn)
        for table, rows in (
            (jobs, job_rows),
            (job_applications, app_rows),
            (application_status_history, history_rows),
            (link_tracking, link_rows),
            (link_clicks, click_rows),
        ):
            if rows:
                await conn.execute(insert(table), rows)
    return ids


# --- reading back ---------------------------------------------------------------------------


async def analytics_rows(
    db: Target, account_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """link_click_analytics joined with the §1.1 columns, keyed by application id (the row of
    an application without analytics has None in every link_click_analytics column)."""
    ja, lca = job_applications.c, link_click_analytics.c
    statement = (
        select(
            *lca,
            ja.first_click_timestamp,
            ja.last_click_timestamp,
            ja.total_clicks,
            ja.unique_click_sessions,
            ja.most_clicked_link_function,
            ja.engagement_score.label("app_engagement_score"),
            ja.is_high_priority,
        )
        .select_from(job_applications.outerjoin(link_click_analytics, lca.application_id == ja.id))
        .where(ja.account_id.in_(account_ids))
    )
    async with _reading(db) as conn:
        rows = (await conn.execute(statement)).mappings().all()
    return {r["application_id"]: dict(r) for r in rows}
