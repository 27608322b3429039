"""Input rules for mutations: each returns the cleaned value or raises ValidationError.

Pure functions, no database. Messages are sentences a person can act on and
name the field they are about.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final, Literal, overload
from urllib.parse import SplitResult, urlsplit
from zoneinfo import available_timezones

__all__ = [
    "EMAIL_EVENT_TYPES",
    "LINK_FUNCTION_PATTERN",
    "LINK_TYPES",
    "STATUSES",
    "ValidationError",
    "is_public_address",
    "private_target_message",
    "validate_email",
    "validate_email_event_type",
    "validate_instant",
    "validate_link_function",
    "validate_link_type",
    "validate_period",
    "validate_status",
    "validate_storable",
    "validate_text",
    "validate_timezone",
    "validate_url",
    "validate_webhook_url",
]

STATUSES: Final[tuple[str, ...]] = ("applied", "interview", "offer", "rejected", "withdrawn")
EMAIL_EVENT_TYPES: Final[tuple[str, ...]] = (
    "opened",
    "clicked",
    "bounced",
    "delivered",
    "unsubscribed",
    "spam_reported",
)
LINK_TYPES: Final[tuple[str, ...]] = (
    "profile",
    "job_posting",
    "application",
    "document",
    "external",
)
LINK_FUNCTION_PATTERN: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,49}")

URL_MAX_LENGTH: Final = 1000
EMAIL_MAX_LENGTH: Final = 254


class ValidationError(Exception):
    """An input value broke a rule; ``field`` names the input, ``message`` says what to do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return f"ValidationError(field={self.field!r}, message={self.message!r})"


def _has_control(value: str, *, allow: str = "") -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") and ch not in allow for ch in value)


# --- URLs ------------------------------------------------------------------------

_REFUSED_SCHEMES: Final = frozenset({"javascript", "data", "vbscript", "file", "blob", "about"})
_LABEL: Final = re.compile(r"(?!-)[\w-]{1,63}(?<!-)", re.UNICODE)


def _valid_host(parts: SplitResult) -> bool:
    host = parts.hostname
    if not host:
        return False
    if parts.netloc.rsplit("@", 1)[-1].startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    host = host.rstrip(".")
    if not host or len(host) > 253:
        return False
    return all(_LABEL.fullmatch(label) for label in host.split("."))


