"""Rows for the prediction and follow-up tests, inserted by SQL (seed 002 direct integration)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.session import mark_app_writer

# 2025-01-08 was a Wednesday: history built on it has no weekend click unless a test wants one.
WEDNESDAY = datetime(2025, 1, 8, 9, 0, tzinfo=UTC)


def recent_wednesday(now: datetime | None = None) -> datetime:
    """The latest Wednesday 09:00 UTC at least a day ago (less than outcome_age_days ago), so
    clicks a few hours after it fall on the Wednesday and before now."""
    day = (now or datetime.now(UTC)) - timedelta(days=1)
    day -= timedelta(days=(day.weekday() - 2) % 7)
    return day.replace(hour=9, minute=0, second=0, microsecond=0)


@dataclass
class C:
    """A click ``hours`` after applying."""

    function: str
    hours: float
    bot: bool = False


@dataclass
class A:
    created_at: datetime
    clicks: list[C] = field(default_factory=list)
    interview_after_days: float | None = None
    status: str | None = None
    engagement_score: int = 0
    is_high_priority: bool = False


async def insert_apps(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: uuid.UUID, apps: list[A]
) -> list[uuid.UUID]:
    """Applications with their history (applied, then interview if any), links and clicks."""
    ids: list[uuid.UUID] = []
    async with sessionmaker() as session, session.begin():
        await mark_app_writer(session)
        for app in apps:
            app_id = uuid.uuid4()
            ids.append(app_id)
            status = app.status or (
                "interview" if app.interview_after_days is not None else "applied"
            )
            await session.execute(
                text(
                    "INSERT INTO job_applications (id, account_id, status, created_at, updated_at,"
                    " engagement_score, is_high_priority) VALUES (:id, :acc, :status, :at, :at,"
                    " :score, :hp)"
                ),
                {
                    "id": app_id,
                    "acc": account_id,
                    "status": status,
                    "at": app.created_at,
                    "score": app.engagement_score,
                    "hp": app.is_high_priority,
                },
            )
            await session.execute(
                text(
                    "INSERT INTO application_status_history (application_id, status, changed_at)"
                    " VALUES (:id, 'applied', :at)"
                ),
                {"id": app_id, "at": app.created_at},
            )
            if app.interview_after_days is not None:
                await session.execute(
                    text(
                        "INSERT INTO application_status_history (application_id, status,"
                        " changed_at) VALUES (:id, 'interview', :at)"
                    ),
                    {"id": app_id, "at": app.created_at + timedelta(days=app.interview_after_days)},
                )
            links: dict[str, str] = {}
            for click in app.clicks:
                if click.function not in links:
                    tracking_id = f"t{uuid.uuid4().hex}"
                    links[click.function] = tracking_id
                    await session.execute(
                        text(
                            "INSERT INTO link_tracking (tracking_id, account_id, application_id,"
                            " link_function, link_type, original_url, redirect_url) VALUES"
                            " (:t, :acc, :app, :f, 'profile', 'https://example.com/',"
                            " :r)"
                        ),
                        {
                            "t": tracking_id,
                            "acc": account_id,
                            "app": app_id,
                            "f": click.function,
                            "r": f"https://go.example.com/{tracking_id}",
                        },
                    )
                await session.execute(
                    text(
                        "INSERT INTO link_clicks (tracking_id, clicked_at, is_bot, bot_reason)"
                        " VALUES (:t, :at, :bot, :reason)"
                    ),
                    {
                        "t": links[click.function],
                        "at": app.created_at + timedelta(hours=click.hours),
                        "bot": click.bot,
                        "reason": "test scanner" if click.bot else None,
                    },
                )
    return ids
