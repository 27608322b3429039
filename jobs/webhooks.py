"""Follow-up webhooks (seed 000 §3.3): a signed POST per new follow-up, with retries.

Request: ``POST <account webhook_url>`` with a JSON body, signed two ways:

* Standard Webhooks (https://www.standardwebhooks.com), so receivers can use a ready-made
  verifier in their language: ``webhook-id: <follow-up id>`` (the same on every attempt:
  receivers dedupe on it), ``webhook-timestamp: <unix seconds>`` and
  ``webhook-signature: v1,<base64 HMAC-SHA256>`` over ``<id>.<timestamp>.<raw body>`` with the
  account's ``whsec_...`` secret (``standardwebhooks.Webhook(secret).verify(body, headers)``).
* As before (SPEC): ``X-Linkinsights-Event: follow_up.created``, ``X-Linkinsights-Delivery``,
  ``X-Linkinsights-Timestamp`` and ``X-Linkinsights-Signature: sha256=<hex>``, HMAC-SHA256 with
  the secret string over ``<timestamp>.<raw body>``.

Only public addresses are called (``domain.validation.is_public_address``) unless
``webhook_allow_private_targets``: the host is resolved at each attempt, every address it
resolves to must pass, and the request goes to the address that was checked (a name that
resolves elsewhere a moment later, DNS rebinding, is not looked up again), with the host name
kept for the Host header and TLS.

A 2xx answer is a success; anything else (an error status, a timeout, a refused connection, a
refused address) is retried with exponential backoff (``webhook_backoff_seconds`` *
2^(attempt-1)) up to ``webhook_max_attempts`` attempts. Every attempt is a
``webhook_deliveries`` row. The attempt number comes from those rows rather than arq's
``job_try``, so a re-run job (arq runs a job again when a worker dies) continues the count and
never sends after a success.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from arq import Retry
from arq.connections import ArqRedis
from arq.worker import Function, func
from standardwebhooks import Webhook

from config import Settings, get_settings
from db.follow_ups import WebhookTarget, ensure_webhook_secret, record_delivery, webhook_target
from domain.validation import is_public_address, private_target_message

log = logging.getLogger("linkinsights.webhooks")

EVENT = "follow_up.created"
SIGNATURE_HEADER = "X-Linkinsights-Signature"
TIMESTAMP_HEADER = "X-Linkinsights-Timestamp"
TASK_NAME = "deliver_follow_up_webhook"
# Attempts are capped by settings.webhook_max_attempts, counted in webhook_deliveries; arq's own
# cap only stops a job whose worker keeps dying before it records anything.
ARQ_MAX_TRIES = 50
_ERROR_MAX = 500
RESOLVE_TIMEOUT_SECONDS = 5.0


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(Exception):
    """The webhook host resolves to an address webhooks are not sent to."""


async def resolve_target(url: str, *, allow_private: bool) -> list[Address]:
    """The addresses `url`'s host resolves to, every one of them public unless allowed.

    Raises UnsafeTarget for a private one, OSError when the name does not resolve.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise UnsafeTarget(private_target_message("the webhook URL", host, str(address)))
    return addresses


async def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """When a URL is set: refuse it if its host resolves to a private address (UnsafeTarget).

    A name that does not resolve (yet) is accepted: each delivery resolves it again.
    """
    try:
        await resolve_target(url, allow_private=allow_private)
    except (OSError, TimeoutError):
        return


