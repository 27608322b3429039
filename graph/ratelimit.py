"""Fixed-window rate limits kept in Redis (SPEC §9), per API key and per client IP."""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.errors import RateLimited

log = logging.getLogger("linkinsights.ratelimit")


async def hit(redis: Redis, *, bucket: str, limit: int, window_seconds: int = 60) -> None:
    """Count one request; raise RateLimited with the seconds until the window resets.

    Redis being down must not take the API down with it: the limit then fails open (logged).
    """
    if limit <= 0:
        return
    now = int(time.time())
    window = now // window_seconds
    key = f"linkinsights:rl:{bucket}:{window}"
    try:
        pipe = redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, window_seconds + 5)
        count, _ = await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("rate limit not enforced, Redis unavailable: %s", exc)
        return
    if int(count) > limit:
        retry_after = (window + 1) * window_seconds - now
        raise RateLimited(
            f"Rate limit of {limit} requests per {window_seconds} s exceeded; "
            f"retry in {retry_after} s",
            retry_after=retry_after,
        )
