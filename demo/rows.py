"""One NamedTuple per table the demo fills: its fields are the COPY columns, in order.

asyncpg's ``copy_records_to_table`` takes tuples; a NamedTuple is one, and its ``_fields``
give the column list, so a row and its columns cannot disagree.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

# An IPv4 address as an int (what asyncpg's inet encoder takes fastest) or IPv6 text.
Ip = int | str | None


class AccountRow(NamedTuple):
    id: uuid.UUID
    name: str
    timezone: str
    profile_links: str  # json
    created_at: datetime


class JobRow(NamedTuple):
    id: uuid.UUID
    account_id: uuid.UUID
    title: str
    company: str
    url: str
    location: str
    created_at: datetime


class ApplicationRow(NamedTuple):
    id: uuid.UUID
    account_id: uuid.UUID
    job_id: uuid.UUID
    status: str
    created_at: datetime
    updated_at: datetime


class HistoryRow(NamedTuple):
    application_id: uuid.UUID
    status: str
    changed_at: datetime


class LinkRow(NamedTuple):
    tracking_id: str | None
    account_id: uuid.UUID
    job_id: uuid.UUID
    application_id: uuid.UUID
    link_function: str
    link_type: str
    original_url: str
    redirect_url: str
    created_at: datetime
    created_by: str
    is_active: bool
    description: str


class ClickRow(NamedTuple):
    click_id: uuid.UUID
    tracking_id: str | None
    clicked_at: datetime
    ip_address: Ip
    user_agent: str | None
    referrer_url: str | None
    session_id: str | None
    click_source: str
    metadata: str  # json
    is_bot: bool
    bot_reason: str | None
    request_method: str


class ContactRow(NamedTuple):
    id: uuid.UUID
    application_id: uuid.UUID
    email: str
    name: str
    role: str
    created_at: datetime
    email_tracking_id: str


class EventRow(NamedTuple):
    id: uuid.UUID
    campaign_contact_id: uuid.UUID
    event_type: str
    event_data: str | None  # json
    event_timestamp: datetime
    tracking_id: str | None
    user_agent: str | None
    ip_address: Ip
    clicked_url: str | None
    created_at: datetime
    is_machine: bool
    machine_reason: str | None
