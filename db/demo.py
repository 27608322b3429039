"""Deterministic demo data: `linkinsights seed` and the benchmark loads.

``seed_account`` fills one existing account with a realistic history: a few hundred
applications over the last six months, the standard link package of seed 002 on each
(every link function), human clicks with hour-of-day and weekday patterns in the account's
timezone, email-scanner bursts, crawler hits and HEAD probes (flagged as bots, with their
reason), contacts with email events, and status histories where engagement really raises
the odds of an interview (a Calendly click, a first click within four hours, more clicks).

``seed_accounts`` makes the benchmark loads with the same generator: many accounts, or one
account with a million applications. Rows are produced in batches and loaded with
asyncpg ``copy_records_to_table``; the next batch is generated in a worker thread while the
current one is copied, so memory stays flat and the database and Python work in parallel.

Determinism: everything is drawn from ``random.Random(seed)`` (the content) and from a
second ``random.Random`` salted with the seed and the account id (identifiers: uuids,
tracking ids, session ids), so the same seed, ``now`` and account give identical rows, and
two accounts seeded with the same seed hold the same data under different ids.
Identifiers carry a per-run counter (uuid version 4 layout, random prefix, counter in the
middle, random tail; ``lt_`` tracking ids from a random start and odd stride): unique within a
run, practically unique across runs, and inserted in index order, which keeps the primary
key and tracking indexes append-only at a million applications.

Throughput on the 2-core development box (PostgreSQL 15 on the same machine): the generator
alone makes ~100k clicks/s; loading 1 account x 100k applications x ~20 clicks runs at ~20k
clicks/s (~32k rows/s over all tables), bound by the one backend's CPU: the per-row foreign-key
checks take ~55% of it and index maintenance ~30%, while the generation is hidden behind it.

The caller owns the transaction. Both functions set ``linkinsights.app_writer`` (see
migration 0001), so the triggers skip their per-row work: every status history row, the
first ``applied`` one included, and every link's ``account_id`` are written here.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from itertools import accumulate
from math import exp as _exp
from math import log as _log
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from asyncpg.pgproto.pgproto import UUID as _PgUUID  # a uuid.UUID that asyncpg copies fast
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.session import mark_app_writer, raw_connection
from db.tables import accounts
from domain.sources import detect_click_source

__all__ = ["DemoSummary", "seed_account", "seed_accounts"]


@dataclass(frozen=True)
class DemoSummary:
    """Rows written. ``clicks`` counts every ``link_clicks`` row, ``bot_clicks`` those flagged
    as bots; ``status_changes`` every history row (the first ``applied`` one included)."""

    accounts: int
    jobs: int
    applications: int
    links: int
    clicks: int
    bot_clicks: int
    status_changes: int


# --- shape of the data -----------------------------------------------------------------

SPAN_DAYS: Final = 182  # applications spread over the last ~6 months
BATCH_ROWS: Final = 50_000  # rows per COPY batch (all tables together, roughly)
DEFAULT_CLICKS_PER_APPLICATION: Final = 4.0

_HOUR: Final = 3600.0
_DAY: Final = 86400.0
_FAST_FIRST_CLICK: Final = 4 * _HOUR
_DRIVING_WINDOW: Final = 3 * _DAY  # clicks this soon after the first one drive the outcome
_CAL_WINDOW: Final = 7 * _DAY  # a Calendly click this soon after the first click counts

_ENGAGED: Final = (0.95, 0.75, 0.42)  # P(any human click) by employer interest: high, med, low
_INTEREST_CUTS: Final = (0.15, 0.45)  # P(high) = 0.15, P(medium) = 0.30, P(low) = 0.55
_CLICK_MULTIPLIER: Final = (1.8, 1.0, 0.6)  # relative click volume by interest
# First-click delay: log-normal, median 1.5 h / 6 h / 20 h by interest.
_FIRST_CLICK_MU: Final = tuple(_log(h) for h in (1.5, 6.0, 20.0))
_FIRST_CLICK_SIGMA: Final = 1.3
_P_SCANNER_BURST: Final = 0.05
_P_CRAWLER: Final = 0.04
_P_HEAD: Final = 0.03
_P_DNT_VISITOR: Final = 0.03
# Mean bot clicks per application (burst over ~4.5 links, 2 crawler hits, 1.5 HEAD probes):
_BOT_CLICKS_PER_APPLICATION: Final = 0.05 * 4.5 + 0.04 * 2.0 + 0.03 * 1.5

# (link_function, link_type, description): the standard package of seed 002.
_LINK_SPECS: Final[tuple[tuple[str, str, str], ...]] = (
    ("LinkedIn", "profile", "Professional LinkedIn profile"),
    ("Calendly", "profile", "Schedule a meeting"),
    ("Portfolio", "profile", "Portfolio website"),
    ("Company_Website", "job_posting", "Company website"),
    ("Apply_Now", "application", "Application page"),
    ("Job_Posting", "job_posting", "Original job posting"),
)
_CALENDLY: Final = 1
# P(optional link present): Company_Website, Apply_Now, Job_Posting.
_P_OPTIONAL: Final = (0.6, 0.35, 0.5)
# Per-click weight of each link function, by employer interest (high, medium, low).
_LINK_WEIGHTS: Final[tuple[tuple[float, ...], ...]] = (
    (30.0, 25.0, 18.0, 8.0, 6.0, 10.0),
    (30.0, 5.0, 18.0, 8.0, 6.0, 10.0),
    (30.0, 1.5, 18.0, 8.0, 6.0, 10.0),
)
_LINK_TEXT: Final = (
    "LinkedIn Profile",
    "Schedule a Meeting",
    "Portfolio Website",
    "Company Website",
    "Apply Now",
    "Original Job Posting",
)


def _combo_links(combo: int) -> tuple[int, ...]:
    optional = tuple(3 + i for i in range(3) if combo >> i & 1)
    return (0, 1, 2, *optional)


_COMBOS: Final = tuple(_combo_links(c) for c in range(8))
# _CUM_WEIGHTS[interest][combo]: cumulative click weights over that combo's links.
_CUM_WEIGHTS: Final = tuple(
    tuple(list(accumulate(weights[i] for i in _COMBOS[c])) for c in range(8))
    for weights in _LINK_WEIGHTS
)

# Hours of the day, repeated by weight: recruiters click in business hours, people apply
# in the morning and the evening.
_WORK_HOURS: Final = tuple(
    h
    for h, w in zip(range(8, 19), (3, 7, 9, 9, 6, 5, 8, 8, 7, 5, 3), strict=True)
    for _ in range(w)
)
_APPLY_HOURS: Final = tuple(
    h
    for h, w in zip(
        range(6, 24), (1, 3, 6, 8, 8, 6, 5, 5, 5, 4, 4, 4, 5, 6, 7, 7, 5, 2), strict=True
    )
    for _ in range(w)
)
_APPLY_WEEKDAY: Final = (1.0, 1.05, 1.0, 0.95, 0.85, 0.3, 0.4)  # Monday .. Sunday

_FIRST_NAMES: Final = (
    "Alex", "Priya", "Jordan", "Maria", "Wei", "Samuel", "Aisha", "Daniel", "Emma", "Kenji",
    "Fatima", "Lucas", "Olivia", "Mateo", "Chloe", "Omar", "Grace", "Ethan", "Sofia", "Noah",
    "Hannah", "Diego", "Leila", "Ryan", "Nina", "Marcus", "Ingrid", "Tariq", "Julia", "Ben",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Nguyen", "Patel", "Garcia", "Kim", "Smith", "Okafor", "Rossi", "Johansson", "Cohen",
    "Martin", "Silva", "Brown", "Tanaka", "Muller", "Dubois", "Khan", "Lopez", "Walsh",
    "Novak", "Haddad", "Chen", "Anderson", "Moreau", "Reyes", "Fischer", "Ward", "Ito",
    "Baker", "Costa", "Ahmed",
)  # fmt: skip

_COMPANY_HEADS: Final = (
    "Northwind", "Bluefin", "Cobalt", "Evergreen", "Helix", "Ironclad", "Juniper", "Keystone",
    "Lumen", "Meridian", "Nimbus", "Orchard", "Pinnacle", "Quarry", "Redwood", "Summit",
    "Tidal", "Umbra", "Vertex", "Willow", "Yonder", "Zenith", "Atlas", "Beacon", "Cascade",
    "Driftwood", "Ember", "Foundry", "Granite", "Harbor", "Indigo", "Kestrel", "Lattice",
    "Mosaic", "Nova", "Oakline", "Prism", "Quill", "Riverbend", "Sable",
)  # fmt: skip
_COMPANY_TAILS: Final = (
    ("Labs", "io"), ("Systems", "com"), ("Analytics", "com"), ("Health", "com"),
    ("Robotics", "ai"), ("Software", "com"), ("Financial", "com"), ("Logistics", "com"),
    ("Energy", "com"), ("Media", "co"), ("Studios", "com"), ("Networks", "net"),
    ("Bio", "com"), ("Commerce", "com"), ("Security", "io"), ("Cloud", "dev"),
)  # fmt: skip

_ROLES: Final = (
    "Software Engineer", "Backend Engineer", "Frontend Engineer", "Full Stack Engineer",
    "Data Engineer", "Data Scientist", "Machine Learning Engineer", "Site Reliability Engineer",
    "DevOps Engineer", "Platform Engineer", "Product Manager", "Product Designer",
    "UX Researcher", "Data Analyst", "Analytics Engineer", "Security Engineer",
    "Engineering Manager", "Solutions Architect", "QA Engineer", "iOS Engineer",
    "Android Engineer", "Technical Program Manager", "Developer Advocate", "Marketing Manager",
)  # fmt: skip
_LEVELS: Final = ("", "", "", "Senior ", "Senior ", "Staff ", "Lead ", "Junior ", "Principal ")

_LOCATIONS: Final = (
    "Remote", "Remote", "Remote (US)", "New York, NY", "San Francisco, CA", "Seattle, WA",
    "Austin, TX", "Boston, MA", "Chicago, IL", "Denver, CO", "Atlanta, GA", "Los Angeles, CA",
    "Toronto, ON", "Vancouver, BC", "London, UK", "Berlin, Germany", "Amsterdam, Netherlands",
    "Dublin, Ireland", "Hybrid - New York, NY", "Hybrid - San Francisco, CA",
    "Hybrid - London, UK", "Washington, DC", "Raleigh, NC", "Portland, OR", "Miami, FL",
)  # fmt: skip

_CONTACT_ROLES: Final = (
    "recruiter",
    "recruiter",
    "recruiter",
    "talent_acquisition",
    "hiring_manager",
)

_HUMAN_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
)
# Email-security scanners pose as ordinary (often dated) browsers; only the burst gives them away.
_SCANNER_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/91.0.4472.124 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/87.0.4280.88 Safari/537.36",
)
_SCANNER_NETS: Final = ((40, 94), (52, 100), (148, 163), (205, 220))
_CRAWLER_AGENTS: Final = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Twitterbot/1.0",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)
_CRAWLER_NETS: Final = ((66, 249), (54, 209), (108, 174), (31, 13), (157, 55), (3, 91))
_HEAD_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Microsoft Office Existence Discovery",
    "curl/8.5.0",
)
_OPEN_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
)
# First octets of public IPv4 space for human visitors (corporate and ISP ranges).
_HUMAN_OCTETS: Final = (
    12, 23, 24, 38, 47, 50, 63, 64, 67, 68, 69, 71, 72, 73, 74, 75, 76, 96, 97, 98, 99,
    104, 107, 108, 136, 142, 162, 173, 174, 184, 199, 204, 208, 209, 216,
)  # fmt: skip

# (referrer, weight); None is a direct visit. The dashboard referrer is added per run.
_REFERRERS: Final[tuple[tuple[str | None, int], ...]] = (
    ("https://mail.google.com/", 26),
    ("https://outlook.office.com/", 14),
    ("https://outlook.live.com/", 4),
    (None, 28),
    ("https://www.linkedin.com/", 12),
    ("https://www.linkedin.com/messaging/", 4),
    ("https://www.indeed.com/", 3),
    ("https://www.google.com/", 4),
    ("https://app.slack.com/", 2),
)
_UTM_CAMPAIGN: Final = "job_search"
# click_source -> (P(the visitor's URL carries UTM parameters), metadata json).
_UTM_BY_SOURCE: Final[Mapping[str, tuple[float, str]]] = {
    source: (
        p,
        json.dumps({"utm_source": utm_source, "utm_medium": medium, "utm_campaign": _UTM_CAMPAIGN}),
    )
    for source, p, utm_source, medium in (
        ("email", 0.35, "email", "application"),
        ("linkedin", 0.3, "linkedin", "social"),
        ("direct", 0.1, "resume", "pdf"),
    )
}
_EMPTY_JSON: Final = "{}"
_BOUNCE_JSON: Final = '{"bounce_type": "hard", "bounce_reason": "mailbox_does_not_exist"}'

_BENCH_TIMEZONES: Final = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Toronto", "America/Sao_Paulo", "Europe/London", "Europe/Berlin", "Europe/Madrid",
    "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney", "UTC",
)  # fmt: skip

# COPY column lists, in the order the row tuples are built.
_JOB_COLUMNS: Final = ("id", "account_id", "title", "company", "url", "location", "created_at")
_APPLICATION_COLUMNS: Final = ("id", "account_id", "job_id", "status", "created_at", "updated_at")
_HISTORY_COLUMNS: Final = ("application_id", "status", "changed_at")
_LINK_COLUMNS: Final = (
    "tracking_id", "account_id", "job_id", "application_id", "link_function", "link_type",
    "original_url", "redirect_url", "created_at", "created_by", "is_active", "description",
)  # fmt: skip
_CLICK_COLUMNS: Final = (
    "click_id", "tracking_id", "clicked_at", "ip_address", "user_agent", "referrer_url",
    "session_id", "click_source", "metadata", "is_bot", "bot_reason", "request_method",
)  # fmt: skip
_CONTACT_COLUMNS: Final = ("id", "application_id", "email", "name", "role", "created_at")
_EVENT_COLUMNS: Final = (
    "id", "campaign_contact_id", "event_type", "event_data", "event_timestamp", "tracking_id",
    "user_agent", "ip_address", "clicked_url", "created_at",
)  # fmt: skip
_ACCOUNT_COLUMNS: Final = ("id", "name", "timezone", "profile_links", "created_at")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True, slots=True)
class _Company:
    name: str
    slug: str
    domain: str
    website: str


def _companies() -> tuple[_Company, ...]:
    out = []
    for head in _COMPANY_HEADS:
        for tail, tld in _COMPANY_TAILS:
            name = f"{head} {tail}"
            domain = f"{head}{tail}.{tld}".lower()
            out.append(_Company(name, _slug(name), domain, f"https://www.{domain}"))
    return tuple(out)


_COMPANIES: Final = _companies()
_TITLES: Final = tuple((level + role, _slug(level + role)) for role in _ROLES for level in _LEVELS)


def _job_urls(ats: int, company: _Company, title_slug: str, n: int) -> tuple[str, str]:
    """(job posting URL, apply URL) on one of the usual applicant tracking systems."""
    if ats == 0:
        url = f"https://boards.greenhouse.io/{company.slug}/jobs/{4_000_000 + n % 6_000_000}"
        return url, url + "#app"
    if ats == 1:
        url = f"https://jobs.lever.co/{company.slug}/{n:010x}-{n % 9973:04x}"
        return url, url + "/apply"
    if ats == 2:
        url = f"https://jobs.ashbyhq.com/{company.slug}/{n:012x}"
        return url, url + "/application"
    if ats == 3:
        tenant = company.slug.replace("-", "")
        req = n % 900_000 + 100_000
        url = f"https://{tenant}.wd5.myworkdayjobs.com/en-US/careers/job/{title_slug}_R{req}"
        return url, url + "/apply"
    if ats == 4:
        job = n % 90_000 + 10_000
        return (
            f"https://{company.domain}/careers/{title_slug}-{job}",
            f"https://{company.domain}/careers/apply?job={job}",
        )
    url = f"https://www.linkedin.com/jobs/view/{3_700_000_000 + n % 300_000_000}"
    return url, url + "/apply"


_N_ATS: Final = 6


# --- identifiers -----------------------------------------------------------------------

_MASK48: Final = (1 << 48) - 1
_MASK32: Final = (1 << 32) - 1
_UUID_V4_VARIANT: Final = 4 << 76 | 2 << 62  # version 4, RFC 4122 variant


class _Ids:
    """Opaque identifiers, deterministic per salt, unique within a run, in index order.

    A uuid is a 16-bit run prefix, a 32-bit counter, the version 4 and variant bits and 62
    random bits; callers reserve a block of counters per application and build the uuids
    inline (``make_uuid``), the hot path of the generator.
    """

    __slots__ = ("_n", "_tid", "_tid_step", "bits", "hi")

    def __init__(self, salt: str) -> None:
        rng = random.Random(salt)
        self.bits = rng.getrandbits
        self.hi = rng.getrandbits(16) << 112 | _UUID_V4_VARIANT
        self._n = 0
        self._tid = rng.getrandbits(48)
        self._tid_step = rng.getrandbits(12) | 1  # odd: the sequence mod 2**48 never repeats

    def reserve(self, count: int) -> int:
        """The first of ``count`` unused counters; ``hi`` may change (a fresh prefix)."""
        n = self._n
        if n + count > _MASK32:
            self.hi = self.bits(16) << 112 | _UUID_V4_VARIANT
            n = 0
        self._n = n + count
        return n

    def uuid(self) -> uuid.UUID:
        return make_uuid(self.hi, self.reserve(1), self.bits(62))

    def tracking_id(self) -> str:
        value = self._tid
        self._tid = (value + self._tid_step) & _MASK48
        return f"lt_{value:012x}"

    def session_id(self) -> str:
        return f"sess_{self.bits(64):016x}"

    def message_id(self) -> str:
        return f"em_{self.bits(64):016x}"


def make_uuid(hi: int, n: int, tail: int) -> uuid.UUID:
    result: uuid.UUID = _PgUUID((hi | n << 80 | tail).to_bytes(16))
    return result


# --- time ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Calendar:
    """Local days of one timezone around ``now``: ``mids[d]`` is the epoch of local midnight."""

    mids: list[float]
    weekday0: int  # weekday of day 0, Monday = 0
    today: int  # index of now's local day
    now_sec: float  # seconds since local midnight, now


def _calendar(tz: ZoneInfo, now: datetime) -> _Calendar:
    first = now.astimezone(tz).date() - timedelta(days=SPAN_DAYS + 2)
    days = SPAN_DAYS + 2 + 60
    mids = [
        datetime.combine(first + timedelta(days=i), time(), tz).timestamp() for i in range(days)
    ]
    today = SPAN_DAYS + 2
    return _Calendar(mids, first.weekday(), today, now.timestamp() - mids[today])


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone: {name!r}") from exc


def _largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights``, summing exactly to ``total``."""
    scale = total / sum(weights)
    quotas = [w * scale for w in weights]
    counts = [int(q) for q in quotas]
    short = total - sum(counts)
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - quotas[i], i))
    for i in order[:short]:
        counts[i] += 1
    return counts


