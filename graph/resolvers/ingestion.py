"""The ingestion write API (SPEC §3, issue 3): applications, status changes, tracked links, the
account's profile, contacts, clicks from external redirect domains, email events and the GDPR
delete; plus the `trackedLink` query.

Every mutation takes one `input`, needs the `write` scope, is one unit of work and returns the
changed object. Ids in an input that are not the caller's answer exactly like missing ones:
BAD_USER_INPUT naming the field.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import orjson
import strawberry
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON

from db import accounts as accounts_db
from db import applications as app_db
from db import clicks as clicks_db
from db import contacts as contacts_db
from db import email as email_db
from db import links as links_db
from db.applications import ApplicationRow, JobRow
from db.clicks import ClickRow
from db.ingest import CLIENT_CLICK_ID_KEY, ClickEntry
from db.links import LinkRow
from db.session import mark_app_writer
from domain.bots import classify_request
from domain.email import MachineVerdict, classify_fetch
from domain.ids import uuid7
from domain.sources import detect_click_source
from domain.validation import (
    EMAIL_EVENT_TYPES,
    ValidationError,
    validate_email,
    validate_link_function,
    validate_link_type,
    validate_text,
    validate_timezone,
    validate_url,
    validate_webhook_url,
)
from graph.context import Context
from graph.errors import BadUserInput, QueueUnavailable
from graph.key_cache import publish_key_changes
from graph.link_cache import publish_link_changes
from graph.track import parse_ip
from graph.types.account import Account
from graph.types.application import Application
from graph.types.common import ApplicationStatus
from graph.types.link import Click, Contact, EmailEvent, TrackedLink
from jobs.webhooks import UnsafeTarget, check_webhook_url, new_webhook_secret

# --- helpers ----------------------------------------------------------------------------

_CAMEL = re.compile(r"_([a-z])")


def camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def bad_input(exc: ValidationError) -> BadUserInput:
    """A domain validation error as BAD_USER_INPUT naming the GraphQL (camelCase) field."""
    return BadUserInput(exc.message, field=camel(exc.field))


def _id(value: str | None, *, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise BadUserInput(f"{field} must be an id (a UUID)", field=field) from exc


def _missing(field: str, value: object, what: str) -> BadUserInput:
    # Exactly the same answer for a foreign id as for an id that does not exist.
    return BadUserInput(f"No {what} with {field} {str(value)[:100]!r}", field=field)


def _aware(value: datetime | None, *, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadUserInput(
            f"{field} needs a UTC offset (for example 2025-07-27T21:15:30Z)", field=field
        )
    if value > datetime.now(UTC) + timedelta(minutes=5):
        raise BadUserInput(f"{field} lies in the future", field=field)
    return value


async def _application(
    session: AsyncSession, account_id: uuid.UUID, value: str, *, field: str = "applicationId"
) -> ApplicationRow:
    app_id = _id(value, field=field)
    found = await app_db.applications_by_ids(session, account_id=account_id, ids=[app_id])
    if app_id not in found:
        raise _missing(field, value, "application")
    return found[app_id]


async def _job(session: AsyncSession, account_id: uuid.UUID, value: str) -> JobRow:
    job_id = _id(value, field="jobId")
    found = await app_db.jobs_by_ids(session, account_id=account_id, ids=[job_id])
    if job_id not in found:
        raise _missing("jobId", value, "job")
    return found[job_id]


async def _link(session: AsyncSession, account_id: uuid.UUID, tracking_id: str) -> LinkRow:
    tid = tracking_id.strip()
    found = await links_db.links_by_tracking_ids(session, account_id=account_id, ids=[tid])
    if tid not in found:
        raise _missing("trackingId", tracking_id, "tracked link")
    return found[tid]


def new_tracking_id() -> str:
    """`lt_` and 12 random hex digits (seed 002: lt_abc123def456)."""
    return "lt_" + secrets.token_hex(6)


def redirect_url(base: str, tracking_id: str) -> str:
    return f"{base.rstrip('/')}/track/{tracking_id}"


async def _insert_link(
    session: AsyncSession,
    ctx: Context,
    *,
    account_id: uuid.UUID,
    job_id: uuid.UUID | None,
    application_id: uuid.UUID | None,
    link_function: str,
    link_type: str,
    original_url: str,
    description: str | None,
) -> LinkRow:
    for _ in range(5):  # 48 random bits: a clash is rare, and is simply drawn again
        tracking_id = new_tracking_id()
        row = await links_db.create_link(
            session,
            tracking_id=tracking_id,
            account_id=account_id,
            job_id=job_id,
            application_id=application_id,
            link_function=link_function,
            link_type=link_type,
            original_url=original_url,
            redirect_url=redirect_url(ctx.settings.public_base_url, tracking_id),
            description=description,
        )
        if row is not None:
            return row
    raise RuntimeError("could not draw a free tracking id")


_SOURCE = re.compile(r"[a-z][a-z0-9_]{0,49}")
METADATA_MAX_BYTES = 8_192


def _json_object(value: Any, *, field: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadUserInput(f"{field} must be a JSON object", field=field)
    try:
        size = len(orjson.dumps(value))
    except TypeError as exc:
        raise BadUserInput(f"{field} must be plain JSON", field=field) from exc
    if size > METADATA_MAX_BYTES:
        raise BadUserInput(
            f"{field} is {size} bytes of JSON; at most {METADATA_MAX_BYTES} are kept", field=field
        )
    if "\\u0000" in orjson.dumps(value).decode():
        raise BadUserInput(f"{field} contains NUL characters", field=field)
    return value


def _bounce_data(
    event_type: str, bounce_type: BounceType | None, data: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The event data with a valid bounce_type for a bounce (seed 004: hard or soft)."""
    if event_type != "bounced":
        if bounce_type is not None:
            raise BadUserInput("bounceType is only for BOUNCED events", field="bounceType")
        return data
    given = (data or {}).get("bounce_type")
    if bounce_type is not None:
        if given is not None and given != bounce_type.value:
            raise BadUserInput("bounceType and eventData.bounce_type disagree", field="bounceType")
        return {**(data or {}), "bounce_type": bounce_type.value}
    if given not in ("hard", "soft"):
        raise BadUserInput(
            "A BOUNCED event needs bounceType (HARD or SOFT) or eventData.bounce_type "
            "'hard' or 'soft'",
            field="bounceType",
        )
    return data


