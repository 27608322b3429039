"""The CLI against the test services: accounts, API keys (create, scopes, revoke), clear errors.

Each command runs in a thread because it drives its own event loop (asyncio.run).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
from conftest import GraphQLClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result
from waiting import eventually

from config import get_settings
from db import accounts as accounts_db
from linkinsights.cli import app

QUERY = "{ applications(first: 1) { totalCount } }"


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run(*args: str) -> Result:
    return await asyncio.to_thread(lambda: CliRunner().invoke(app, list(args)))


def last_word(result: Result) -> str:
    return result.stdout.split()[-1]


async def test_account_create_prints_the_id(
    cli_env: None, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    result = await run("account", "create", "Ana", "--timezone", "Europe/Berlin")
    assert result.exit_code == 0, result.output
    account_id = uuid.UUID(last_word(result))
    async with sessionmaker() as session:
        row = await accounts_db.get_account(session, account_id=account_id)
    assert row is not None
    assert (row.name, row.timezone) == ("Ana", "Europe/Berlin")


async def test_account_timezone_is_canonicalised_and_defaults_to_utc(
    cli_env: None, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    default = await run("account", "create", "Bo")
    lower = await run("account", "create", "Cy", "--timezone", "america/new_york")
    assert (default.exit_code, lower.exit_code) == (0, 0)
    async with sessionmaker() as session:
        rows = [
            await accounts_db.get_account(session, account_id=uuid.UUID(last_word(r)))
            for r in (default, lower)
        ]
    assert [r.timezone for r in rows if r] == ["UTC", "America/New_York"]


async def test_apikey_create_authenticates_and_revoke_locks_it_out(
    cli_env: None, account_id: uuid.UUID, gql: GraphQLClient
) -> None:
    created = await run("apikey", "create", str(account_id), "--scopes", "read,write")
    assert created.exit_code == 0, created.output
    key = last_word(created)
    assert key.startswith("li_")
    assert "read,write" in created.stdout
    assert (await gql(QUERY, key=key)) == {"data": {"applications": {"totalCount": 0}}}
    mutation = await gql('mutation { createJob(input: {title: "CLI"}) { title } }', key=key)
    assert mutation == {"data": {"createJob": {"title": "CLI"}}}

    revoked = await run("apikey", "revoke", key)
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in revoked.stdout

    async def refused() -> httpx.Response | None:  # announced: reaches the API within 1 s
        response = await gql.post(QUERY, key=key)
        return response if response.status_code == 401 else None

    response = await eventually(refused, what="the revoked key refused", within=1)
    assert response is not None
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    again = await run("apikey", "revoke", key)
    assert again.exit_code != 0
    assert "no active key" in again.output


async def test_read_only_key_from_cli_cannot_mutate(
    cli_env: None, account_id: uuid.UUID, gql: GraphQLClient
) -> None:
    created = await run("apikey", "create", str(account_id), "--scopes", "read")
    assert created.exit_code == 0, created.output
    key = last_word(created)
    body = await gql('mutation { createJob(input: {title: "x"}) { id } }', key=key)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _clear_failure(result: Result, *phrases: str) -> None:
    assert result.exit_code not in (0, None)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.output


async def test_apikey_unknown_scope_is_a_clear_error(
    cli_env: None, account_id: uuid.UUID, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    result = await run("apikey", "create", str(account_id), "--scopes", "root")
    _clear_failure(result, "error:", "unknown scope 'root'")


async def test_apikey_for_a_missing_account_is_a_clear_error(cli_env: None) -> None:
    missing = uuid.uuid4()
    result = await run("apikey", "create", str(missing), "--scopes", "read")
    _clear_failure(result, f"no account {missing}")
    bad = await run("apikey", "create", "not-an-id", "--scopes", "read")
    _clear_failure(bad, "'not-an-id' is not an account id")


async def test_account_bad_timezone_is_a_clear_error(cli_env: None) -> None:
    result = await run("account", "create", "x", "--timezone", "Mars/Base")
    _clear_failure(result, "error:", "timezone must be an IANA time-zone name", "Mars/Base")


async def test_unreachable_database_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    # Nothing listens on port 1.
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    monkeypatch.setenv("REDIS_URL", redis_url)
    get_settings.cache_clear()
    try:
        result = await run("account", "create", "x")
    finally:
        get_settings.cache_clear()
    _clear_failure(result, "error:", "could not reach PostgreSQL or Redis")
