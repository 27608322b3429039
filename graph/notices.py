"""Change notices on a Redis channel, followed for as long as the process runs.

Each in-process cache (links, API keys) evicts what other processes announce on its channel
after their commit. While the subscription is down, notices may be lost: `on_lost` is called
once, and `on_subscribed` each time it is (re)established, before any message, so a cache can
stop trusting its entries for as long as it cannot hear about changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from jobs.click_stream import reraise_cancellation

log = logging.getLogger("linkinsights.notices")


async def follow(
    redis: Redis,
    channel: str,
    *,
    on_message: Callable[[str], None],
    on_subscribed: Callable[[], None],
    on_lost: Callable[[RedisError | OSError], None],
) -> None:
    backoff = 0.1
    lost = False
    while True:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            on_subscribed()
            if lost:
                log.warning("%s: change notices flow again", channel)
                lost = False
            backoff = 0.1
            # listen() blocks without a timeout of its own: redis-py turns a cancellation
            # during a timed read into a TimeoutError, which would keep this loop alive.
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    data = message["data"]
                    on_message(data.decode() if isinstance(data, bytes) else str(data))
        except (RedisError, OSError) as exc:
            reraise_cancellation()
            if not lost:
                on_lost(exc)
                lost = True
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


async def publish(redis: Redis, channel: str, text: str) -> bool:
    """Announce a change (after its commit); False when Redis could not be told."""
    try:
        async with asyncio.timeout(1.0):
            await redis.publish(channel, text)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("could not announce a change on %s: %s", channel, exc)
        return False
    return True


async def stop(listener: asyncio.Task[None] | None) -> None:
    """Stop a task running `follow` (a cache's `close`)."""
    if listener is not None:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