def _ip(value: str | None, *, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    parsed = parse_ip(value)
    if parsed is None:
        raise BadUserInput(f"{field} must be an IPv4 or IPv6 address", field=field)
    return parsed


# --- inputs -----------------------------------------------------------------------------


@strawberry.input
class CreateApplicationInput:
    job_id: strawberry.ID | None = None
    applied_at: datetime | None = strawberry.field(
        default=None, description="When the application was sent; default now."
    )
    status: ApplicationStatus = ApplicationStatus.APPLIED


@strawberry.input
class UpdateApplicationStatusInput:
    application_id: strawberry.ID
    status: ApplicationStatus
    changed_at: datetime | None = strawberry.field(default=None, description="Default now.")


@strawberry.input
class CreateTrackedLinkInput:
    application_id: strawberry.ID | None = None
    job_id: strawberry.ID | None = None
    link_function: str = strawberry.field(description="LinkedIn, Calendly, Portfolio, ...")
    link_type: str = strawberry.field(
        default="external", description="profile, job_posting, application, document, external"
    )
    original_url: str = strawberry.field(description="Absolute http(s) URL.")
    description: str | None = None


@strawberry.input
class ProfileLinkInput:
    link_function: str
    url: str


@strawberry.input
class UpdateAccountInput:
    timezone: str | None = strawberry.UNSET
    profile_links: list[ProfileLinkInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the saved list; null or [] clears it."
    )
    webhook_url: str | None = strawberry.field(
        default=strawberry.UNSET, description="https URL; null removes the webhook."
    )


@strawberry.input
class CreateApplicationLinksInput:
    application_id: strawberry.ID


@strawberry.input
class AddApplicationContactInput:
    application_id: strawberry.ID
    email: str
    name: str | None = None
    role: str | None = strawberry.field(default=None, description="recruiter, hiring manager, ...")


@strawberry.input
class DeactivateTrackedLinkInput:
    tracking_id: str


@strawberry.input(description="A click seen by an external redirect domain (seed 002).")
class RecordClickInput:
    tracking_id: str
    clicked_at: datetime | None = strawberry.field(default=None, description="Default now.")
    ip_address: str | None = None
    user_agent: str | None = None
    referrer_url: str | None = None
    click_source: str | None = strawberry.field(
        default=None, description="Overrides the source detected from the referrer."
    )
    session_id: str | None = None
    metadata: JSON | None = None
    request_method: str = strawberry.field(default="GET", description="GET or HEAD")
    client_click_id: str | None = strawberry.field(
        default=None,
        description="Your own id for this click (at most 100 characters): a call retried with "
        "the same id is stored once.",
    )


@strawberry.enum
class EmailEventType(Enum):
    OPENED = "opened"
    CLICKED = "clicked"
    BOUNCED = "bounced"
    DELIVERED = "delivered"
    UNSUBSCRIBED = "unsubscribed"
    SPAM_REPORTED = "spam_reported"


assert {e.value for e in EmailEventType} == set(EMAIL_EVENT_TYPES)


@strawberry.enum(
    description="hard: the address does not exist (the contact becomes "
    "undeliverable); soft: a temporary failure (mailbox full, server down)."
)
class BounceType(Enum):
    HARD = "hard"
    SOFT = "soft"


@strawberry.input(
    description="An email event of an application's contact (seed 004), as an email provider "
    "reports it. With providerEventId the mutation is idempotent: the same id again records "
    "nothing and returns the event recorded the first time."
)
class RecordEmailEventInput:
    contact_id: strawberry.ID
    event_type: EmailEventType
    event_timestamp: datetime | None = strawberry.field(default=None, description="Default now.")
    event_data: JSON | None = None
    tracking_id: str | None = None
    clicked_url: str | None = None
    user_agent: str | None = None
    ip_address: str | None = None
    provider_event_id: str | None = strawberry.field(
        default=None, description="The provider's id of this event (at most 200 characters)."
    )
    bounce_type: BounceType | None = strawberry.field(
        default=None,
        description="Required for BOUNCED (or eventData.bounce_type 'hard'/'soft'); stored as "
        "eventData.bounce_type.",
    )


@strawberry.input
class CreateEmailTrackingIdInput:
    contact_id: strawberry.ID


@strawberry.input
class DeleteApplicationInput:
    application_id: strawberry.ID


# stored click id = uuid5(namespace, account id + client click id): a retried recordClick is
# stored once, and no account can collide with another's ids.
_CLIENT_CLICK_NAMESPACE = uuid.UUID("5d0c7a53-3bc4-4f4e-9d0e-1f2c7b3c6a11")


def _stored_click_id(account_id: uuid.UUID, client_click_id: str) -> uuid.UUID:
    return uuid.uuid5(_CLIENT_CLICK_NAMESPACE, f"{account_id}:{client_click_id}")


async def _wait_stored(ctx: Context, account_id: uuid.UUID, click_id: uuid.UUID) -> ClickRow | None:
    """The click's row once the flusher has written it; None if that takes longer than
    RECORD_CLICK_WAIT (PostgreSQL slow or down: the click is kept and stored later)."""
    delay = 0.005
    deadline = asyncio.get_running_loop().time() + RECORD_CLICK_WAIT
    while True:
        try:
            async with ctx.sessionmaker() as session:
                row = await clicks_db.click_by_id(session, account_id=account_id, click_id=click_id)
        except (OSError, DBAPIError):
            row = None
        if row is not None or asyncio.get_running_loop().time() + delay > deadline:
            return row
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)