# --- generation ------------------------------------------------------------------------

Row = tuple[Any, ...]


@dataclass(slots=True)
class _Batch:
    jobs: list[Row] = field(default_factory=list)
    applications: list[Row] = field(default_factory=list)
    history: list[Row] = field(default_factory=list)
    links: list[Row] = field(default_factory=list)
    clicks: list[Row] = field(default_factory=list)
    contacts: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    bot_clicks: int = 0


@dataclass(frozen=True, slots=True)
class _Plan:
    """One account to fill."""

    account_id: uuid.UUID
    timezone: str
    profile: tuple[str, str, str]  # LinkedIn, Calendly, Portfolio URLs
    applications: int


# A visitor: (session_id, ip, user_agent, referrer, click_source, metadata json)
_Visitor = tuple[str, int | str | None, str | None, str | None, str, str]


class _Generator:
    """The content stream. Not thread-safe; one thread at a time drives ``batches``."""

    def __init__(
        self,
        *,
        seed: int,
        ids: _Ids,
        now: datetime,
        clicks_per_application: float,
        public_base_url: str,
    ) -> None:
        self._rng = random.Random(seed)
        self._rnd = self._rng.random
        self._ids = ids
        self._now = now.timestamp()
        self._now_dt = now
        self._track_base = public_base_url.rstrip("/") + "/track/"
        host = urlsplit(public_base_url).netloc
        dashboard = public_base_url.rstrip("/") + "/dashboard"
        referrers = [*_REFERRERS, (dashboard, 1)]
        self._referrers = tuple(
            (ref, detect_click_source(ref, dashboard_hosts=(host,) if host else ()))
            for ref, _ in referrers
        )
        self._referrer_cum = list(accumulate(w for _, w in referrers))
        # Human clicks per engaged application, by interest, so that the mean over all
        # applications (bots included) is clicks_per_application.
        engaged = [
            p * share
            for p, share in zip(
                _ENGAGED,
                (_INTEREST_CUTS[0], _INTEREST_CUTS[1] - _INTEREST_CUTS[0], 1 - _INTEREST_CUTS[1]),
                strict=True,
            )
        ]
        # (x 1.06: the clicks that would fall after `now` are never made.)
        human = max(clicks_per_application - _BOT_CLICKS_PER_APPLICATION, 0.0) * 1.06
        per_engaged = human / sum(engaged)
        # Fewer bots when even they would exceed the mean (0 clicks per application: none).
        bot_scale = min(clicks_per_application / _BOT_CLICKS_PER_APPLICATION, 1.0)
        self._p_bots = tuple(p * bot_scale for p in (_P_SCANNER_BURST, _P_CRAWLER, _P_HEAD))
        # Below one click per engaged application, fewer applications are engaged instead.
        self._engaged = tuple(p * min(per_engaged, 1.0) for p in _ENGAGED)
        per_engaged = max(per_engaged, 1.0)
        norm = sum(e * m for e, m in zip(engaged, _CLICK_MULTIPLIER, strict=True)) / sum(engaged)
        self._clicks_mean = tuple(per_engaged * m / norm for m in _CLICK_MULTIPLIER)
        self._calendars: dict[str, _Calendar] = {}
        self._cal = _Calendar([], 0, 0, 0.0)
        self._account_id = uuid.UUID(int=0)
        self._profile: tuple[str, str, str] = ("", "", "")

    # -- accounts --

    def person(self) -> tuple[str, str]:
        first = _FIRST_NAMES[int(self._rnd() * len(_FIRST_NAMES))]
        return first, _LAST_NAMES[int(self._rnd() * len(_LAST_NAMES))]

    def profile_links(self) -> dict[str, str]:
        first, last = self.person()
        slug = f"{first}-{last}".lower()
        return {
            "LinkedIn": f"https://www.linkedin.com/in/{slug}",
            "Calendly": f"https://calendly.com/{slug}/30min",
            "Portfolio": f"https://{first.lower()}{last.lower()}.dev",
        }

    def pick_timezone(self) -> str:
        return _BENCH_TIMEZONES[int(self._rnd() * len(_BENCH_TIMEZONES))]

    # -- the stream --

    def batches(self, plans: Sequence[_Plan], batch_applications: int) -> Iterator[_Batch]:
        batch = _Batch()
        for plan in plans:
            cal = self._calendars.get(plan.timezone)
            if cal is None:
                cal = self._calendars[plan.timezone] = _calendar(_zone(plan.timezone), self._now_dt)
            self._cal = cal
            self._account_id = plan.account_id
            self._profile = plan.profile
            for created in self._application_times(plan.applications):
                self._application(batch, created)
                if len(batch.applications) >= batch_applications:
                    yield batch
                    batch = _Batch()
        if batch.applications:
            yield batch

    def _application_times(self, count: int) -> Iterator[float]:
        """``count`` creation times over the last SPAN_DAYS, in order, weekdays favoured."""
        if count <= 0:
            return
        rnd = self._rnd
        cal = self._cal
        first = cal.today - SPAN_DAYS
        weights = []
        for d in range(first, cal.today + 1):
            w = _APPLY_WEEKDAY[(cal.weekday0 + d) % 7] * (0.6 + 0.8 * rnd())
            if d == cal.today:
                w *= cal.now_sec / _DAY
            weights.append(w)
        hours = _APPLY_HOURS
        n_hours = len(hours)
        for d, k in zip(
            range(first, cal.today + 1), _largest_remainder(count, weights), strict=True
        ):
            if not k:
                continue
            if d == cal.today:
                secs = sorted(rnd() * cal.now_sec for _ in range(k))
            else:
                secs = sorted(hours[int(rnd() * n_hours)] * _HOUR + rnd() * _HOUR for _ in range(k))
            base = cal.mids[d]
            for s in secs:
                yield base + s

    def _humanize(self, ts: float) -> float:
        """Move ``ts`` forward (mostly) into local business hours on a weekday."""
        mids = self._cal.mids
        d = bisect_right(mids, ts) - 1
        if d + 8 >= len(mids):
            return ts  # far beyond now: dropped by the caller anyway
        sec = ts - mids[d]
        weekday = (self._cal.weekday0 + d) % 7
        r = self._rnd()
        if weekday >= 5:
            if r < 0.8:  # to Monday, or (less often) Tuesday
                d += 7 - weekday + (1 if r < 0.25 else 0)
                sec = self._work_second()
        elif sec < 8 * _HOUR:
            if r < 0.85:
                sec = self._work_second()
        elif sec >= 19 * _HOUR and r < 0.85:
            d += 3 if weekday == 4 else 1
            sec = self._work_second()
        return mids[d] + sec

    def _work_second(self) -> float:
        rnd = self._rnd
        return _WORK_HOURS[int(rnd() * len(_WORK_HOURS))] * _HOUR + rnd() * _HOUR

    def _visitor(self) -> _Visitor:
        rnd = self._rnd
        i = bisect_right(self._referrer_cum, rnd() * self._referrer_cum[-1])
        referrer, source = self._referrers[i]
        utm = _UTM_BY_SOURCE.get(source)
        meta = utm[1] if utm is not None and rnd() < utm[0] else _EMPTY_JSON
        session = self._ids.session_id()
        if rnd() < _P_DNT_VISITOR:  # Do Not Track: the click counts, no IP or user agent
            return (session, None, None, referrer, source, meta)
        agent = _HUMAN_AGENTS[int(rnd() * len(_HUMAN_AGENTS))]
        ip: int | str
        if rnd() < 0.08:
            bits = self._rng.getrandbits(48)
            ip = (
                f"2600:{bits >> 32:x}:{bits >> 16 & 0xFFFF:x}:{bits & 0xFFFF:x}::{bits % 251 + 1:x}"
            )
        else:
            ip = _HUMAN_OCTETS[int(rnd() * len(_HUMAN_OCTETS))] << 24 | self._rng.getrandbits(24)
        return (session, ip, agent, referrer, source, meta)

    def _application(self, b: _Batch, created: float) -> None:
        rnd = self._rnd
        gauss = self._rng.gauss
        content_bits = self._rng.getrandbits
        ids = self._ids
        bits = ids.bits  # identifiers only: the content never depends on these
        now = self._now
        account_id = self._account_id
        fromts = datetime.fromtimestamp
        humanize = self._humanize

        # How interested the employer is decides the engagement (and the id block size).
        r = rnd()
        interest = 0 if r < _INTEREST_CUTS[0] else 1 if r < _INTEREST_CUTS[1] else 2
        n_clicks = 0
        if rnd() < self._engaged[interest]:
            mean = self._clicks_mean[interest]
            n_clicks = 1 if mean <= 1.0 else 1 + int((0.5 - mean) * _log(1.0 - rnd()))
        # Ids used below: 2 + clicks + bots (<= 6 + 3 + 2) + contacts (<= 2) + events (<= 6).
        n = ids.reserve(n_clicks + 24)
        hi = ids.hi

        # Job and application.
        app_id = make_uuid(hi, n, bits(62))
        job_id = make_uuid(hi, n + 1, bits(62))
        n += 2
        company = _COMPANIES[int(rnd() * len(_COMPANIES))]
        title, title_slug = _TITLES[int(rnd() * len(_TITLES))]
        location = _LOCATIONS[int(rnd() * len(_LOCATIONS))]
        job_url, apply_url = _job_urls(int(rnd() * _N_ATS), company, title_slug, content_bits(40))
        created_dt = fromts(created, UTC)
        job_created = fromts(created - 60.0 - rnd() * 6 * _HOUR, UTC)
        b.jobs.append((job_id, account_id, title, company.name, job_url, location, job_created))

        # The standard link package: three profile links, plus some of the job's own.
        combo = (
            (1 if rnd() < _P_OPTIONAL[0] else 0)
            | (2 if rnd() < _P_OPTIONAL[1] else 0)
            | (4 if rnd() < _P_OPTIONAL[2] else 0)
        )
        specs = _COMBOS[combo]
        originals = (*self._profile, company.website, apply_url, job_url)
        tids: list[str] = []
        links_append = b.links.append
        track_base = self._track_base
        for i in specs:
            tid = ids.tracking_id()
            tids.append(tid)
            function, link_type, description = _LINK_SPECS[i]
            links_append(
                (
                    tid, account_id, job_id, app_id, function, link_type, originals[i],
                    track_base + tid, created_dt, "system", True, description,
                )
            )  # fmt: skip

        # Human clicks: visits by up to three visitors, the first one log-normally delayed,
        # each moved (mostly) into the account's business hours.
        first_ts = 0.0
        last_driving = 0.0
        n_driving = 0
        calendly_ts = 0.0
        first_tid = ""
        first_link = 0
        first_visitor: _Visitor | None = None
        clicks_append = b.clicks.append
        if n_clicks:
            cum = _CUM_WEIGHTS[interest][combo]
            total_weight = cum[-1]
            visit_extra = max(n_clicks / 6.0, 1.3) - 1.0  # mean clicks per visit, minus one
            t = humanize(
                created + _HOUR * _exp(gauss(_FIRST_CLICK_MU[interest], _FIRST_CLICK_SIGMA))
            )
            visitors: list[_Visitor] = []
            done = 0
            while done < n_clicks and t <= now:
                if not visitors or (len(visitors) < 3 and rnd() < 0.3):
                    visitor = self._visitor()
                    visitors.append(visitor)
                else:
                    visitor = visitors[int(rnd() * len(visitors))]
                session, ip, agent, referrer, source, meta = visitor
                end = min(n_clicks, done + 1 + int(-visit_extra * _log(1.0 - rnd())))
                while done < end and t <= now:
                    li = bisect_right(cum, rnd() * total_weight)
                    tid = tids[li]
                    clicks_append(
                        (
                            _PgUUID((hi | n << 80 | bits(62)).to_bytes(16)), tid, fromts(t, UTC),
                            ip, agent, referrer, session, source, meta, False, None, "GET",
                        )
                    )  # fmt: skip
                    n += 1
                    done += 1
                    if not first_ts:
                        first_ts = t
                        first_tid = tid
                        first_link = specs[li]
                        first_visitor = visitor
                    if t - first_ts <= _DRIVING_WINDOW:
                        n_driving += 1
                        last_driving = t
                    if specs[li] == _CALENDLY and not calendly_ts and t - first_ts <= _CAL_WINDOW:
                        calendly_ts = t
                    # Never two links of one session within seconds: that is a scanner burst.
                    t += 15.0 - 75.0 * _log(1.0 - rnd())
                t = humanize(t + _HOUR * _exp(gauss(2.9, 1.1)))  # next visit, median ~18 h

        # Bots: an email-security scanner opening every link on delivery, crawlers, HEAD probes.
        p_bots = self._p_bots
        if rnd() < p_bots[0]:
            t0 = created + 2.0 + rnd() * 900.0
            if t0 + 3.0 <= now:
                span = 1.0 + 2.0 * rnd()
                net = _SCANNER_NETS[int(rnd() * len(_SCANNER_NETS))]
                ip_burst = net[0] << 24 | net[1] << 16 | content_bits(16)
                agent = _SCANNER_AGENTS[int(rnd() * len(_SCANNER_AGENTS))]
                offsets = sorted(rnd() * span for _ in tids)
                offsets[0] = 0.0
                offsets[-1] = span
                for tid, off in zip(tids, offsets, strict=True):
                    clicks_append(
                        (
                            make_uuid(hi, n, bits(62)), tid, fromts(t0 + off, UTC), ip_burst,
                            agent, None, None, "direct", _EMPTY_JSON, True, "scanner_burst", "GET",
                        )
                    )  # fmt: skip
                    n += 1
                b.bot_clicks += len(tids)
        if rnd() < p_bots[1]:
            net = _CRAWLER_NETS[int(rnd() * len(_CRAWLER_NETS))]
            agent = _CRAWLER_AGENTS[int(rnd() * len(_CRAWLER_AGENTS))]
            for _ in range(1 + int(rnd() * 3)):
                t = created + 60.0 + rnd() * (now - created)
                if t > now:
                    continue
                clicks_append(
                    (
                        make_uuid(hi, n, bits(62)), tids[int(rnd() * 3)], fromts(t, UTC),
                        net[0] << 24 | net[1] << 16 | content_bits(16), agent, None, None, "direct",
                        _EMPTY_JSON, True, "crawler_user_agent", "GET",
                    )
                )  # fmt: skip
                n += 1
                b.bot_clicks += 1
        if rnd() < p_bots[2]:
            agent = _HEAD_AGENTS[int(rnd() * len(_HEAD_AGENTS))]
            ip_head = _HUMAN_OCTETS[int(rnd() * len(_HUMAN_OCTETS))] << 24 | content_bits(24)
            for _ in range(1 + int(rnd() * 2)):
                t = created + 10.0 + rnd() * _HOUR
                if t > now:
                    continue
                clicks_append(
                    (
                        make_uuid(hi, n, bits(62)), tids[int(rnd() * len(tids))], fromts(t, UTC),
                        ip_head, agent, None, None, "direct", _EMPTY_JSON, True, "head_request",
                        "HEAD",
                    )
                )  # fmt: skip
                n += 1
                b.bot_clicks += 1

        # Outcome: engagement raises the odds of an interview, which follows the clicks that
        # drove it (the first Calendly click, else the last click of the first three days).
        history: list[tuple[str, float]] = [("applied", created)]
        if n_driving:
            p_interview = 0.04 + 0.025 * min(n_driving, 8)
            if calendly_ts:
                p_interview += 0.38
            if first_ts - created <= _FAST_FIRST_CLICK:
                p_interview += 0.12
            decisive = calendly_ts or last_driving
        else:
            p_interview = 0.03
            decisive = created + _DAY * _exp(gauss(2.3, 0.6))  # median ~10 days
        if rnd() < min(p_interview, 0.9):
            interview = humanize(decisive + _HOUR * max(_exp(gauss(3.4, 0.8)), 1.0))  # ~30 h
            if interview <= now:
                history.append(("interview", interview))
                r = rnd()
                p_offer = 0.3 + (0.1 if calendly_ts else 0.0)
                if r < p_offer:
                    status, delay = "offer", 4.0 + _exp(gauss(2.0, 0.5))
                elif r < p_offer + 0.48:
                    status, delay = "rejected", 1.0 + _exp(gauss(1.6, 0.6))
                elif r < p_offer + 0.56:
                    status, delay = "withdrawn", 1.0 + _exp(gauss(1.4, 0.6))
                else:
                    status, delay = "", 0.0  # still interviewing, or ghosted
                if status:
                    when = humanize(interview + _DAY * delay)
                    if when <= now:
                        history.append((status, when))
        else:
            r = rnd()
            if r < 0.55:
                when = humanize(created + _DAY * max(_exp(gauss(2.6, 0.6)), 2.0))  # ~2 weeks
                if when <= now:
                    history.append(("rejected", when))
            elif r < 0.59:
                when = humanize(created + _DAY * (3.0 + 40.0 * rnd()))
                if when <= now:
                    history.append(("withdrawn", when))
        history_append = b.history.append
        when_dt = created_dt
        for status, when in history:
            when_dt = created_dt if when == created else fromts(when, UTC)
            history_append((app_id, status, when_dt))
        b.applications.append((app_id, account_id, job_id, history[-1][0], created_dt, when_dt))

        # Who received it, and what the mail system saw.
        for c in range(2 if rnd() < 0.3 else 1):
            first, last = self.person()
            role = "hiring_manager" if c else _CONTACT_ROLES[int(rnd() * len(_CONTACT_ROLES))]
            contact_id = make_uuid(hi, n, bits(62))
            n += 1
            b.contacts.append(
                (
                    contact_id,
                    app_id,
                    f"{first}.{last}@{company.domain}".lower(),
                    f"{first} {last}",
                    role,
                    created_dt,
                )
            )
            if c == 0 and first_visitor is not None:
                clicked = (first_ts, first_tid, first_link, first_visitor)
                n = self._email_events(b, hi, n, contact_id, created, clicked)
            else:
                n = self._email_events(b, hi, n, contact_id, created, None)

    def _email_events(
        self,
        b: _Batch,
        hi: int,
        n: int,
        contact_id: uuid.UUID,
        created: float,
        clicked: tuple[float, str, int, _Visitor] | None,
    ) -> int:
        """Delivered (or bounced), maybe opened, and clicked when a link was; returns ``n``."""
        rnd = self._rnd
        bits = self._ids.bits
        now = self._now
        fromts = datetime.fromtimestamp
        message = self._ids.message_id()
        events = b.events.append
        sent = created + 2.0 + rnd() * 60.0
        if sent > now:
            return n
        if rnd() < 0.03:
            when = fromts(sent + rnd() * 120.0, UTC)
            events(
                (
                    make_uuid(hi, n, bits(62)), contact_id, "bounced", _BOUNCE_JSON, when,
                    message, None, None, None, when,
                )
            )  # fmt: skip
            return n + 1
        when = fromts(sent, UTC)
        events(
            (
                make_uuid(hi, n, bits(62)),
                contact_id,
                "delivered",
                None,
                when,
                message,
                None,
                None,
                None,
                when,
            )
        )
        n += 1
        opened = 0.0
        if clicked is not None and rnd() < 0.9:
            first_click = clicked[0]
            opened = first_click - 20.0 - rnd() * min(_HOUR, max(first_click - sent - 40.0, 0.0))
        elif rnd() < 0.35:
            opened = sent + _HOUR * _exp(self._rng.gauss(1.6, 1.2))
        if sent < opened <= now:
            device = "mobile" if rnd() < 0.35 else "desktop"
            when = fromts(opened, UTC)
            events(
                (
                    make_uuid(hi, n, bits(62)), contact_id, "opened",
                    f'{{"open_count": {1 + int(rnd() * 3)}, "device_type": "{device}"}}',
                    when, message, _OPEN_AGENTS[int(rnd() * len(_OPEN_AGENTS))], None, None, when,
                )
            )  # fmt: skip
            n += 1
        if clicked is not None:
            first_click, tid, link, visitor = clicked
            when = fromts(first_click, UTC)
            events(
                (
                    make_uuid(hi, n, bits(62)), contact_id, "clicked",
                    f'{{"link_text": "{_LINK_TEXT[link]}", "link_position": "body"}}',
                    when, tid, visitor[2], visitor[1], self._track_base + tid, when,
                )
            )  # fmt: skip
            n += 1
        return n


