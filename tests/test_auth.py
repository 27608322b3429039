"""API keys: missing, wrong, revoked, read-only on a mutation; account isolation."""

from __future__ import annotations

import uuid

from db import accounts as accounts_db
from domain.apikeys import hash_key

QUERY = "{ applications(first: 5) { totalCount edges { node { id } } } }"
MUTATION = 'mutation { createJob(input: {title: "Engineer"}) { id title } }'


async def test_missing_key_is_401(gql):
    response = await gql.post(QUERY)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_wrong_key_is_401(gql):
    response = await gql.post(QUERY, key="li_deadbeef_" + "x" * 40)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_malformed_header_is_401(client):
    response = await client.post(
        "/graphql", json={"query": QUERY}, headers={"Authorization": "Basic abc"}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_revoked_key_is_401(gql, api_key, sessionmaker):
    assert (await gql(QUERY, key=api_key))["data"]["applications"]["totalCount"] == 0
    async with sessionmaker() as session, session.begin():
        assert await accounts_db.revoke_key(session, key_hash=hash_key(api_key)) == 1
    response = await gql.post(QUERY, key=api_key)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_read_only_key_cannot_mutate(gql, account_id, make_key):
    key = await make_key(account_id, ("read",))
    body = await gql(MUTATION, key=key)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # ...while reading works
    assert (await gql(QUERY, key=key))["data"]["applications"]["totalCount"] == 0


async def test_write_key_can_mutate(gql, api_key):
    body = await gql(MUTATION, key=api_key)
    assert body["data"]["createJob"]["title"] == "Engineer"
    uuid.UUID(body["data"]["createJob"]["id"])


async def test_introspection_without_key_is_allowed(gql):
    response = await gql.post("{ __schema { queryType { name } } }")
    assert response.status_code == 200
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_graphiql_page_is_served(client):
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_other_account_sees_nothing(gql, make_account, make_key):
    first = await make_account(name="first")
    second = await make_account(name="second")
    key1, key2 = await make_key(first), await make_key(second)
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
