"""SQL for clicks (seed 002 `link_clicks`): reads by id, batched pages and counts for loaders,
and reclassification. Clicks are written by the click pipeline's flusher (db/ingest.py).
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Integer, bindparam, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import Db
from db.ingest import DNT_KEY, SESSION_NEW_KEY
from db.params import any_of, param
from db.tables import link_clicks, link_tracking
from domain.bots import BurstClick


# Not frozen, as every row type read in bulk: a frozen dataclass's __init__ sets each field
# through object.__setattr__, ~7x slower (13 fields: 1.0 vs 0.14 µs), and a page of 100
# applications builds hundreds of rows. Rows are still never changed after they are read.
@dataclass(slots=True)
class ClickRow:
    click_id: uuid.UUID
    tracking_id: str
    application_id: uuid.UUID | None
    clicked_at: datetime
    ip_address: str | None
    user_agent: str | None
    referrer_url: str | None
    session_id: str | None
    click_source: str | None
    metadata: dict[str, Any]
    is_bot: bool
    bot_reason: str | None
    request_method: str


def _metadata(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = orjson.loads(value)
    return dict(value or {})


def _own_click_columns() -> list[Any]:
    """The click's own columns (the IP as text); a read adds its link's application."""
    lc = link_clicks.c
    return [
        lc.click_id,
        lc.tracking_id,
        lc.clicked_at,
        func.host(lc.ip_address).label("ip_address"),
        lc.user_agent,
        lc.referrer_url,
        lc.session_id,
        lc.click_source,
        lc.metadata,
        lc.is_bot,
        lc.bot_reason,
        lc.request_method,
    ]


def _click_columns() -> list[Any]:
    return [*_own_click_columns(), link_tracking.c.application_id]


_FROM_ROW: Any = object()


def click_row(row: Any, *, application_id: uuid.UUID | None = _FROM_ROW) -> ClickRow:
    """A ClickRow from a read (application_id in the row) or an insert (given, maybe None)."""
    return ClickRow(
        click_id=row.click_id,
        tracking_id=row.tracking_id,
        application_id=row.application_id if application_id is _FROM_ROW else application_id,
        clicked_at=row.clicked_at,
        ip_address=row.ip_address,
        user_agent=row.user_agent,
        referrer_url=row.referrer_url,
        session_id=row.session_id,
        click_source=row.click_source,
        metadata=_metadata(row.metadata),
        is_bot=row.is_bot,
        bot_reason=row.bot_reason,
        request_method=row.request_method,
    )


# --- scanner-burst candidates (reclassification) ---------------------------------------


@dataclass(frozen=True, slots=True)
class BurstCandidate:
    click_id: uuid.UUID
    tracking_id: str
    clicked_at: datetime
    session_id: str | None
    ip_address: str | None
    user_agent: str | None
    session_new: bool
    is_bot: bool


def to_burst_click(c: BurstCandidate, application_id: uuid.UUID) -> BurstClick:
    """A session minted by the redirect itself identifies nobody: use IP and agent then."""
    return BurstClick(
        click_id=str(c.click_id),
        application_id=str(application_id),
        tracking_id=c.tracking_id,
        clicked_at=c.clicked_at,
        session_id=None if c.session_new else c.session_id,
        ip_address=c.ip_address,
        user_agent=c.user_agent,
    )


def _candidate(row: Any) -> BurstCandidate:
    return BurstCandidate(
        click_id=row["click_id"],
        tracking_id=row["tracking_id"],
        clicked_at=row["clicked_at"],
        session_id=row["session_id"],
        ip_address=row["ip_address"],
        user_agent=row["user_agent"],
        session_new=row["session_new"],
        is_bot=row["is_bot"],
    )


# --- reads by id (recordClick, the live feed) -----------------------------------------


async def click_by_id(
    session: AsyncSession, *, account_id: uuid.UUID, click_id: uuid.UUID
) -> ClickRow | None:
    row = (
        await session.execute(
            select(*_click_columns())
            .select_from(
                link_clicks.join(
                    link_tracking, link_tracking.c.tracking_id == link_clicks.c.tracking_id
                )
            )
            .where(link_tracking.c.account_id == account_id, link_clicks.c.click_id == click_id)
        )
    ).one_or_none()
    return None if row is None else click_row(row)


async def clicks_by_ids(
    session: AsyncSession, *, account_id: uuid.UUID, click_ids: Sequence[uuid.UUID]
) -> list[ClickRow]:
    """The account's clicks among `click_ids`, oldest first (others' ids find nothing)."""
    result = await session.execute(
        select(*_click_columns())
        .select_from(
            link_clicks.join(
                link_tracking, link_tracking.c.tracking_id == link_clicks.c.tracking_id
            )
        )
        .where(
            link_tracking.c.account_id == account_id,
            link_clicks.c.click_id.in_(list(click_ids)),
        )
        .order_by(link_clicks.c.clicked_at, link_clicks.c.click_id)
    )
    return [click_row(r) for r in result]


# --- loaders: pages and counts, one statement for every parent ---------------------------

Parent = Literal["application", "link"]
Keyset = tuple[datetime, uuid.UUID]


def _parent_column(parent: Parent) -> Any:
    return (
        link_tracking.c.application_id if parent == "application" else link_tracking.c.tracking_id
    )


def _parent_clauses(parent: Parent, include_bots: bool) -> list[Any]:
    """The account's clicks of the parents in :ids (human ones unless ``include_bots``)."""
    clauses = [
        link_tracking.c.account_id == param("account_id", link_tracking.c.account_id),
        any_of(_parent_column(parent)),
    ]
    if not include_bots:
        clauses.append(link_clicks.c.is_bot.is_(False))
    return clauses