# --- loading ---------------------------------------------------------------------------


async def seed_account(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    applications: int,
    seed: int,
    now: datetime,
    timezone: str = "America/New_York",
    public_base_url: str = "http://127.0.0.1:8000",
) -> DemoSummary:
    """Fill an existing account with ``applications`` realistic applications up to ``now``.

    Sets the account's timezone to ``timezone`` (the clicks follow its business hours) and
    completes its ``profile_links`` (LinkedIn, Calendly, Portfolio); profile links the
    account already has are used for its links. Runs in the caller's transaction (no commit).
    """
    _check(now, applications)
    _zone(timezone)
    await mark_app_writer(session)
    row = (
        await session.execute(select(accounts.c.profile_links).where(accounts.c.id == account_id))
    ).one_or_none()
    if row is None:
        raise LookupError(f"account {account_id} does not exist")
    generator = _Generator(
        seed=seed,
        ids=_Ids(f"linkinsights-demo:{seed}:{account_id}"),
        now=now,
        clicks_per_application=DEFAULT_CLICKS_PER_APPLICATION,
        public_base_url=public_base_url,
    )
    existing = dict(row.profile_links or {})
    profile = generator.profile_links()
    for function in profile:
        value = existing.get(function)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            profile[function] = value
    await session.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(timezone=timezone, profile_links={**existing, **profile})
    )
    plan = _Plan(
        account_id,
        timezone,
        (profile["LinkedIn"], profile["Calendly"], profile["Portfolio"]),
        applications,
    )
    return await _load(session, generator, [plan], DEFAULT_CLICKS_PER_APPLICATION, None, 1)


