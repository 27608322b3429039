"""The scanner-burst gate: which redirects could be part of a burst, decided in Redis.

A scanner burst needs one client to click at least two *different* links of one application
within `BURST_WINDOW` of each other (domain.bots). Almost no click is like that, yet asking
PostgreSQL for each click's neighbours read every click of the application's links in a
20-second window (and parsed their metadata): under load that lookup cost more than the
inserts themselves and set the redirect's p99.

Each redirect's client therefore records, per application, the last time it clicked each link,
in a Redis sorted set shared by every API process (score: milliseconds; member: tracking id;
expiring after two windows). Only a click that finds another link of the same application
within a window of itself goes on to the full check in PostgreSQL (db.clicks, which also
follows a chain further back and flags the whole burst, its first click too). Whichever of
two clicks is checked second sees the first, so no burst is missed; Redis being unavailable
sends every click to the full check, as before.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError

from db.clicks import BurstClient
from domain.bots import BURST_WINDOW

log = logging.getLogger("linkinsights.track")

# KEYS[1]: the (application, client) set. ARGV: click time (ms), tracking id, window (ms), ttl (s).
# Keeps each link's latest click time (a late check never moves it back) and answers 1 when
# some *other* link of the set was clicked within the window around this click.
_GATE_LUA = """
local at = tonumber(ARGV[1])
local old = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not old or tonumber(old) < at then
  redis.call('ZADD', KEYS[1], at, ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
local near = redis.call('ZRANGEBYSCORE', KEYS[1], at - tonumber(ARGV[3]), at + tonumber(ARGV[3]))
for _, link in ipairs(near) do
  if link ~= ARGV[2] then return 1 end
end
return 0
"""

GateCheck = tuple[uuid.UUID, BurstClient, str, datetime]  # application, client, link, time


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
        self._script = redis.register_script(_GATE_LUA)
        self._window_ms = int(BURST_WINDOW.total_seconds() * 1000)
        self._ttl = int(2 * BURST_WINDOW.total_seconds()) + 1
        self._warned = False

    async def possible_bursts(self, checks: Sequence[GateCheck]) -> list[bool]:
        """For each click: could it belong to a burst? One Redis round trip for all of them."""
        keys = [gate_key(app, client) for app, client, _, _ in checks]
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key, (_, _, link, at) in zip(keys, checks, strict=True):
                if key is not None:
                    ms = int(at.timestamp() * 1000)
                    await self._script(
                        keys=[key], args=[ms, link, self._window_ms, self._ttl], client=pipe
                    )
            answers = iter(await pipe.execute())
        except (RedisError, OSError) as exc:
            if not self._warned:
                log.warning("burst gate unavailable, checking every click in PostgreSQL: %s", exc)
                self._warned = True
            return [True] * len(checks)
        self._warned = False
        return [key is not None and bool(next(answers)) for key in keys]
