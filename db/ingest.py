"""SQL of the click pipeline (SPEC §3.1): the link lookup behind /track's cache, and the
flusher's batch write with its scanner-burst check.

A batch is written in one transaction: one INSERT of every click (idempotent on the click id,
so a batch delivered twice stores each click once), one UPDATE that flags the scanner bursts
the batch completes, and one SELECT of what was stored, for the live feed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import Boolean, DateTime, Integer, Interval, String, Uuid

from db.tables import link_tracking
from domain.bots import BURST_MIN_LINKS, BURST_WINDOW, REASON_SCANNER_BURST

# metadata key set on a click whose session cookie was minted by that very redirect: the
# client had no cookie, so for burst detection it is identified by IP and user agent.
SESSION_NEW_KEY = "session_new"
DNT_KEY = "dnt"
# metadata key of recordClick's client click id (the stored id is derived from it)
CLIENT_CLICK_ID_KEY = "client_click_id"


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What /track needs to know of a tracked link."""

    tracking_id: str
    original_url: str
    is_active: bool
    account_id: uuid.UUID
    application_id: uuid.UUID | None
    link_function: str


async def link_targets(conn: AsyncConnection, *, tracking_ids: Sequence[str]) -> list[LinkTarget]:
    lt = link_tracking.c
    result = await conn.execute(
        select(
            lt.tracking_id,
            lt.original_url,
            lt.is_active,
            lt.account_id,
            lt.application_id,
            lt.link_function,
        ).where(lt.tracking_id.in_(list(tracking_ids)))
    )
    return [
        LinkTarget(
            tracking_id=r.tracking_id,
            original_url=r.original_url,
            is_active=r.is_active,
            account_id=r.account_id,
            application_id=r.application_id,
            link_function=r.link_function,
        )
        for r in result
    ]


@dataclass(frozen=True, slots=True)
class ClickEntry:
    """One click as the redirect (or recordClick) made it, waiting to be stored."""

    click_id: uuid.UUID
    tracking_id: str
    clicked_at: datetime
    ip_address: str | None
    user_agent: str | None
    referrer_url: str | None
    session_id: str | None
    click_source: str
    is_bot: bool
    bot_reason: str | None
    request_method: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredClick:
    click_id: uuid.UUID
    tracking_id: str
    account_id: uuid.UUID
    application_id: uuid.UUID | None
    clicked_at: datetime
    is_bot: bool


@dataclass(frozen=True, slots=True)
class BatchResult:
    inserted: int  # new rows (a click delivered again is not counted)
    dropped: int  # clicks whose link no longer exists (deleted since the redirect)
    flagged: int  # clicks flagged as part of a scanner burst
    stored: list[StoredClick]


def _array(name: str, item: Any) -> Any:
    return bindparam(name, type_=ARRAY(item))


_INSERT = text(
    """
    INSERT INTO link_clicks (click_id, tracking_id, clicked_at, ip_address, user_agent,
                             referrer_url, session_id, click_source, metadata, is_bot,
                             bot_reason, request_method)
    SELECT r.click_id, r.tracking_id, r.clicked_at, r.ip_address::inet, r.user_agent,
           r.referrer_url, r.session_id, r.click_source, r.metadata::jsonb, r.is_bot,
           r.bot_reason, r.request_method
    FROM unnest(:click_ids, :tracking_ids, :clicked_ats, :ips, :agents, :referrers, :sessions,
                :sources, :metadata, :bots, :reasons, :methods)
      AS r(click_id, tracking_id, clicked_at, ip_address, user_agent, referrer_url,
           session_id, click_source, metadata, is_bot, bot_reason, request_method)
    -- A link deleted (GDPR) since the redirect takes its clicks with it.
    JOIN link_tracking lt ON lt.tracking_id = r.tracking_id
    ON CONFLICT (click_id) DO NOTHING
    RETURNING click_id
    """
).bindparams(
    _array("click_ids", Uuid()),
    _array("tracking_ids", String()),
    _array("clicked_ats", DateTime(timezone=True)),
    _array("ips", String()),
    _array("agents", String()),
    _array("referrers", String()),
    _array("sessions", String()),
    _array("sources", String()),
    _array("metadata", String()),
    _array("bots", Boolean()),
    _array("reasons", String()),
    _array("methods", String()),
)

# The scanner-burst rule of domain.bots.find_scanner_bursts, set-based (tests/test_click_
# pipeline.py checks the two agree): the clicks of one application by one client (a session
# the client brought, else its IP and user agent) ordered by (clicked_at, click_id) form
# chains where each click is at most :window after the one before; a chain over at least
# :min_links different links is a burst, and every click of it is flagged (those already
# flagged by another rule keep their reason). Only chains with a click of :batch are looked
# at, over the clicks of the batch's applications from :lookback before its first click.
# A click whose client is its session (one it brought, not one minted by that redirect).
_SESSION_WHO = (
    "lc.session_id IS NOT NULL AND lc.session_id <> ''"
    f" AND NOT coalesce((lc.metadata ->> '{SESSION_NEW_KEY}')::boolean, false)"
)

