"""Loading the demo data (demo/) with COPY: `linkinsights seed` and the benchmark loads.

``seed_account`` fills one existing account with a realistic history (see the ``demo``
package for what it holds); ``seed_accounts`` makes the benchmark loads with the same
generator: many accounts, or one account with a million applications. Rows come in batches
and go to asyncpg's ``copy_records_to_table``; the next batch is generated in a worker thread
while the current one is copied, so memory stays flat and the database and Python work in
parallel. The README's performance section has the load rates.

The caller owns the transaction. Both functions set ``linkinsights.app_writer`` (see
migration 0001), so the triggers skip their per-row work: every status history row, the
first ``applied`` one included, and every link's ``account_id`` are written here.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.session import mark_app_writer, raw_connection
from db.tables import accounts
from demo.distributions import BATCH_ROWS, DEFAULT_CLICKS_PER_APPLICATION, SPAN_DAYS, zone
from demo.generator import Generator, Ids, Plan
from demo.rows import (
    AccountRow,
    ApplicationRow,
    ClickRow,
    ContactRow,
    EventRow,
    HistoryRow,
    JobRow,
    LinkRow,
)

__all__ = ["DemoSummary", "seed_account", "seed_accounts"]


@dataclass(frozen=True)
class DemoSummary:
    """Rows written. ``clicks`` counts every ``link_clicks`` row, ``bot_clicks`` those flagged
    as bots; ``status_changes`` every history row (the first ``applied`` one included)."""

    accounts: int
    jobs: int
    applications: int
    links: int
    clicks: int
    bot_clicks: int
    status_changes: int


async def seed_account(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    applications: int,
    seed: int,
    now: datetime,
    timezone: str = "America/New_York",
    public_base_url: str = "http://127.0.0.1:8000",
) -> DemoSummary:
    """Fill an existing account with ``applications`` realistic applications up to ``now``.

    Sets the account's timezone to ``timezone`` (the clicks follow its business hours) and
    completes its ``profile_links`` (LinkedIn, Calendly, Portfolio); profile links the
    account already has are used for its links. Runs in the caller's transaction (no commit).
    """
    _check(now, applications)
    zone(timezone)
    await mark_app_writer(session)
    row = (
        await session.execute(select(accounts.c.profile_links).where(accounts.c.id == account_id))
    ).one_or_none()
    if row is None:
        raise LookupError(f"account {account_id} does not exist")
    generator = Generator(
        seed=seed,
        ids=Ids(f"linkinsights-demo:{seed}:{account_id}"),
        now=now,
        clicks_per_application=DEFAULT_CLICKS_PER_APPLICATION,
        public_base_url=public_base_url,
    )
    existing = dict(row.profile_links or {})
    profile = generator.profile_links()
    for function in profile:
        value = existing.get(function)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            profile[function] = value
    await session.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(timezone=timezone, profile_links={**existing, **profile})
    )
    plan = Plan(
        account_id,
        timezone,
        (profile["LinkedIn"], profile["Calendly"], profile["Portfolio"]),
        applications,
    )
    return await _load(session, generator, [plan], DEFAULT_CLICKS_PER_APPLICATION, None, 1)


async def seed_accounts(
    session: AsyncSession,
    *,
    accounts: int,
    applications_per_account: int,
    seed: int,
    now: datetime,
    clicks_per_application: float = DEFAULT_CLICKS_PER_APPLICATION,
    progress: Callable[[int], None] | None = None,
    id_salt: str | None = None,
) -> DemoSummary:
    """Create ``accounts`` accounts ("Bench account N", varied timezones) and fill each.

    For benchmarks: 1,000 accounts x 100 applications, or 1 account x 1,000,000
    applications with ``clicks_per_application=20``. ``clicks_per_application`` is the mean
    number of ``link_clicks`` rows per application, bots included. ``progress`` is called
    after each batch with the number of applications written so far.

    The data is a function of ``seed`` and ``now``; the ids also of ``id_salt``, a fresh
    one per call when None, so a second run into the same database never collides.
    Runs in the caller's transaction (no commit).
    """
    _check(now, applications_per_account)
    if accounts < 0:
        raise ValueError("accounts must not be negative")
    if clicks_per_application < 0:
        raise ValueError("clicks_per_application must not be negative")
    await mark_app_writer(session)
    salt = id_salt if id_salt is not None else uuid.uuid4().hex
    ids = Ids(f"linkinsights-bench:{seed}:{salt}")
    generator = Generator(
        seed=seed,
        ids=ids,
        now=now,
        clicks_per_application=clicks_per_application,
        public_base_url="http://127.0.0.1:8000",
    )
    created = now - timedelta(days=SPAN_DAYS + 30)
    plans: list[Plan] = []
    rows: list[AccountRow] = []
    conn = await raw_connection(session)
    for n in range(1, accounts + 1):
        account_id = ids.uuid()
        timezone = generator.pick_timezone()
        profile = generator.profile_links()
        rows.append(
            AccountRow(
                id=account_id,
                name=f"Bench account {n}",
                timezone=timezone,
                profile_links=json.dumps(profile),
                created_at=created,
            )
        )
        plans.append(
            Plan(
                account_id,
                timezone,
                (profile["LinkedIn"], profile["Calendly"], profile["Portfolio"]),
                applications_per_account,
            )
        )
        if len(rows) >= BATCH_ROWS:
            await conn.copy_records_to_table("accounts", records=rows, columns=AccountRow._fields)
            rows = []
    if rows:
        await conn.copy_records_to_table("accounts", records=rows, columns=AccountRow._fields)
    return await _load(session, generator, plans, clicks_per_application, progress, accounts)


def _check(now: datetime, applications: int) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if applications < 0:
        raise ValueError("applications must not be negative")


async def _load(
    session: AsyncSession,
    generator: Generator,
    plans: Sequence[Plan],
    clicks_per_application: float,
    progress: Callable[[int], None] | None,
    n_accounts: int,
) -> DemoSummary:
    """COPY the generator's batches; the next batch is generated while one is copied."""
    conn = await raw_connection(session)
    copy = conn.copy_records_to_table
    per_application = 13.0 + clicks_per_application
    batches = generator.batches(plans, max(1, int(BATCH_ROWS / per_application)))
    jobs = applications = links = clicks = bot_clicks = status_changes = 0
    pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
    try:
        while (batch := await pending) is not None:
            pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            tables: tuple[tuple[str, tuple[str, ...], Sequence[tuple[Any, ...]]], ...] = (
                ("jobs", JobRow._fields, batch.jobs),
                ("job_applications", ApplicationRow._fields, batch.applications),
                ("application_status_history", HistoryRow._fields, batch.history),
                ("link_tracking", LinkRow._fields, batch.links),
                ("link_clicks", ClickRow._fields, batch.clicks),
                ("application_contacts", ContactRow._fields, batch.contacts),
                ("engagement_tracking", EventRow._fields, batch.events),
            )
            for table, columns, rows in tables:
                if rows:
                    await copy(table, records=rows, columns=columns)
            jobs += len(batch.jobs)
            applications += len(batch.applications)
            links += len(batch.links)
            clicks += len(batch.clicks)
            bot_clicks += batch.bot_clicks
            status_changes += len(batch.history)
            if progress is not None:
                progress(applications)
    finally:
        # Never leave the generator thread running behind a failed copy.
        if not pending.done():
            await asyncio.wait({pending})
    return DemoSummary(
        accounts=n_accounts,
        jobs=jobs,
        applications=applications,
        links=links,
        clicks=clicks,
        bot_clicks=bot_clicks,
        status_changes=status_changes,
    )
