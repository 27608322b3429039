"""SQL for tracked links (seed 002 `link_tracking`). Every read is scoped to an account."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import Db
from db.params import any_of, param
from db.tables import link_tracking


# Not frozen, as every row type read in bulk: a frozen dataclass's __init__ sets each field
# through object.__setattr__, ~7x slower (13 fields: 1.0 vs 0.14 µs), and a page of 100
# applications builds hundreds of rows. Rows are still never changed after they are read.
@dataclass(slots=True)
class LinkRow:
    tracking_id: str
    account_id: uuid.UUID
    job_id: uuid.UUID | None
    application_id: uuid.UUID | None
    link_function: str
    link_type: str
    original_url: str
    redirect_url: str
    created_at: datetime
    created_by: str | None
    is_active: bool
    description: str | None


def link_row(r: RowMapping) -> LinkRow:
    return LinkRow(**{name: r[name] for name in LinkRow.__slots__})


LINK_COLUMNS = tuple(link_tracking.c[name] for name in LinkRow.__slots__)


async def create_link(
    session: AsyncSession,
    *,
    tracking_id: str,
    account_id: uuid.UUID,
    job_id: uuid.UUID | None,
    application_id: uuid.UUID | None,
    link_function: str,
    link_type: str,
    original_url: str,
    redirect_url: str,
    description: str | None,
    created_by: str = "api",
) -> LinkRow | None:
    """The new link, or None when the tracking id is taken (the caller draws another)."""
    row = (
        (
            await session.execute(
                insert(link_tracking)
                .values(
                    tracking_id=tracking_id,
                    account_id=account_id,
                    job_id=job_id,
                    application_id=application_id,
                    link_function=link_function,
                    link_type=link_type,
                    original_url=original_url,
                    redirect_url=redirect_url,
                    description=description,
                    created_by=created_by,
                )
                .on_conflict_do_nothing(index_elements=["tracking_id"])
                .returning(*link_tracking.c)
            )
        )
        .mappings()
        .one_or_none()
    )
    return None if row is None else link_row(row)


# Loader statements, built once (db/params.py): :account_id and the :ids array.
_LINKS_BY_TRACKING_IDS = select(*LINK_COLUMNS).where(
    link_tracking.c.account_id == param("account_id", link_tracking.c.account_id),
    any_of(link_tracking.c.tracking_id),
)
_LINKS_BY_APPLICATION = (
    select(*LINK_COLUMNS)
    .where(
        link_tracking.c.account_id == param("account_id", link_tracking.c.account_id),
        any_of(link_tracking.c.application_id),
    )
    .order_by(
        link_tracking.c.application_id, link_tracking.c.created_at, link_tracking.c.tracking_id
    )
)


async def links_by_tracking_ids(
    db: Db, *, account_id: uuid.UUID, ids: list[str]
) -> dict[str, LinkRow]:
    result = await db.execute(_LINKS_BY_TRACKING_IDS, {"account_id": account_id, "ids": ids})
    return {r["tracking_id"]: LinkRow(**r) for r in result.mappings()}


async def links_by_application(
    db: Db, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[LinkRow]]:
    result = await db.execute(_LINKS_BY_APPLICATION, {"account_id": account_id, "ids": ids})
    out: dict[uuid.UUID, list[LinkRow]] = defaultdict(list)
    for r in result.mappings():
        link = LinkRow(**r)
        assert link.application_id is not None  # selected by application id
        out[link.application_id].append(link)
    return out


async def set_link_active(
    session: AsyncSession, *, account_id: uuid.UUID, tracking_id: str, active: bool
) -> LinkRow | None:
    lt = link_tracking.c
    row = (
        (
            await session.execute(
                update(link_tracking)
                .where(lt.account_id == account_id, lt.tracking_id == tracking_id)
                .values(is_active=active)
                .returning(*link_tracking.c)
            )
        )
        .mappings()
        .one_or_none()
    )
    return None if row is None else link_row(row)