def _parse_url(value: str, *, field: str, max_length: int) -> tuple[str, SplitResult]:
    cleaned = value.strip()
    if not cleaned:
        raise ValidationError(
            field, f"{field} is empty; give an absolute URL starting with https:// or http://."
        )
    if len(cleaned) > max_length:
        raise ValidationError(
            field,
            f"{field} is {len(cleaned)} characters long; URLs may be at most {max_length}.",
        )
    if _has_control(cleaned) or any(ch.isspace() for ch in cleaned):
        raise ValidationError(
            field,
            f"{field} contains spaces or control characters; percent-encode them (%20) "
            "or remove them.",
        )
    if "\\" in cleaned:
        raise ValidationError(
            field, f"{field} contains a backslash; use forward slashes (/) in URLs."
        )
    try:
        parts = urlsplit(cleaned)
        _ = parts.port  # raises ValueError for a port that is not a number 0-65535
    except ValueError:
        raise ValidationError(
            field, f"{field} is not a valid URL; check the host name and port."
        ) from None
    scheme = parts.scheme.lower()
    if scheme in _REFUSED_SCHEMES:
        raise ValidationError(
            field,
            f"{field} uses a {scheme}: URL, which is not allowed; "
            "give a web address starting with https:// or http://.",
        )
    if scheme not in ("http", "https"):
        raise ValidationError(
            field,
            f"{field} must be an absolute URL starting with https:// or http:// "
            f"(got {cleaned[:40]!r}).",
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValidationError(
            field,
            f"{field} must not contain a user name or password (user:pass@); "
            "remove the part before the @ in the host.",
        )
    if not _valid_host(parts):
        raise ValidationError(
            field, f"{field} has no valid host name; give a URL such as https://example.com/page."
        )
    return cleaned, parts


def validate_url(value: str, *, field: str, max_length: int = URL_MAX_LENGTH) -> str:
    """An absolute http(s) URL with a host, stripped of surrounding whitespace.

    Refuses ``javascript:``, ``data:``, ``vbscript:``, ``file:`` and other
    non-web schemes, relative URLs, credentials in the authority, control
    characters, inner whitespace, backslashes and values longer than
    ``max_length``.
    """
    cleaned, _ = _parse_url(value, field=field, max_length=max_length)
    return cleaned


def _is_loopback(host: str) -> bool:
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may be sent to this address: globally routable, so not loopback,
    private, link-local (cloud metadata such as 169.254.169.254), shared, reserved or
    multicast. An IPv4 address mapped into IPv6 is judged as the IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def validate_webhook_url(
    value: str,
    *,
    field: str = "webhook_url",
    max_length: int = URL_MAX_LENGTH,
    allow_private: bool = False,
) -> str:
    """Like ``validate_url`` but ``https`` only, to a public host.

    With ``allow_private`` (a receiver on the operator's own network) loopback and private
    hosts are accepted too, and plain ``http`` for loopback ones. A host name is judged here
    only when it is ``localhost``; where a name resolves is checked by the caller, which can
    do I/O (jobs.webhooks), when the URL is set and again at each delivery.
    """
    cleaned, parts = _parse_url(value, field=field, max_length=max_length)
    host = parts.hostname or ""
    if not allow_private:
        try:
            literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
                host
            )
        except ValueError:
            literal = None
        if _is_loopback(host) or (literal is not None and not is_public_address(literal)):
            raise ValidationError(field, private_target_message(field, host))
    if parts.scheme.lower() != "https" and not (allow_private and _is_loopback(host)):
        raise ValidationError(
            field,
            f"{field} must use https://; plain http:// is accepted only for localhost "
            "or a loopback address, when private webhook targets are allowed.",
        )
    return cleaned


def private_target_message(field: str, host: str, address: str | None = None) -> str:
    where = f"{host} ({address})" if address and address != host else host
    return (
        f"{field} points at {where}, a loopback, private or link-local address; webhooks are "
        "sent to public addresses only (an operator can allow private ones with "
        "WEBHOOK_ALLOW_PRIVATE_TARGETS=true for a receiver on their own network)."
    )


# --- names and enumerations ------------------------------------------------------


def validate_link_function(value: str) -> str:
    """A link function name such as ``LinkedIn``, ``Calendly`` or ``Company_Website``."""
    cleaned = value.strip()
    if not LINK_FUNCTION_PATTERN.fullmatch(cleaned):
        raise ValidationError(
            "link_function",
            "link_function must start with a letter and contain only letters, digits and "
            "underscores, at most 50 characters (for example LinkedIn, Calendly, Portfolio, "
            "Company_Website).",
        )
    return cleaned


def _one_of(value: str, allowed: tuple[str, ...], field: str) -> str:
    cleaned = value.strip().lower()
    if cleaned not in allowed:
        raise ValidationError(
            field, f"{field} must be one of {', '.join(allowed)} (got {value.strip()[:40]!r})."
        )
    return cleaned


def validate_link_type(value: str) -> str:
    """One of the seed 002 link types (case-insensitive; returned lower-case)."""
    return _one_of(value, LINK_TYPES, "link_type")


def validate_status(value: str) -> str:
    """One of ``STATUSES`` (case-insensitive; returned lower-case)."""
    return _one_of(value, STATUSES, "status")


def validate_email_event_type(value: str) -> str:
    """One of ``EMAIL_EVENT_TYPES`` (case-insensitive; returned lower-case)."""
    return _one_of(value, EMAIL_EVENT_TYPES, "event_type")


@lru_cache(maxsize=1)
def _timezones() -> dict[str, str]:
    keys = available_timezones()
    return {key.lower(): key for key in keys}


def validate_timezone(value: str) -> str:
    """An IANA time-zone key such as ``Europe/Berlin``; returned in canonical spelling."""
    cleaned = value.strip()
    canonical = _timezones().get(cleaned.lower()) if cleaned else None
    if canonical is None:
        raise ValidationError(
            "timezone",
            f"timezone must be an IANA time-zone name such as UTC, Europe/Berlin or "
            f"America/New_York (got {cleaned[:40]!r}).",
        )
    return canonical


