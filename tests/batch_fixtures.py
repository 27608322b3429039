"""Helpers for the batch tests: load rows straight into the seed tables (direct integration)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.session import mark_app_writer, raw_connection


@dataclass
class Click:
    click_id: uuid.UUID
    clicked_at: datetime
    link_function: str
    session_id: str | None = None
    is_bot: bool = False


@dataclass
class App:
    id: uuid.UUID
    account_id: uuid.UUID
    created_at: datetime
    clicks: list[Click] = field(default_factory=list)


async def load(sessionmaker: async_sessionmaker[AsyncSession], apps: list[App]) -> None:
    """Insert applications, one link per (application, function), and the clicks (COPY)."""
    app_rows: list[tuple[Any, ...]] = []
    link_rows: list[tuple[Any, ...]] = []
    click_rows: list[tuple[Any, ...]] = []
    for app in apps:
        app_rows.append((app.id, app.account_id, "applied", app.created_at, app.created_at))
        links: dict[str, str] = {}
        for click in app.clicks:
            if click.link_function not in links:
                tracking_id = f"t{uuid.uuid4().hex}"
                links[click.link_function] = tracking_id
                link_rows.append(
                    (
                        tracking_id,
                        app.account_id,
                        app.id,
                        click.link_function,
                        "profile",
                        "https://example.com/",
                        f"https://go.example.com/{tracking_id}",
                    )
                )
            click_rows.append(
                (
                    click.click_id,
                    links[click.link_function],
                    click.clicked_at,
                    click.session_id,
                    click.is_bot,
                    "crawler" if click.is_bot else None,
                )
            )
    async with sessionmaker() as session, session.begin():
        await mark_app_writer(session)
        raw = await raw_connection(session)
        await raw.copy_records_to_table(
            "job_applications",
            records=app_rows,
            columns=["id", "account_id", "status", "created_at", "updated_at"],
        )
        await raw.copy_records_to_table(
            "link_tracking",
            records=link_rows,
            columns=[
                "tracking_id",
                "account_id",
                "application_id",
                "link_function",
                "link_type",
                "original_url",
                "redirect_url",
            ],
        )
        await raw.copy_records_to_table(
            "link_clicks",
            records=click_rows,
            columns=["click_id", "tracking_id", "clicked_at", "session_id", "is_bot", "bot_reason"],
        )


async def analytics_rows(
    sessionmaker: async_sessionmaker[AsyncSession], account_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """link_click_analytics joined with the §1.1 columns, keyed by application id."""
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                text(
                    """
                    SELECT lca.*, ja.first_click_timestamp, ja.last_click_timestamp,
                           ja.total_clicks, ja.unique_click_sessions,
                           ja.most_clicked_link_function,
                           ja.engagement_score AS app_engagement_score, ja.is_high_priority
                    FROM job_applications ja
                    LEFT JOIN link_click_analytics lca ON lca.application_id = ja.id
                    WHERE ja.account_id = ANY(:accounts)
                    """
                ),
                {"accounts": account_ids},
            )
        ).mappings()
        return {r["application_id"]: dict(r) for r in rows}
