"""Batch functions for the ingestion loaders (issue 3), wired on graph.dataloaders.Loaders.

Each takes (connection, account_id, keys) and returns a dict keyed like the keys; every
statement filters by the account, so a foreign parent loads like a missing one.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from db import clicks as clicks_db
from db import contacts as contacts_db
from db import links as links_db
from db.clicks import ClickRow, Keyset, Parent
from db.contacts import ContactRow
from db.engine import Db
from db.links import LinkRow

# (parent id, includeBots, first, after keyset): one page of one parent's clicks.
ClickPageKey = tuple[Any, bool, int, Keyset | None]
# (parent id, includeBots): the parent's click count.
ClickCountKey = tuple[Any, bool]
# A page of clicks, and the parent's click count when the page has no `after` (the same
# statement counts them; None with a cursor).
ClickPage = tuple[list[ClickRow], int | None]


async def links_by_application(
    s: Db, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[LinkRow]]:
    return await links_db.links_by_application(s, account_id=account, ids=ids)


async def link_by_tracking_id(s: Db, account: uuid.UUID, ids: list[str]) -> dict[str, LinkRow]:
    return await links_db.links_by_tracking_ids(s, account_id=account, ids=ids)


async def contacts_by_application(
    s: Db, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[ContactRow]]:
    return await contacts_db.contacts_by_application(s, account_id=account, ids=ids)


async def _pages(
    parent: Parent, s: Db, account: uuid.UUID, keys: list[ClickPageKey]
) -> dict[ClickPageKey, ClickPage]:
    # Parents asked with the same arguments share one statement (the usual case: a list of
    # applications each asking `clicks(first: 5)`).
    groups: dict[tuple[bool, int, Keyset | None], list[Any]] = defaultdict(list)
    for parent_id, include_bots, first, after in keys:
        groups[(include_bots, first, after)].append(parent_id)
    out: dict[ClickPageKey, ClickPage] = {}
    for (include_bots, first, after), ids in groups.items():
        totals: dict[Any, int] = {}
        pages = await clicks_db.click_pages(
            s,
            account_id=account,
            parent=parent,
            ids=ids,
            include_bots=include_bots,
            first=first,
            after=after,
            totals=totals,
        )
        for parent_id in ids:
            out[(parent_id, include_bots, first, after)] = (
                pages.get(parent_id, []),
                totals.get(parent_id),
            )
    return out


async def _counts(
    parent: Parent, s: Db, account: uuid.UUID, keys: list[ClickCountKey]
) -> dict[ClickCountKey, int]:
    groups: dict[bool, list[Any]] = defaultdict(list)
    for parent_id, include_bots in keys:
        groups[include_bots].append(parent_id)
    out: dict[ClickCountKey, int] = {}
    for include_bots, ids in groups.items():
        counts = await clicks_db.click_counts(
            s, account_id=account, parent=parent, ids=ids, include_bots=include_bots
        )
        for parent_id in ids:
            out[(parent_id, include_bots)] = counts.get(parent_id, 0)
    return out


async def click_pages_by_application(
    s: Db, account: uuid.UUID, keys: list[ClickPageKey]
) -> dict[ClickPageKey, ClickPage]:
    return await _pages("application", s, account, keys)


async def click_pages_by_link(
    s: Db, account: uuid.UUID, keys: list[ClickPageKey]
) -> dict[ClickPageKey, ClickPage]:
    return await _pages("link", s, account, keys)


async def click_counts_by_application(
    s: Db, account: uuid.UUID, keys: list[ClickCountKey]
) -> dict[ClickCountKey, int]:
    return await _counts("application", s, account, keys)


async def click_counts_by_link(
    s: Db, account: uuid.UUID, keys: list[ClickCountKey]
) -> dict[ClickCountKey, int]:
    return await _counts("link", s, account, keys)
