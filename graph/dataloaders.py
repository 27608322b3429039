"""Per-request loaders (STYLE 3, 4): one attribute each, named <Thing>By<Key>Loader.

Each batch is one statement on a connection of its own, taken from the engine's pool for that
statement (autocommit: the statement is its own snapshot) and returned at once: Strawberry
resolves sibling fields concurrently, so batches run concurrently too. Every batch filters by
the viewer's account, so a foreign id loads as None, exactly like a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncEngine

from db import applications as app_db
from db.applications import ApplicationRow, JobRow, StatusChangeRow
from db.contacts import ContactRow
from db.engagement import EngagementRow, engagement_by_applications
from db.engine import Db
from db.follow_ups import DeliveryRow
from db.links import LinkRow
from domain.metrics import ClickEvent
from domain.predictions import Calibration
from graph import link_loaders, prediction_loaders
from graph.link_loaders import ClickCountKey, ClickPage, ClickPageKey
from graph.prediction_loaders import CalibrationKey

K = TypeVar("K")
V = TypeVar("V")

Fetch = Callable[[Db, uuid.UUID, list[K]], Awaitable[dict[K, V]]]


class AccountLoader(DataLoader[K, V | None]):
    """A loader whose batch is one SQL statement scoped to one account. Values read another
    way (a page's rows and jobs) are handed over with `prime`."""

    def __init__(
        self,
        engine: AsyncEngine,
        account_id: uuid.UUID,
        fetch: Callable[[Db, uuid.UUID, list[K]], Awaitable[dict[K, Any]]],
        default: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.account_id = account_id
        self.fetch = fetch
        self.default = default

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | None]:
        unique = list(dict.fromkeys(keys))
        async with self.engine.connect() as conn:
            found = await self.fetch(conn, self.account_id, unique)
        if self.default is None:
            return [found.get(k) for k in keys]
        default = self.default
        return [found[k] if k in found else default() for k in keys]


async def _applications(
    s: Db, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, ApplicationRow]:
    return await app_db.applications_by_ids(s, account_id=account, ids=ids)


# (application id, with its job, with its metrics)
BundleKey = tuple[uuid.UUID, bool, bool]


async def _bundles(
    s: Db, account: uuid.UUID, keys: list[BundleKey]
) -> dict[BundleKey, app_db.ApplicationBundle]:
    shapes: dict[tuple[bool, bool], list[uuid.UUID]] = {}
    for app_id, with_job, with_engagement in keys:
        shapes.setdefault((with_job, with_engagement), []).append(app_id)
    out: dict[BundleKey, app_db.ApplicationBundle] = {}
    for (with_job, with_engagement), ids in shapes.items():
        found = await app_db.applications_with(
            s,
            account_id=account,
            ids=ids,
            with_job=with_job,
            with_engagement=with_engagement,
        )
        for app_id, bundle in found.items():
            out[(app_id, with_job, with_engagement)] = bundle
    return out


async def _jobs(s: Db, account: uuid.UUID, ids: list[uuid.UUID]) -> dict[uuid.UUID, JobRow]:
    return await app_db.jobs_by_ids(s, account_id=account, ids=ids)


async def _engagement(
    s: Db, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, EngagementRow]:
    return await engagement_by_applications(s, account_id=account, ids=ids)


async def _history(
    s: Db, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[StatusChangeRow]]:
    return await app_db.status_history_by_application(s, account_id=account, ids=ids)


class Loaders:
    """The request's loaders, each made on first use (most requests touch two or three).

    `engine` runs each batch on a connection of its own: the engine in autocommit mode
    (db.engine.reads).
    """

    def __init__(self, engine: AsyncEngine, account_id: uuid.UUID) -> None:
        self.engine = engine
        self.account_id = account_id

    def _make(
        self, fetch: Any, default: Callable[[], Any] | None = None
    ) -> AccountLoader[Any, Any]:
        return AccountLoader(self.engine, self.account_id, fetch, default)

    @cached_property
    def application_by_id(self) -> AccountLoader[uuid.UUID, ApplicationRow]:
        return self._make(_applications)

    @cached_property
    def application_bundle_by_id(self) -> AccountLoader[BundleKey, app_db.ApplicationBundle]:
        """An application with its job and metrics (as the key asks) in one statement."""
        return self._make(_bundles)

    @cached_property
    def job_by_id(self) -> AccountLoader[uuid.UUID, JobRow]:
        return self._make(_jobs)

    @cached_property
    def status_history_by_application(self) -> AccountLoader[uuid.UUID, list[StatusChangeRow]]:
        return self._make(_history, list)

    # Metrics (issue 4): link_click_analytics rows, None until calculated.
    @cached_property
    def engagement_by_application(self) -> AccountLoader[uuid.UUID, EngagementRow]:
        return self._make(_engagement)

    # Ingestion (issue 3): see graph/link_loaders.py.
    @cached_property
    def links_by_application(self) -> AccountLoader[uuid.UUID, list[LinkRow]]:
        return self._make(link_loaders.links_by_application, list)

    @cached_property
    def link_by_tracking_id(self) -> AccountLoader[str, LinkRow]:
        return self._make(link_loaders.link_by_tracking_id)

    @cached_property
    def contacts_by_application(self) -> AccountLoader[uuid.UUID, list[ContactRow]]:
        return self._make(link_loaders.contacts_by_application, list)

    @cached_property
    def click_page_by_application(self) -> AccountLoader[ClickPageKey, ClickPage]:
        return self._make(link_loaders.click_pages_by_application)

    @cached_property
    def click_page_by_link(self) -> AccountLoader[ClickPageKey, ClickPage]:
        return self._make(link_loaders.click_pages_by_link)

    @cached_property
    def click_count_by_application(self) -> AccountLoader[ClickCountKey, int]:
        return self._make(link_loaders.click_counts_by_application, int)

    @cached_property
    def click_count_by_link(self) -> AccountLoader[ClickCountKey, int]:
        return self._make(link_loaders.click_counts_by_link, int)

    # Predictions (issue 6): see graph/prediction_loaders.py.
    @cached_property
    def human_clicks_by_application(self) -> AccountLoader[uuid.UUID, list[ClickEvent]]:
        return self._make(prediction_loaders.human_clicks, list)

    @cached_property
    def calibration_by_account(self) -> AccountLoader[CalibrationKey, Calibration]:
        return self._make(prediction_loaders.calibrations)

    @cached_property
    def webhook_deliveries_by_follow_up(self) -> AccountLoader[uuid.UUID, list[DeliveryRow]]:
        return self._make(prediction_loaders.webhook_deliveries, list)
