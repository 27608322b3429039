"""Per-request loaders (STYLE 3, 4): one attribute each, named <Thing>By<Key>Loader.

Each batch opens its own short-lived session, because Strawberry resolves sibling fields
concurrently and an AsyncSession must not be shared between tasks. Every batch filters by
the viewer's account, so a foreign id loads as None, exactly like a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import applications as app_db
from db.applications import ApplicationRow, JobRow, StatusChangeRow
from db.clicks import ClickRow
from db.contacts import ContactRow
from db.engagement import EngagementRow, engagement_by_applications
from db.follow_ups import DeliveryRow
from db.links import LinkRow
from domain.metrics import ClickEvent
from domain.predictions import Calibration
from graph import link_loaders, prediction_loaders
from graph.link_loaders import ClickCountKey, ClickPageKey
from graph.prediction_loaders import CalibrationKey

K = TypeVar("K")
V = TypeVar("V")

Fetch = Callable[[AsyncSession, uuid.UUID, list[K]], Awaitable[dict[K, V]]]


class AccountLoader(DataLoader[K, V | None]):
    """A loader whose batch is one SQL statement scoped to one account."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        account_id: uuid.UUID,
        fetch: Callable[[AsyncSession, uuid.UUID, list[K]], Awaitable[dict[K, Any]]],
        default: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__()
        self._sessionmaker = sessionmaker
        self._account_id = account_id
        self._fetch = fetch
        self._default = default

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | None]:
        unique = list(dict.fromkeys(keys))
        async with self._sessionmaker() as session:
            found = await self._fetch(session, self._account_id, unique)
        if self._default is None:
            return [found.get(k) for k in keys]
        return [found[k] if k in found else self._default() for k in keys]


async def _applications(
    s: AsyncSession, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, ApplicationRow]:
    return await app_db.applications_by_ids(s, account_id=account, ids=ids)


async def _jobs(
    s: AsyncSession, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, JobRow]:
    return await app_db.jobs_by_ids(s, account_id=account, ids=ids)


async def _engagement(
    s: AsyncSession, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, EngagementRow]:
    return await engagement_by_applications(s, account_id=account, ids=ids)


async def _history(
    s: AsyncSession, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[StatusChangeRow]]:
    return await app_db.status_history_by_application(s, account_id=account, ids=ids)


@dataclass
class Loaders:
    application_by_id: AccountLoader[uuid.UUID, ApplicationRow]
    job_by_id: AccountLoader[uuid.UUID, JobRow]
    status_history_by_application: AccountLoader[uuid.UUID, list[StatusChangeRow]]
    # Metrics (issue 4): link_click_analytics rows, None until calculated.
    engagement_by_application: AccountLoader[uuid.UUID, EngagementRow]
    # Ingestion (issue 3): see graph/link_loaders.py.
    links_by_application: AccountLoader[uuid.UUID, list[LinkRow]]
    link_by_tracking_id: AccountLoader[str, LinkRow]
    contacts_by_application: AccountLoader[uuid.UUID, list[ContactRow]]
    click_page_by_application: AccountLoader[ClickPageKey, list[ClickRow]]
    click_page_by_link: AccountLoader[ClickPageKey, list[ClickRow]]
    click_count_by_application: AccountLoader[ClickCountKey, int]
    click_count_by_link: AccountLoader[ClickCountKey, int]
    # Predictions (issue 6): see graph/prediction_loaders.py.
    human_clicks_by_application: AccountLoader[uuid.UUID, list[ClickEvent]]
    calibration_by_account: AccountLoader[CalibrationKey, Calibration]
    webhook_deliveries_by_follow_up: AccountLoader[uuid.UUID, list[DeliveryRow]]

    @classmethod
    def create(
        cls, sessionmaker: async_sessionmaker[AsyncSession], account_id: uuid.UUID
    ) -> Loaders:
        def make(fetch: Any, default: Callable[[], Any] | None = None) -> Any:
            return AccountLoader(sessionmaker, account_id, fetch, default)

        return cls(
            application_by_id=make(_applications),
            job_by_id=make(_jobs),
            status_history_by_application=make(_history, list),
            engagement_by_application=make(_engagement),
            links_by_application=make(link_loaders.links_by_application, list),
            link_by_tracking_id=make(link_loaders.link_by_tracking_id),
            contacts_by_application=make(link_loaders.contacts_by_application, list),
            click_page_by_application=make(link_loaders.click_pages_by_application, list),
            click_page_by_link=make(link_loaders.click_pages_by_link, list),
            click_count_by_application=make(link_loaders.click_counts_by_application, int),
            click_count_by_link=make(link_loaders.click_counts_by_link, int),
            human_clicks_by_application=make(prediction_loaders.human_clicks, list),
            calibration_by_account=make(prediction_loaders.calibrations),
            webhook_deliveries_by_follow_up=make(prediction_loaders.webhook_deliveries, list),
        )
