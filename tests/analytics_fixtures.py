"""Factories for the analytics tests: rows inserted with SQLAlchemy Core, as a direct
database integration would (seed 002), with the status history written explicitly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import accounts as accounts_db
from db.session import mark_app_writer
from db.tables import application_status_history, job_applications, jobs, link_clicks, link_tracking
from domain.apikeys import generate_key


@dataclass
class ClickSpec:
    function: str
    hours: float  # after the application was sent
    bot: bool = False
    session_id: str | None = None


@dataclass
class AppSpec:
    created_at: datetime
    status: str = "applied"
    history: tuple[str, ...] = ("applied",)
    functions: tuple[str, ...] = ("LinkedIn", "Calendly", "Portfolio")
    inactive: tuple[str, ...] = ()  # functions whose link is inactive (added to `functions`)
    clicks: list[ClickSpec] = field(default_factory=list)
    job_title: str | None = None
    company: str | None = "Acme"
    # Hours after `created_at` of each history row (default: one day apart).
    history_hours: tuple[float, ...] | None = None


async def create_application(
    session: AsyncSession, account_id: uuid.UUID, spec: AppSpec
) -> uuid.UUID:
    """Insert one application with its job, history, links and clicks. The caller owns the
    transaction and has called `mark_app_writer`."""
    job_id = uuid.uuid4()
    await session.execute(
        insert(jobs).values(
            id=job_id,
            account_id=account_id,
            title=spec.job_title or "Engineer",
            company=spec.company,
            created_at=spec.created_at,
        )
    )
    app_id = uuid.uuid4()
    await session.execute(
        insert(job_applications).values(
            id=app_id,
            account_id=account_id,
            job_id=job_id,
            status=spec.status,
            created_at=spec.created_at,
            updated_at=spec.created_at,
            total_clicks=0,
            unique_click_sessions=0,
            engagement_score=0,
            is_high_priority=False,
        )
    )
    for i, status in enumerate(spec.history):
        await session.execute(
            insert(application_status_history).values(
                application_id=app_id,
                status=status,
                changed_at=spec.created_at
                + (
                    timedelta(days=i)
                    if spec.history_hours is None
                    else timedelta(hours=spec.history_hours[i])
                ),
            )
        )
    links: dict[str, str] = {}
    for function in (*spec.functions, *spec.inactive):
        tracking_id = f"t{uuid.uuid4().hex[:20]}"
        links[function] = tracking_id
        await session.execute(
            insert(link_tracking).values(
                tracking_id=tracking_id,
                account_id=account_id,
                job_id=job_id,
                application_id=app_id,
                link_function=function,
                link_type="profile",
                original_url=f"https://example.com/{function.lower()}",
                redirect_url=f"https://go.example.com/{tracking_id}",
                created_at=spec.created_at,
                is_active=function not in spec.inactive,
            )
        )
    for click in spec.clicks:
        await session.execute(
            insert(link_clicks).values(
                click_id=uuid.uuid4(),
                tracking_id=links[click.function],
                clicked_at=spec.created_at + timedelta(hours=click.hours),
                session_id=click.session_id,
                metadata={},
                is_bot=click.bot,
                bot_reason="scanner_burst" if click.bot else None,
                request_method="GET",
            )
        )
    return app_id


async def create_applications(
    session: AsyncSession, account_id: uuid.UUID, specs: list[AppSpec]
) -> list[uuid.UUID]:
    await mark_app_writer(session)
    return [await create_application(session, account_id, spec) for spec in specs]


async def create_account_with_key(
    sessionmaker: async_sessionmaker[AsyncSession], timezone: str = "UTC"
) -> tuple[uuid.UUID, str]:
    new = generate_key()
    async with sessionmaker() as session, session.begin():
        account = await accounts_db.create_account(session, name="Analytics", timezone=timezone)
        await accounts_db.create_api_key(
            session,
            account_id=account.id,
            name="test",
            prefix=new.prefix,
            key_hash=new.key_hash,
            scopes=("read",),
        )
    return account.id, new.key
