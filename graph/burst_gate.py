"""The scanner-burst gate: which redirects could be part of a burst, decided in Redis.

A scanner burst needs one client to click at least two *different* links of one application
within `BURST_WINDOW` of each other (domain.bots). Almost no click is like that, yet asking
PostgreSQL for each click's neighbours read every click of the application's links in a
20-second window (and parsed their metadata): under load that lookup cost more than the
inserts themselves and set the redirect's p99.

Each click is therefore also recorded in a Redis sorted set per (application, client), shared
by every API process (score: click time in ms; member: tracking id and click id). Only a click
that finds a click of *another* link of the same application within a window of itself goes on
to the full check in PostgreSQL (db.clicks, which also follows a chain further back and flags
the whole burst, its first click too). Whichever of two clicks is recorded second sees the
first, in whatever order their times are; a set lives until two windows after its latest
click time (future-dated clicks included) and keeps its newest 100 clicks. Redis unavailable
or slow (over `TIMEOUT`) sends every click to the full check, as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis.exceptions import NoScriptError, RedisError

from db.clicks import BurstClient
from domain.bots import BURST_WINDOW

log = logging.getLogger("linkinsights.track")

# One call for a batch of clicks, in order. KEYS[i]: click i's (application, client) set.
# ARGV[1]: the window (ms); then four per click: click time (ms), tracking id, member
# (tracking id|click id), seconds the set must live at least. Answers, per click, 1 when a
# click of some *other* link is within the window around it (clicks earlier in the same call
# included), else 0.
_GATE_LUA = """
local window = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local base = 2 + (i - 1) * 4
  local at = tonumber(ARGV[base])
  local prefix = ARGV[base + 1] .. '|'
  local ttl = tonumber(ARGV[base + 3])
  redis.call('ZADD', key, at, ARGV[base + 2])
  redis.call('ZREMRANGEBYRANK', key, 0, -101)
  if redis.call('TTL', key) < ttl then
    redis.call('EXPIRE', key, ttl)
  end
  out[i] = 0
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', key, at - window, at + window)) do
    if string.sub(member, 1, #prefix) ~= prefix then
      out[i] = 1
      break
    end
  end
end
return out
"""
_GATE_SHA = hashlib.sha1(_GATE_LUA.encode()).hexdigest()
TIMEOUT = 0.5  # seconds; beyond it the gate answers "check in PostgreSQL"

# application, client, tracking id, click id, clicked at
GateCheck = tuple[uuid.UUID, BurstClient, str, uuid.UUID, datetime]


def gate_key(application_id: uuid.UUID, client: BurstClient) -> str | None:
    """The set of one client's clicks on one application's links (None: an anonymous client)."""
    if client.session_id is not None:
        who = "s:" + client.session_id
    elif client.ip_address is not None:
        agent = hashlib.blake2b((client.user_agent or "").encode(), digest_size=8).hexdigest()
        who = f"i:{client.ip_address}:{agent}"
    else:
        return None
    return f"linkinsights:burst:{application_id}:{who}"


class BurstGate:
    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._window_ms = int(BURST_WINDOW.total_seconds() * 1000)
        self._warned = False

    async def possible_bursts(self, checks: Sequence[GateCheck]) -> list[bool]:
        """For each click: could it belong to a burst? One Redis round trip for all of them."""
        keys = [gate_key(app, client) for app, client, *_ in checks]
        now = time.time()
        calls = []
        for key, (_, _, link, click_id, at) in zip(keys, checks, strict=True):
            if key is not None:
                ms = int(at.timestamp() * 1000)
                # Live two windows past the click, or past now for a click already older.
                ttl = int(max(at.timestamp() - now, 0) + 2 * BURST_WINDOW.total_seconds()) + 1
                calls.append((key, ms, link, f"{link}|{click_id}", ttl))
        try:
            async with asyncio.timeout(TIMEOUT):
                answers = iter(await self._run(calls))
        except (RedisError, OSError, TimeoutError) as exc:
            if not self._warned:
                log.warning("burst gate unavailable, checking every click in PostgreSQL: %s", exc)
                self._warned = True
            return [True] * len(checks)
        self._warned = False
        return [key is not None and bool(next(answers)) for key in keys]

    async def _run(self, calls: list[tuple[str, int, str, str, int]]) -> list[Any]:
        """The gate's answers for `calls`, in one EVALSHA: a pipeline of one EVALSHA per
        click cost the API process ~30% of a redirect's CPU in redis-py (building and
        parsing each command), one call for the batch a few microseconds per click.
        (Every set of a batch goes in one script: a single Redis, not a Redis Cluster.)"""
        if not calls:
            return []
        keys = [key for key, *_ in calls]
        args: list[Any] = [self._window_ms]
        for _, ms, link, member, ttl in calls:
            args += (ms, link, member, ttl)
        for attempt in (1, 2):
            try:
                return list(await self.redis.evalsha(_GATE_SHA, len(keys), *keys, *args))
            except NoScriptError:
                if attempt == 2:
                    raise
                await self.redis.script_load(_GATE_LUA)  # a new or flushed Redis
        raise AssertionError("unreachable")
