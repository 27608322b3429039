"""The consuming half of the click pipeline (SPEC §3.1): the stream into `link_clicks`.

Every worker process runs one `Flusher`, a consumer of one consumer group, so any number of
them share the stream. Each batch read is written in one transaction (db.ingest.store_clicks:
insert idempotent on the click id, scanner bursts flagged) and acknowledged, then deleted from
the stream, only after the commit. A flusher that dies leaves its batch pending; another
claims entries pending longer than `claim_idle` and writes them (again: each is stored once).
PostgreSQL or Redis unavailable: the flusher keeps its batch, backs off (capped) and retries;
nothing is dropped.

After a commit, the accounts' cached aggregates are invalidated and the new human clicks are
published per account (`clicks_channel`) for the `clickRecorded` subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import Counter, Histogram
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.email import PixelOpen, insert_opens, reclassify_contacts
from db.ingest import BatchResult, ClickEntry, store_clicks
from graph.aggregate_cache import invalidate_accounts
from jobs.click_stream import FIELD, decode_entry, reraise_cancellation

log = logging.getLogger("linkinsights.flusher")

FLUSH_BATCH = Histogram(
    "linkinsights_click_flush_batch_size",
    "Clicks per batch written by the flusher",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000),
)
FLUSH_SECONDS = Histogram(
    "linkinsights_click_flush_seconds",
    "Time to write one batch of clicks to PostgreSQL (one transaction)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
FLUSH_LAG = Histogram(
    "linkinsights_click_visible_lag_seconds",
    "From a click's redirect to its row being committed",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
FLUSHED = Counter(
    "linkinsights_clicks_flushed_total",
    "Clicks taken off the stream, by outcome",
    ["outcome"],  # stored, duplicate, dropped (link deleted), rejected (unreadable), open
)
FLUSH_RETRIES = Counter(
    "linkinsights_click_flush_retries_total",
    "Batches retried because PostgreSQL or Redis failed",
    ["dependency"],
)

# Errors that mean "PostgreSQL is unavailable now", not "this batch is wrong".
_DB_DOWN = (OSError, TimeoutError, OperationalError, InterfaceError, DBAPIError)


def _bad_data(exc: BaseException) -> bool:
    """A data or integrity error (SQLSTATE class 22 or 23): the batch, not the server."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return isinstance(exc, DBAPIError) and str(code)[:2] in ("22", "23")


def clicks_channel(account_id: uuid.UUID | str) -> str:
    return f"linkinsights:clicks:stored:{account_id}"


