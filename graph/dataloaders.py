"""Per-request loaders (STYLE 3, 4): one attribute each, named <Thing>By<Key>Loader.

Each batch is one statement on a connection of its own, taken from the engine's pool for that
statement (autocommit: the statement is its own snapshot) and returned at once: Strawberry
resolves sibling fields concurrently, so batches run concurrently too. Every batch filters by
the viewer's account, so a foreign id loads as None, exactly like a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cached_property
from typing import TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncEngine

from db import applications as app_db
from db import email as email_db
from db.applications import ApplicationRow, JobRow, StatusChangeRow
from db.contacts import ContactRow
from db.email import Deliverability, EmailCounts
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


class AccountLoader(DataLoader[K, V | None]):
    """A loader whose batch is one SQL statement scoped to the viewer's account: `fetch`
    returns what it found by key, and a key it did not find loads as `missing()`. Values read
    another way (a page's rows and jobs) are handed over with `prime`."""

    def __init__(self, engine: AsyncEngine, account_id: uuid.UUID) -> None:
        super().__init__()
        self.engine = engine
        self.account_id = account_id

    async def fetch(self, db: Db, keys: list[K]) -> dict[K, V]:
        raise NotImplementedError

    def missing(self) -> V | None:
        return None

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | None]:
        unique = list(dict.fromkeys(keys))
        async with self.engine.connect() as conn:
            found = await self.fetch(conn, unique)
        return [found[k] if k in found else self.missing() for k in keys]


class ApplicationByIdLoader(AccountLoader[uuid.UUID, ApplicationRow]):
    async def fetch(self, db: Db, keys: list[uuid.UUID]) -> dict[uuid.UUID, ApplicationRow]:
        return await app_db.applications_by_ids(db, account_id=self.account_id, ids=keys)


class ApplicationWithMetricsLoader(AccountLoader[uuid.UUID, app_db.ApplicationWithMetrics]):
    """An application, its job and its metrics row in one statement."""

    async def fetch(
        self, db: Db, keys: list[uuid.UUID]
    ) -> dict[uuid.UUID, app_db.ApplicationWithMetrics]:
        return await app_db.applications_with_metrics(db, account_id=self.account_id, ids=keys)


class JobByIdLoader(AccountLoader[uuid.UUID, JobRow]):
    async def fetch(self, db: Db, keys: list[uuid.UUID]) -> dict[uuid.UUID, JobRow]:
        return await app_db.jobs_by_ids(db, account_id=self.account_id, ids=keys)


class StatusHistoryByApplicationLoader(AccountLoader[uuid.UUID, list[StatusChangeRow]]):
    async def fetch(self, db: Db, keys: list[uuid.UUID]) -> dict[uuid.UUID, list[StatusChangeRow]]:
        return await app_db.status_history_by_application(db, account_id=self.account_id, ids=keys)

    def missing(self) -> list[StatusChangeRow]:
        return []


class EngagementByApplicationLoader(AccountLoader[uuid.UUID, EngagementRow]):
    """link_click_analytics rows (issue 4); None until calculated."""

    async def fetch(self, db: Db, keys: list[uuid.UUID]) -> dict[uuid.UUID, EngagementRow]:
        return await engagement_by_applications(db, account_id=self.account_id, ids=keys)


class LinksByApplicationLoader(AccountLoader[uuid.UUID, list[LinkRow]]):
    async def fetch(self, db: Db, keys: list[uuid.UUID]) -> dict[uuid.UUID, list[LinkRow]]:
        return await link_loaders.links_by_application(db, self.account_id, keys)

    def missing(self) -> list[LinkRow]:
        return []


class LinkByTrackingIdLoader(AccountLoader[str, LinkRow]):
    async def fetch(self, db: Db, keys: list[str]) -> dict[str, LinkRow]:
        return await link_loaders.link_by_tracking_id(db, self.account_id, keys)


