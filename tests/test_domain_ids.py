"""Time-ordered click ids: valid RFC 9562 version 7 UUIDs that sort by creation time."""

from __future__ import annotations

import uuid

from domain.ids import uuid7


def test_layout_is_version_7_rfc_variant() -> None:
    value = uuid7(now_ns=1_700_000_000_123_456_789)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    # The first 48 bits are the Unix time in milliseconds.
    assert value.int >> 80 == 1_700_000_000_123


def test_later_ids_sort_after_earlier_ones() -> None:
    ids = [uuid7(now_ns=t * 1_000_000) for t in (1_000, 1_001, 2_000, 1_000_000)]
    assert ids == sorted(ids)
    assert [str(i) for i in ids] == sorted(str(i) for i in ids)


def test_ids_in_the_same_millisecond_differ() -> None:
    ids = {uuid7(now_ns=5_000_000) for _ in range(1000)}
    assert len(ids) == 1000
