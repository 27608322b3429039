"""Per-request loaders of email engagement (issue 17): each batch is one statement in a
short-lived session of its own (STYLE 4), filtered by the viewer's account, so a foreign
contact or application loads like a missing one."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import email as email_db
from db.email import Deliverability, EmailCounts

V = TypeVar("V")

Fetch = Callable[[AsyncSession, uuid.UUID, list[uuid.UUID]], Awaitable[dict[uuid.UUID, Any]]]


class SessionLoader(DataLoader[uuid.UUID, V], Generic[V]):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        account_id: uuid.UUID,
        fetch: Fetch,
        default: V,
    ) -> None:
        super().__init__()
        self._sessionmaker = sessionmaker
        self._account_id = account_id
        self._fetch = fetch
        self._default = default

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[V]:
        async with self._sessionmaker() as session:
            found = await self._fetch(session, self._account_id, list(dict.fromkeys(keys)))
        return [found.get(k, self._default) for k in keys]


async def _counts_by_application(
    session: AsyncSession, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, EmailCounts]:
    return await email_db.email_counts(session, account_id=account, by="application", ids=ids)


async def _counts_by_contact(
    session: AsyncSession, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, EmailCounts]:
    return await email_db.email_counts(session, account_id=account, by="contact", ids=ids)


async def _deliverability(
    session: AsyncSession, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, Deliverability]:
    return await email_db.deliverability_by_contacts(session, account_id=account, ids=ids)


async def _undeliverable(
    session: AsyncSession, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, bool]:
    found = await email_db.applications_without_deliverable_contact(
        session, account_id=account, ids=ids
    )
    return dict.fromkeys(found, True)


_DELIVERABLE = Deliverability(None, None)


class EmailLoaders:
    """Made on first use, once per request (graph.context.Context.email_loaders)."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], account_id: uuid.UUID
    ) -> None:
        self._sessionmaker = sessionmaker
        self._account_id = account_id

    @cached_property
    def email_counts_by_application(self) -> SessionLoader[EmailCounts]:
        return SessionLoader(
            self._sessionmaker, self._account_id, _counts_by_application, email_db.empty_counts()
        )

    @cached_property
    def email_counts_by_contact(self) -> SessionLoader[EmailCounts]:
        return SessionLoader(
            self._sessionmaker, self._account_id, _counts_by_contact, email_db.empty_counts()
        )

    @cached_property
    def deliverability_by_contact(self) -> SessionLoader[Deliverability]:
        return SessionLoader(self._sessionmaker, self._account_id, _deliverability, _DELIVERABLE)

    @cached_property
    def undeliverable_by_application(self) -> SessionLoader[bool]:
        """True for an application whose contacts may none of them be written to."""
        return SessionLoader(self._sessionmaker, self._account_id, _undeliverable, False)
