"""Re-apply the current bot rules to stored clicks, and the machine rules to stored email
events (`linkinsights reclassify`).

Works in chunks of applications (a scanner burst never crosses applications), then over the
clicks of links without an application (request rules only). Each chunk is its own
transaction with one set-based UPDATE of the verdicts that changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import clicks as clicks_db
from db import email as email_db
from db.clicks import StoredClick
from domain.bots import (
    REASON_CRAWLER_USER_AGENT,
    REASON_SCANNER_BURST,
    classify_request,
    find_scanner_bursts,
)


def verdicts(clicks: Sequence[StoredClick]) -> list[tuple[uuid.UUID, bool, str | None]]:
    """The current verdict of each click: request rules first, then the scanner burst."""
    burst = find_scanner_bursts(
        clicks_db.to_burst_click(c.candidate, c.application_id)
        for c in clicks
        if c.application_id is not None
    )
    out: list[tuple[uuid.UUID, bool, str | None]] = []
    for c in clicks:
        verdict = classify_request(
            method=c.request_method, user_agent=c.candidate.user_agent, referrer=c.referrer_url
        )
        is_bot, reason = verdict.is_bot, verdict.reason
        if not is_bot and c.dnt and c.bot_reason == REASON_CRAWLER_USER_AGENT:
            # A DNT click's user agent was judged at ingestion and never stored: keep it.
            is_bot, reason = True, REASON_CRAWLER_USER_AGENT
        if not is_bot and str(c.click_id) in burst:
            is_bot, reason = True, REASON_SCANNER_BURST
        out.append((c.click_id, is_bot, reason))
    return out


async def reclassify_all(
    sessionmaker: async_sessionmaker[AsyncSession], *, chunk: int = 500
) -> tuple[int, int]:
    """Returns (clicks examined, clicks whose verdict changed)."""
    examined = changed = 0
    after: uuid.UUID | None = None
    while True:
        async with sessionmaker() as session, session.begin():
            ids = await clicks_db.application_ids_with_clicks(session, after=after, limit=chunk)
            if not ids:
                break
            stored = await clicks_db.stored_clicks_of_applications(session, ids=ids)
            examined += len(stored)
            changed += await clicks_db.set_verdicts(session, verdicts=verdicts(stored))
        after = ids[-1]
    after = None
    while True:
        async with sessionmaker() as session, session.begin():
            stored = await clicks_db.stored_clicks_without_application(
                session, after=after, limit=chunk * 20
            )
            if not stored:
                break
            examined += len(stored)
            changed += await clicks_db.set_verdicts(session, verdicts=verdicts(stored))
        after = stored[-1].click_id
    return examined, changed


async def reclassify_email_events(
    sessionmaker: async_sessionmaker[AsyncSession], *, chunk: int = 500
) -> tuple[int, int]:
    """The machine-open rules (domain/email.py) over every contact's events, ``chunk``
    contacts per transaction. Returns (contacts examined, verdicts changed)."""
    examined = changed = 0
    after: uuid.UUID | None = None
    while True:
        async with sessionmaker() as session, session.begin():
            ids = await email_db.contact_ids_page(session, after=after, limit=chunk)
            if not ids:
                break
            examined += len(ids)
            changed += await email_db.reclassify_contacts(session, ids)
        after = ids[-1]
    return examined, changed