class ContactsByApplicationLoader(AccountLoader[uuid.UUID, list[ContactRow]]):
    async def fetch(self, db: Db, keys: list[uuid.UUID]) -> dict[uuid.UUID, list[ContactRow]]:
        return await link_loaders.contacts_by_application(db, self.account_id, keys)

    def missing(self) -> list[ContactRow]:
        return []


class ClickPageByApplicationLoader(AccountLoader[ClickPageKey, ClickPage]):
    async def fetch(self, db: Db, keys: list[ClickPageKey]) -> dict[ClickPageKey, ClickPage]:
        return await link_loaders.click_pages_by_application(db, self.account_id, keys)


class ClickPageByLinkLoader(AccountLoader[ClickPageKey, ClickPage]):
    async def fetch(self, db: Db, keys: list[ClickPageKey]) -> dict[ClickPageKey, ClickPage]:
        return await link_loaders.click_pages_by_link(db, self.account_id, keys)


class ClickCountByApplicationLoader(AccountLoader[ClickCountKey, int]):
    async def fetch(self, db: Db, keys: list[ClickCountKey]) -> dict[ClickCountKey, int]:
        return await link_loaders.click_counts_by_application(db, self.account_id, keys)

    def missing(self) -> int:
        return 0


class ClickCountByLinkLoader(AccountLoader[ClickCountKey, int]):
    async def fetch(self, db: Db, keys: list[ClickCountKey]) -> dict[ClickCountKey, int]:
        return await link_loaders.click_counts_by_link(db, self.account_id, keys)

    def missing(self) -> int:
        return 0


class HumanClicksByApplicationLoader(AccountLoader[uuid.UUID, list[ClickEvent]]):
    async def fetch(self, db: Db, keys: list[uuid.UUID]) -> dict[uuid.UUID, list[ClickEvent]]:
        return await prediction_loaders.human_clicks(db, self.account_id, keys)

    def missing(self) -> list[ClickEvent]:
        return []


class CalibrationByAccountLoader(AccountLoader[CalibrationKey, Calibration]):
    async def fetch(self, db: Db, keys: list[CalibrationKey]) -> dict[CalibrationKey, Calibration]:
        return await prediction_loaders.calibrations(db, self.account_id, keys)


class WebhookDeliveriesByFollowUpLoader(AccountLoader[uuid.UUID, list[DeliveryRow]]):
    async def fetch(self, db: Db, keys: list[uuid.UUID]) -> dict[uuid.UUID, list[DeliveryRow]]:
        return await prediction_loaders.webhook_deliveries(db, self.account_id, keys)

    def missing(self) -> list[DeliveryRow]:
        return []


# Email engagement (issue 17): db/email.py. A contact or application without contacts or
# events loads as empty figures, a contact without a stopping event as deliverable.
class EmailCountsByApplicationLoader(AccountLoader[uuid.UUID, EmailCounts]):
    async def fetch(self, db: Db, keys: list[uuid.UUID]) -> dict[uuid.UUID, EmailCounts]:
        return await email_db.email_counts(
            db, account_id=self.account_id, by="application", ids=keys
        )

    def missing(self) -> EmailCounts:
        return email_db.empty_counts()


class EmailCountsByContactLoader(AccountLoader[uuid.UUID, EmailCounts]):
    async def fetch(self, db: Db, keys: list[uuid.UUID]) -> dict[uuid.UUID, EmailCounts]:
        return await email_db.email_counts(db, account_id=self.account_id, by="contact", ids=keys)

    def missing(self) -> EmailCounts:
        return email_db.empty_counts()


class DeliverabilityByContactLoader(AccountLoader[uuid.UUID, Deliverability]):
    async def fetch(self, db: Db, keys: list[uuid.UUID]) -> dict[uuid.UUID, Deliverability]:
        return await email_db.deliverability_by_contacts(db, account_id=self.account_id, ids=keys)

    def missing(self) -> Deliverability:
        return email_db.DELIVERABLE