_FLAG_BURSTS = text(
    f"""
    WITH apps AS (
      SELECT DISTINCT lt.application_id FROM link_tracking lt
      WHERE lt.tracking_id IN (SELECT lc.tracking_id FROM link_clicks lc
                               WHERE lc.click_id = ANY(:batch))
        AND lt.application_id IS NOT NULL
    ), span AS (
      SELECT min(clicked_at) - :lookback AS since, max(clicked_at) + :window AS until
      FROM link_clicks WHERE click_id = ANY(:batch)
    ), keys AS (
      -- who clicked in the batch: only their clicks can chain with the batch's (found
      -- through the session and address indexes of migration 0010, not by reading every
      -- recent click of the applications)
      SELECT CASE WHEN {_SESSION_WHO} THEN session_id END AS session_id,
             CASE WHEN NOT ({_SESSION_WHO}) THEN ip_address END AS ip_address
      FROM link_clicks lc WHERE click_id = ANY(:batch)
    ), c AS (
      SELECT lc.click_id, lt.application_id, lc.tracking_id, lc.clicked_at, lc.is_bot,
             CASE
               WHEN {_SESSION_WHO} THEN 's:' || lc.session_id
               WHEN lc.ip_address IS NOT NULL
                 THEN 'i:' || host(lc.ip_address) || ' ' || coalesce(lc.user_agent, '')
             END AS who
      FROM apps
      JOIN link_tracking lt ON lt.application_id = apps.application_id
      JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id, span
      WHERE lc.clicked_at BETWEEN span.since AND span.until
        AND (lc.session_id IN (SELECT session_id FROM keys)
             OR lc.ip_address IN (SELECT ip_address FROM keys))
    ), gaps AS (
      SELECT c.*,
             CASE WHEN clicked_at - lag(clicked_at) OVER w <= :window THEN 0 ELSE 1 END AS starts
      FROM c WHERE who IS NOT NULL
      WINDOW w AS (PARTITION BY application_id, who ORDER BY clicked_at, click_id)
    ), chains AS (
      SELECT gaps.*, sum(starts) OVER (PARTITION BY application_id, who
                                       ORDER BY clicked_at, click_id) AS chain
      FROM gaps
    ), bursts AS (
      SELECT application_id, who, chain FROM chains
      GROUP BY application_id, who, chain
      HAVING count(DISTINCT tracking_id) >= :min_links AND bool_or(click_id = ANY(:batch))
    )
    UPDATE link_clicks SET is_bot = true, bot_reason = '{REASON_SCANNER_BURST}'
    FROM chains JOIN bursts USING (application_id, who, chain)
    WHERE link_clicks.click_id = chains.click_id AND NOT link_clicks.is_bot
    """
).bindparams(
    _array("batch", Uuid()),
    bindparam("window", type_=Interval()),
    bindparam("lookback", type_=Interval()),
    bindparam("min_links", type_=Integer()),
)

# How far before a batch's first click a burst chain is followed back. A chain is a run of
# clicks each within BURST_WINDOW of the last; one longer than this would be a client
# clicking an application's links every few seconds for an hour.
BURST_LOOKBACK = timedelta(hours=1)

_STORED = text(
    """
    SELECT lc.click_id, lc.tracking_id, lt.account_id, lt.application_id, lc.clicked_at,
           lc.is_bot
    FROM link_clicks lc JOIN link_tracking lt ON lt.tracking_id = lc.tracking_id
    WHERE lc.click_id = ANY(:ids)
    ORDER BY lc.clicked_at, lc.click_id
    """
).bindparams(_array("ids", Uuid()))


async def flag_scanner_bursts(conn: AsyncConnection, *, click_ids: Sequence[uuid.UUID]) -> int:
    """Flag the scanner bursts that the given (stored) clicks belong to; how many were flagged."""
    result = await conn.execute(
        _FLAG_BURSTS,
        {
            "batch": list(click_ids),
            "window": BURST_WINDOW,
            "lookback": BURST_LOOKBACK,
            "min_links": BURST_MIN_LINKS,
        },
    )
    return int(result.rowcount or 0)


async def store_clicks(conn: AsyncConnection, entries: Sequence[ClickEntry]) -> BatchResult:
    """Write a batch of clicks (in the caller's transaction): insert, flag bursts, read back."""
    if not entries:
        return BatchResult(inserted=0, dropped=0, flagged=0, stored=[])
    unique = list({e.click_id: e for e in entries}.values())
    inserted = [
        r.click_id
        for r in await conn.execute(
            _INSERT,
            {
                "click_ids": [e.click_id for e in unique],
                "tracking_ids": [e.tracking_id for e in unique],
                "clicked_ats": [e.clicked_at for e in unique],
                "ips": [e.ip_address for e in unique],
                "agents": [e.user_agent for e in unique],
                "referrers": [e.referrer_url for e in unique],
                "sessions": [e.session_id for e in unique],
                "sources": [e.click_source for e in unique],
                "metadata": [orjson.dumps(e.metadata).decode() for e in unique],
                "bots": [e.is_bot for e in unique],
                "reasons": [e.bot_reason for e in unique],
                "methods": [e.request_method for e in unique],
            },
        )
    ]
    flagged = await flag_scanner_bursts(conn, click_ids=inserted) if inserted else 0
    stored = [
        StoredClick(
            click_id=r.click_id,
            tracking_id=r.tracking_id,
            account_id=r.account_id,
            application_id=r.application_id,
            clicked_at=r.clicked_at,
            is_bot=r.is_bot,
        )
        for r in await conn.execute(_STORED, {"ids": inserted})
    ]
    existing = await _existing(conn, [e.click_id for e in unique if e.click_id not in inserted])
    return BatchResult(
        inserted=len(inserted),
        dropped=len(unique) - len(inserted) - existing,
        flagged=flagged,
        stored=stored,
    )


_EXISTING = text("SELECT count(*) FROM link_clicks WHERE click_id = ANY(:ids)").bindparams(
    _array("ids", Uuid())
)


async def _existing(conn: AsyncConnection, ids: list[uuid.UUID]) -> int:
    if not ids:
        return 0
    return int((await conn.execute(_EXISTING, {"ids": ids})).scalar_one())
