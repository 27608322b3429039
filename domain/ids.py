"""Time-ordered UUIDs (the UUIDv7 layout of RFC 9562), for rows inserted at a high rate.

A random UUIDv4 primary key lands on a random leaf of its B-tree, so a busy table keeps
dirtying pages all over the index; ids that grow with time append to its right edge.
"""

from __future__ import annotations

import secrets
import time
import uuid

_RAND_A_BITS = 12
_RAND_B_BITS = 62


def uuid7(now_ns: int | None = None) -> uuid.UUID:
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    rand_a = secrets.randbits(_RAND_A_BITS)
    rand_b = secrets.randbits(_RAND_B_BITS)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)