@functools.cache
def _click_pages_statement(parent: Parent, include_bots: bool, keyset: bool) -> Any:
    """Built once per shape (db/params.py); values: account_id, ids, limit and, with
    ``keyset``, after_at / after_id. Each row also carries its parent's number of clicks
    matching the filter (a window count; without a keyset, the parent's total)."""
    lc = link_clicks.c
    parent_col = _parent_column(parent)
    clauses = _parent_clauses(parent, include_bots)
    if keyset:
        clauses.append(
            tuple_(lc.clicked_at, lc.click_id)
            > tuple_(param("after_at", lc.clicked_at), param("after_id", lc.click_id))
        )
    rn = (
        func.row_number()
        .over(partition_by=parent_col, order_by=(lc.clicked_at, lc.click_id))
        .label("rn")
    )
    total = func.count().over(partition_by=parent_col).label("total")
    inner = (
        select(parent_col.label("parent"), *_click_columns(), rn, total)
        .select_from(link_clicks.join(link_tracking, link_tracking.c.tracking_id == lc.tracking_id))
        .where(*clauses)
        .subquery()
    )
    return (
        select(inner)
        .where(inner.c.rn <= bindparam("limit", type_=Integer()))
        .order_by(inner.c.parent, inner.c.rn)
    )


async def click_pages(
    db: Db,
    *,
    account_id: uuid.UUID,
    parent: Parent,
    ids: Sequence[Any],
    include_bots: bool,
    first: int,
    after: Keyset | None,
    totals: dict[Any, int] | None = None,
) -> dict[Any, list[ClickRow]]:
    """Up to ``first + 1`` clicks per parent, oldest first (clicked_at, click_id), after the
    keyset; one statement for all parents (row_number() over a partition per parent).

    Without a keyset, ``totals`` (if given) receives each parent's number of clicks, as
    ``click_counts`` counts them, read by the same statement; a parent without any is 0.
    """
    values: dict[str, Any] = {"account_id": account_id, "ids": list(ids), "limit": first + 1}
    if after is not None:
        values["after_at"], values["after_id"] = after
    statement = _click_pages_statement(parent, include_bots, after is not None)
    out: dict[Any, list[ClickRow]] = defaultdict(list)
    for r in await db.execute(statement, values):
        out[r.parent].append(click_row(r))
        if totals is not None and after is None:
            totals[r.parent] = int(r.total)
    if totals is not None and after is None:
        for parent_id in values["ids"]:
            totals.setdefault(parent_id, 0)
    return out