RECORD_CLICK_WAIT = 2.0


@strawberry.type(description="What a GDPR delete removed: rows per kind.")
class DeleteApplicationPayload:
    application_id: strawberry.ID
    applications: int
    status_changes: int
    links: int
    clicks: int
    contacts: int
    email_events: int
    metrics: int
    follow_ups: int
    webhook_deliveries: int
    analytics_runs: int


# --- root fields ------------------------------------------------------------------------


@strawberry.type
class IngestionQueries:
    @strawberry.field
    async def tracked_link(
        self, info: strawberry.Info[Context, None], tracking_id: str
    ) -> TrackedLink | None:
        info.context.require("read")
        row = await info.context.loaders.link_by_tracking_id.load(tracking_id.strip()[:100])
        return None if row is None else TrackedLink.from_row(row)


@strawberry.type
class IngestionMutations:
    @strawberry.mutation(description="Record an application (and its first history row).")
    async def create_application(
        self, info: strawberry.Info[Context, None], input: CreateApplicationInput
    ) -> Application:
        ctx = info.context
        viewer = ctx.require("write")
        applied_at = _aware(input.applied_at, field="appliedAt")
        async with ctx.sessionmaker() as session, session.begin():
            await mark_app_writer(session)
            job_id = None
            if input.job_id is not None:
                job_id = (await _job(session, viewer.account_id, input.job_id)).id
            row = await app_db.create_application(
                session,
                account_id=viewer.account_id,
                job_id=job_id,
                status=input.status.value,
                applied_at=applied_at,
            )
        return Application.from_row(row)

    @strawberry.mutation(description="Change an application's status; writes the history row.")
    async def update_application_status(
        self, info: strawberry.Info[Context, None], input: UpdateApplicationStatusInput
    ) -> Application:
        ctx = info.context
        viewer = ctx.require("write")
        app_id = _id(input.application_id, field="applicationId")
        changed_at = _aware(input.changed_at, field="changedAt")
        async with ctx.sessionmaker() as session, session.begin():
            await mark_app_writer(session)
            row = await app_db.update_application_status(
                session,
                account_id=viewer.account_id,
                application_id=app_id,
                status=input.status.value,
                changed_at=changed_at,
            )
            if row is None:
                raise _missing("applicationId", input.application_id, "application")
        return Application.from_row(row)

    @strawberry.mutation(description="Create a tracked link; share its redirectUrl.")
    async def create_tracked_link(
        self, info: strawberry.Info[Context, None], input: CreateTrackedLinkInput
    ) -> TrackedLink:
        ctx = info.context
        viewer = ctx.require("write")
        try:
            link_function = validate_link_function(input.link_function)
            link_type = validate_link_type(input.link_type)
            original_url = validate_url(input.original_url, field="originalUrl")
            description = validate_text(input.description, field="description", max_length=1000)
        except ValidationError as exc:
            raise bad_input(exc) from exc
        async with ctx.sessionmaker() as session, session.begin():
            await mark_app_writer(session)
            application = job = None
            if input.application_id is not None:
                application = await _application(session, viewer.account_id, input.application_id)
            if input.job_id is not None:
                job = await _job(session, viewer.account_id, input.job_id)
            job_id = job.id if job else (application.job_id if application else None)
            row = await _insert_link(
                session,
                ctx,
                account_id=viewer.account_id,
                job_id=job_id,
                application_id=application.id if application else None,
                link_function=link_function,
                link_type=link_type,
                original_url=original_url,
                description=description,
            )
        return TrackedLink.from_row(row)

    @strawberry.mutation(description="Time zone, saved profile links and webhook of the account.")
    async def update_account(
        self, info: strawberry.Info[Context, None], input: UpdateAccountInput
    ) -> Account:
        ctx = info.context
        viewer = ctx.require("write")
        values: dict[str, Any] = {}
        try:
            if input.timezone is not strawberry.UNSET:
                if input.timezone is None:
                    raise ValidationError("timezone", "timezone cannot be null; give e.g. UTC.")
                values["timezone"] = validate_timezone(input.timezone)
            if input.profile_links is not strawberry.UNSET:
                links: dict[str, str] = {}
                for i, item in enumerate(input.profile_links or []):
                    try:
                        function = validate_link_function(item.link_function)
                    except ValidationError as exc:
                        raise ValidationError(
                            f"profile_links.{i}.link_function", exc.message
                        ) from exc
                    if function in links:
                        raise ValidationError(
                            f"profile_links.{i}.link_function",
                            f"{function} appears twice in profileLinks; give each function once.",
                        )
                    links[function] = validate_url(item.url, field=f"profile_links.{i}.url")
                values["profile_links"] = links
            reveal = False
            if input.webhook_url is not strawberry.UNSET:
                if input.webhook_url is None or not input.webhook_url.strip():
                    values["webhook_url"] = None
                    values["webhook_secret"] = None
                else:
                    allow_private = ctx.settings.webhook_allow_private_targets
                    url = validate_webhook_url(
                        input.webhook_url, field="webhook_url", allow_private=allow_private
                    )
                    try:
                        await check_webhook_url(url, allow_private=allow_private)
                    except UnsafeTarget as exc:
                        raise ValidationError("webhook_url", str(exc)) from exc
                    values["webhook_url"] = url
        except ValidationError as exc:
            raise bad_input(exc) from exc
        async with ctx.sessionmaker() as session, session.begin():
            current = await accounts_db.get_account(session, account_id=viewer.account_id)
            if current is None:
                raise BadUserInput("This API key's account no longer exists")
            if values.get("webhook_url") and not current.webhook_secret:
                values["webhook_secret"] = new_webhook_secret()
                reveal = True
            row = await accounts_db.update_account(
                session, account_id=viewer.account_id, values=values
            )
            assert row is not None
        if "timezone" in values:  # the API processes keep it with the account's keys
            await publish_key_changes(ctx.redis, [viewer.account_id])
        return Account.from_row(row, reveal_secret=reveal)

    @strawberry.mutation(
        description="The standard link package of an application (seed 002): one tracked link "
        "per saved profile link, plus Job_Posting when the job has a URL. Links the application "
        "already has (same function, active) are kept, not duplicated."
    )
    async def create_application_links(
        self, info: strawberry.Info[Context, None], input: CreateApplicationLinksInput
    ) -> list[TrackedLink]:
        ctx = info.context
        viewer = ctx.require("write")
        async with ctx.sessionmaker() as session, session.begin():
            await mark_app_writer(session)
            account = await accounts_db.get_account(session, account_id=viewer.account_id)
            if account is None or not account.profile_links:
                raise BadUserInput(
                    "The account has no saved profile links; set them with "
                    "updateAccount(input: {profileLinks: [...]}) first",
                    field="profileLinks",
                )
            application = await _application(session, viewer.account_id, input.application_id)
            package: list[tuple[str, str, str]] = [
                (function, "profile", url) for function, url in account.profile_links.items()
            ]
            if application.job_id is not None:
                jobs = await app_db.jobs_by_ids(
                    session, account_id=viewer.account_id, ids=[application.job_id]
                )
                job = jobs.get(application.job_id)
                if job is not None and job.url:
                    package.append(("Job_Posting", "job_posting", job.url))
            existing = await links_db.links_by_application(
                session, account_id=viewer.account_id, ids=[application.id]
            )
            have = {link.link_function: link for link in existing.get(application.id, [])}
            out: list[LinkRow] = []
            for function, link_type, url in package:
                kept = have.get(function)
                if kept is not None and kept.is_active:
                    out.append(kept)
                    continue
                out.append(
                    await _insert_link(
                        session,
                        ctx,
                        account_id=viewer.account_id,
                        job_id=application.job_id,
                        application_id=application.id,
                        link_function=function,
                        link_type=link_type,
                        original_url=url,
                        description=f"{function} (standard package)",
                    )
                )
        return [TrackedLink.from_row(r) for r in out]

    @strawberry.mutation(description="Record who received an application.")
    async def add_application_contact(
        self, info: strawberry.Info[Context, None], input: AddApplicationContactInput
    ) -> Contact:
        ctx = info.context
        viewer = ctx.require("write")
        try:
            email = validate_email(input.email, field="email")
            name = validate_text(input.name, field="name", max_length=200)
            role = validate_text(input.role, field="role", max_length=100)
        except ValidationError as exc:
            raise bad_input(exc) from exc
        async with ctx.sessionmaker() as session, session.begin():
            application = await _application(session, viewer.account_id, input.application_id)
            row = await contacts_db.add_contact(
                session, application_id=application.id, email=email, name=name, role=role
            )
        return Contact.from_row(row)

    @strawberry.mutation(description="Stop a link redirecting: /track answers 404 from now on.")
    async def deactivate_tracked_link(
        self, info: strawberry.Info[Context, None], input: DeactivateTrackedLinkInput
    ) -> TrackedLink:
        ctx = info.context
        viewer = ctx.require("write")
        async with ctx.sessionmaker() as session, session.begin():
            await mark_app_writer(session)
            row = await links_db.set_link_active(
                session,
                account_id=viewer.account_id,
                tracking_id=input.tracking_id.strip()[:100],
                active=False,
            )
            if row is None:
                raise _missing("trackingId", input.tracking_id, "tracked link")
        await publish_link_changes(ctx.redis, [row.tracking_id])
        return TrackedLink.from_row(row)

    @strawberry.mutation(
        description="Record a click seen by an external redirect domain (seed 002). The same "
        "bot rules as /track apply; clickSource overrides the source detected from the referrer. "
        "The click takes the same durable path as /track; the answer is the stored click, or, "
        "when it is not written within 2 s, the click as recorded so far (verdict of the "
        "request alone)."
    )
    async def record_click(
        self, info: strawberry.Info[Context, None], input: RecordClickInput
    ) -> Click:
        ctx = info.context
        viewer = ctx.require("write")
        clicked_at = _aware(input.clicked_at, field="clickedAt")
        method = input.request_method.strip().upper()
        if method not in ("GET", "HEAD"):
            raise BadUserInput("requestMethod must be GET or HEAD", field="requestMethod")
        try:
            user_agent = validate_text(input.user_agent, field="user_agent", max_length=2000)
            referrer = validate_text(input.referrer_url, field="referrer_url", max_length=1000)
            session_id = validate_text(input.session_id, field="session_id", max_length=100)
        except ValidationError as exc:
            raise bad_input(exc) from exc
        ip_address = _ip(input.ip_address, field="ipAddress")
        metadata = _json_object(input.metadata, field="metadata") or {}
        if input.click_source is not None:
            source = input.click_source.strip().lower()
            if not _SOURCE.fullmatch(source):
                raise BadUserInput(
                    "clickSource must be a lower-case word (letters, digits, _), at most 50",
                    field="clickSource",
                )
        else:
            source = detect_click_source(referrer, dashboard_hosts=ctx.settings.dashboard_hosts)
        verdict = classify_request(method=method, user_agent=user_agent, referrer=referrer)
        async with ctx.sessionmaker() as session:
            link = await _link(session, viewer.account_id, input.tracking_id)
        if not link.is_active:
            raise BadUserInput(
                f"Tracked link {link.tracking_id!r} is inactive; it takes no clicks",
                field="trackingId",
            )
        if input.client_click_id is not None:
            try:
                client_id = validate_text(
                    input.client_click_id, field="client_click_id", max_length=100, required=True
                )
            except ValidationError as exc:
                raise bad_input(exc) from exc
            assert client_id is not None
            click_id = _stored_click_id(viewer.account_id, client_id)
            metadata[CLIENT_CLICK_ID_KEY] = client_id
        else:
            click_id = uuid7()
        entry = ClickEntry(
            click_id=click_id,
            tracking_id=link.tracking_id,
            clicked_at=clicked_at or datetime.now(UTC),
            ip_address=ip_address,
            user_agent=user_agent,
            referrer_url=referrer,
            session_id=session_id,
            click_source=source,
            metadata=metadata,
            is_bot=verdict.is_bot,
            bot_reason=verdict.reason,
            request_method=method,
        )
        if ctx.clicks is None:
            raise QueueUnavailable("Clicks cannot be recorded right now; retry in a moment")
        try:
            await ctx.clicks.append(entry)
        except OSError as exc:
            raise QueueUnavailable(
                "Clicks cannot be recorded right now; retry in a moment"
            ) from exc
        row = await _wait_stored(ctx, viewer.account_id, click_id)
        if row is None:
            # Durable, not yet in PostgreSQL: the click as recorded so far (the request's
            # verdict; the scanner-burst check runs when it is written).
            row = ClickRow(
                click_id=entry.click_id,
                tracking_id=entry.tracking_id,
                application_id=link.application_id,
                clicked_at=entry.clicked_at,
                ip_address=entry.ip_address,
                user_agent=entry.user_agent,
                referrer_url=entry.referrer_url,
                session_id=entry.session_id,
                click_source=entry.click_source,
                metadata=entry.metadata,
                is_bot=entry.is_bot,
                bot_reason=entry.bot_reason,
                request_method=entry.request_method,
            )
        return Click.from_row(row)

    @strawberry.mutation(
        description="Record an email event (seed 004) of an application's contact."
    )
    async def record_email_event(
        self, info: strawberry.Info[Context, None], input: RecordEmailEventInput
    ) -> EmailEvent:
        ctx = info.context
        viewer = ctx.require("write")
        contact_id = _id(input.contact_id, field="contactId")
        when = _aware(input.event_timestamp, field="eventTimestamp")
        data = _json_object(input.event_data, field="eventData")
        try:
            clicked_url = (
                None
                if input.clicked_url is None
                else validate_url(input.clicked_url, field="clickedUrl")
            )
            tracking_id = validate_text(input.tracking_id, field="tracking_id", max_length=100)
            user_agent = validate_text(input.user_agent, field="user_agent", max_length=2000)
            provider_event_id = validate_text(
                input.provider_event_id, field="provider_event_id", max_length=200
            )
        except ValidationError as exc:
            raise bad_input(exc) from exc
        ip_address = _ip(input.ip_address, field="ipAddress")
        event_type = input.event_type.value
        data = _bounce_data(event_type, input.bounce_type, data)
        verdict = (
            classify_fetch(user_agent=user_agent, ip_address=ip_address)
            if event_type in ("opened", "clicked")
            else MachineVerdict.human()
        )
        async with ctx.sessionmaker() as session, session.begin():
            contact = await contacts_db.contact_of_account(
                session, account_id=viewer.account_id, contact_id=contact_id
            )
            if contact is None:
                raise _missing("contactId", input.contact_id, "contact")
            recorded = await email_db.record_event(
                session,
                contact_id=contact.id,
                event_type=event_type,
                event_data=data,
                event_timestamp=when,
                tracking_id=tracking_id,
                user_agent=user_agent,
                ip_address=ip_address,
                clicked_url=clicked_url,
                provider_event_id=provider_event_id,
                is_machine=verdict.is_machine,
                machine_reason=verdict.reason,
            )
        return EmailEvent.from_row(recorded.row)

    @strawberry.mutation(
        description="Give a contact the id of its open pixel (Contact.openPixelUrl, GET "
        "/o/{emailTrackingId}.gif). A contact that has one keeps it."
    )
    async def create_email_tracking_id(
        self, info: strawberry.Info[Context, None], input: CreateEmailTrackingIdInput
    ) -> Contact:
        ctx = info.context
        viewer = ctx.require("write")
        contact_id = _id(input.contact_id, field="contactId")
        async with ctx.sessionmaker() as session, session.begin():
            row = await email_db.ensure_email_tracking_id(
                session, account_id=viewer.account_id, contact_id=contact_id
            )
            if row is None:
                raise _missing("contactId", input.contact_id, "contact")
        return Contact.from_row(row)

    @strawberry.mutation(
        description="GDPR erasure: the application with its links, clicks, contacts, email "
        "events, metrics and follow-ups, in one transaction. Returns what was removed."
    )
    async def delete_application(
        self, info: strawberry.Info[Context, None], input: DeleteApplicationInput
    ) -> DeleteApplicationPayload:
        ctx = info.context
        viewer = ctx.require("write")
        app_id = _id(input.application_id, field="applicationId")
        async with ctx.sessionmaker() as session, session.begin():
            await mark_app_writer(session)
            links = await links_db.links_by_application(
                session, account_id=viewer.account_id, ids=[app_id]
            )
            counts = await app_db.delete_application(
                session, account_id=viewer.account_id, application_id=app_id
            )
            if counts is None:
                raise _missing("applicationId", input.application_id, "application")
        await publish_link_changes(ctx.redis, [link.tracking_id for link in links.get(app_id, [])])
        return DeleteApplicationPayload(
            application_id=strawberry.ID(str(app_id)),
            applications=counts.applications,
            status_changes=counts.status_changes,
            links=counts.links,
            clicks=counts.clicks,
            contacts=counts.contacts,
            email_events=counts.email_events,
            metrics=counts.metrics,
            follow_ups=counts.follow_ups,
            webhook_deliveries=counts.webhook_deliveries,
            analytics_runs=counts.analytics_runs,
        )