class UndeliverableByApplicationLoader(AccountLoader[uuid.UUID, bool]):
    """True for an application whose contacts may none of them be written to."""

    async def fetch(self, db: Db, keys: list[uuid.UUID]) -> dict[uuid.UUID, bool]:
        found = await email_db.applications_without_deliverable_contact(
            db, account_id=self.account_id, ids=keys
        )
        return dict.fromkeys(found, True)

    def missing(self) -> bool:
        return False


class Loaders:
    """The request's loaders, each made on first use (most requests touch two or three).

    `engine` runs each batch on a connection of its own: the engine in autocommit mode
    (db.engine.reads).
    """

    def __init__(self, engine: AsyncEngine, account_id: uuid.UUID) -> None:
        self.engine = engine
        self.account_id = account_id

    @cached_property
    def application_by_id(self) -> ApplicationByIdLoader:
        return ApplicationByIdLoader(self.engine, self.account_id)

    @cached_property
    def application_with_metrics_by_id(self) -> ApplicationWithMetricsLoader:
        return ApplicationWithMetricsLoader(self.engine, self.account_id)

    @cached_property
    def job_by_id(self) -> JobByIdLoader:
        return JobByIdLoader(self.engine, self.account_id)

    @cached_property
    def status_history_by_application(self) -> StatusHistoryByApplicationLoader:
        return StatusHistoryByApplicationLoader(self.engine, self.account_id)

    @cached_property
    def engagement_by_application(self) -> EngagementByApplicationLoader:
        return EngagementByApplicationLoader(self.engine, self.account_id)

    # Ingestion (issue 3): batch functions in graph/link_loaders.py.
    @cached_property
    def links_by_application(self) -> LinksByApplicationLoader:
        return LinksByApplicationLoader(self.engine, self.account_id)

    @cached_property
    def link_by_tracking_id(self) -> LinkByTrackingIdLoader:
        return LinkByTrackingIdLoader(self.engine, self.account_id)

    @cached_property
    def contacts_by_application(self) -> ContactsByApplicationLoader:
        return ContactsByApplicationLoader(self.engine, self.account_id)

    @cached_property
    def click_page_by_application(self) -> ClickPageByApplicationLoader:
        return ClickPageByApplicationLoader(self.engine, self.account_id)

    @cached_property
    def click_page_by_link(self) -> ClickPageByLinkLoader:
        return ClickPageByLinkLoader(self.engine, self.account_id)

    @cached_property
    def click_count_by_application(self) -> ClickCountByApplicationLoader:
        return ClickCountByApplicationLoader(self.engine, self.account_id)

    @cached_property
    def click_count_by_link(self) -> ClickCountByLinkLoader:
        return ClickCountByLinkLoader(self.engine, self.account_id)

    # Predictions (issue 6): batch functions in graph/prediction_loaders.py.
    @cached_property
    def human_clicks_by_application(self) -> HumanClicksByApplicationLoader:
        return HumanClicksByApplicationLoader(self.engine, self.account_id)

    @cached_property
    def calibration_by_account(self) -> CalibrationByAccountLoader:
        return CalibrationByAccountLoader(self.engine, self.account_id)

    @cached_property
    def webhook_deliveries_by_follow_up(self) -> WebhookDeliveriesByFollowUpLoader:
        return WebhookDeliveriesByFollowUpLoader(self.engine, self.account_id)

    # Email engagement (issue 17).
    @cached_property
    def email_counts_by_application(self) -> EmailCountsByApplicationLoader:
        return EmailCountsByApplicationLoader(self.engine, self.account_id)

    @cached_property
    def email_counts_by_contact(self) -> EmailCountsByContactLoader:
        return EmailCountsByContactLoader(self.engine, self.account_id)

    @cached_property
    def deliverability_by_contact(self) -> DeliverabilityByContactLoader:
        return DeliverabilityByContactLoader(self.engine, self.account_id)

    @cached_property
    def undeliverable_by_application(self) -> UndeliverableByApplicationLoader:
        return UndeliverableByApplicationLoader(self.engine, self.account_id)
