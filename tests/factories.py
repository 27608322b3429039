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
many of them in one multi-row INSERT per table.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from db.engine import Db
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


async def _mark_app_writer(db: Db) -> None:
    # As db/session.py's mark_app_writer: the triggers leave the history to us (migration 0001).
    await db.execute(text("SELECT set_config('linkinsights.app_writer', 'on', true)"))


def _tracking_id() -> str:
    return f"t{uuid.uuid4().hex[:20]}"


# --- one row each ---------------------------------------------------------------------------


async def create_account(db: Target, **overrides: Any) -> uuid.UUID:
    """An account (name "Test account", timezone UTC unless overridden)."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": "Test account",
        "timezone": "UTC",
        "profile_links": {},
    }
    values.update(overrides)
    async with _writing(db) as conn:
        await conn.execute(insert(accounts).values(**values))
    account_id: uuid.UUID = values["id"]
    return account_id


async def create_key(
    db: Target,
    account_id: uuid.UUID,
    scopes: Sequence[str] = ("read", "write"),
    **overrides: Any,
) -> str:
    """An API key of the account; returns the key itself (only its hash is stored)."""
    new = generate_key()
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "name": "test",
        "prefix": new.prefix,
        "key_hash": new.key_hash,
        "scopes": list(scopes),
    }
    values.update(overrides)
    async with _writing(db) as conn:
        await conn.execute(insert(api_keys).values(**values))
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
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "title": "Engineer",
        "company": "Acme",
    }
    values.update(overrides)
    async with _writing(db) as conn:
        await conn.execute(insert(jobs).values(**values))
    job_id: uuid.UUID = values["id"]
    return job_id


async def create_application(
    db: Target,
    account_id: uuid.UUID,
    *,
    history: Sequence[tuple[str, datetime]] | None = None,
    **overrides: Any,
) -> uuid.UUID:
    """An application (status "applied", created now unless overridden) and its history:
    `history` as (status, changed_at) pairs, by default the status at the creation time."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "status": "applied",
        "created_at": datetime.now(UTC),
    }
    values.update(overrides)
    values.setdefault("updated_at", values["created_at"])
    rows = [(values["status"], values["created_at"])] if history is None else history
    async with _writing(db) as conn:
        await _mark_app_writer(conn)
        await conn.execute(insert(job_applications).values(**values))
        if rows:
            await conn.execute(
                insert(application_status_history),
                [
                    {"application_id": values["id"], "status": status, "changed_at": at}
                    for status, at in rows
                ],
            )
    application_id: uuid.UUID = values["id"]
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
    tracking_id: str = overrides.pop("tracking_id", None) or _tracking_id()
    values: dict[str, Any] = {
        "tracking_id": tracking_id,
        "account_id": account_id,
        "link_function": link_function,
        "link_type": "profile",
        "original_url": f"https://example.com/{link_function.lower()}",
        "redirect_url": f"https://go.example.com/{tracking_id}",
    }
    values.update(overrides)
    async with _writing(db) as conn:
        await _mark_app_writer(conn)
        await conn.execute(insert(link_tracking).values(**values))
    return tracking_id


async def create_click(db: Target, tracking_id: str, **overrides: Any) -> uuid.UUID:
    """A human GET click on the link, now unless `clicked_at` is given."""
    values: dict[str, Any] = {
        "click_id": uuid.uuid4(),
        "tracking_id": tracking_id,
        "clicked_at": datetime.now(UTC),
        "metadata": {},
        "is_bot": False,
        "request_method": "GET",
    }
    values.update(overrides)
    async with _writing(db) as conn:
        await conn.execute(insert(link_clicks).values(**values))
    click_id: uuid.UUID = values["click_id"]
    return click_id


