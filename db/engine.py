"""Engine and session factory. Made once per process (lifespan, worker startup, CLI command).

Every statement runs through SQLAlchemy on this one engine: mutations on a session (one unit
of work, committed at the boundary), reads of one statement (loader batches, the page, the key
lookup) on a connection of `reads(engine)` taken for that read. Functions in `db/` take either
(`Db`), as both run a Core statement the same way.
"""

from __future__ import annotations

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
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        # A connection broken by a PostgreSQL restart is found and replaced at checkout, so
        # the first request after the restart succeeds instead of failing with "connection is
        # closed" (one round trip per checkout, well under a millisecond on a local network).
        pool_pre_ping=True,
        pool_recycle=1800,
        # A checkout waits at most this long for a free connection, a new connection this
        # long for PostgreSQL: during an outage requests fail fast (SERVICE_UNAVAILABLE).
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={
            "server_settings": {"application_name": application_name},
            "timeout": CONNECT_TIMEOUT_SECONDS,
        },
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def reads(engine: AsyncEngine) -> AsyncEngine:
    """The engine in autocommit mode, sharing its pool: for reads of one statement each, which
    are their own snapshot; no BEGIN and ROLLBACK round trips around them."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")
