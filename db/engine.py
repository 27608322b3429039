"""Engine and session factory. Made once per process (lifespan, worker startup, CLI command)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


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
        # No pre-ping: it costs a round trip per checkout, on every loader batch. A connection
        # broken by a server restart is invalidated on its first error and replaced.
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": application_name}},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