async def seed_accounts(
    session: AsyncSession,
    *,
    accounts: int,
    applications_per_account: int,
    seed: int,
    now: datetime,
    clicks_per_application: float = DEFAULT_CLICKS_PER_APPLICATION,
    progress: Callable[[int], None] | None = None,
    id_salt: str | None = None,
) -> DemoSummary:
    """Create ``accounts`` accounts ("Bench account N", varied timezones) and fill each.

    For benchmarks: 1,000 accounts x 100 applications, or 1 account x 1,000,000
    applications with ``clicks_per_application=20``. ``clicks_per_application`` is the mean
    number of ``link_clicks`` rows per application, bots included. ``progress`` is called
    after each batch with the number of applications written so far.

    The data is a function of ``seed`` and ``now``; the ids also of ``id_salt``, a fresh
    one per call when None, so a second run into the same database never collides.
    Runs in the caller's transaction (no commit).
    """
    _check(now, applications_per_account)
    if accounts < 0:
        raise ValueError("accounts must not be negative")
    if clicks_per_application < 0:
        raise ValueError("clicks_per_application must not be negative")
    await mark_app_writer(session)
    salt = id_salt if id_salt is not None else uuid.uuid4().hex
    ids = _Ids(f"linkinsights-bench:{seed}:{salt}")
    generator = _Generator(
        seed=seed,
        ids=ids,
        now=now,
        clicks_per_application=clicks_per_application,
        public_base_url="http://127.0.0.1:8000",
    )
    created = now - timedelta(days=SPAN_DAYS + 30)
    plans: list[_Plan] = []
    rows: list[Row] = []
    conn = await raw_connection(session)
    for n in range(1, accounts + 1):
        account_id = ids.uuid()
        timezone = generator.pick_timezone()
        profile = generator.profile_links()
        rows.append((account_id, f"Bench account {n}", timezone, json.dumps(profile), created))
        plans.append(
            _Plan(
                account_id,
                timezone,
                (profile["LinkedIn"], profile["Calendly"], profile["Portfolio"]),
                applications_per_account,
            )
        )
        if len(rows) >= BATCH_ROWS:
            await conn.copy_records_to_table("accounts", records=rows, columns=_ACCOUNT_COLUMNS)
            rows = []
    if rows:
        await conn.copy_records_to_table("accounts", records=rows, columns=_ACCOUNT_COLUMNS)
    return await _load(session, generator, plans, clicks_per_application, progress, accounts)


