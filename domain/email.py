"""Email engagement rules (seed 004, issue 17): machine opens, undeliverable contacts.

Pure: events in, verdicts out. An open pixel is fetched by whatever loads the email's images,
and much of that is not a person reading:

* **Apple Mail Privacy Protection** downloads every remote image of every message through
  Apple's proxies when the message arrives, whether or not anybody opens it. The proxy sends
  the bare user agent ``Mozilla/5.0`` (no platform, no engine) and comes from Apple's
  networks (17.0.0.0/8, Apple's own block). Reasons ``apple_mpp_user_agent`` and
  ``apple_mpp_network``.
* **Gmail's image proxy** (``GoogleImageProxy`` in the user agent) fetches images for Gmail
  readers and caches them: the fetch hides the reader's device and address, and a cached
  image is fetched once however often the message is read. Reason ``gmail_image_proxy``.
* **Opens within seconds of delivery**: nobody reads a message a few seconds after it was
  delivered; prefetchers and security gateways do. Reason ``opened_at_delivery``
  (:data:`AT_DELIVERY`).
* **The whole email at once**: a security scanner opens the message and follows its links
  within a few seconds, which no reader does. An open and clicks on at least two different
  links of one contact inside :data:`SCANNER_WINDOW` flag all of them. Reason
  ``scanner_burst``.

The request-level rules (user agent, network) are decided when the event is recorded, before
a Do-Not-Track request's address and user agent are dropped; the timing rules need the
contact's other events and are applied by :func:`classify_contact_events` whenever an event
of the contact is recorded (a late ``delivered`` event can still flag an earlier open).

A contact is **undeliverable** after a hard bounce, a spam report or an unsubscribe
(:func:`undeliverable_reason`): nothing in the product suggests writing to it again.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

__all__ = [
    "APPLE_NETWORKS",
    "AT_DELIVERY",
    "REQUEST_REASONS",
    "SCANNER_WINDOW",
    "UNDELIVERABLE_REASONS",
    "ContactEvent",
    "MachineVerdict",
    "classify_contact_events",
    "classify_fetch",
    "undeliverable_reason",
]

REASON_APPLE_AGENT: Final = "apple_mpp_user_agent"
REASON_APPLE_NETWORK: Final = "apple_mpp_network"
REASON_GMAIL_PROXY: Final = "gmail_image_proxy"
REASON_AT_DELIVERY: Final = "opened_at_delivery"
REASON_SCANNER: Final = "scanner_burst"
#: Reasons decided from the request itself; kept as recorded (a DNT event keeps no agent).
REQUEST_REASONS: Final = frozenset({REASON_APPLE_AGENT, REASON_APPLE_NETWORK, REASON_GMAIL_PROXY})

#: An open this soon after the contact's delivery is a prefetch, not a reader.
AT_DELIVERY: Final = timedelta(seconds=10)
#: An open and clicks on two or more links within this window: a scanner, not a reader.
SCANNER_WINDOW: Final = timedelta(seconds=5)
SCANNER_MIN_LINKS: Final = 2

#: Apple's own address block, from which Mail Privacy Protection's fetches come.
APPLE_NETWORKS: Final = (ipaddress.ip_network("17.0.0.0/8"),)
_APPLE_PROXY_AGENT: Final = "mozilla/5.0"
_GMAIL_PROXY_TOKEN: Final = "googleimageproxy"

UNDELIVERABLE_HARD_BOUNCE: Final = "hard_bounce"
UNDELIVERABLE_SPAM: Final = "spam_reported"
UNDELIVERABLE_UNSUBSCRIBED: Final = "unsubscribed"
UNDELIVERABLE_REASONS: Final = (
    UNDELIVERABLE_HARD_BOUNCE,
    UNDELIVERABLE_SPAM,
    UNDELIVERABLE_UNSUBSCRIBED,
)


@dataclass(frozen=True, slots=True)
class MachineVerdict:
    is_machine: bool
    reason: str | None

    @classmethod
    def human(cls) -> MachineVerdict:
        return _HUMAN


_HUMAN: Final = MachineVerdict(False, None)


def _in_apple_network(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    return any(address in net for net in APPLE_NETWORKS)


def classify_fetch(*, user_agent: str | None, ip_address: str | None) -> MachineVerdict:
    """The request-level verdict of an open (or a click) from its user agent and address."""
    agent = (user_agent or "").strip().lower()
    if _GMAIL_PROXY_TOKEN in agent:
        return MachineVerdict(True, REASON_GMAIL_PROXY)
    if agent == _APPLE_PROXY_AGENT:
        return MachineVerdict(True, REASON_APPLE_AGENT)
    if _in_apple_network(ip_address):
        return MachineVerdict(True, REASON_APPLE_NETWORK)
    return _HUMAN


@dataclass(frozen=True, slots=True)
class ContactEvent:
    """One email event of a contact, as stored (with its recorded verdict)."""

    id: uuid.UUID
    event_type: str
    at: datetime
    clicked_url: str | None = None
    user_agent: str | None = None
    ip_address: str | None = None
    is_machine: bool = False
    machine_reason: str | None = None


def _scanner_bursts(events: Sequence[ContactEvent]) -> set[uuid.UUID]:
    """Ids of the opens and clicks inside a window of SCANNER_WINDOW that holds an open and
    clicks on at least SCANNER_MIN_LINKS different links."""
    engaged = sorted(
        (e for e in events if e.event_type in ("opened", "clicked")), key=lambda e: (e.at, e.id)
    )
    flagged: set[uuid.UUID] = set()
    start = 0
    for end in range(len(engaged)):
        while engaged[end].at - engaged[start].at > SCANNER_WINDOW:
            start += 1
        window = engaged[start : end + 1]
        links = {e.clicked_url or f"#{e.id}" for e in window if e.event_type == "clicked"}
        if len(links) >= SCANNER_MIN_LINKS and any(e.event_type == "opened" for e in window):
            flagged.update(e.id for e in window)
    return flagged


def classify_contact_events(events: Sequence[ContactEvent]) -> dict[uuid.UUID, MachineVerdict]:
    """The verdict of every open and click of one contact, given all its events.

    A request-level verdict recorded with the event is kept (the agent of a Do-Not-Track
    request is not stored, so it could not be decided again), and one is decided from the
    stored agent and address of an event recorded without it; otherwise the timing rules
    decide, the scanner burst first (it names what happened more exactly), then the open
    within AT_DELIVERY after a delivery.
    """
    deliveries = sorted(e.at for e in events if e.event_type == "delivered")
    bursts = _scanner_bursts(events)
    out: dict[uuid.UUID, MachineVerdict] = {}
    for e in events:
        if e.event_type not in ("opened", "clicked"):
            continue
        if e.is_machine and e.machine_reason in REQUEST_REASONS:
            out[e.id] = MachineVerdict(True, e.machine_reason)
        elif (fetch := classify_fetch(user_agent=e.user_agent, ip_address=e.ip_address)).is_machine:
            out[e.id] = fetch
        elif e.id in bursts:
            out[e.id] = MachineVerdict(True, REASON_SCANNER)
        elif e.event_type == "opened" and any(
            timedelta(0) <= e.at - d <= AT_DELIVERY for d in deliveries
        ):
            out[e.id] = MachineVerdict(True, REASON_AT_DELIVERY)
        else:
            out[e.id] = _HUMAN
    return out


def undeliverable_reason(event_type: str, event_data: Mapping[str, Any] | None) -> str | None:
    """Why this event makes its contact undeliverable, or None when it does not."""
    if event_type == "unsubscribed":
        return UNDELIVERABLE_UNSUBSCRIBED
    if event_type == "spam_reported":
        return UNDELIVERABLE_SPAM
    if event_type == "bounced" and (event_data or {}).get("bounce_type") == "hard":
        return UNDELIVERABLE_HARD_BOUNCE
    return None
