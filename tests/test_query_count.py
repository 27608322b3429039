"""No N+1: the SQL statements of a page of applications do not grow with the page.

Every nested field (job, links, engagement, clicks and their count) goes through a per-request
loader, so a page of 100 applications costs the same statements as a page of 10.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from factories import (
    AppSpec,
    ClickSpec,
    create_account_with_key,
    create_analytics,
    create_applications,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
            functions=("LinkedIn", "Calendly", "Portfolio"),
        )
        for i in range(n)
    ]
    async with sessionmaker() as session, session.begin():
        ids = await create_applications(session, account_id, specs)
        # Half the applications have metrics, so both branches of the loader are used.
        for app_id in ids[::2]:
            await create_analytics(session, app_id, engagement_score=40)
    return key


async def _count(gql: Gql, count_statements: Any, key: str, n: int, app: Any) -> int:
    await gql("{ applications(first: 1) { totalCount } }", key=key)  # key touched, warm
    # the key's use, written in the background (graph/key_usage.py), written now instead
    await app.state.resources.key_usage.flush()
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
    gql: Gql, sessionmaker: async_sessionmaker[AsyncSession], count_statements: Any, app: Any
) -> None:
    small = await _count(gql, count_statements, await _account_with(sessionmaker, 10), 10, app)
    large = await _count(gql, count_statements, await _account_with(sessionmaker, 100), 100, app)
    assert large == small, count_statements.statements[-large:]
    # page (with its count and jobs), then one batch each: links, engagement, and the click
    # pages with their counts; the key, read by the warm-up request, is kept by the process
    # (graph/key_cache.py). Fewer would mean the counter misses statements.
    assert 4 <= small <= 7, count_statements.statements[-small:]


async def test_a_one_connection_pool_serves_nested_reads_and_writes(
    settings: Any, sessionmaker: async_sessionmaker[AsyncSession], api_key: str
) -> None:
    """The API's pool has no overflow (graph.app): a resolver that held a connection while
    waiting for another would hang here, on a pool of one, until the pool timeout."""
    import asyncio

    import httpx
    from conftest import GraphQLClient, build_app

    key = await _account_with(sessionmaker, 3)
    app = build_app(settings.model_copy(update={"db_pool_size": 1}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            gql = GraphQLClient(c)
            reads = [
                QUERY,
                "{ applications(first: 3) { totalCount edges { node { id job { title }"
                " prediction { confidence reasons } statusHistory { status } } } } }",
                "{ engagementSummary { totalApplications } linkFunctionEffectiveness"
                " { recommendations } highPriorityApplications { application { id } } }",
            ]
            write = 'mutation { createJob(input: {title: "Pool"}) { id title } }'
            calls = [gql(q, key=key) for q in reads * 3] + [gql(write, key=api_key) for _ in "abc"]
            bodies = await asyncio.wait_for(asyncio.gather(*calls), timeout=20)
    for body in bodies:
        assert "errors" not in body, body


async def test_page_answers_links_and_engagement_as_each_application_does(
    sessionmaker: async_sessionmaker[AsyncSession], gql: Gql, count_statements: Any, app: Any
) -> None:
    """A page answers links and engagement with one batch per field, exactly as each
    application answers them through its own loader."""
    key = await _account_with(sessionmaker, 6)
    await gql("{ applications(first: 1) { totalCount } }", key=key)
    await app.state.resources.key_usage.flush()
    fields = "id links { trackingId linkFunction } engagement { engagementScore intentScore }"
    before = count_statements.count
    page = await gql(
        f"{{ applications(first: 10) {{ edges {{ node {{ {fields} }} }} }} }}", key=key
    )
    assert "errors" not in page, page
    # the page, one batch of links, one of engagement (the key is kept: graph/key_cache.py)
    assert count_statements.count - before == 3, count_statements.statements[before:]
    nodes = [e["node"] for e in page["data"]["applications"]["edges"]]
    assert len(nodes) == 6
    assert sum(n["engagement"] is not None for n in nodes) == 3  # half have metrics
    assert all(len(n["links"]) == 3 for n in nodes)
    for node in nodes:  # the loader path, one application at a time
        one = await gql(
            f"query($id: ID!) {{ application(id: $id) {{ {fields} }} }}",
            {"id": node["id"]},
            key=key,
        )
        assert one["data"]["application"] == node


async def test_a_page_answers_its_links_application_from_the_rows_it_read(
    gql: Gql, sessionmaker: async_sessionmaker[AsyncSession], count_statements: Any, app: Any
) -> None:
    """`links { application }` under a page loads no application: the page primed the
    application loader with its rows."""
    key = await _account_with(sessionmaker, 4)
    await gql("{ applications(first: 1) { totalCount } }", key=key)
    await app.state.resources.key_usage.flush()
    counts = []
    for inner in ("trackingId", "trackingId application { id status }"):
        before = count_statements.count
        body = await gql(
            f"{{ applications(first: 10) {{ edges {{ node {{ id links {{ {inner} }} }} }} }} }}",
            key=key,
        )
        assert "errors" not in body, body
        counts.append(count_statements.count - before)
    assert counts[0] == counts[1], count_statements.statements[-counts[1] :]
    for edge in body["data"]["applications"]["edges"]:
        node = edge["node"]
        assert len(node["links"]) == 3
        assert {link["application"]["id"] for link in node["links"]} == {node["id"]}


ONE = """query ($id: ID!) { application(id: $id) {
  id status job { id title } links { trackingId }
  engagement { engagementScore clickSequence }
  clicks(first: 5) { totalCount edges { node { clickedAt } } }
} }"""


async def test_one_application_reads_job_and_metrics_with_it(
    gql: Gql, sessionmaker: async_sessionmaker[AsyncSession], count_statements: Any, app: Any
) -> None:
    """`application(id)` reads its job and metrics in its own statement when the query asks
    for them; each answer is the one the page (another path) gives for that application."""
    key = await _account_with(sessionmaker, 4)
    await gql("{ applications(first: 1) { totalCount } }", key=key)
    await app.state.resources.key_usage.flush()
    page = await gql(
        "{ applications(first: 10) { edges { node { id status job { id title } links"
        " { trackingId } engagement { engagementScore clickSequence } clicks(first: 5)"
        " { totalCount edges { node { clickedAt } } } } } } }",
        key=key,
    )
    nodes = [e["node"] for e in page["data"]["applications"]["edges"]]
    assert sum(n["engagement"] is not None for n in nodes) == 2  # half have metrics
    for node in nodes:
        before = count_statements.count
        body = await gql(ONE, {"id": node["id"]}, key=key)
        # the application with its job and metrics; links; clicks with their count (the key
        # is kept by the process: graph/key_cache.py)
        assert count_statements.count - before == 3, count_statements.statements[before:]
        assert body["data"]["application"] == node
    other = await _account_with(sessionmaker, 1)  # another account's key sees none of it
    assert (await gql(ONE, {"id": nodes[0]["id"]}, key=other))["data"] == {"application": None}
