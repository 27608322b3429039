"""When each API key was last used, written after the response and in batches.

`api_keys.last_used_at` tells an admin which keys are alive; a minute's precision is enough.
Writing it inside the request made one request in ~16 a commit (a WAL flush the client waited
for) when 1,000 keys were in use (bench/api.py), which set the p95. Now a request only notes
the key; one UPDATE per `interval` writes every key noted since, skipping keys written less
than a minute ago, and the lifespan writes what is left at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import accounts as accounts_db

log = logging.getLogger("linkinsights.auth")

_MINUTE = 60.0


class KeyUsage:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, interval: float = 5.0
    ) -> None:
        self._sessionmaker = sessionmaker
        self._interval = interval
        self._pending: set[uuid.UUID] = set()
        # When each key was last noted: a process that keeps its keys (graph/key_cache.py)
        # does not see their last_used_at move, so the minute is counted here as well.
        self._noted: dict[uuid.UUID, float] = {}
        self._task: asyncio.Task[None] | None = None

    def seen(self, key_id: uuid.UUID) -> None:
        """Note a use of the key; written within `interval` seconds, once a minute at most."""
        now = time.monotonic()
        if now - self._noted.get(key_id, -_MINUTE) < _MINUTE:
            return
        self._noted[key_id] = now
        self._pending.add(key_id)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        # Keys noted while a flush waits on the database are written by the next round.
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()
            if not self._pending:
                return

    async def flush(self) -> None:
        """Write every key noted so far (errors are logged: usage is not worth a failure)."""
        ids, self._pending = list(self._pending), set()
        now = time.monotonic()
        self._noted = {k: t for k, t in self._noted.items() if now - t < _MINUTE}
        if not ids:
            return
        try:
            async with self._sessionmaker() as session, session.begin():
                await accounts_db.touch_keys(session, key_ids=ids)
        except Exception:
            log.warning("could not record API key use", exc_info=True)

    async def aclose(self) -> None:
        """Stop the timer and write what is pending (the app's lifespan, at shutdown)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