@functools.cache
def _click_counts_statement(parent: Parent, include_bots: bool) -> Any:
    """Built once per shape (db/params.py); values: account_id, ids."""
    lc = link_clicks.c
    parent_col = _parent_column(parent)
    clauses = _parent_clauses(parent, include_bots)
    return (
        select(parent_col.label("parent"), func.count().label("n"))
        .select_from(link_clicks.join(link_tracking, link_tracking.c.tracking_id == lc.tracking_id))
        .where(*clauses)
        .group_by(parent_col)
    )


async def click_counts(
    db: Db,
    *,
    account_id: uuid.UUID,
    parent: Parent,
    ids: Sequence[Any],
    include_bots: bool,
) -> dict[Any, int]:
    statement = _click_counts_statement(parent, include_bots)
    result = await db.execute(statement, {"account_id": account_id, "ids": list(ids)})
    return {r.parent: int(r.n) for r in result}


# --- reclassification (linkinsights reclassify) ------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredClick:
    click_id: uuid.UUID
    application_id: uuid.UUID | None
    candidate: BurstCandidate
    referrer_url: str | None
    request_method: str
    dnt: bool
    bot_reason: str | None


_STORED_SQL = f"""
SELECT lc.click_id, lt.application_id, lc.tracking_id, lc.clicked_at, lc.session_id,
       host(lc.ip_address) AS ip_address, lc.user_agent, lc.referrer_url, lc.request_method,
       coalesce((lc.metadata ->> '{SESSION_NEW_KEY}')::boolean, false) AS session_new,
       coalesce((lc.metadata ->> '{DNT_KEY}')::boolean, false) AS dnt,
       lc.is_bot, lc.bot_reason
FROM link_tracking lt
JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id
"""


def _stored(r: Any) -> StoredClick:
    return StoredClick(
        click_id=r.click_id,
        application_id=r.application_id,
        candidate=_candidate(r),
        referrer_url=r.referrer_url,
        request_method=r.request_method,
        dnt=r.dnt,
        bot_reason=r.bot_reason,
    )


async def application_ids_with_clicks(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Applications that have links, in id order, for chunked reclassification."""
    lt = link_tracking.c
    stmt = select(lt.application_id).where(lt.application_id.is_not(None)).distinct()
    if after is not None:
        stmt = stmt.where(lt.application_id > after)
    rows = (await session.execute(stmt.order_by(lt.application_id).limit(limit))).scalars()
    return list(rows)


async def stored_clicks_of_applications(
    session: AsyncSession, *, ids: list[uuid.UUID]
) -> list[StoredClick]:
    rows = (
        await session.execute(
            text(_STORED_SQL + " WHERE lt.application_id = ANY(:ids)"), {"ids": ids}
        )
    ).mappings()
    return [_stored(r) for r in rows]


async def stored_clicks_without_application(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int
) -> list[StoredClick]:
    where = " WHERE lt.application_id IS NULL"
    params: dict[str, Any] = {"limit": limit}
    if after is not None:
        where += " AND lc.click_id > :after"
        params["after"] = after
    rows = (
        await session.execute(
            text(_STORED_SQL + where + " ORDER BY lc.click_id LIMIT :limit"), params
        )
    ).mappings()
    return [_stored(r) for r in rows]


async def set_verdicts(
    session: AsyncSession, *, verdicts: list[tuple[uuid.UUID, bool, str | None]]
) -> int:
    """Write changed verdicts, set-based (one UPDATE over unnest)."""
    if not verdicts:
        return 0
    result = await session.execute(
        text(
            """
            UPDATE link_clicks lc SET is_bot = v.is_bot, bot_reason = v.reason
            FROM unnest(CAST(:ids AS uuid[]), CAST(:bots AS boolean[]), CAST(:reasons AS text[]))
                 AS v(click_id, is_bot, reason)
            WHERE lc.click_id = v.click_id
              AND (lc.is_bot IS DISTINCT FROM v.is_bot OR lc.bot_reason IS DISTINCT FROM v.reason)
            """
        ),
        {
            "ids": [v[0] for v in verdicts],
            "bots": [v[1] for v in verdicts],
            "reasons": [v[2] for v in verdicts],
        },
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