# --- email -----------------------------------------------------------------------

_LOCAL_CHARS: Final = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_TLD: Final = re.compile(r"(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})", re.UNICODE)


def _email_ok(local: str, domain: str) -> bool:
    if not local or len(local) > 64 or not _LOCAL_CHARS.fullmatch(local):
        return False
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253:
        return False
    if not all(_LABEL.fullmatch(label) and "_" not in label for label in labels):
        return False
    return _TLD.fullmatch(labels[-1]) is not None


def validate_email(value: str, *, field: str = "email") -> str:
    """A plain ``local@domain.tld`` address; the domain is returned lower-case."""
    cleaned = value.strip()
    local, _, domain = cleaned.partition("@")
    domain = domain.lower()
    if len(cleaned) > EMAIL_MAX_LENGTH or cleaned.count("@") != 1 or not _email_ok(local, domain):
        got = f" (got {cleaned[:60]!r})" if cleaned else ""
        raise ValidationError(
            field, f"{field} must be an email address like name@example.com{got}."
        )
    return f"{local}@{domain}"


# --- free text -------------------------------------------------------------------


@overload
def validate_text(
    value: str | None, *, field: str, max_length: int, required: Literal[True]
) -> str: ...
@overload
def validate_text(
    value: str | None, *, field: str, max_length: int, required: bool = False
) -> str | None: ...
def validate_text(
    value: str | None, *, field: str, max_length: int, required: bool = False
) -> str | None:
    """Trimmed free text of at most ``max_length`` characters.

    Line breaks and tabs are kept; other control characters (NUL, which
    PostgreSQL refuses, escape sequences) are refused. An empty value gives
    ``None`` unless ``required``, when it is refused.
    """
    cleaned = value.strip() if value is not None else ""
    if not cleaned:
        if required:
            raise ValidationError(field, f"{field} is required; give a non-empty value.")
        return None
    if len(cleaned) > max_length:
        raise ValidationError(
            field,
            f"{field} is {len(cleaned)} characters long; shorten it to at most {max_length}.",
        )
    if _has_control(cleaned, allow="\n\r\t"):
        raise ValidationError(
            field, f"{field} contains control characters; remove them and try again."
        )
    return cleaned


# --- what PostgreSQL can store -------------------------------------------------------

# Instants accepted in arguments. Python stops at years 1 and 9999 and PostgreSQL elsewhere;
# these bounds keep clear of both after any arithmetic (a day added, a time zone applied).
# Resolvers judge what is plausible (a click in the future, say) and name their field.
EARLIEST: Final = datetime(1900, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(9000, 1, 1, tzinfo=UTC)


def validate_instant(value: datetime, *, field: str) -> datetime:
    """An instant between EARLIEST and LATEST (a value without an offset is taken as UTC)."""
    try:
        utc = value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValidationError(
            field,
            f"{field} must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} "
            f"(got {value.isoformat()}).",
        )
    return value


def validate_period(
    start: datetime | None, end: datetime | None, *, start_field: str, end_field: str
) -> None:
    """A period whose end is not before its start (either may be open)."""
    if start is None or end is None:
        return
    aware = [v if v.tzinfo is not None else v.replace(tzinfo=UTC) for v in (start, end)]
    if aware[1] < aware[0]:
        raise ValidationError(
            end_field,
            f"{end_field} ({end.isoformat()}) is before {start_field} ({start.isoformat()}); "
            "swap them or widen the period.",
        )


def validate_storable(value: str, *, field: str) -> str:
    """Text PostgreSQL can store: no NUL character, no lone UTF-16 surrogate."""
    if "\x00" in value:
        raise ValidationError(
            field, f"{field} contains a NUL character (\\u0000), which cannot be stored; remove it."
        )
    if _SURROGATE.search(value):
        raise ValidationError(
            field,
            f"{field} contains an unpaired surrogate (\\ud800-\\udfff), which is not "
            "valid Unicode; send the character itself or a proper pair.",
        )
    return value


_SURROGATE: Final = re.compile("[\ud800-\udfff]")
