"""The email side of the demo data (issue 17): what the mail system saw for one contact.

Kept apart from the click generator (demo/generator.py), on a random stream of its own. Pure: a
``random.Random`` and times in, event tuples out; the caller adds the ids and writes rows.

The shape, per contact (seconds are epoch seconds):

* sent a minute after applying; 2% hard bounces (the contact becomes undeliverable), 2% soft
  bounces delivered on a retry 10-60 minutes later, everything else delivered at once;
* the recipient's mail client decides what an open looks like: 30% read with Apple Mail and
  Mail Privacy Protection (a proxy fetch of the pixel within minutes of delivery, and every
  real open hidden behind the same proxy), 25% with Gmail (opens come through Google's image
  proxy), the rest with Outlook or a phone client whose opens are the reader's own;
* 8% sit behind a corporate security gateway that opens the message and follows every link
  within seconds of delivery;
* a reader opens the mail (30%; 55% when the application went on to an interview, and then
  before it: modestly more likely, as interest shows before the invitation), sometimes again;
  when the employer clicked a link, the open comes a little before the first click (80%, 95%
  before an interview);
* a few contacts unsubscribe (0.6%) or report the mail as spam (0.3%) days later.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from math import exp
from typing import Final

from domain.email import ContactEvent, MachineVerdict, classify_contact_events

P_HARD_BOUNCE: Final = 0.02
P_SOFT_BOUNCE: Final = 0.02
P_APPLE_MPP: Final = 0.30
P_GMAIL: Final = 0.25
P_SCANNER: Final = 0.08
P_OPEN: Final = 0.30
P_OPEN_BEFORE_INTERVIEW: Final = 0.55
P_OPEN_WHEN_CLICKED: Final = 0.8
P_OPEN_WHEN_CLICKED_BEFORE_INTERVIEW: Final = 0.95
P_OPEN_AGAIN: Final = 0.3
P_UNSUBSCRIBE: Final = 0.006
P_SPAM: Final = 0.003

_HOUR: Final = 3600.0
_DAY: Final = 86400.0

APPLE_PROXY_AGENT: Final = "Mozilla/5.0"
GMAIL_PROXY_AGENT: Final = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
READER_AGENTS: Final = (
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
)
SCANNER_AGENT: Final = "Mozilla/5.0 (compatible; Barracuda Sentinel; +https://barracuda.com)"
_GOOGLE_PROXY_NETS: Final = ((66, 249), (66, 102), (74, 125))
_SCANNER_NETS: Final = ((40, 94), (52, 100), (148, 163))
_READER_OCTETS: Final = (24, 50, 67, 68, 71, 73, 76, 96, 98, 99)


@dataclass(frozen=True, slots=True)
class Email:
    """One event: kind, time, event_data json, tracking id, agent, ip, clicked url."""

    kind: str
    at: float
    data: str | None
    tracking_id: str | None
    user_agent: str | None
    ip_address: str | None
    clicked_url: str | None


def _ip(rng: random.Random, octets: tuple[int, ...] | tuple[int, int]) -> str:
    if len(octets) == 2:
        return f"{octets[0]}.{octets[1]}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    first = octets[int(rng.random() * len(octets))]
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def contact_emails(
    rng: random.Random,
    *,
    created: float,
    now: float,
    message_id: str,
    pixel_id: str,
    links: tuple[str, ...],
    interview_at: float | None,
    clicked: tuple[float, str, str | None, str | None] | None,
) -> list[Email]:
    """The events of one contact's email about an application ``created`` at that time.

    ``links`` are the tracked URLs in the email; ``clicked`` is the employer's first click
    on one of them (time, URL, the visitor's agent and IP), when there was one.
    """
    rnd = rng.random
    out: list[Email] = []
    sent = created + 2.0 + rnd() * 60.0
    if sent > now:
        return out
    if rnd() < P_HARD_BOUNCE:
        data = '{"bounce_type": "hard", "bounce_reason": "mailbox_does_not_exist"}'
        out.append(Email("bounced", sent + rnd() * 120.0, data, message_id, None, None, None))
        return out
    delivered = sent
    if rnd() < P_SOFT_BOUNCE:
        data = '{"bounce_type": "soft", "bounce_reason": "mailbox_full"}'
        out.append(Email("bounced", sent + rnd() * 60.0, data, message_id, None, None, None))
        delivered = sent + _HOUR * (0.2 + 0.8 * rnd())
        if delivered > now:
            return out
    out.append(Email("delivered", delivered, None, message_id, None, None, None))

    r = rnd()
    client = "apple" if r < P_APPLE_MPP else "gmail" if r < P_APPLE_MPP + P_GMAIL else "reader"
    reader_agent = READER_AGENTS[int(rnd() * len(READER_AGENTS))]
    reader_ip = _ip(rng, _READER_OCTETS)

    def open_at(at: float) -> None:
        if at > now:
            return
        if client == "apple":
            ip = f"17.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            out.append(Email("opened", at, None, pixel_id, APPLE_PROXY_AGENT, ip, None))
        elif client == "gmail":
            ip = _ip(rng, _GOOGLE_PROXY_NETS[int(rnd() * len(_GOOGLE_PROXY_NETS))])
            out.append(Email("opened", at, None, pixel_id, GMAIL_PROXY_AGENT, ip, None))
        else:
            device = json.dumps(
                {"device_type": "mobile" if "Mobile" in reader_agent else "desktop"}
            )
            out.append(Email("opened", at, device, pixel_id, reader_agent, reader_ip, None))

    if client == "apple":  # the privacy proxy fetches every image on arrival
        open_at(delivered + 2.0 + rnd() * 600.0)
    if rnd() < P_SCANNER and links:
        start = delivered + 1.0 + rnd() * 15.0
        ip = _ip(rng, _SCANNER_NETS[int(rnd() * len(_SCANNER_NETS))])
        if start + 4.0 <= now:
            out.append(Email("opened", start, None, pixel_id, SCANNER_AGENT, ip, None))
            for i, url in enumerate(links):
                at = start + 0.5 + 3.0 * i / len(links)
                out.append(Email("clicked", at, None, url, SCANNER_AGENT, ip, url))

    # The reader. An interview to come makes an open modestly more likely, and before it.
    p_clicked = P_OPEN_WHEN_CLICKED_BEFORE_INTERVIEW if interview_at else P_OPEN_WHEN_CLICKED
    if clicked is not None and rnd() < p_clicked:
        first_click = clicked[0]
        first = first_click - 20.0 - rnd() * min(_HOUR, max(first_click - delivered - 40.0, 0.0))
    elif rnd() < (P_OPEN_BEFORE_INTERVIEW if interview_at else P_OPEN):
        first = delivered + _HOUR * exp(rng.gauss(1.6, 1.2))
        if interview_at and first >= interview_at:
            first = delivered + (interview_at - delivered) * (0.1 + 0.8 * rnd())
    else:
        first = 0.0
    if first > delivered + 30.0:
        open_at(first)
        again = first
        for _ in range(3):
            if rnd() >= P_OPEN_AGAIN:
                break
            again += _HOUR * exp(rng.gauss(2.5, 1.0))
            open_at(again)
    if clicked is not None and clicked[0] <= now:
        at, url, agent, visitor_ip = clicked
        out.append(Email("clicked", at, '{"link_position": "body"}', url, agent, visitor_ip, url))

    r = rnd()
    if r < P_UNSUBSCRIBE + P_SPAM:
        kind = "unsubscribed" if r < P_UNSUBSCRIBE else "spam_reported"
        at = delivered + _DAY * (1.0 + 6.0 * rnd())
        if at <= now:
            out.append(Email(kind, at, None, message_id, None, None, None))
    return out


def judged(events: list[Email]) -> list[tuple[Email, MachineVerdict]]:
    """The events with the verdicts the ingestion rules (domain/email.py) give them."""
    contact = [
        ContactEvent(
            id=uuid.UUID(int=i),
            event_type=e.kind,
            at=datetime.fromtimestamp(e.at, UTC),
            clicked_url=e.clicked_url,
            user_agent=e.user_agent,
            ip_address=e.ip_address,
        )
        for i, e in enumerate(events)
    ]
    verdicts = classify_contact_events(contact)
    human = MachineVerdict.human()
    return [(e, verdicts.get(uuid.UUID(int=i), human)) for i, e in enumerate(events)]
