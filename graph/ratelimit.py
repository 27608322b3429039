"""Fixed-window rate limits (SPEC §9), per API key and per client IP, counted in the process
and synced to Redis in batches.

A request used to cost two Redis round trips (its IP's and its key's counter, INCR + EXPIRE
each) before any of its own work. Now `RateLimiter.hit` decides from what this process knows:
the window's count in Redis as of the last sync plus the hits counted here since. A sync a
moment later (`sync_seconds`, 0.1 s by default) adds this process's new hits to the Redis
counters with one pipeline for all buckets and reads back their totals, which bring in the
other processes' hits.

What that costs: within one process the count is exact. Across N processes a burst can pass
the limit by what the other processes admitted since their last sync (at most their request
rate times `sync_seconds`), and a window's first requests in a process are judged before it
has heard of the others. For limits meant to stop abuse (hundreds a minute) that is noise.

Redis down: the counts are kept and synced when it answers again; meanwhile each process
enforces the limit on its own hits (logged once per change), where the old counter let every
request through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.errors import RateLimited

log = logging.getLogger("linkinsights.ratelimit")

REDIS_TIMEOUT_SECONDS = 1.0
SYNC_SECONDS = 0.1


@dataclass(slots=True)
class _Window:
    synced: int = 0  # the count in Redis at the last sync, this process's synced hits included
    pending: int = 0  # hits counted here and not yet added to Redis


class RateLimiter:
    def __init__(self, redis: Redis, *, sync_seconds: float = SYNC_SECONDS) -> None:
        self.redis = redis
        self.sync_seconds = sync_seconds
        # (bucket, window length, window number) -> counts
        self._windows: dict[tuple[str, int, int], _Window] = {}
        self._sync_task: asyncio.Task[None] | None = None
        self._failing = False
        self._closed = False

    def hit(self, *, bucket: str, limit: int, window_seconds: int = 60) -> None:
        """Count one request; raise RateLimited with the seconds until the window resets."""
        if limit <= 0:
            return
        now = time.time()
        window = int(now // window_seconds)
        counts = self._windows.get((bucket, window_seconds, window))
        if counts is None:
            counts = self._windows[(bucket, window_seconds, window)] = _Window()
        counts.pending += 1
        if self._sync_task is None and not self._closed:
            self._sync_task = asyncio.get_running_loop().create_task(self._sync_soon())
        if counts.synced + counts.pending > limit:
            retry_after = max(1, (window + 1) * window_seconds - int(now))
            raise RateLimited(
                f"Rate limit of {limit} requests per {window_seconds} s exceeded; "
                f"retry in {retry_after} s",
                retry_after=retry_after,
            )

    async def _sync_soon(self) -> None:
        try:
            await asyncio.sleep(self.sync_seconds)
            await self.sync()
        finally:
            self._sync_task = None
        if not self._closed and any(w.pending for w in self._windows.values()):
            # Redis was down, or hits came in during the sync: once more, later.
            self._sync_task = asyncio.get_running_loop().create_task(self._sync_soon())

    async def aclose(self) -> None:
        """Stop syncing in the background and add what is pending to Redis, if it answers."""
        self._closed = True
        task = self._sync_task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.sync()

    async def sync(self) -> None:
        """Add the pending hits to Redis, read back the totals, forget windows that ended."""
        now = time.time()
        for key in [k for k in self._windows if k[2] < int(now // k[1])]:
            del self._windows[key]
        due = [(key, w, w.pending) for key, w in self._windows.items() if w.pending]
        if not due:
            return
        try:
            # A Redis that hangs (no answer, no refusal) counts as down too, after a second.
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                pipe = self.redis.pipeline(transaction=False)
                for (bucket, seconds, window), _, n in due:
                    name = f"linkinsights:rl:{bucket}:{window}"
                    pipe.incrby(name, n)
                    pipe.expire(name, seconds + 5)
                replies = await pipe.execute()
        except (RedisError, OSError) as exc:  # TimeoutError included
            if not self._failing:
                self._failing = True
                log.warning("rate limits counted per process while Redis is unavailable: %s", exc)
            return
        if self._failing:
            self._failing = False
            log.warning("Redis is back: rate limits counted across processes again")
        for (_, w, n), total in zip(due, replies[::2], strict=True):
            w.pending -= n
            w.synced = int(total)
