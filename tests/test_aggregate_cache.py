"""The aggregate cache: hits, invalidation by every kind of write, TTL bounds, Redis down."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import build_app
from factories import AppSpec, ClickSpec, create_account, create_applications, create_key
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from config import Settings
from graph.aggregate_cache import PREFIX, invalidate_accounts
from graph.observability import REGISTRY
from jobs.calculate import calculate_in_process

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)

ALL_SIX = """{
  engagementSummary { totalApplications totalClicks computedAt }
  linkFunctionEffectiveness { linkFunctions { name totalClicks } computedAt }
  behavioralPatterns { peakHour computedAt }
  timingAnalysis { applicationsWithClicks computedAt }
  clickTrends(days: 7) { totalClicks computedAt }
  applicationAnalytics { totalApplications statusDistribution { status applications } computedAt }
}"""

SUMMARY = "{ engagementSummary { totalApplications totalClicks computedAt } }"
STATUS = """mutation ($i: UpdateApplicationStatusInput!) {
  updateApplicationStatus(input: $i) { id } }"""
DELETE = """mutation ($i: DeleteApplicationInput!) {
  deleteApplication(input: $i) { applications } }"""


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def counter(name: str, aggregate: str) -> float:
    return REGISTRY.get_sample_value(name, {"aggregate": aggregate}) or 0.0


async def new_account(
    sessionmaker: async_sessionmaker[AsyncSession], clicks: int = 1
) -> tuple[uuid.UUID, str, list[uuid.UUID]]:
    account_id = await create_account(sessionmaker)
    key = await create_key(sessionmaker, account_id)
    async with sessionmaker() as session, session.begin():
        apps = await create_applications(
            session,
            account_id,
            [
                AppSpec(
                    T0,
                    clicks=[ClickSpec("LinkedIn", 1 + i) for i in range(clicks)],
                    functions=("LinkedIn", "Calendly", "Portfolio"),
                ),
                AppSpec(T0 + timedelta(days=1), functions=("LinkedIn", "Calendly", "Portfolio")),
            ],
        )
    return account_id, key, apps


async def test_a_second_read_is_a_hit(
    gql: Any, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    _, key, _ = await new_account(sessionmaker)
    hits = {a: counter("linkinsights_aggregate_cache_hits_total", a) for a in _AGGREGATES}
    misses = {a: counter("linkinsights_aggregate_cache_misses_total", a) for a in _AGGREGATES}
    first = data(await gql(ALL_SIX, key=key))
    second = data(await gql(ALL_SIX, key=key))
    assert second == first  # computedAt included: the same computation
    for aggregate in _AGGREGATES:
        assert counter("linkinsights_aggregate_cache_misses_total", aggregate) == (
            misses[aggregate] + 1
        )
        assert counter("linkinsights_aggregate_cache_hits_total", aggregate) == hits[aggregate] + 1
    metrics = (await client.get("/metrics")).text
    assert 'linkinsights_aggregate_cache_hits_total{aggregate="applicationAnalytics"}' in metrics
    assert 'linkinsights_aggregate_cache_misses_total{aggregate="clickTrends"}' in metrics
    # Another filter is another entry.
    other = data(
        await gql(
            "query ($f: AnalyticsFilter) { engagementSummary(filter: $f) { totalApplications } }",
            {"f": {"startDate": (T0 + timedelta(hours=1)).isoformat()}},
            key=key,
        )
    )
    assert other["engagementSummary"]["totalApplications"] == 1


_AGGREGATES = (
    "engagementSummary",
    "linkFunctionEffectiveness",
    "behavioralPatterns",
    "timingAnalysis",
    "clickTrends",
    "applicationAnalytics",
)


async def test_a_status_change_makes_the_next_read_fresh(
    gql: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, key, apps = await new_account(sessionmaker)
    before = data(await gql(ALL_SIX, key=key))["applicationAnalytics"]
    assert {s["status"]: s["applications"] for s in before["statusDistribution"]}["OFFER"] == 0
    data(await gql(STATUS, {"i": {"applicationId": str(apps[0]), "status": "OFFER"}}, key=key))
    after = data(await gql(ALL_SIX, key=key))["applicationAnalytics"]
    assert {s["status"]: s["applications"] for s in after["statusDistribution"]}["OFFER"] == 1
    assert after["computedAt"] > before["computedAt"]


async def test_a_delete_makes_the_next_read_fresh(
    gql: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, key, apps = await new_account(sessionmaker, clicks=2)
    before = data(await gql(SUMMARY, key=key))["engagementSummary"]
    assert (before["totalApplications"], before["totalClicks"]) == (2, 2)
    data(await gql(DELETE, {"i": {"applicationId": str(apps[0])}}, key=key))
    after = data(await gql(SUMMARY, key=key))["engagementSummary"]
    assert (after["totalApplications"], after["totalClicks"]) == (1, 0)


async def test_invalidate_accounts_after_a_flushed_batch(
    gql: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
    app: Starlette,
) -> None:
    """Clicks written outside the API (the click flusher, a direct load) are seen once their
    writer calls `invalidate_accounts`; until then the cached figure stands (within its TTL)."""
    account_id, key, _ = await new_account(sessionmaker)
    _, other_key, _ = await new_account(sessionmaker)
    before = data(await gql(SUMMARY, key=key))["engagementSummary"]
    other_before = data(await gql(SUMMARY, key=other_key))["engagementSummary"]
    async with sessionmaker() as session, session.begin():
        await create_applications(
            session,
            account_id,
            [
                AppSpec(
                    T0,
                    clicks=[ClickSpec("Calendly", 1)],
                    functions=("LinkedIn", "Calendly", "Portfolio"),
                )
            ],
        )
    cached = data(await gql(SUMMARY, key=key))["engagementSummary"]
    assert cached == before
    await invalidate_accounts(app.state.resources.redis, [account_id])
    fresh = data(await gql(SUMMARY, key=key))["engagementSummary"]
    assert (fresh["totalApplications"], fresh["totalClicks"]) == (3, 2)
    # Only that account's entries went stale.
    assert data(await gql(SUMMARY, key=other_key))["engagementSummary"] == other_before


async def test_a_completed_analytics_run_makes_the_next_read_fresh(
    gql: Any, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    account_id, key, _ = await new_account(sessionmaker)
    before = data(await gql(SUMMARY, key=key))["engagementSummary"]
    assert data(await gql(SUMMARY, key=key))["engagementSummary"] == before
    await calculate_in_process(
        settings, account_id=account_id, sessionmaker=sessionmaker, follow_ups=False
    )
    after = data(await gql(SUMMARY, key=key))["engagementSummary"]
    assert after["computedAt"] > before["computedAt"]


async def test_entries_live_no_longer_than_their_ttl(
    gql: Any, sessionmaker: async_sessionmaker[AsyncSession], app: Starlette
) -> None:
    account_id, key, _ = await new_account(sessionmaker)
    data(await gql(ALL_SIX, key=key))
    redis: Redis = app.state.resources.redis
    keys = [k async for k in redis.scan_iter(match=f"{PREFIX}:{account_id}:*")]
    ttls = {k.decode().split(":")[3]: await redis.ttl(k) for k in keys}
    assert set(ttls) == set(_AGGREGATES)
    for aggregate, ttl in ttls.items():
        limit = 900 if aggregate == "clickTrends" else 300
        assert 0 < ttl <= limit, aggregate


def test_ttls_above_the_seed_are_refused() -> None:
    with pytest.raises(ValueError, match="300"):
        Settings(aggregate_cache_ttl_seconds=301)
    with pytest.raises(ValueError, match="900"):
        Settings(aggregate_trends_ttl_seconds=1000)


# --- Redis down -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def own_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.asynccontextmanager
async def app_on(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = build_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("198.51.100.20", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def _wait_answering(url: str) -> None:
    client = Redis.from_url(url)
    try:
        for _ in range(500):
            with contextlib.suppress(Exception):
                if await client.ping():
                    return
            await asyncio.sleep(0.01)
    finally:
        await client.aclose()
    raise AssertionError("redis-server did not start")


async def test_redis_down_computes_live(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, key, apps = await new_account(sessionmaker)
    with own_redis() as (url, proc):
        await _wait_answering(url)
        async with app_on(settings.model_copy(update={"redis_url": url})) as client:

            async def query(q: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
                response = await client.post(
                    "/graphql",
                    json={"query": q, "variables": variables or {}},
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert response.status_code == 200, response.text
                return data(response.json())

            first = await query(ALL_SIX)
            proc.terminate()
            proc.wait(timeout=10)
            # A write while Redis is down still commits (its invalidation is lost: logged).
            await query(STATUS, {"i": {"applicationId": str(apps[1]), "status": "INTERVIEW"}})
            live = await query(ALL_SIX)
            assert (
                live["applicationAnalytics"]["computedAt"]
                > first["applicationAnalytics"]["computedAt"]
            )
            by_status = {
                s["status"]: s["applications"]
                for s in live["applicationAnalytics"]["statusDistribution"]
            }
            assert by_status["INTERVIEW"] == 1
            assert live["engagementSummary"]["totalApplications"] == 2


async def test_each_aggregate_is_one_statement_and_a_hit_is_none(
    gql: Any, sessionmaker: async_sessionmaker[AsyncSession], app: Starlette, count_statements: Any
) -> None:
    """applicationAnalytics and engagementSummary are one statement each when computed, and a
    hit reads nothing but the key (the statements of a request that reads no aggregate)."""
    _, key, _ = await new_account(sessionmaker)

    async def statements(query: str) -> int:
        await app.state.resources.key_usage.flush()
        before = count_statements.count
        data(await gql(query, key=key))
        await app.state.resources.key_usage.flush()
        return int(count_statements.count - before)

    await statements("{ __typename }")  # the key's first use is written once
    baseline = await statements("{ __typename }")
    for query in (
        "{ applicationAnalytics { totalApplications } }",
        "{ engagementSummary { totalApplications } }",
    ):
        assert await statements(query) == baseline + 1, query
        assert await statements(query) == baseline, query
