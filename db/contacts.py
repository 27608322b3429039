"""SQL for application contacts (seed 004 `campaign_contacts`); their email events: db/email.py."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import Db
from db.params import any_of, param
from db.tables import application_contacts, job_applications


# Not frozen, as every row type read in bulk: a frozen dataclass's __init__ sets each field
# through object.__setattr__, ~7x slower (13 fields: 1.0 vs 0.14 µs), and a page of 100
# applications builds hundreds of rows. Rows are still never changed after they are read.
@dataclass(slots=True)
class ContactRow:
    id: uuid.UUID
    application_id: uuid.UUID
    email: str
    name: str | None
    role: str | None
    created_at: datetime
    email_tracking_id: str | None


@dataclass(frozen=True, slots=True)
class EmailEventRow:
    id: uuid.UUID
    contact_id: uuid.UUID
    event_type: str
    event_data: dict[str, Any] | None
    event_timestamp: datetime
    tracking_id: str | None
    user_agent: str | None
    ip_address: str | None
    clicked_url: str | None
    created_at: datetime
    is_machine: bool
    machine_reason: str | None
    provider_event_id: str | None


def contact_row(row: Any) -> ContactRow:
    return ContactRow(
        id=row.id,
        application_id=row.application_id,
        email=row.email,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        email_tracking_id=row.email_tracking_id,
    )


async def add_contact(
    session: AsyncSession,
    *,
    application_id: uuid.UUID,
    email: str,
    name: str | None,
    role: str | None,
) -> ContactRow:
    row = (
        await session.execute(
            insert(application_contacts)
            .values(
                id=uuid.uuid4(), application_id=application_id, email=email, name=name, role=role
            )
            .returning(*application_contacts.c)
        )
    ).one()
    return contact_row(row)


# Built once (db/params.py): :account_id and the :ids array.
_CONTACTS_BY_APPLICATION = (
    select(*(application_contacts.c[name] for name in ContactRow.__slots__))
    .join(job_applications, job_applications.c.id == application_contacts.c.application_id)
    .where(
        job_applications.c.account_id == param("account_id", job_applications.c.account_id),
        any_of(application_contacts.c.application_id),
    )
    .order_by(
        application_contacts.c.application_id,
        application_contacts.c.created_at,
        application_contacts.c.id,
    )
)


async def contacts_by_application(
    db: Db, *, account_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[ContactRow]]:
    result = await db.execute(_CONTACTS_BY_APPLICATION, {"account_id": account_id, "ids": ids})
    out: dict[uuid.UUID, list[ContactRow]] = defaultdict(list)
    for r in result.mappings():
        contact = ContactRow(**r)
        out[contact.application_id].append(contact)
    return out


async def contact_of_account(
    session: AsyncSession, *, account_id: uuid.UUID, contact_id: uuid.UUID
) -> ContactRow | None:
    c = application_contacts.c
    row = (
        await session.execute(
            select(application_contacts)
            .join(job_applications, job_applications.c.id == c.application_id)
            .where(job_applications.c.account_id == account_id, c.id == contact_id)
        )
    ).one_or_none()
    return None if row is None else contact_row(row)
