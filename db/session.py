"""Session helpers shared by writers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import Db


async def mark_app_writer(session: Db) -> None:
    """Tell the database triggers that our code writes this transaction (see migration 0001).

    We then write status history ourselves, with the real change time, and have checked
    that every id written belongs to the caller's account.
    """
    await session.execute(text("SELECT set_config('linkinsights.app_writer', 'on', true)"))


async def raw_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under a session, for COPY."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection
