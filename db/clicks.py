"""SQL for clicks (seed 002 `link_clicks`): the redirect's single statement, the write API,
batched pages and counts for loaders, scanner-burst flagging and reclassification.

The redirect path (`record_redirects`, `burst_candidates_batch`, `flag_burst_pool`) runs on a
raw asyncpg pool: no ORM session, no explicit transaction; one statement looks the link up and
inserts the click (for every redirect waiting at that moment, see graph.track.ClickWriter).
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Integer, bindparam, func, insert, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import Db
from db.params import any_of, param
from db.tables import link_clicks, link_tracking
from domain.bots import BURST_WINDOW, REASON_SCANNER_BURST, BurstClick, find_scanner_bursts

# metadata key set on a click whose session cookie was minted by that very redirect: the
# client had no cookie, so for burst detection it is identified by IP and user agent.
SESSION_NEW_KEY = "session_new"
DNT_KEY = "dnt"


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


# --- the redirect (raw asyncpg) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RedirectHit:
    original_url: str
    application_id: uuid.UUID | None
    click_id: uuid.UUID
    clicked_at: datetime


@dataclass(frozen=True, slots=True)
class RedirectClick:
    """One redirect's click, verdict decided, waiting for its link lookup and insert."""

    click_id: uuid.UUID
    tracking_id: str
    ip_address: str | None
    user_agent: str | None
    referrer_url: str | None
    session_id: str | None
    click_source: str
    metadata: dict[str, Any]
    is_bot: bool
    bot_reason: str | None
    request_method: str


# The same lookup and insert for many concurrent redirects in one statement: under load the
# writer coalesces the redirects waiting at that moment, so one round trip (and one commit)
# serves them all. Each row is keyed by the click id drawn in Python.
_REDIRECT_BATCH_SQL = """
WITH req AS (
  -- ip_address travels as text and is cast here: asyncpg's inet encoder parses each address
  -- in Python (ipaddress), several µs a click; the text is already canonical (graph.track).
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::text[], $8::text[], $9::boolean[], $10::text[], $11::text[])
    AS r(click_id, tracking_id, ip_address, user_agent, referrer_url, session_id,
         click_source, metadata, is_bot, bot_reason, request_method)
), found AS (
  SELECT req.*, lt.original_url, lt.application_id
  FROM req JOIN link_tracking lt ON lt.tracking_id = req.tracking_id AND lt.is_active
), ins AS (
  INSERT INTO link_clicks (click_id, tracking_id, ip_address, user_agent, referrer_url,
                           session_id, click_source, metadata, is_bot, bot_reason, request_method)
  SELECT click_id, tracking_id, ip_address::inet, user_agent, referrer_url, session_id,
         click_source, metadata::jsonb, is_bot, bot_reason, request_method
  FROM found
  RETURNING click_id, clicked_at
)
SELECT found.click_id, found.original_url, found.application_id, ins.clicked_at
FROM found JOIN ins ON ins.click_id = found.click_id
"""


async def record_redirects(
    pool: Any, clicks: Sequence[RedirectClick]
) -> dict[uuid.UUID, RedirectHit]:
    """Look up and insert many redirects' clicks at once; the hits by click id (an unknown or
    inactive link has none and stores nothing)."""
    rows = await pool.fetch(
        _REDIRECT_BATCH_SQL,
        [c.click_id for c in clicks],
        [c.tracking_id for c in clicks],
        [c.ip_address for c in clicks],
        [c.user_agent for c in clicks],
        [c.referrer_url for c in clicks],
        [c.session_id for c in clicks],
        [c.click_source for c in clicks],
        [orjson.dumps(c.metadata).decode() for c in clicks],
        [c.is_bot for c in clicks],
        [c.bot_reason for c in clicks],
        [c.request_method for c in clicks],
    )
    return {
        r["click_id"]: RedirectHit(
            original_url=r["original_url"],
            application_id=r["application_id"],
            click_id=r["click_id"],
            clicked_at=r["clicked_at"],
        )
        for r in rows
    }


# --- scanner bursts ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BurstClient:
    """Who made a click, as burst detection sees it (domain.bots.burst_client_key)."""

    session_id: str | None  # a session the client brought (not one minted for this click)
    ip_address: str | None
    user_agent: str | None

    @property
    def identified(self) -> bool:
        return self.session_id is not None or self.ip_address is not None


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


_BURST_CANDIDATES_SQL = f"""
SELECT lc.click_id, lc.tracking_id, lc.clicked_at, lc.session_id,
       host(lc.ip_address) AS ip_address, lc.user_agent,
       coalesce((lc.metadata ->> '{SESSION_NEW_KEY}')::boolean, false) AS session_new, lc.is_bot
FROM link_tracking lt
JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id
WHERE lt.application_id = $1 AND lc.clicked_at >= $2 AND lc.clicked_at <= $3
  AND CASE WHEN CAST($4 AS text) IS NOT NULL
    THEN lc.session_id = $4 AND NOT coalesce((lc.metadata ->> '{SESSION_NEW_KEY}')::boolean, false)
    ELSE lc.ip_address = CAST($5 AS inet) AND lc.user_agent IS NOT DISTINCT FROM CAST($6 AS text)
      AND (lc.session_id IS NULL
           OR coalesce((lc.metadata ->> '{SESSION_NEW_KEY}')::boolean, false))
  END
"""

_FLAG_BURST_SQL = f"""
UPDATE link_clicks SET is_bot = true, bot_reason = '{REASON_SCANNER_BURST}'
WHERE click_id = ANY($1::uuid[]) AND NOT is_bot
"""


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


async def burst_candidates_pool(
    pool: Any,
    *,
    application_id: uuid.UUID,
    client: BurstClient,
    since: datetime,
    until: datetime,
) -> list[BurstCandidate]:
    """The clicks of one client on one application's links between since and until."""
    rows = await pool.fetch(
        _BURST_CANDIDATES_SQL,
        application_id,
        since,
        until,
        client.session_id,
        client.ip_address,
        client.user_agent,
    )
    return [_candidate(r) for r in rows]


async def flag_burst_pool(pool: Any, *, click_ids: list[uuid.UUID]) -> int:
    status: str = await pool.execute(_FLAG_BURST_SQL, click_ids)
    return int(status.rsplit(" ", 1)[-1])


_BURST_BATCH_SQL = f"""
WITH req AS (
  SELECT * FROM unnest($1::int[], $2::uuid[], $3::text[], $4::inet[], $5::text[],
                       $6::timestamptz[], $7::timestamptz[])
    AS r(i, application_id, session_id, ip_address, user_agent, since, until)
)
SELECT r.i, lc.click_id, lc.tracking_id, lc.clicked_at, lc.session_id,
       host(lc.ip_address) AS ip_address, lc.user_agent,
       coalesce((lc.metadata ->> '{SESSION_NEW_KEY}')::boolean, false) AS session_new, lc.is_bot
FROM req r
JOIN link_tracking lt ON lt.application_id = r.application_id
JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id
  AND lc.clicked_at >= r.since AND lc.clicked_at <= r.until
WHERE CASE WHEN r.session_id IS NOT NULL
  THEN lc.session_id = r.session_id
    AND NOT coalesce((lc.metadata ->> '{SESSION_NEW_KEY}')::boolean, false)
  ELSE lc.ip_address = r.ip_address AND lc.user_agent IS NOT DISTINCT FROM r.user_agent
    AND (lc.session_id IS NULL
         OR coalesce((lc.metadata ->> '{SESSION_NEW_KEY}')::boolean, false))
END
"""


async def burst_candidates_batch(
    pool: Any, checks: Sequence[tuple[uuid.UUID, BurstClient, datetime, datetime]]
) -> list[list[BurstCandidate]]:
    """For many (application, client, since, until) at once: each one's clicks, in order."""
    rows = await pool.fetch(
        _BURST_BATCH_SQL,
        list(range(len(checks))),
        [c[0] for c in checks],
        [c[1].session_id for c in checks],
        [c[1].ip_address for c in checks],
        [c[1].user_agent for c in checks],
        [c[2] for c in checks],
        [c[3] for c in checks],
    )
    out: list[list[BurstCandidate]] = [[] for _ in checks]
    for r in rows:
        out[r["i"]].append(_candidate(r))
    return out


async def burst_candidates(
    session: AsyncSession,
    *,
    application_id: uuid.UUID,
    client: BurstClient,
    since: datetime,
    until: datetime,
) -> list[BurstCandidate]:
    sql = _BURST_CANDIDATES_SQL
    for n, name in enumerate(("app", "since", "until", "sid", "ip", "ua"), start=1):
        sql = sql.replace(f"${n}", f":{name}")
    rows = (
        await session.execute(
            text(sql),
            {
                "app": application_id,
                "since": since,
                "until": until,
                "sid": client.session_id,
                "ip": client.ip_address,
                "ua": client.user_agent,
            },
        )
    ).mappings()
    return [_candidate(r) for r in rows]


async def flag_burst(session: AsyncSession, *, click_ids: list[uuid.UUID]) -> int:
    stmt = text(_FLAG_BURST_SQL.replace("$1::uuid[]", "CAST(:ids AS uuid[])"))
    result = await session.execute(stmt, {"ids": click_ids})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


Fetch = Callable[[datetime, datetime], Awaitable[list[BurstCandidate]]]
Flag = Callable[[list[uuid.UUID]], Awaitable[int]]


async def flag_bursts_around(
    fetch: Fetch, flag: Flag, *, application_id: uuid.UUID, clicked_at: datetime
) -> int:
    """Flag every not-yet-flagged click of a scanner burst near ``clicked_at``; returns how many.

    Looks one window back (and ahead, for clicks racing this one); when the burst found reaches
    the start of the lookup, looks further back so the whole chain, its first click too, is
    flagged.
    """
    since, until = clicked_at - BURST_WINDOW, clicked_at + BURST_WINDOW
    rows: list[BurstCandidate] = []
    burst: set[str] = set()
    for _ in range(16):
        rows = await fetch(since, until)
        burst = find_scanner_bursts(to_burst_click(c, application_id) for c in rows)
        if not burst:
            return 0
        earliest = min(c.clicked_at for c in rows if str(c.click_id) in burst)
        if earliest - BURST_WINDOW >= since:
            break
        since = earliest - BURST_WINDOW
    ids = [c.click_id for c in rows if str(c.click_id) in burst and not c.is_bot]
    return await flag(ids) if ids else 0


# --- the write API (recordClick) ---------------------------------------------------------


async def insert_click(
    session: AsyncSession,
    *,
    tracking_id: str,
    application_id: uuid.UUID | None,
    clicked_at: datetime | None,
    ip_address: str | None,
    user_agent: str | None,
    referrer_url: str | None,
    session_id: str | None,
    click_source: str,
    metadata: dict[str, Any],
    is_bot: bool,
    bot_reason: str | None,
    request_method: str,
) -> ClickRow:
    values: dict[str, Any] = {
        "click_id": uuid.uuid4(),
        "tracking_id": tracking_id,
        "ip_address": ip_address,
        "user_agent": user_agent,
        "referrer_url": referrer_url,
        "session_id": session_id,
        "click_source": click_source,
        "metadata": metadata,
        "is_bot": is_bot,
        "bot_reason": bot_reason,
        "request_method": request_method,
    }
    if clicked_at is not None:
        values["clicked_at"] = clicked_at
    row = (
        await session.execute(insert(link_clicks).values(**values).returning(*_own_click_columns()))
    ).one()
    return click_row(row, application_id=application_id)


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
