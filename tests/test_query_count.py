"""No N+1: the SQL statements of a page of applications do not grow with the page.

Every nested field (job, links, engagement, clicks and their count) goes through a per-request
loader, so a page of 100 applications costs the same statements as a page of 10.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics_fixtures import AppSpec, ClickSpec, create_account_with_key, create_applications
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.tables import link_click_analytics

Gql = Callable[..., Coroutine[Any, Any, dict[str, Any]]]

QUERY = """
{ applications(first: 100) { edges { node {
    job { id }
    links { trackingId }
    engagement { engagementScore }
    clicks(first: 5) { totalCount }
} } } }"""


async def _account_with(sessionmaker: async_sessionmaker[AsyncSession], n: int) -> str:
    account_id, key = await create_account_with_key(sessionmaker)
    t0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    specs = [
        AppSpec(
            t0 + timedelta(hours=i),
            clicks=[ClickSpec("LinkedIn", 1 + i % 3), ClickSpec("Calendly", 2, bot=i % 2 == 0)],
        )
        for i in range(n)
    ]
    async with sessionmaker() as session, session.begin():
        ids = await create_applications(session, account_id, specs)
        # Half the applications have metrics, so both branches of the loader are used.
        for app_id in ids[::2]:
            await session.execute(
                insert(link_click_analytics).values(
                    id=uuid.uuid4(), application_id=app_id, engagement_score=40
                )
            )
    return key


async def _count(gql: Gql, count_statements: Any, key: str, n: int) -> int:
    await gql("{ applications(first: 1) { totalCount } }", key=key)  # key touched, warm
    before = count_statements.count
    body = await gql(QUERY, key=key)
    assert "errors" not in body, body
    edges = body["data"]["applications"]["edges"]
    assert len(edges) == n
    assert all(len(e["node"]["links"]) == 3 for e in edges)
    assert {e["node"]["clicks"]["totalCount"] for e in edges} <= {1, 2}
    scores = [e["node"]["engagement"] for e in edges]
    assert sum(s is not None for s in scores) == n // 2
    return int(count_statements.count - before)


async def test_statements_do_not_grow_with_the_page(
    gql: Gql, sessionmaker: async_sessionmaker[AsyncSession], count_statements: Any
) -> None:
    small = await _count(gql, count_statements, await _account_with(sessionmaker, 10), 10)
    large = await _count(gql, count_statements, await _account_with(sessionmaker, 100), 100)
    assert large == small, count_statements.statements[-large:]
    # key lookup, page, count, then one batch each: job, links, engagement, click counts.
    assert small <= 8, count_statements.statements[-small:]
