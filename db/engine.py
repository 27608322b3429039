"""Engine and session factory. Made once per process (lifespan, worker startup, CLI command).

Every statement runs through SQLAlchemy on this one engine: mutations on a session (one unit
of work, committed at the boundary), reads of one statement (loader batches, the page, the key
lookup) on a connection of `reads(engine)` taken for that read. Functions in `db/` take either
(`Db`), as both run a Core statement the same way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

Db = AsyncSession | AsyncConnection
"""Where a db function runs its statements: a session (the caller's unit of work) or a
connection (a read on its own)."""

POOL_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0


def async_url(url: str) -> str:
    """Accept plain `postgresql://` URLs (as psql and most hosts print them)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int | None = None,
    application_name: str = "linkinsights",
) -> AsyncEngine:
    """An engine whose pool keeps `pool_size` connections and opens up to `max_overflow`
    (default: as many again) more for a burst, each closed when it is returned."""
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        # No pre-ping: with asyncpg, SQLAlchemy's ping of a connection outside a transaction
        # is BEGIN, ";", ROLLBACK, three round trips on every checkout (20% of the CPU of a
        # one-application query, measured). A connection broken by a PostgreSQL restart is
        # dropped at checkout by `_drop_closed` below instead, without a round trip.
        pool_recycle=1800,
        # A checkout waits at most this long for a free connection, a new connection this
        # long for PostgreSQL: during an outage requests fail fast (SERVICE_UNAVAILABLE).
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={
            "server_settings": {"application_name": application_name},
            "timeout": CONNECT_TIMEOUT_SECONDS,
        },
    )
    event.listen(engine.sync_engine.pool, "checkout", _drop_closed)
    return engine


def _drop_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection the server has closed (a restart, an idle timeout, a terminated
    backend) is known closed to asyncpg as soon as the event loop has read the server's
    goodbye: raising DisconnectionError makes the pool discard it and hand out a new one, so
    the first request after a restart succeeds. A connection that died silently (a network
    partition) is found by its first statement instead; SQLAlchemy then invalidates the pool.
    """
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def reads(engine: AsyncEngine) -> AsyncEngine:
    """The engine in autocommit mode, sharing its pool: for reads of one statement each, which
    are their own snapshot; no BEGIN and ROLLBACK round trips around them."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")
