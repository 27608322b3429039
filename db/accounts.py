"""SQL for accounts and API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import Db
from db.params import any_of, param
from db.tables import accounts, api_keys


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: uuid.UUID
    name: str
    timezone: str
    profile_links: dict[str, str]
    webhook_url: str | None
    webhook_secret: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: uuid.UUID
    account_id: uuid.UUID
    scopes: tuple[str, ...]
    revoked_at: datetime | None
    last_used_at: datetime | None
    timezone: str


def _account(row: Any) -> AccountRow:
    return AccountRow(
        id=row.id,
        name=row.name,
        timezone=row.timezone,
        profile_links=dict(row.profile_links or {}),
        webhook_url=row.webhook_url,
        webhook_secret=row.webhook_secret,
        created_at=row.created_at,
    )


async def create_account(
    session: AsyncSession,
    *,
    name: str,
    timezone: str = "UTC",
    profile_links: dict[str, str] | None = None,
) -> AccountRow:
    row = (
        await session.execute(
            insert(accounts)
            .values(
                id=uuid.uuid4(),
                name=name,
                timezone=timezone,
                profile_links=profile_links or {},
            )
            .returning(*accounts.c)
        )
    ).one()
    return _account(row)


async def get_account(session: AsyncSession, *, account_id: uuid.UUID) -> AccountRow | None:
    row = (await session.execute(select(accounts).where(accounts.c.id == account_id))).one_or_none()
    return None if row is None else _account(row)


async def get_accounts(
    session: AsyncSession, *, ids: list[uuid.UUID]
) -> dict[uuid.UUID, AccountRow]:
    rows = (await session.execute(select(accounts).where(accounts.c.id.in_(ids)))).all()
    return {r.id: _account(r) for r in rows}


async def first_account_named(session: AsyncSession, *, name: str) -> AccountRow | None:
    row = (
        await session.execute(
            select(accounts).where(accounts.c.name == name).order_by(accounts.c.created_at).limit(1)
        )
    ).one_or_none()
    return None if row is None else _account(row)


async def update_account(
    session: AsyncSession, *, account_id: uuid.UUID, values: dict[str, Any]
) -> AccountRow | None:
    if not values:
        return await get_account(session, account_id=account_id)
    row = (
        await session.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(**values)
            .returning(*accounts.c)
        )
    ).one_or_none()
    return None if row is None else _account(row)


async def create_api_key(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    name: str,
    prefix: str,
    key_hash: str,
    scopes: tuple[str, ...],
) -> uuid.UUID:
    key_id = uuid.uuid4()
    await session.execute(
        insert(api_keys).values(
            id=key_id,
            account_id=account_id,
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            scopes=list(scopes),
        )
    )
    return key_id


# Every authenticated request runs the first: built once (db/params.py).
_FIND_KEY = (
    select(
        api_keys.c.id,
        api_keys.c.account_id,
        api_keys.c.scopes,
        api_keys.c.revoked_at,
        api_keys.c.last_used_at,
        accounts.c.timezone,
    )
    .join(accounts, accounts.c.id == api_keys.c.account_id)
    .where(api_keys.c.key_hash == param("key_hash", api_keys.c.key_hash))
)
_TOUCH_KEYS = (
    update(api_keys)
    .where(any_of(api_keys.c.id))
    .where(
        (api_keys.c.last_used_at.is_(None))
        | (api_keys.c.last_used_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 1))
    )
    .values(last_used_at=func.now())
)


async def find_key(db: Db, *, key_hash: str) -> KeyRow | None:
    row = (await db.execute(_FIND_KEY, {"key_hash": key_hash})).one_or_none()
    if row is None:
        return None
    return KeyRow(
        id=row.id,
        account_id=row.account_id,
        scopes=tuple(row.scopes),
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        timezone=row.timezone,
    )


async def touch_keys(session: AsyncSession, *, key_ids: list[uuid.UUID]) -> int:
    """Record use of these keys, at most once a minute each; returns the rows written."""
    result = await session.execute(_TOUCH_KEYS, {"ids": key_ids})
    return int(result.rowcount)  # type: ignore[attr-defined]


async def revoke_key(
    session: AsyncSession,
    *,
    key: str | None = None,
    key_id: uuid.UUID | None = None,
    key_hash: str | None = None,
) -> int:
    stmt = update(api_keys).where(api_keys.c.revoked_at.is_(None)).values(revoked_at=func.now())
    if key_id is not None:
        stmt = stmt.where(api_keys.c.id == key_id)
    elif key_hash is not None:
        stmt = stmt.where(api_keys.c.key_hash == key_hash)
    elif key is not None:
        stmt = stmt.where(api_keys.c.prefix == key)
    else:
        return 0
    result = await session.execute(stmt)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
