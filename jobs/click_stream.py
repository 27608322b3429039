"""The producing half of the click pipeline (SPEC §3.1): a click is durable before its 302.

`ClickAppender.append` returns once the click is in the Redis Stream or, when Redis does not
answer within `click_append_timeout`, in this process's spool file (jobs/spool.py), fsynced.
Redirects arriving together share one round trip to Redis (a pipeline of XADDs) or one fsync.
While Redis is down, clicks go straight to the spool; a probe looks for Redis every half
second and, once it answers, the spooled clicks are replayed into the stream. PostgreSQL is
the fallback of neither: the flusher (jobs/flusher.py) writes the stream to it.

A click may reach the stream twice (a timed-out XADD that did land, then spooled; a replay
cut short by a crash): the flusher stores each click id once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from db.email import PixelOpen
from db.ingest import ClickEntry
from jobs.spool import Spool

log = logging.getLogger("linkinsights.clicks")

FIELD = b"c"  # the one field of a stream entry: the click (or open) as JSON
KIND_OPEN = "open"  # an entry's "k": an email open (graph/pixel.py); a click has none
_REPLAY_CHUNK = 500
_PROBE_INTERVAL = 0.5


def encode(entry: ClickEntry) -> bytes:
    return orjson.dumps(
        {
            "id": str(entry.click_id),
            "t": entry.tracking_id,
            "at": entry.clicked_at.isoformat(),
            "ip": entry.ip_address,
            "ua": entry.user_agent,
            "ref": entry.referrer_url,
            "sid": entry.session_id,
            "src": entry.click_source,
            "bot": entry.is_bot,
            "why": entry.bot_reason,
            "m": entry.request_method,
            "md": entry.metadata,
        }
    )


def decode(raw: bytes) -> ClickEntry:
    """The entry encoded by `encode`; ValueError (or KeyError, TypeError) for anything else."""
    d = orjson.loads(raw)
    return ClickEntry(
        click_id=uuid.UUID(d["id"]),
        tracking_id=str(d["t"]),
        clicked_at=datetime.fromisoformat(d["at"]),
        ip_address=d["ip"],
        user_agent=d["ua"],
        referrer_url=d["ref"],
        session_id=d["sid"],
        click_source=d["src"],
        is_bot=bool(d["bot"]),
        bot_reason=d["why"],
        request_method=d["m"],
        metadata=dict(d["md"] or {}),
    )


def encode_open(entry: PixelOpen) -> bytes:
    return orjson.dumps(
        {
            "k": KIND_OPEN,
            "id": str(entry.event_id),
            "t": entry.tracking_id,
            "at": entry.opened_at.isoformat(),
            "ip": entry.ip_address,
            "ua": entry.user_agent,
            "bot": entry.is_machine,
            "why": entry.machine_reason,
            "dnt": entry.dnt,
        }
    )


def decode_entry(raw: bytes) -> ClickEntry | PixelOpen:
    """A click (`encode`) or an email open (`encode_open`), by the entry's kind; ValueError
    (or KeyError, TypeError) for anything else."""
    d = orjson.loads(raw)
    if isinstance(d, dict) and d.get("k") == KIND_OPEN:
        return PixelOpen(
            event_id=uuid.UUID(d["id"]),
            tracking_id=str(d["t"]),
            opened_at=datetime.fromisoformat(d["at"]),
            ip_address=d["ip"],
            user_agent=d["ua"],
            is_machine=bool(d["bot"]),
            machine_reason=d["why"],
            dnt=bool(d["dnt"]),
        )
    return decode(raw)


Pending = tuple[bytes, "asyncio.Future[str]"]


class ClickAppender:
    """Appends encoded clicks to the stream `stream` (or the spool), in shared round trips.

    `append` answers "stream" or "spool": where the click was made durable.
    """

    def __init__(
        self,
        redis: Redis,
        spool: Spool,
        *,
        stream: str,
        timeout: float,
        max_batch: int = 500,
    ) -> None:
        self.redis = redis
        self.spool = spool
        self.stream = stream
        self.timeout = timeout
        self.max_batch = max_batch
        self.redis_up = True
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._write_forever()),
            asyncio.create_task(self._probe_forever()),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        # Whatever is still queued goes to the spool: it is replayed by the next process.
        rest: list[Pending] = []
        while not self._queue.empty():
            rest.append(self._queue.get_nowait())
        if rest:
            await self._to_spool(rest)
        self.spool.close()

    async def append(self, entry: ClickEntry) -> str:
        return await self._append(encode(entry))

    async def append_open(self, entry: PixelOpen) -> str:
        """An email open (graph/pixel.py), the same way: the flusher writes it with
        db.email.insert_opens."""
        return await self._append(encode_open(entry))

    async def _append(self, raw: bytes) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((raw, future))
        return await future

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            if self.redis_up and await self._to_stream(batch):
                continue
            await self._to_spool(batch)

    async def _to_stream(self, batch: Sequence[Pending]) -> bool:
        try:
            async with asyncio.timeout(self.timeout):
                await self._xadd([raw for raw, _ in batch])
        except (RedisError, OSError, TimeoutError) as exc:
            reraise_cancellation()
            if self.redis_up:
                log.warning(
                    "Redis did not take %d clicks (%s); spooling until it answers",
                    len(batch),
                    type(exc).__name__,
                )
            self.redis_up = False
            return False
        for _, future in batch:
            if not future.done():
                future.set_result("stream")
        return True

    async def _to_spool(self, batch: Sequence[Pending]) -> None:
        try:
            await self.spool.append([raw for raw, _ in batch])
        except OSError as exc:
            log.error("could not spool %d clicks: %s", len(batch), exc)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result("spool")

    async def _xadd(self, raws: Sequence[bytes]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for raw in raws:
            pipe.xadd(self.stream, {FIELD: raw})
        await pipe.execute()

    async def _probe_forever(self) -> None:
        """While Redis is down, look for it; once it answers, replay every spool file here."""
        await self._replay()  # what a previous process left behind
        while True:
            await asyncio.sleep(_PROBE_INTERVAL)
            if self.redis_up and not self.spool.has_data():
                continue
            try:
                async with asyncio.timeout(max(self.timeout, 1.0)):
                    await self.redis.ping()
            except (RedisError, OSError, TimeoutError):
                reraise_cancellation()
                continue
            if not self.redis_up:
                log.warning("Redis answers again; replaying spooled clicks")
            self.redis_up = True
            await self._replay()

    async def _replay(self) -> None:
        try:
            replayed = await self.spool.replay(self._replay_chunk)
        except (RedisError, OSError, TimeoutError) as exc:
            reraise_cancellation()
            log.warning("spool replay stopped (%s); it resumes when Redis answers", exc)
            self.redis_up = False
            return
        if replayed:
            log.info("replayed %d spooled clicks into the stream", replayed)

    async def _replay_chunk(self, raws: Sequence[bytes]) -> None:
        for start in range(0, len(raws), _REPLAY_CHUNK):
            async with asyncio.timeout(10):
                await self._xadd(raws[start : start + _REPLAY_CHUNK])


def reraise_cancellation() -> None:
    """Raise CancelledError if this task is being cancelled: redis-py and asyncio.timeout may
    turn a cancellation into a TimeoutError, which the fallbacks here would swallow."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def stream_stats(redis: Redis, *, stream: str, group: str) -> dict[str, Any]:
    """Length of the stream and age (s) of the oldest entry delivered but not acknowledged."""
    pipe = redis.pipeline(transaction=False)
    pipe.xlen(stream)
    pipe.xpending(stream, group)
    length, pending = await pipe.execute()
    oldest_age = 0.0
    if pending and pending.get("pending"):
        oldest = pending["min"]
        oldest = oldest.decode() if isinstance(oldest, bytes) else str(oldest)
        ms = int(oldest.split("-", 1)[0])
        now = await redis.time()
        oldest_age = max(0.0, now[0] + now[1] / 1e6 - ms / 1000)
    return {"length": int(length), "pending": int(pending.get("pending", 0)), "oldest": oldest_age}
