"""The aggregate cache (seed 003 "Caching Strategy"): account aggregates kept in Redis per
account, aggregate and arguments, for at most their TTL (dashboard data 5 min, trends 15 min).

Invalidation is a generation counter: every entry records the generation of its account (and
the global one) it was computed under, and a write to an account bumps the account's counter
(`invalidate_accounts`: one INCR per account) or, for a write that spans accounts, the global
one (`invalidate_all`). A read fetches the entry and both counters in one MGET; an entry whose
generations are not the current ones is a miss. The generations are read *before* the figures
are computed, so a write that commits while a computation runs leaves that computation's entry
stale at once, and after a write the next read is always fresh.

Redis being down or slow never fails a read: the aggregate is computed live (and counted as a
miss), and a failed write of an entry is dropped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import hashlib
import logging
import types
import typing
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from enum import Enum
from typing import Any, TypeVar

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.observability import AGGREGATE_CACHE_HITS, AGGREGATE_CACHE_MISSES, counter_child

log = logging.getLogger("linkinsights.aggregate_cache")

T = TypeVar("T")

PREFIX = "linkinsights:agg"
GLOBAL_GENERATION = f"{PREFIX}:gen"


def generation_key(account_id: uuid.UUID) -> str:
    return f"{PREFIX}:gen:{account_id}"


def entry_key(account_id: uuid.UUID, aggregate: str, params: dict[str, Any]) -> str:
    digest = hashlib.blake2b(
        orjson.dumps(params, option=orjson.OPT_SORT_KEYS, default=_plain), digest_size=12
    ).hexdigest()
    return f"{PREFIX}:{account_id}:{aggregate}:{digest}"


async def invalidate_accounts(redis: Redis, account_ids: Iterable[uuid.UUID]) -> None:
    """Make every cached aggregate of these accounts stale (after their write committed).

    Raises the Redis error when Redis is down: a caller that cannot reach Redis should say so
    (the entries then expire within their TTL).
    """
    ids = sorted(set(account_ids))
    if not ids:
        return
    pipe = redis.pipeline(transaction=False)
    for account_id in ids:
        pipe.incr(generation_key(account_id))
    await pipe.execute()


async def invalidate_all(redis: Redis) -> None:
    """Make every cached aggregate of every account stale (a run over all accounts)."""
    await redis.incr(GLOBAL_GENERATION)


async def invalidate_quietly(redis: Redis, account_ids: Iterable[uuid.UUID] | None) -> None:
    """`invalidate_accounts` (or `invalidate_all` for None) that logs instead of raising."""
    try:
        async with asyncio.timeout(1):
            if account_ids is None:
                await invalidate_all(redis)
            else:
                await invalidate_accounts(redis, account_ids)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("aggregate cache not invalidated, Redis unavailable: %r", exc)


class _DecodedEntries:
    """The second level (seed 003 "in-memory"): entries this process has decoded, by key,
    kept with the exact bytes they were decoded from. Redis stays the source of truth: an
    entry is reused only while Redis still holds those same bytes (so the TTL and every
    invalidation apply as before); it saves rebuilding some 600 objects of an
    applicationAnalytics entry at each read. The objects are shared between requests, which
    only read them. Bounded, least recently used first out."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[str, tuple[bytes, tuple[Any, Any]]] = OrderedDict()

    def get(self, key: str, raw: bytes) -> tuple[Any, Any] | None:
        found = self.entries.get(key)
        if found is None or found[0] != raw:
            return None
        self.entries.move_to_end(key)
        return found[1]

    def put(self, key: str, raw: bytes, value: tuple[Any, Any]) -> None:
        self.entries[key] = (raw, value)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


_DECODED = _DecodedEntries(2048)


async def cached(
    redis: Redis | None,
    *,
    account_id: uuid.UUID,
    aggregate: str,
    params: dict[str, Any],
    ttl_seconds: int,
    wait_seconds: float,
    output: type[T],
    compute: Callable[[], Awaitable[T]],
) -> T:
    """The aggregate from the cache when a fresh entry is there, else `compute()` stored for
    `ttl_seconds`. `output` is the (Strawberry) dataclass `compute` returns; the entry holds
    its fields as JSON and is rebuilt into one. `redis=None` or a TTL of 0: always live."""
    if redis is None or ttl_seconds <= 0:
        return await compute()
    key = entry_key(account_id, aggregate, params)
    generations: list[int] | None = None
    try:
        async with asyncio.timeout(wait_seconds):
            raw_global, raw_account, raw_entry = await redis.mget(
                GLOBAL_GENERATION, generation_key(account_id), key
            )
        generations = [int(raw_global or 0), int(raw_account or 0)]
        if raw_entry is not None:
            found = _DECODED.get(key, raw_entry)
            if found is None:
                entry = orjson.loads(raw_entry)
                found = (entry.get("g"), decode(output, entry["v"]))
                _DECODED.put(key, raw_entry, found)
            if found[0] == generations:
                value: T = found[1]
                counter_child(AGGREGATE_CACHE_HITS, aggregate).inc()
                return value
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("aggregate cache unavailable, computing %s live: %r", aggregate, exc)
    except (ValueError, TypeError, KeyError) as exc:  # an entry of an older shape
        log.info("aggregate cache entry of %s unreadable, recomputing: %r", aggregate, exc)
    counter_child(AGGREGATE_CACHE_MISSES, aggregate).inc()
    value = await compute()
    if generations is not None:
        try:
            payload = orjson.dumps({"g": generations, "v": encode(value)}, default=_plain)
            async with asyncio.timeout(wait_seconds):
                await redis.set(key, payload, ex=ttl_seconds)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("aggregate %s not cached, Redis unavailable: %r", aggregate, exc)
    return value


# --- encoding of the (Strawberry) dataclasses -------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def encode(value: Any) -> Any:
    """Plain JSON-able data from a dataclass tree (enums by value, dates as ISO text)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, Enum | dt.date | uuid.UUID):
        return _plain(value)
    return value


def decode(kind: Any, data: Any) -> Any:
    """The inverse of `encode` for a value of type `kind`."""
    return _decoder(kind)(data)


def _identity(value: Any) -> Any:
    return value


@functools.cache
def _decoder(kind: Any) -> Callable[[Any], Any]:
    """A function rebuilding a value of type `kind` from its JSON, made once per type: an
    entry of applicationAnalytics holds some 600 objects, and working out each one's type
    from its annotations at every read cost more than computing the figures."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(options) != 1:
            raise TypeError(f"cannot decode the union {kind}")
        inner = _decoder(options[0])
        return lambda data: None if data is None else inner(data)
    if origin is list:
        (item,) = typing.get_args(kind)
        item_decoder = _decoder(item)
        return lambda data: [item_decoder(v) for v in data]
    if isinstance(kind, type):
        if dataclasses.is_dataclass(kind):
            hints = typing.get_type_hints(kind)
            fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(kind) if f.init]
            cls: Any = kind
            return lambda data: cls(**{name: dec(data[name]) for name, dec in fields})
        if issubclass(kind, Enum):
            return {m.value: m for m in kind}.__getitem__
        if kind is dt.datetime:
            return dt.datetime.fromisoformat
        if kind is dt.date:
            return dt.date.fromisoformat
        if kind is float:
            return float
        if kind in (int, str, bool):
            return _identity
    raise TypeError(f"cannot decode {kind!r}")
