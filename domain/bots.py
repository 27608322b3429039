"""Bot verdicts for tracked clicks (SPEC §3): every verdict is kept with a reason.

Pure functions, no I/O. ``classify_request`` runs on every redirect, so it is
cheap: the crawler detector is built once at import time and user-agent and
referrer-host verdicts are memoised.

``find_scanner_bursts`` finds the pattern of email-security scanners that open
every link of a message within seconds: several *different* links of *one*
application clicked by *one* client in a tight chain.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final

from crawlerdetect import CrawlerDetect

from domain.sources import referrer_host

__all__ = [
    "BOT_REASONS",
    "BURST_MIN_LINKS",
    "BURST_WINDOW",
    "HUMAN",
    "REASON_CRAWLER_USER_AGENT",
    "REASON_EMAIL_SECURITY_SCANNER",
    "REASON_HEAD_REQUEST",
    "REASON_SCANNER_BURST",
    "BotVerdict",
    "BurstClick",
    "burst_client_key",
    "burst_window_start",
    "classify_request",
    "find_scanner_bursts",
    "is_crawler_user_agent",
    "is_email_security_referrer",
]

REASON_CRAWLER_USER_AGENT: Final = "crawler_user_agent"
REASON_HEAD_REQUEST: Final = "head_request"
REASON_EMAIL_SECURITY_SCANNER: Final = "email_security_scanner"
REASON_SCANNER_BURST: Final = "scanner_burst"

BOT_REASONS: Final[tuple[str, ...]] = (
    REASON_CRAWLER_USER_AGENT,
    REASON_HEAD_REQUEST,
    REASON_EMAIL_SECURITY_SCANNER,
    REASON_SCANNER_BURST,
)

BURST_WINDOW: Final = timedelta(seconds=10)
BURST_MIN_LINKS: Final = 2


@dataclass(frozen=True, slots=True)
class BotVerdict:
    is_bot: bool
    reason: str | None


HUMAN: Final = BotVerdict(is_bot=False, reason=None)
_HEAD: Final = BotVerdict(is_bot=True, reason=REASON_HEAD_REQUEST)
_CRAWLER: Final = BotVerdict(is_bot=True, reason=REASON_CRAWLER_USER_AGENT)
_SCANNER: Final = BotVerdict(is_bot=True, reason=REASON_EMAIL_SECURITY_SCANNER)

# --- user agents -----------------------------------------------------------------

# Built once: compiling the crawler list is the expensive part, so warm it now
# rather than on the first redirect.
_DETECTOR: Final = CrawlerDetect()
_DETECTOR.is_crawler("Mozilla/5.0 (warm-up)")

# Link-preview fetchers and scanners that crawlerdetect does not list.
_EXTRA_AGENTS: Final = re.compile(
    r"""
      \bmastodon/            # fediverse link previews: "http.rb/5.1 (Mastodon/4.2; ...)"
    | \bhttp\.rb/
    | \bpleroma\b | \bakkoma\b | \bmisskey/
    | slack-imgproxy
    | \bsnap\s+url\s+preview
    | \bsynapse\s*\(bot\)    # Matrix URL previews
    | \bcardyb\b             # Bluesky link cards
    | \bms-office\b          # Office apps probing a link before opening the browser
    | \bmimecast\b | \bproofpoint\b | \bbarracuda\b | \bfireeye\b
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Longer user agents are cut before matching: it bounds the regex cost and the
# memory of the cache; no crawler token hides behind 1 KiB of text.
_UA_MAX: Final = 1024


@lru_cache(maxsize=4096)
def _crawler_verdict(user_agent: str) -> bool:
    if _EXTRA_AGENTS.search(user_agent):
        return True
    return bool(_DETECTOR.is_crawler(user_agent))


def is_crawler_user_agent(user_agent: str | None) -> bool:
    """True for crawler, preview and scripted-client user agents.

    An empty or missing user agent is *not* a bot (DNT clicks are stored
    without one).
    """
    if not user_agent:
        return False
    agent = user_agent.strip()[:_UA_MAX]
    if not agent:
        return False
    return _crawler_verdict(agent)


# --- email-security link wrappers ------------------------------------------------

# Hosts (and their subdomains) of link-rewriting / time-of-click scanners.
_SCANNER_DOMAINS: Final[frozenset[str]] = frozenset(
    {
        "safelinks.protection.outlook.com",  # Microsoft Defender Safe Links
        "safelinks.protection.office365.us",
        "urldefense.proofpoint.com",  # Proofpoint URL Defense
        "urldefense.com",
        "urldefense.us",
        "protect2.fireeye.com",  # Trellix / FireEye
        "linkprotect.cudasvc.com",  # Barracuda Link Protection
        "mimecast.com",  # Mimecast URL Protect (protect-us.mimecast.com, ...)
        "mimecastprotect.com",
        "secure-web.cisco.com",  # Cisco Secure Email
        "clicktime.symantec.com",  # Symantec / Broadcom Click-time
        "url.avanan.click",  # Check Point Harmony / Avanan
        "protection.sophos.com",  # Sophos Time-of-Click
        "atpscan.global.hornetsecurity.com",
        "ctp.trendmicro.com",  # Trend Micro Click-time protection
        "urlsand.esvalabs.com",
    }
)


