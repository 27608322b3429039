"""Test fixtures on real services (STYLE 11).

PostgreSQL and Redis come from DATABASE_URL / REDIS_URL when set, otherwise from the embedded
default under .data/test. Each test session migrates a database of its own and drops it at
the end. Rows are made by the factories of tests/factories.py (`create_<thing>(db, ...)`),
the one way tests insert anything.

Two kinds of test, by what the code under test needs of the database:

- In a rolled-back transaction (`db`, `db_sessions`): the tests that call db/ or job functions
  on a session or connection they are handed. `db` is a connection in an outer transaction
  rolled back when the test ends; `db_sessions` makes sessions joined to it with
  join_transaction_mode="create_savepoint", so the code's own `session.begin()`/`commit()`
  work on a SAVEPOINT. They leave nothing behind and need no cleanup: test_batch, the
  trigger tests of test_incremental, test_demo and test_demo_email (their shared seeded
  account lives in a module-wide `rolled_back` transaction), the webhook delivery tests of
  test_follow_ups, the retention task in test_analytics_jobs, the undeliverable-contact
  checks of test_email and test_email_judgement, the burst-statement property of
  test_click_pipeline (each example in a `rolled_back` transaction of its own), the raw-SQL
  schema tests of test_migrations (asyncpg `conn`, its own transaction), test_rolled_back.
- Committed, on the session's database, isolated by account (each test makes fresh
  accounts, which is also how the product isolates its users): every test whose code opens
  its own connections. The app over HTTP (`client`, `gql`) runs on its own engine and pool;
  the flusher, the worker (`build_worker`, `calculate_in_process`' chunk workers), the CLI and
  `linkinsights serve` run in other tasks or processes; the key cache and key-usage writer
  use the engine; a few tests need two transactions at once (a run's snapshot against a
  concurrent click, REPEATABLE READ before/after counts). None of these can see, or would
  wait on, a transaction the test has not committed, so their factories get a
  `sessionmaker` and commit.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from factories import create_account, create_key
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from config import Settings
from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from graph.observability import JsonFormatter
from jobs.flusher import flusher_from_settings
from linkinsights.embedded import start_services

ROOT = Path(__file__).resolve().parent.parent


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="session")
def service_urls() -> Iterator[tuple[str, str]]:
    svc = start_services(
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        data_dir=ROOT / ".data" / "test",
        durable=False,
    )
    try:
        yield svc.database_url, svc.redis_url
    finally:
        svc.stop()


@pytest.fixture(scope="session")
async def database_url(service_urls: tuple[str, str]) -> AsyncIterator[str]:
    """A fresh, migrated database on the server, dropped after the session."""
    server_url = _plain(service_urls[0])
    name = f"li_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = server_url.rpartition("/")
    url = f"{base}/{name}"
    await upgrade(url)
    yield url
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def redis_url(service_urls: tuple[str, str]) -> str:
    return service_urls[1]


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        queue_name=f"linkinsights-test-{uuid.uuid4().hex[:8]}",
        click_stream=f"linkinsights-test-clicks-{uuid.uuid4().hex[:8]}",
        click_spool_dir=ROOT / ".data" / "test" / f"spool-{uuid.uuid4().hex[:8]}",
        rate_limit_per_key_per_minute=100_000,
        rate_limit_per_ip_per_minute=100_000,
        data_dir=ROOT / ".data" / "test",
    )


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url, pool_size=5)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def account_id(sessionmaker: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    return await create_account(sessionmaker)


@pytest.fixture
async def api_key(sessionmaker: async_sessionmaker[AsyncSession], account_id: uuid.UUID) -> str:
    return await create_key(sessionmaker, account_id, ("read", "write"))


@asynccontextmanager
async def rolled_back(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside an outer transaction that is rolled back at the end."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        try:
            yield connection
        finally:
            await outer.rollback()


def joined_sessions(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions joined to the connection's transaction (SQLAlchemy 2's "joining a session into
    an external transaction"): `session.begin()`/`commit()`/`rollback()` work on a SAVEPOINT,
    so the code under test commits as it always does and the outer rollback still takes
    everything away."""
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """The test's connection, in an outer transaction rolled back when the test ends."""
    async with rolled_back(engine) as connection:
        yield connection


@pytest.fixture
def db_sessions(db: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """A sessionmaker for the code under test, in `db`'s rolled-back transaction."""
    return joined_sessions(db)


def build_app(settings: Settings) -> Starlette:
    from graph.app import create_app

    return create_app(settings)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    """The app with its lifespan, and a click flusher beside it (as a worker runs one)."""
    application = build_app(settings)
    async with application.router.lifespan_context(application):
        assert settings.redis_url is not None
        assert settings.database_url is not None
        redis = Redis.from_url(settings.redis_url)
        engine = make_engine(settings.database_url, pool_size=2)
        flusher = flusher_from_settings(redis, engine, settings)
        flusher.start()
        application.state.test_flusher = flusher
        try:
            yield application
        finally:
            await flusher.stop()
            await engine.dispose()
            await redis.aclose()


async def flushed(app: Starlette, within: float = 15.0) -> None:
    """Wait until every click the app made durable is in PostgreSQL: the stream is empty (the
    flusher deletes an entry once its row is committed) and nothing is left in the spool."""
    settings: Settings = app.state.resources.settings
    redis = app.state.resources.redis
    deadline = asyncio.get_running_loop().time() + within
    while True:
        length = await redis.xlen(settings.click_stream)
        if length == 0 and app.state.spool.total_bytes() == 0:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{length} clicks still in the stream after {within} s")
        await asyncio.sleep(0.01)


@pytest.fixture(scope="session")
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


class GraphQLClient:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str
    ) -> dict[str, Any]:
        response = await self.post(query, variables, key=key)
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(app: Starlette) -> Iterator[StatementCounter]:
    """Counts the SQL statements the app sends through its engine while the test runs."""
    resources = app.state.resources
    engine = resources.sessionmaker.kw["bind"]
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", counter)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """JSON lines of the `linkinsights` loggers, formatted as they are emitted."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("linkinsights")
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """The entries `json_log` captured."""
    return [orjson.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
