"""Whether PostgreSQL answers, and whether a failure is an outage or a configuration error."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine


class DatabaseMisconfigured(RuntimeError):
    """The server answered and refused us: no such database, role or password."""


async def ping(engine: AsyncEngine, *, within: float = 2.0) -> None:
    """One `SELECT 1`; raises what failed (DatabaseMisconfigured for a refusal that waiting
    will not cure: SQLSTATE class 3D, invalid catalog, or 28, invalid authorization)."""
    try:
        async with asyncio.timeout(within), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        code = str(getattr(exc.orig, "sqlstate", "") or "")
        if code[:2] in ("3D", "28"):
            raise DatabaseMisconfigured(str(exc.orig)) from exc
        raise
