"""Fixed-window rate limits kept in Redis (SPEC §9), per API key and per client IP."""

from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.errors import RateLimited

log = logging.getLogger("linkinsights.ratelimit")

REDIS_TIMEOUT_SECONDS = 1.0

# Whether the last attempt found Redis down: the log says when that changes, not per request.
_failing_open = False


async def hit(redis: Redis, *, bucket: str, limit: int, window_seconds: int = 60) -> None:
    """Count one request; raise RateLimited with the seconds until the window resets.

    Redis being down must not take the API down with it: the limit then fails open (logged).
    """
    global _failing_open
    if limit <= 0:
        return
    now = int(time.time())
    window = now // window_seconds
    key = f"linkinsights:rl:{bucket}:{window}"
    try:
        # A Redis that hangs (no answer, no refusal) fails open too, after a second.
        async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
            pipe = redis.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, window_seconds + 5)
            count, _ = await pipe.execute()
    except (RedisError, OSError) as exc:  # TimeoutError included
        if not _failing_open:
            _failing_open = True
            log.warning("rate limits not enforced while Redis is unavailable: %s", exc)
        return
    if _failing_open:
        _failing_open = False
        log.warning("Redis is back: rate limits enforced again")
    if int(count) > limit:
        retry_after = (window + 1) * window_seconds - now
        raise RateLimited(
            f"Rate limit of {limit} requests per {window_seconds} s exceeded; "
            f"retry in {retry_after} s",
            retry_after=retry_after,
        )