def _check(now: datetime, applications: int) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if applications < 0:
        raise ValueError("applications must not be negative")


async def _load(
    session: AsyncSession,
    generator: _Generator,
    plans: Sequence[_Plan],
    clicks_per_application: float,
    progress: Callable[[int], None] | None,
    n_accounts: int,
) -> DemoSummary:
    """COPY the generator's batches; the next batch is generated while one is copied."""
    conn = await raw_connection(session)
    copy = conn.copy_records_to_table
    per_application = 13.0 + clicks_per_application
    batches = generator.batches(plans, max(1, int(BATCH_ROWS / per_application)))
    jobs = applications = links = clicks = bot_clicks = status_changes = 0
    pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
    try:
        while (batch := await pending) is not None:
            pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            for table, columns, rows in (
                ("jobs", _JOB_COLUMNS, batch.jobs),
                ("job_applications", _APPLICATION_COLUMNS, batch.applications),
                ("application_status_history", _HISTORY_COLUMNS, batch.history),
                ("link_tracking", _LINK_COLUMNS, batch.links),
                ("link_clicks", _CLICK_COLUMNS, batch.clicks),
                ("application_contacts", _CONTACT_COLUMNS, batch.contacts),
                ("engagement_tracking", _EVENT_COLUMNS, batch.events),
            ):
                if rows:
                    await copy(table, records=rows, columns=columns)
            jobs += len(batch.jobs)
            applications += len(batch.applications)
            links += len(batch.links)
            clicks += len(batch.clicks)
            bot_clicks += batch.bot_clicks
            status_changes += len(batch.history)
            if progress is not None:
                progress(applications)
    finally:
        # Never leave the generator thread running behind a failed copy.
        if not pending.done():
            await asyncio.wait({pending})
    return DemoSummary(
        accounts=n_accounts,
        jobs=jobs,
        applications=applications,
        links=links,
        clicks=clicks,
        bot_clicks=bot_clicks,
        status_changes=status_changes,
    )
