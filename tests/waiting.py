"""Tests wait on a condition, never on a fixed sleep: `eventually` polls one until it holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], *, what: str, within: float = 30, every: float = 0.05
) -> T:
    """The first truthy value of `check()`; fails the test with `what` after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)
