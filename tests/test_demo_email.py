"""The email side of the demo data (demo/email.py): deliveries, bounces, an unsubscribe,
human and machine opens with the verdicts the ingestion rules give, and human opens modestly
more likely before an interview."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from conftest import joined_sessions, rolled_back
from factories import create_account
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.demo import seed_account
from db.email import reclassify_contacts

NOW = datetime(2026, 3, 16, 15, 45, tzinfo=UTC)
Maker = async_sessionmaker[AsyncSession]


@dataclass
class Demo:
    account_id: uuid.UUID
    sessions: Maker  # in the module's rolled-back transaction, where the rows are


@pytest.fixture(scope="module")
async def demo(engine: AsyncEngine) -> AsyncIterator[Demo]:
    """A demo account with 600 applications, shared by the checks below, in a transaction
    rolled back after them."""
    async with rolled_back(engine) as connection:
        sessions = joined_sessions(connection)
        async with sessions() as session, session.begin():
            account_id = await create_account(session, name="demo email")
            await seed_account(session, account_id=account_id, applications=600, seed=42, now=NOW)
        yield Demo(account_id, sessions)


_EVENTS = """
SELECT e.event_type, e.is_machine, e.machine_reason, e.event_data ->> 'bounce_type' AS bounce,
       count(*) AS n
FROM engagement_tracking e
JOIN application_contacts c ON c.id = e.campaign_contact_id
JOIN job_applications a ON a.id = c.application_id
WHERE a.account_id = :a
GROUP BY 1, 2, 3, 4
"""


async def test_demo_email_events_cover_every_kind(demo: Demo) -> None:
    async with demo.sessions() as s:
        found = {
            (r.event_type, r.is_machine, r.machine_reason, r.bounce): r.n
            for r in await s.execute(text(_EVENTS), {"a": demo.account_id})
        }

    def count(kind: str, **kw: object) -> int:
        return sum(
            n
            for (k, machine, reason, bounce), n in found.items()
            if k == kind
            and kw.get("machine", machine) == machine
            and kw.get("reason", reason) == reason
            and kw.get("bounce", bounce) == bounce
        )

    assert count("delivered") > 500
    assert count("bounced", bounce="hard") >= 3
    assert count("bounced", bounce="soft") >= 3
    assert count("unsubscribed") >= 1
    assert count("clicked", machine=False) > 100
    assert count("clicked", reason="scanner_burst") > 0
    opens = count("opened")
    human = count("opened", machine=False)
    apple = count("opened", reason="apple_mpp_user_agent")
    assert human > 100
    assert count("opened", reason="gmail_image_proxy") > 0
    assert count("opened", reason="scanner_burst") > 0
    # Apple Mail Privacy Protection: a large share of all opens, as mail senders report.
    assert 0.25 <= apple / opens <= 0.6, (apple, opens)


async def test_demo_verdicts_are_what_the_rules_decide(demo: Demo) -> None:
    async with demo.sessions() as s:
        contacts = list(
            await s.scalars(
                text(
                    "SELECT c.id FROM application_contacts c JOIN job_applications a"
                    " ON a.id = c.application_id WHERE a.account_id = :a"
                ),
                {"a": demo.account_id},
            )
        )
        assert await reclassify_contacts(s, contacts) == 0
        tracking_ids = await s.scalar(
            text(
                "SELECT count(DISTINCT c.email_tracking_id) FROM application_contacts c"
                " JOIN job_applications a ON a.id = c.application_id WHERE a.account_id = :a"
            ),
            {"a": demo.account_id},
        )
    assert tracking_ids == len(contacts)


async def test_human_opens_are_modestly_more_likely_before_an_interview(demo: Demo) -> None:
    # The share of applications with a human open (before the first interview, if any).
    sql = """
    WITH apps AS (
      SELECT a.id,
             (SELECT min(h.changed_at) FROM application_status_history h
              WHERE h.application_id = a.id AND h.status IN ('interview', 'offer')) AS interview
      FROM job_applications a
      WHERE a.account_id = :a
    )
    SELECT apps.interview IS NOT NULL AS interviewed, count(*) AS n,
           count(*) FILTER (WHERE EXISTS (
             SELECT 1 FROM application_contacts c JOIN engagement_tracking e
               ON e.campaign_contact_id = c.id
             WHERE c.application_id = apps.id AND e.event_type = 'opened' AND NOT e.is_machine
               AND (apps.interview IS NULL OR e.event_timestamp < apps.interview))) AS opened
    FROM apps GROUP BY 1
    """
    async with demo.sessions() as s:
        shares = {
            r.interviewed: r.opened / r.n
            for r in await s.execute(text(sql), {"a": demo.account_id})
        }
    # More likely, modestly: most mail clients hide the reader behind a proxy either way.
    ratio = shares[True] / shares[False]
    assert ratio > 1.1, shares
    assert ratio < 2.5, shares
