"""The link cache of an API process (SPEC §3.1): /track resolves a tracking id from memory.

- A known link is kept (LRU, `link_cache_size` entries) with what /track needs: URL, active
  flag, account, application, function. After `link_cache_ttl` it is read again on its next
  use; if PostgreSQL does not answer then, the entry as it was keeps serving, so a cached link
  redirects through a PostgreSQL outage.
- An id PostgreSQL does not know is remembered as unknown for `link_cache_negative_ttl`, so a
  flood of random ids does not reach the database.
- Ids missing from the cache are read together: concurrent misses share one statement, and
  concurrent requests for the same id share one lookup.
- A change to a link (deactivation, GDPR delete, URL change) is published on a Redis channel
  after its commit (`publish_link_changes`); every process evicts those ids when the message
  arrives. Should a message be lost (Redis down), the TTL bounds how long a change takes; when
  the subscription is re-established every entry is marked stale for the same reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.ingest import LinkTarget, link_targets
from graph.notices import follow, publish, stop

log = logging.getLogger("linkinsights.track")

CHANNEL = "linkinsights:links:changed"


class LinkUnavailable(Exception):
    """The link is not cached and PostgreSQL could not be asked."""


@dataclass(slots=True)
class _Cached:
    target: LinkTarget | None  # None: no such link
    fresh_until: float


class LinkCache:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        size: int = 100_000,
        ttl: float = 60.0,
        negative_ttl: float = 5.0,
        lookup_timeout: float = 2.0,
    ) -> None:
        self.engine = engine
        self.size = size
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.lookup_timeout = lookup_timeout
        self._entries: OrderedDict[str, _Cached] = OrderedDict()
        self._waiting: dict[str, asyncio.Future[LinkTarget | None]] = {}
        self._batch: list[str] = []
        self._batch_task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, tracking_id: str) -> LinkTarget | None:
        """The link (None: no such link); LinkUnavailable when it cannot be known now."""
        cached = self._entries.get(tracking_id)
        now = time.monotonic()
        if cached is not None:
            self._entries.move_to_end(tracking_id)
            if cached.fresh_until > now:
                return cached.target
        try:
            return await self._lookup(tracking_id)
        except LinkUnavailable:
            if cached is not None and cached.target is not None:
                return cached.target  # stale, but PostgreSQL cannot say otherwise now
            raise

    def evict(self, tracking_ids: Iterable[str]) -> None:
        for tracking_id in tracking_ids:
            self._entries.pop(tracking_id, None)

    def mark_stale(self) -> None:
        for cached in self._entries.values():
            cached.fresh_until = 0.0

    def _remember(self, tracking_id: str, target: LinkTarget | None) -> None:
        ttl = self.ttl if target is not None else self.negative_ttl
        self._entries[tracking_id] = _Cached(target, time.monotonic() + ttl)
        self._entries.move_to_end(tracking_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    async def _lookup(self, tracking_id: str) -> LinkTarget | None:
        future = self._waiting.get(tracking_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[tracking_id] = future
            self._batch.append(tracking_id)
            if self._batch_task is None:
                self._batch_task = asyncio.create_task(self._read_batch())
        return await asyncio.shield(future)

    async def _read_batch(self) -> None:
        await asyncio.sleep(0)  # let the misses of this moment join the batch
        ids, self._batch, self._batch_task = self._batch, [], None
        try:
            async with asyncio.timeout(self.lookup_timeout), self.engine.connect() as conn:
                found = {t.tracking_id: t for t in await link_targets(conn, tracking_ids=ids)}
        except Exception as exc:
            log.warning("link lookup failed for %d ids: %s: %s", len(ids), type(exc).__name__, exc)
            for tracking_id in ids:
                future = self._waiting.pop(tracking_id)
                if not future.done():
                    future.set_exception(LinkUnavailable(str(exc)))
                    future.exception()  # retrieved: nobody may be waiting any more
            return
        for tracking_id in ids:
            target = found.get(tracking_id)
            self._remember(tracking_id, target)
            future = self._waiting.pop(tracking_id)
            if not future.done():
                future.set_result(target)

    # --- invalidation ---------------------------------------------------------------------

    def listen(self, redis: Redis) -> None:
        """Evict what other processes announce, for as long as the process runs."""
        self._listener = asyncio.create_task(self._listen_forever(redis), name="link-cache")

    async def close(self) -> None:
        await stop(self._listener)
        self._listener = None

    async def _listen_forever(self, redis: Redis) -> None:
        def lost(exc: RedisError | OSError) -> None:
            log.warning(
                "link cache: no change notices (%s); entries expire after %.0f s",
                type(exc).__name__,
                self.ttl,
            )

        await follow(
            redis,
            CHANNEL,
            # Messages may have been missed while not subscribed: read every link again.
            on_subscribed=self.mark_stale,
            on_message=lambda text: self.evict(t for t in text.split("\n") if t),
            on_lost=lost,
        )


async def publish_link_changes(redis: Redis, tracking_ids: Iterable[str]) -> None:
    """Tell every API process to forget these links (call after the change is committed)."""
    ids = [t for t in tracking_ids if t]
    if ids:
        await publish(redis, CHANNEL, "\n".join(ids))
