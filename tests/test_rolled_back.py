"""The rolled-back outer transaction of tests/conftest.py (`db`, `db_sessions`)."""

from __future__ import annotations

import uuid

import pytest
from conftest import joined_sessions, rolled_back
from factories import create_account, create_key
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from db.tables import accounts, api_keys


async def _names(conn: AsyncConnection, account_id: uuid.UUID) -> list[str]:
    rows = await conn.execute(select(accounts.c.name).where(accounts.c.id == account_id))
    return list(rows.scalars())


async def test_what_a_test_commits_is_visible_to_it_and_gone_afterwards(
    engine: AsyncEngine,
) -> None:
    async with rolled_back(engine) as conn:
        sessions = joined_sessions(conn)
        account = await create_account(sessions, name="before")  # commits its session
        await create_key(conn, account)
        async with sessions() as session, session.begin():
            await session.execute(
                update(accounts).where(accounts.c.id == account).values(name="after")
            )
        assert await _names(conn, account) == ["after"]
        async with engine.connect() as other:
            assert await _names(other, account) == []  # nothing reached the database
    async with engine.connect() as other:
        assert await _names(other, account) == []
        keys = await other.execute(select(api_keys.c.id).where(api_keys.c.account_id == account))
        assert keys.all() == []


async def test_a_failed_unit_of_work_rolls_back_to_its_savepoint_only(
    db: AsyncConnection, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = await create_account(db_sessions, name="kept")

    async def rename_then_fail() -> None:
        async with db_sessions() as session, session.begin():
            await session.execute(
                update(accounts).where(accounts.c.id == account).values(name="changed")
            )
            await create_account(session, id=account)  # the same id: the unit fails

    with pytest.raises(IntegrityError):
        await rename_then_fail()
    # The test's transaction goes on, with what was committed before the failure.
    assert await _names(db, account) == ["kept"]
