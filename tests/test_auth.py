"""API keys: missing, wrong, revoked, read-only on a mutation; account isolation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

import httpx
from conftest import GraphQLClient
from factories import create_account, create_key
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from waiting import eventually

from db import accounts as accounts_db
from domain.apikeys import hash_key
from graph.key_cache import publish_key_changes

QUERY = "{ applications(first: 5) { totalCount edges { node { id } } } }"
MUTATION = 'mutation { createJob(input: {title: "Engineer"}) { id title } }'


async def test_missing_key_is_401(gql: GraphQLClient) -> None:
    response = await gql.post(QUERY)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_wrong_key_is_401(gql: GraphQLClient) -> None:
    response = await gql.post(QUERY, key="li_deadbeef_" + "x" * 40)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_malformed_header_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": QUERY}, headers={"Authorization": "Basic abc"}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_revoked_key_is_401(
    app: Starlette,
    gql: GraphQLClient,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert (await gql(QUERY, key=api_key))["data"]["applications"]["totalCount"] == 0
    async with sessionmaker() as session, session.begin():
        assert await accounts_db.revoke_key(session, key_hash=hash_key(api_key)) == 1
    # The process keeps the keys it has seen: a revocation is announced after its commit
    # (as `linkinsights apikey revoke` does) and reaches it within a second.
    assert await publish_key_changes(app.state.resources.redis, None)

    async def refused() -> httpx.Response | None:
        response = await gql.post(QUERY, key=api_key)
        return response if response.status_code == 401 else None

    response = await eventually(refused, what="the revoked key refused", within=1)
    assert response is not None
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_read_only_key_cannot_mutate(
    gql: GraphQLClient, account_id: uuid.UUID, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    key = await create_key(sessionmaker, account_id, ("read",))
    body = await gql(MUTATION, key=key)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # ...while reading works
    assert (await gql(QUERY, key=key))["data"]["applications"]["totalCount"] == 0


async def test_write_key_can_mutate(gql: GraphQLClient, api_key: str) -> None:
    body = await gql(MUTATION, key=api_key)
    assert body["data"]["createJob"]["title"] == "Engineer"
    uuid.UUID(body["data"]["createJob"]["id"])


async def test_introspection_without_key_is_allowed(gql: GraphQLClient) -> None:
    response = await gql.post("{ __schema { queryType { name } } }")
    assert response.status_code == 200
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_graphiql_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_other_account_sees_nothing(
    gql: GraphQLClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first = await create_account(sessionmaker, name="first")
    second = await create_account(sessionmaker, name="second")
    key1, key2 = await create_key(sessionmaker, first), await create_key(sessionmaker, second)
    created = await gql(MUTATION, key=key1)
    job_id = created["data"]["createJob"]["id"]
    mine = await gql("query($id: ID!) { job(id: $id) { id title } }", {"id": job_id}, key=key1)
    assert mine["data"]["job"]["id"] == job_id
    theirs = await gql("query($id: ID!) { job(id: $id) { id title } }", {"id": job_id}, key=key2)
    assert theirs["data"]["job"] is None
    missing = await gql(
        "query($id: ID!) { job(id: $id) { id } }", {"id": str(uuid.uuid4())}, key=key2
    )
    assert missing == theirs


async def _last_used(sessionmaker: async_sessionmaker[AsyncSession], key: str) -> datetime | None:
    async with sessionmaker() as session:
        row = await accounts_db.find_key(session, key_hash=hash_key(key))
    assert row is not None
    return row.last_used_at


async def test_key_use_is_recorded_after_the_response_in_one_batch(
    gql: GraphQLClient,
    app: Starlette,
    account_id: uuid.UUID,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A request only notes its key; KeyUsage writes every noted key in one statement."""
    keys = [await create_key(sessionmaker, account_id, ("read",)) for _ in range(3)]
    usage = app.state.resources.key_usage
    for key in keys:
        assert (await gql(QUERY, key=key))["data"]["applications"]["totalCount"] == 0
        assert await _last_used(sessionmaker, key) is None  # not written by the request
    await usage.flush()
    written = [await _last_used(sessionmaker, key) for key in keys]
    assert all(w is not None for w in written)

    # Used again within the minute: noted, but not rewritten.
    await gql(QUERY, key=keys[0])
    await usage.flush()
    assert await _last_used(sessionmaker, keys[0]) == written[0]


async def test_key_use_is_written_within_the_interval_and_at_close(
    account_id: uuid.UUID,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from graph.key_usage import KeyUsage

    first, second = (
        await create_key(sessionmaker, account_id),
        await create_key(sessionmaker, account_id),
    )
    ids = []
    for key in (first, second):
        async with sessionmaker() as session:
            row = await accounts_db.find_key(session, key_hash=hash_key(key))
        assert row is not None
        ids.append(row.id)

    usage = KeyUsage(sessionmaker, interval=0.05)
    usage.seen(ids[0])
    # The timer writes it.
    await eventually(lambda: _last_used(sessionmaker, first), what="the key's last use")

    closing = KeyUsage(sessionmaker, interval=3600)
    closing.seen(ids[1])
    assert await _last_used(sessionmaker, second) is None
    await closing.aclose()  # shutdown writes what is pending
    assert await _last_used(sessionmaker, second) is not None


async def test_key_noted_while_a_write_is_under_way_is_written_by_the_next_round(
    account_id: uuid.UUID,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from graph.key_usage import KeyUsage

    first, second = (
        await create_key(sessionmaker, account_id),
        await create_key(sessionmaker, account_id),
    )
    ids = {}
    for key in (first, second):
        async with sessionmaker() as session:
            row = await accounts_db.find_key(session, key_hash=hash_key(key))
        assert row is not None
        ids[key] = row.id

    noted = False

    def sessionmaker_noting_another_key() -> AsyncSession:  # called by a round after it took
        nonlocal noted
        if not noted:
            noted = True
            usage.seen(ids[second])  # ... the pending keys
        return sessionmaker()

    noting = cast(async_sessionmaker[AsyncSession], sessionmaker_noting_another_key)
    usage = KeyUsage(noting, interval=0.05)
    usage.seen(ids[first])
    await eventually(lambda: _last_used(sessionmaker, second), what="the second key's last use")
    assert noted
    assert await _last_used(sessionmaker, first) is not None
    assert await _last_used(sessionmaker, second) is not None
    await usage.aclose()
