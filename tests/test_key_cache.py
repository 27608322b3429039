"""The API keys a process keeps (graph/key_cache.py): trusted only while change notices can
arrive; a revocation or a time-zone change announced on Redis reaches every process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from functools import partial
from typing import cast

import pytest
from factories import create_account, create_key
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from waiting import eventually

from db import accounts as accounts_db
from db.engine import reads
from domain.apikeys import hash_key
from graph.key_cache import KeyCache, publish_key_changes


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def listening(engine: AsyncEngine, redis: Redis) -> KeyCache:
    cache = KeyCache(reads(engine))
    cache.listen(redis)

    async def subscribed() -> bool:
        return cache.listening

    await eventually(subscribed, what="the key cache's subscription")
    return cache


async def test_a_revocation_announced_reaches_every_process(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis,
    account_id: uuid.UUID,
) -> None:
    key_hash = hash_key(await create_key(sessionmaker, account_id))
    processes = [await listening(engine, redis), await listening(engine, redis)]
    try:
        for cache in processes:
            row = await cache.find(key_hash)
            assert row is not None
            assert row.revoked_at is None
        async with sessionmaker() as session, session.begin():
            assert await accounts_db.revoke_key(session, key_hash=key_hash) == 1
        for cache in processes:  # kept: not announced yet, so no statement reads it again
            row = await cache.find(key_hash)
            assert row is not None
            assert row.revoked_at is None
        assert await publish_key_changes(redis, None)

        async def revoked(cache: KeyCache) -> bool:
            row = await cache.find(key_hash)
            return row is not None and row.revoked_at is not None

        for cache in processes:
            await eventually(partial(revoked, cache), what="the revocation", within=1)
    finally:
        for cache in processes:
            await cache.close()


async def test_a_time_zone_change_drops_only_that_accounts_keys(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis,
) -> None:
    changed, other = await create_account(sessionmaker), await create_account(sessionmaker)
    changed_hash = hash_key(await create_key(sessionmaker, changed))
    other_hash = hash_key(await create_key(sessionmaker, other))
    cache = await listening(engine, redis)
    try:
        await cache.find(changed_hash)
        await cache.find(other_hash)
        assert len(cache) == 2
        async with sessionmaker() as session, session.begin():
            await accounts_db.update_account(
                session, account_id=changed, values={"timezone": "Europe/Paris"}
            )
        assert await publish_key_changes(redis, [changed])
        await eventually(partial(_len_is, cache, 1), what="the account's keys dropped")
        row = await cache.find(changed_hash)
        assert row is not None
        assert row.timezone == "Europe/Paris"
    finally:
        await cache.close()


async def _len_is(cache: KeyCache, n: int) -> bool:
    return len(cache) == n


async def test_without_notices_every_request_reads_its_key(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: uuid.UUID,
) -> None:
    key_hash = hash_key(await create_key(sessionmaker, account_id))
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    cache = KeyCache(reads(engine))
    cache.listen(unreachable)
    try:
        assert await cache.find(key_hash) is not None
        assert len(cache) == 0
        async with sessionmaker() as session, session.begin():
            assert await accounts_db.revoke_key(session, key_hash=key_hash) == 1
        row = await cache.find(key_hash)
        assert row is not None
        assert row.revoked_at is not None
    finally:
        await cache.close()
        await unreachable.aclose()


async def test_a_kept_key_is_written_as_used_once_a_minute(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: uuid.UUID,
) -> None:
    from graph.key_usage import KeyUsage

    async with sessionmaker() as session:
        row = await accounts_db.find_key(
            session, key_hash=hash_key(await create_key(sessionmaker, account_id))
        )
    assert row is not None
    sessions = 0

    def counting() -> AsyncSession:
        nonlocal sessions
        sessions += 1
        return sessionmaker()

    usage = KeyUsage(cast(async_sessionmaker[AsyncSession], counting), interval=3600)
    usage.seen(row.id)
    await usage.flush()
    assert sessions == 1
    usage.seen(row.id)  # the kept row still shows the old last_used_at: noted already
    await usage.flush()
    assert sessions == 1
    await usage.aclose()