@dataclass(frozen=True, slots=True)
class Entry:
    entry_id: bytes
    click: ClickEntry | None  # None: an open, or an entry that cannot be read (counted)
    open: PixelOpen | None = None  # an email open of the pixel (issue 17)


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Flusher:
    def __init__(
        self,
        redis: Redis,
        engine: AsyncEngine,
        *,
        stream: str,
        group: str,
        batch: int = 1000,
        block_ms: int = 200,
        claim_idle: float = 30.0,
        max_backoff: float = 5.0,
        consumer: str | None = None,
        on_stored: Callable[[BatchResult], Awaitable[None]] | None = None,
    ) -> None:
        self.redis = redis
        self.engine = engine
        self.stream = stream
        self.group = group
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle = claim_idle
        self.max_backoff = max_backoff
        self.consumer = consumer or consumer_name()
        self.on_stored = on_stored
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._last_claim = 0.0
        self._down: set[str] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run_forever(), name="click-flusher")

    async def stop(self, grace: float = 5.0) -> None:
        """Finish the batch in hand (within `grace` seconds), then stop. Whatever is not
        acknowledged stays pending in the stream for the next flusher."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=1.0)
        if not done:
            log.warning("click flusher did not stop; its batch stays pending for another")
        elif not task.cancelled() and task.exception() is not None:
            log.error("click flusher failed", exc_info=task.exception())

    async def _pause(self, seconds: float) -> None:
        """Sleep between retries, waking early when asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def run_forever(self) -> None:
        # First what this consumer was given before and did not acknowledge (a restart under
        # the same name), then new entries; pending entries of dead consumers are claimed.
        backlog = True
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                await self._ensure_group()
                if backlog:
                    entries = await self._read("0")
                    backlog = bool(entries)
                else:
                    entries = await self._claim() or await self._read(">")
                self._recovered("redis")
            except (RedisError, OSError, TimeoutError) as exc:
                reraise_cancellation()
                self._failed("redis", exc)
                # A Redis restarted from its AOF or snapshot may hold entries delivered to
                # this consumer and never acknowledged: read those first when it is back.
                backlog = True
                await self._pause(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = 0.1
            if entries:
                await self._write_until_done(entries)

    async def drain(self) -> int:
        """Write everything the stream holds now (pending entries of any consumer included)
        and return how many entries were handled; for tests and `linkinsights` commands."""
        await self._ensure_group()
        handled = 0
        while True:
            entries = await self._read("0") or await self._claim(min_idle_ms=0)
            if not entries:
                entries = await self._read(">", block=False)
            if not entries:
                return handled
            await self._write_until_done(entries)
            handled += len(entries)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, start: str, *, block: bool = True) -> list[Entry]:
        answer = await self.redis.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: start},
            count=self.batch,
            block=self.block_ms if block and start == ">" else None,
        )
        if not answer:
            return []
        [(_, messages)] = answer
        return [self._entry(entry_id, fields) for entry_id, fields in messages if fields]

    async def _claim(self, *, min_idle_ms: int | None = None) -> list[Entry]:
        now = time.monotonic()
        if min_idle_ms is None:
            if now - self._last_claim < self.claim_idle / 2:
                return []
            min_idle_ms = int(self.claim_idle * 1000)
        self._last_claim = now
        answer = await self.redis.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_ms, "0-0", count=self.batch
        )
        messages = answer[1] if answer else []
        claimed = [self._entry(entry_id, fields) for entry_id, fields in messages if fields]
        if claimed:
            log.info("claimed %d clicks left pending by another consumer", len(claimed))
        return claimed

    @staticmethod
    def _entry(entry_id: bytes, fields: dict[bytes, bytes]) -> Entry:
        try:
            found = decode_entry(fields[FIELD])
        except (KeyError, ValueError, TypeError) as exc:
            log.error("unreadable stream entry %r: %s", entry_id, exc)
            return Entry(entry_id, None)
        if isinstance(found, PixelOpen):
            return Entry(entry_id, None, found)
        return Entry(entry_id, found)

    async def _write_until_done(self, entries: Sequence[Entry]) -> None:
        """Store and acknowledge one batch, retrying (capped backoff) until both succeed."""
        clicks = [e.click for e in entries if e.click is not None]
        opens = [e.open for e in entries if e.open is not None]
        backoff = 0.1
        result: BatchResult | None = None
        while result is None:
            if self._stopping.is_set():
                return  # not stored: pending, for the next flusher
            started = time.perf_counter()
            try:
                # Two transactions: a retry after the second failed stores the clicks again,
                # once (each insert is idempotent on its id).
                stored = await self._store(clicks)
                await self._store_opens(opens)
                result = stored
            except _DB_DOWN as exc:
                reraise_cancellation()
                self._failed("postgres", exc)
                FLUSH_RETRIES.labels("postgres").inc()
                await self._pause(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            self._recovered("postgres")
            FLUSH_SECONDS.observe(time.perf_counter() - started)
        now = datetime.now(UTC)
        FLUSH_BATCH.observe(len(entries))
        for click in result.stored:
            FLUSH_LAG.observe(max(0.0, (now - click.clicked_at).total_seconds()))
        FLUSHED.labels("stored").inc(result.inserted)
        FLUSHED.labels("dropped").inc(result.dropped)
        FLUSHED.labels("duplicate").inc(len(clicks) - result.inserted - result.dropped)
        FLUSHED.labels("rejected").inc(len(entries) - len(clicks) - len(opens))
        FLUSHED.labels("open").inc(len(opens))
        backoff = 0.1
        while True:
            if self._stopping.is_set():
                return  # stored, not acknowledged: delivered again, stored once
            try:
                await self._ack([e.entry_id for e in entries])
                break
            except (RedisError, OSError, TimeoutError) as exc:
                # Stored but not acknowledged: delivered again later, stored once.
                reraise_cancellation()
                self._failed("redis", exc)
                FLUSH_RETRIES.labels("redis").inc()
                await self._pause(backoff)
                backoff = min(backoff * 2, self.max_backoff)
        await self._announce(result)

    async def _store(self, clicks: Sequence[ClickEntry]) -> BatchResult:
        """One transaction; a batch PostgreSQL refuses as data is written click by click,
        and a click it refuses alone is logged and left out (never retried for ever)."""
        try:
            async with self.engine.begin() as conn:
                return await store_clicks(conn, clicks)
        except DBAPIError as exc:
            if not _bad_data(exc):
                raise
            if len(clicks) == 1:
                log.error("PostgreSQL refused click %s: %s", clicks[0].click_id, exc.orig)
                return BatchResult(inserted=0, dropped=1, flagged=0, stored=[])
        parts = [await self._store([click]) for click in clicks]
        return BatchResult(
            inserted=sum(p.inserted for p in parts),
            dropped=sum(p.dropped for p in parts),
            flagged=sum(p.flagged for p in parts),
            stored=[s for p in parts for s in p.stored],
        )

    async def _store_opens(self, opens: Sequence[PixelOpen]) -> None:
        """Email opens in one transaction (db.email: idempotent on the event id, an unknown
        pixel id stores nothing, then the machine rules over the contacts that got one); an
        open PostgreSQL refuses as data is logged and left out, as a click is."""
        if not opens:
            return
        try:
            async with self.engine.begin() as conn:
                contacts = await insert_opens(conn, opens)
                await reclassify_contacts(conn, contacts)
            return
        except DBAPIError as exc:
            if not _bad_data(exc):
                raise
            if len(opens) == 1:
                log.error("PostgreSQL refused email open %s: %s", opens[0].event_id, exc.orig)
                return
        for one in opens:
            await self._store_opens([one])

    async def _ack(self, ids: Sequence[bytes]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.xack(self.stream, self.group, *ids)
        pipe.xdel(self.stream, *ids)
        await pipe.execute()

    async def _announce(self, result: BatchResult) -> None:
        humans: dict[uuid.UUID, list[list[str | None]]] = {}
        for click in result.stored:
            if not click.is_bot:
                humans.setdefault(click.account_id, []).append(
                    [str(click.click_id), str(click.application_id or "") or None]
                )
        try:
            # The accounts' cached aggregates are stale now (graph.aggregate_cache).
            await invalidate_accounts(self.redis, {click.account_id for click in result.stored})
            if humans:
                pipe = self.redis.pipeline(transaction=False)
                for account_id, clicks in humans.items():
                    pipe.publish(clicks_channel(account_id), orjson.dumps(clicks))
                await pipe.execute()
            if self.on_stored is not None:
                await self.on_stored(result)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not announce %d stored clicks: %s", len(result.stored), exc)

    def _failed(self, dependency: str, exc: BaseException) -> None:
        if dependency not in self._down:
            self._down.add(dependency)
            log.warning(
                "click flusher: %s unavailable (%s: %s); retrying with backoff",
                dependency,
                type(exc).__name__,
                exc,
            )

    def _recovered(self, dependency: str) -> None:
        if dependency in self._down:
            self._down.discard(dependency)
            log.warning("click flusher: %s is back", dependency)


def flusher_from_settings(redis: Redis, engine: AsyncEngine, settings: Any) -> Flusher:
    return Flusher(
        redis,
        engine,
        stream=settings.click_stream,
        group=settings.click_stream_group,
        claim_idle=settings.click_claim_idle_seconds,
    )