def pinned_request(url: str, address: Address) -> tuple[str, dict[str, str], dict[str, Any]]:
    """`url` with its host replaced by `address`, the Host header, and httpx's TLS server
    name, so the connection goes to the address that was checked and TLS still verifies the
    certificate for the host name."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    pinned = urlunsplit(parts._replace(netloc=netloc))
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    if ":" in host:
        host_header = f"[{host}]" if parts.port is None else f"[{host}]:{parts.port}"
    extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" else {}
    return pinned, {"Host": host_header}, extensions


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, timestamp + "." + body)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def payload(target: WebhookTarget) -> dict[str, Any]:
    f = target.follow_up
    return {
        "event": EVENT,
        "followUp": {
            "id": str(f.id),
            "applicationId": str(f.application_id),
            "reason": f.reason,
            "recommendedAction": f.recommended_action,
            "engagementScore": f.engagement_score,
            "createdAt": f.created_at.isoformat(),
            "dueAt": f.due_at.isoformat(),
        },
        "application": {
            "id": str(f.application_id),
            "status": target.application_status,
            "appliedAt": target.application_created_at.isoformat(),
            "jobTitle": target.job_title,
            "company": target.company,
        },
    }


def backoff_seconds(settings: Settings, attempt: int) -> float:
    """Delay before the attempt after ``attempt`` (1-based): base, 2 base, 4 base, ..."""
    return float(settings.webhook_backoff_seconds * 2 ** (attempt - 1))


async def deliver_follow_up_webhook(ctx: dict[str, Any], follow_up_id: str) -> str:
    """Send one follow-up to its account's webhook; raise ``Retry`` while attempts remain."""
    settings: Settings = ctx["settings"]
    sessionmaker = ctx["sessionmaker"]
    fid = uuid.UUID(follow_up_id)
    async with sessionmaker() as session, session.begin():
        target = await webhook_target(session, follow_up_id=fid)
        if target is None or target.url is None:
            return "skipped: no follow-up or no webhook URL"
        if target.delivered:
            return "skipped: already delivered"
        if target.undeliverable:
            # A follow-up is an email to write; none may be sent to these contacts any more.
            return "skipped: every contact is undeliverable"
        if target.attempts >= settings.webhook_max_attempts:
            return "skipped: attempts exhausted"
        secret = target.secret or await ensure_webhook_secret(
            session, account_id=target.follow_up.account_id, new_secret=new_webhook_secret()
        )
    attempt = target.attempts + 1
    body = orjson.dumps({**payload(target), "sentAt": datetime.now(UTC).isoformat()})
    now = datetime.now(UTC)
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "linkinsights-webhooks/1",
        "X-Linkinsights-Event": EVENT,
        "X-Linkinsights-Delivery": follow_up_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        "webhook-id": follow_up_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": Webhook(secret).sign(follow_up_id, now, body),
    }
    status_code: int | None = None
    error: str | None = None
    try:
        addresses = await resolve_target(
            target.url, allow_private=settings.webhook_allow_private_targets
        )
        url, host, extensions = pinned_request(target.url, addresses[0])
        async with httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False
        ) as client:
            response = await client.post(
                url, content=body, headers={**headers, **host}, extensions=extensions
            )
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except UnsafeTarget as exc:
        error = f"refused: {exc}"[:_ERROR_MAX]
    except (OSError, TimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:_ERROR_MAX] or type(exc).__name__
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:_ERROR_MAX] or type(exc).__name__
    succeeded = error is None
    async with sessionmaker() as session, session.begin():
        await record_delivery(
            session,
            account_id=target.follow_up.account_id,
            follow_up_id=fid,
            url=target.url,
            event=EVENT,
            attempt=attempt,
            status_code=status_code,
            error=error,
            succeeded=succeeded,
        )
    if succeeded:
        return f"delivered on attempt {attempt}"
    if attempt < settings.webhook_max_attempts:
        delay = backoff_seconds(settings, attempt)
        log.info("webhook %s attempt %d failed (%s); retry in %.1fs", fid, attempt, error, delay)
        raise Retry(defer=delay)
    log.warning("webhook %s failed after %d attempts: %s", fid, attempt, error)
    return f"failed after {attempt} attempts"


def webhook_function() -> Function:
    """The task as registered with the worker (arq's retry cap raised, see ARQ_MAX_TRIES)."""
    return func(deliver_follow_up_webhook, name=TASK_NAME, max_tries=ARQ_MAX_TRIES)


async def enqueue_follow_up_webhooks(
    redis: ArqRedis, follow_up_ids: Iterable[uuid.UUID], *, queue_name: str | None = None
) -> int:
    """Enqueue one delivery job per follow-up; call only after the commit that created them.

    The job id is derived from the follow-up id, so enqueueing twice sends once. ``queue_name``
    defaults to the configured one (the worker's queue, not arq's default).
    """
    queue = queue_name or get_settings().queue_name
    count = 0
    for fid in follow_up_ids:
        job = await redis.enqueue_job(
            TASK_NAME, str(fid), _job_id=f"webhook:follow-up:{fid}", _queue_name=queue
        )
        count += job is not None
    return count
