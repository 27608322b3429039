"""The API keys an API process has seen, so that a request does not read its key each time.

Every authenticated request used to run one statement (the key and its account's time zone)
before its own. Now a process keeps the keys it found (by hash, at most `size`, for `ttl`
seconds) and reads a key again only when it is not kept:

- A change that alters what a key grants (a revocation, an account's time zone) is announced
  on a Redis channel after its commit (`publish_key_changes`): every process drops that
  account's keys (or all, for `*`) as the message arrives, within milliseconds.
- Entries are trusted only while the subscription is up: when it breaks, the cache empties
  and every request reads its key, until it is subscribed again. A notice can only be missed
  when its publisher could not reach Redis (it logs it); the TTL bounds that case.
- Unknown and revoked keys are never kept: they are read each time (and counted against the
  client's IP limit by the caller).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.accounts import KeyRow, find_key
from graph.notices import follow, publish, stop

log = logging.getLogger("linkinsights.auth")

CHANNEL = "linkinsights:keys:changed"
ALL = "*"


class KeyCache:
    def __init__(self, engine: AsyncEngine, *, size: int = 100_000, ttl: float = 60.0) -> None:
        self.engine = engine
        self.size = size
        self.ttl = ttl
        self._entries: OrderedDict[str, tuple[KeyRow, float]] = OrderedDict()
        self._listening = False
        # Bumped by every eviction: a row read while one arrived may predate the change.
        self._generation = 0
        self._listener: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def listening(self) -> bool:
        """Subscribed to the change notices: only then are keys kept."""
        return self._listening

    async def find(self, key_hash: str) -> KeyRow | None:
        """The key with this hash (None: no such key), from memory when it may be trusted."""
        cached = self._entries.get(key_hash)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        generation = self._generation
        async with self.engine.connect() as conn:
            row = await find_key(conn, key_hash=key_hash)
        if (
            row is None
            or row.revoked_at is not None
            or not self._listening
            or generation != self._generation
        ):
            self._entries.pop(key_hash, None)
        else:
            self._entries[key_hash] = (row, time.monotonic() + self.ttl)
            self._entries.move_to_end(key_hash)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return row

    def evict(self, text: str) -> None:
        """Drop the keys of the accounts named (one id a line), or every key for `*`."""
        self._generation += 1
        accounts = {line for line in text.split("\n") if line}
        if ALL in accounts:
            self._entries.clear()
            return
        for key_hash in [
            h for h, (row, _) in self._entries.items() if str(row.account_id) in accounts
        ]:
            del self._entries[key_hash]

    # --- invalidation ---------------------------------------------------------------------

    def listen(self, redis: Redis) -> None:
        """Keep keys only while change notices can arrive, for as long as the process runs."""
        self._listener = asyncio.create_task(self._listen_forever(redis), name="key-cache")

    async def close(self) -> None:
        await stop(self._listener)
        self._listener = None
        self._listening = False

    def _subscribed(self) -> None:
        self._generation += 1
        self._entries.clear()  # kept while notices could have been missed: read them again
        self._listening = True

    def _lost(self, exc: RedisError | OSError) -> None:
        self._listening = False
        self._generation += 1
        self._entries.clear()
        log.warning("key cache: no change notices (%s); every request reads its key", exc)

    async def _listen_forever(self, redis: Redis) -> None:
        await follow(
            redis,
            CHANNEL,
            on_subscribed=self._subscribed,
            on_message=self.evict,
            on_lost=self._lost,
        )


async def publish_key_changes(redis: Redis, account_ids: Iterable[uuid.UUID] | None) -> bool:
    """Tell every API process to forget these accounts' keys (None: every key); call after
    the change is committed. False when Redis could not be told (the TTL then applies)."""
    text = ALL if account_ids is None else "\n".join(str(a) for a in account_ids)
    return await publish(redis, CHANNEL, text) if text else True