async def create_contact(db: Target, application_id: uuid.UUID, **overrides: Any) -> uuid.UUID:
    """A contact of the application (a recruiter at example.com unless overridden)."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "application_id": application_id,
        "email": f"recruiter-{uuid.uuid4().hex[:8]}@example.com",
        "name": "Recruiter",
        "role": "recruiter",
    }
    values.update(overrides)
    async with _writing(db) as conn:
        await conn.execute(insert(application_contacts).values(**values))
    contact_id: uuid.UUID = values["id"]
    return contact_id


async def create_email_event(
    db: Target, contact_id: uuid.UUID, event_type: str = "opened", **overrides: Any
) -> uuid.UUID:
    """An email event of the contact, as a direct integration writes one: the columns not
    given keep the database's defaults (now, no verdict: `is_machine` false)."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "campaign_contact_id": contact_id,
        "event_type": event_type,
    }
    values.update(overrides)
    async with _writing(db) as conn:
        await conn.execute(insert(engagement_tracking).values(**values))
    event_id: uuid.UUID = values["id"]
    return event_id


async def create_analytics(db: Target, application_id: uuid.UUID, **overrides: Any) -> uuid.UUID:
    """A link_click_analytics row of the application (the other columns NULL unless given)."""
    values: dict[str, Any] = {"id": uuid.uuid4(), "application_id": application_id}
    values.update(overrides)
    async with _writing(db) as conn:
        await conn.execute(insert(link_click_analytics).values(**values))
    analytics_id: uuid.UUID = values["id"]
    return analytics_id


async def create_follow_up(
    db: Target, account_id: uuid.UUID, application_id: uuid.UUID, **overrides: Any
) -> uuid.UUID:
    """A follow-up of the application (reason "high engagement", due in a day by default)."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "application_id": application_id,
        "reason": "high engagement",
    }
    values.update(overrides)
    async with _writing(db) as conn:
        await conn.execute(insert(follow_ups).values(**values))
    follow_up_id: uuid.UUID = values["id"]
    return follow_up_id


async def create_webhook_delivery(
    db: Target, account_id: uuid.UUID, follow_up_id: uuid.UUID | None, **overrides: Any
) -> uuid.UUID:
    """A first, unanswered delivery attempt of the follow-up's webhook."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "follow_up_id": follow_up_id,
        "url": "https://hooks.example",
        "event": "follow_up",
        "attempt": 1,
    }
    values.update(overrides)
    async with _writing(db) as conn:
        await conn.execute(insert(webhook_deliveries).values(**values))
    delivery_id: uuid.UUID = values["id"]
    return delivery_id


async def create_analytics_run(
    db: Target, account_id: uuid.UUID | None, **overrides: Any
) -> uuid.UUID:
    """An analytics run of the account (the database's defaults for kind, status, counters)."""
    values: dict[str, Any] = {"id": uuid.uuid4(), "account_id": account_id}
    values.update(overrides)
    async with _writing(db) as conn:
        await conn.execute(insert(analytics_runs).values(**values))
    run_id: uuid.UUID = values["id"]
    return run_id


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
        job_id = uuid.uuid4()
        job_rows.append(
            {
                "id": job_id,
                "account_id": account,
                "title": spec.job_title,
                "company": spec.company,
                "created_at": spec.created_at,
            }
        )
        app_rows.append(
            {
                "id": app_id,
                "account_id": account,
                "job_id": job_id,
                "status": spec.status or spec.history[-1],
                "created_at": spec.created_at,
                "updated_at": spec.created_at,
                "engagement_score": spec.engagement_score,
                "is_high_priority": spec.is_high_priority,
            }
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
            tracking_id = _tracking_id()
            links[function] = tracking_id
            link_rows.append(
                {
                    "tracking_id": tracking_id,
                    "account_id": account,
                    "job_id": job_id,
                    "application_id": app_id,
                    "link_function": function,
                    "link_type": "profile",
                    "original_url": f"https://example.com/{function.lower()}",
                    "redirect_url": f"https://go.example.com/{tracking_id}",
                    "created_at": spec.created_at,
                    "is_active": function not in spec.inactive,
                }
            )
        for click in spec.clicks:
            click_rows.append(
                {
                    "click_id": click.click_id or uuid.uuid4(),
                    "tracking_id": links[click.function],
                    "clicked_at": spec.clicked_at(click),
                    "session_id": click.session_id,
                    "metadata": {},
                    "is_bot": click.bot,
                    "bot_reason": "scanner_burst" if click.bot else None,
                    "request_method": "GET",
                }
            )
    async with _writing(db) as conn:
        await _mark_app_writer(conn)
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