def _is_scanner_host(host: str) -> bool:
    labels = host.split(".")
    for i in range(len(labels) - 1):
        if ".".join(labels[i:]) in _SCANNER_DOMAINS:
            return True
    # Barracuda scanner hosts: scanner.<...barracuda...>
    return labels[0] == "scanner" and any("barracuda" in label for label in labels[1:])


@lru_cache(maxsize=4096)
def _scanner_host_verdict(host: str) -> bool:
    return _is_scanner_host(host)


def is_email_security_referrer(referrer: str | None) -> bool:
    """True when the referrer is an email-security link wrapper or scanner."""
    if not referrer:
        return False
    return _scanner_referrer_verdict(referrer)


@lru_cache(maxsize=4096)
def _scanner_referrer_verdict(referrer: str) -> bool:
    # Remembered by referrer, as _crawler_verdict by agent: referrers repeat, and parsing one
    # is most of the cost.
    host = referrer_host(referrer)
    return host is not None and _scanner_host_verdict(host)


# --- per-request verdict ---------------------------------------------------------


def classify_request(*, method: str, user_agent: str | None, referrer: str | None) -> BotVerdict:
    """The verdict for one redirect request.

    In order: ``HEAD`` -> ``head_request``; crawler or preview user agent ->
    ``crawler_user_agent``; email-security wrapper in the referrer ->
    ``email_security_scanner``; otherwise human. The scanner burst needs the
    neighbouring clicks and is decided by ``find_scanner_bursts``.
    """
    if method.strip().upper() == "HEAD":
        return _HEAD
    if is_crawler_user_agent(user_agent):
        return _CRAWLER
    if referrer and is_email_security_referrer(referrer):
        return _SCANNER
    return HUMAN


# --- scanner bursts --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BurstClick:
    click_id: str
    application_id: str
    tracking_id: str
    clicked_at: datetime
    session_id: str | None
    ip_address: str | None
    user_agent: str | None


ClientKey = tuple[str, str, str]


def burst_client_key(click: BurstClick) -> ClientKey | None:
    """Who made a click: the session when present, else the (IP, user agent) pair.

    ``None`` for a click with neither a session nor an IP address; such clicks
    are never grouped into a burst.
    """
    if click.session_id:
        return ("session", click.session_id, "")
    if click.ip_address:
        return ("ip", click.ip_address, click.user_agent or "")
    return None


def burst_window_start(clicked_at: datetime, window: timedelta = BURST_WINDOW) -> datetime:
    """The earliest ``clicked_at`` that can chain directly to a click at ``clicked_at``.

    At insert time the ingestion path loads the clicks of the same application
    and client with ``clicked_at >= burst_window_start(now, window)`` and passes
    them, with the new click, to ``find_scanner_bursts``; any returned click not
    yet flagged is updated to ``scanner_burst``. (A longer chain whose older
    members are further back than one window is caught by repeating the lookup
    from the oldest click found, or by the batch over the whole history.)
    """
    return clicked_at - window


def _flag_chains(
    clicks: Sequence[BurstClick], window: timedelta, min_links: int, flagged: set[str]
) -> None:
    chain_start = 0
    for i in range(1, len(clicks) + 1):
        if i < len(clicks) and clicks[i].clicked_at - clicks[i - 1].clicked_at <= window:
            continue
        chain = clicks[chain_start:i]
        if len({c.tracking_id for c in chain}) >= min_links:
            flagged.update(c.click_id for c in chain)
        chain_start = i


def find_scanner_bursts(
    clicks: Iterable[BurstClick],
    *,
    window: timedelta = BURST_WINDOW,
    min_links: int = BURST_MIN_LINKS,
) -> set[str]:
    """The ``click_id`` of every click that belongs to a scanner burst.

    Clicks are grouped by application and client (``burst_client_key``). Within
    a group, ordered by time, a chain is a maximal run of clicks where each is
    at most ``window`` after the previous one; a chain that covers at least
    ``min_links`` distinct ``tracking_id`` is a burst and all its clicks are
    flagged, the first one too. The same link clicked again by the same client,
    or by many different clients, is never a burst on its own.

    ``clicked_at`` values must be all timezone-aware (or all naive).
    """
    if min_links < 2:
        raise ValueError("min_links must be at least 2: a burst spans several different links")
    if window < timedelta(0):
        raise ValueError("window must not be negative")

    groups: defaultdict[tuple[str, ClientKey], list[BurstClick]] = defaultdict(list)
    for click in clicks:
        key = burst_client_key(click)
        if key is not None:
            groups[(click.application_id, key)].append(click)

    flagged: set[str] = set()
    for group in groups.values():
        if len(group) < min_links:
            continue
        group.sort(key=lambda c: (c.clicked_at, c.click_id))
        _flag_chains(group, window, min_links, flagged)
    return flagged
