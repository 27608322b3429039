"""What the demo data looks like: rates, weights, names, user agents, networks, calendars.

Every number that shapes the generated history lives here; demo/generator.py draws from it.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right  # noqa: F401
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import accumulate
from math import log as _log
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SPAN_DAYS: Final = 182  # applications spread over the last ~6 months
BATCH_ROWS: Final = 50_000  # rows per COPY batch (all tables together, roughly)
DEFAULT_CLICKS_PER_APPLICATION: Final = 4.0

HOUR: Final = 3600.0
DAY: Final = 86400.0
FAST_FIRST_CLICK: Final = 4 * HOUR
DRIVING_WINDOW: Final = 3 * DAY  # clicks this soon after the first one drive the outcome
CAL_WINDOW: Final = 7 * DAY  # a Calendly click this soon after the first click counts

ENGAGED: Final = (0.95, 0.75, 0.42)  # P(any human click) by employer interest: high, med, low
INTEREST_CUTS: Final = (0.15, 0.45)  # P(high) = 0.15, P(medium) = 0.30, P(low) = 0.55
CLICK_MULTIPLIER: Final = (1.8, 1.0, 0.6)  # relative click volume by interest
# First-click delay: log-normal, median 1.5 h / 6 h / 20 h by interest.
FIRST_CLICK_MU: Final = tuple(_log(h) for h in (1.5, 6.0, 20.0))
FIRST_CLICK_SIGMA: Final = 1.3
P_SCANNER_BURST: Final = 0.05
P_CRAWLER: Final = 0.04
P_HEAD: Final = 0.03
P_DNT_VISITOR: Final = 0.03
# Mean bot clicks per application (burst over ~4.5 links, 2 crawler hits, 1.5 HEAD probes):
BOT_CLICKS_PER_APPLICATION: Final = 0.05 * 4.5 + 0.04 * 2.0 + 0.03 * 1.5

# (link_function, link_type, description): the standard package of seed 002.
LINK_SPECS: Final[tuple[tuple[str, str, str], ...]] = (
    ("LinkedIn", "profile", "Professional LinkedIn profile"),
    ("Calendly", "profile", "Schedule a meeting"),
    ("Portfolio", "profile", "Portfolio website"),
    ("Company_Website", "job_posting", "Company website"),
    ("Apply_Now", "application", "Application page"),
    ("Job_Posting", "job_posting", "Original job posting"),
)
CALENDLY: Final = 1
# P(optional link present): Company_Website, Apply_Now, Job_Posting.
P_OPTIONAL: Final = (0.6, 0.35, 0.5)
# Per-click weight of each link function, by employer interest (high, medium, low).
LINK_WEIGHTS: Final[tuple[tuple[float, ...], ...]] = (
    (30.0, 25.0, 18.0, 8.0, 6.0, 10.0),
    (30.0, 5.0, 18.0, 8.0, 6.0, 10.0),
    (30.0, 1.5, 18.0, 8.0, 6.0, 10.0),
)


def combo_links(combo: int) -> tuple[int, ...]:
    optional = tuple(3 + i for i in range(3) if combo >> i & 1)
    return (0, 1, 2, *optional)


COMBOS: Final = tuple(combo_links(c) for c in range(8))
# CUM_WEIGHTS[interest][combo]: cumulative click weights over that combo's links.
CUM_WEIGHTS: Final = tuple(
    tuple(list(accumulate(weights[i] for i in COMBOS[c])) for c in range(8))
    for weights in LINK_WEIGHTS
)

# Hours of the day, repeated by weight: recruiters click in business hours, people apply
# in the morning and the evening.
WORK_HOURS: Final = tuple(
    h
    for h, w in zip(range(8, 19), (3, 7, 9, 9, 6, 5, 8, 8, 7, 5, 3), strict=True)
    for _ in range(w)
)
APPLY_HOURS: Final = tuple(
    h
    for h, w in zip(
        range(6, 24), (1, 3, 6, 8, 8, 6, 5, 5, 5, 4, 4, 4, 5, 6, 7, 7, 5, 2), strict=True
    )
    for _ in range(w)
)
APPLY_WEEKDAY: Final = (1.0, 1.05, 1.0, 0.95, 0.85, 0.3, 0.4)  # Monday .. Sunday

FIRST_NAMES: Final = (
    "Alex", "Priya", "Jordan", "Maria", "Wei", "Samuel", "Aisha", "Daniel", "Emma", "Kenji",
    "Fatima", "Lucas", "Olivia", "Mateo", "Chloe", "Omar", "Grace", "Ethan", "Sofia", "Noah",
    "Hannah", "Diego", "Leila", "Ryan", "Nina", "Marcus", "Ingrid", "Tariq", "Julia", "Ben",
)  # fmt: skip
LAST_NAMES: Final = (
    "Nguyen", "Patel", "Garcia", "Kim", "Smith", "Okafor", "Rossi", "Johansson", "Cohen",
    "Martin", "Silva", "Brown", "Tanaka", "Muller", "Dubois", "Khan", "Lopez", "Walsh",
    "Novak", "Haddad", "Chen", "Anderson", "Moreau", "Reyes", "Fischer", "Ward", "Ito",
    "Baker", "Costa", "Ahmed",
)  # fmt: skip

COMPANY_HEADS: Final = (
    "Northwind", "Bluefin", "Cobalt", "Evergreen", "Helix", "Ironclad", "Juniper", "Keystone",
    "Lumen", "Meridian", "Nimbus", "Orchard", "Pinnacle", "Quarry", "Redwood", "Summit",
    "Tidal", "Umbra", "Vertex", "Willow", "Yonder", "Zenith", "Atlas", "Beacon", "Cascade",
    "Driftwood", "Ember", "Foundry", "Granite", "Harbor", "Indigo", "Kestrel", "Lattice",
    "Mosaic", "Nova", "Oakline", "Prism", "Quill", "Riverbend", "Sable",
)  # fmt: skip
COMPANY_TAILS: Final = (
    ("Labs", "io"), ("Systems", "com"), ("Analytics", "com"), ("Health", "com"),
    ("Robotics", "ai"), ("Software", "com"), ("Financial", "com"), ("Logistics", "com"),
    ("Energy", "com"), ("Media", "co"), ("Studios", "com"), ("Networks", "net"),
    ("Bio", "com"), ("Commerce", "com"), ("Security", "io"), ("Cloud", "dev"),
)  # fmt: skip

ROLES: Final = (
    "Software Engineer", "Backend Engineer", "Frontend Engineer", "Full Stack Engineer",
    "Data Engineer", "Data Scientist", "Machine Learning Engineer", "Site Reliability Engineer",
    "DevOps Engineer", "Platform Engineer", "Product Manager", "Product Designer",
    "UX Researcher", "Data Analyst", "Analytics Engineer", "Security Engineer",
    "Engineering Manager", "Solutions Architect", "QA Engineer", "iOS Engineer",
    "Android Engineer", "Technical Program Manager", "Developer Advocate", "Marketing Manager",
)  # fmt: skip
LEVELS: Final = ("", "", "", "Senior ", "Senior ", "Staff ", "Lead ", "Junior ", "Principal ")

LOCATIONS: Final = (
    "Remote", "Remote", "Remote (US)", "New York, NY", "San Francisco, CA", "Seattle, WA",
    "Austin, TX", "Boston, MA", "Chicago, IL", "Denver, CO", "Atlanta, GA", "Los Angeles, CA",
    "Toronto, ON", "Vancouver, BC", "London, UK", "Berlin, Germany", "Amsterdam, Netherlands",
    "Dublin, Ireland", "Hybrid - New York, NY", "Hybrid - San Francisco, CA",
    "Hybrid - London, UK", "Washington, DC", "Raleigh, NC", "Portland, OR", "Miami, FL",
)  # fmt: skip

CONTACT_ROLES: Final = (
    "recruiter",
    "recruiter",
    "recruiter",
    "talent_acquisition",
    "hiring_manager",
)

HUMAN_AGENTS: Final = (
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
SCANNER_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/91.0.4472.124 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/87.0.4280.88 Safari/537.36",
)
SCANNER_NETS: Final = ((40, 94), (52, 100), (148, 163), (205, 220))
CRAWLER_AGENTS: Final = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Twitterbot/1.0",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)
CRAWLER_NETS: Final = ((66, 249), (54, 209), (108, 174), (31, 13), (157, 55), (3, 91))
HEAD_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Microsoft Office Existence Discovery",
    "curl/8.5.0",
)
# First octets of public IPv4 space for human visitors (corporate and ISP ranges).
HUMAN_OCTETS: Final = (
    12, 23, 24, 38, 47, 50, 63, 64, 67, 68, 69, 71, 72, 73, 74, 75, 76, 96, 97, 98, 99,
    104, 107, 108, 136, 142, 162, 173, 174, 184, 199, 204, 208, 209, 216,
)  # fmt: skip

# (referrer, weight); None is a direct visit. The dashboard referrer is added per run.
REFERRERS: Final[tuple[tuple[str | None, int], ...]] = (
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
UTM_CAMPAIGN: Final = "job_search"
# click_source -> (P(the visitor's URL carries UTM parameters), metadata json).
UTM_BY_SOURCE: Final[Mapping[str, tuple[float, str]]] = {
    source: (
        p,
        json.dumps({"utm_source": utm_source, "utm_medium": medium, "utm_campaign": UTM_CAMPAIGN}),
    )
    for source, p, utm_source, medium in (
        ("email", 0.35, "email", "application"),
        ("linkedin", 0.3, "linkedin", "social"),
        ("direct", 0.1, "resume", "pdf"),
    )
}
EMPTY_JSON: Final = "{}"

BENCH_TIMEZONES: Final = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Toronto", "America/Sao_Paulo", "Europe/London", "Europe/Berlin", "Europe/Madrid",
    "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney", "UTC",
)  # fmt: skip


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True, slots=True)
class Company:
    name: str
    slug: str
    domain: str
    website: str


def companies() -> tuple[Company, ...]:
    out = []
    for head in COMPANY_HEADS:
        for tail, tld in COMPANY_TAILS:
            name = f"{head} {tail}"
            domain = f"{head}{tail}.{tld}".lower()
            out.append(Company(name, slug(name), domain, f"https://www.{domain}"))
    return tuple(out)


COMPANIES: Final = companies()
TITLES: Final = tuple((level + role, slug(level + role)) for role in ROLES for level in LEVELS)


def job_urls(ats: int, company: Company, title_slug: str, n: int) -> tuple[str, str]:
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


N_ATS: Final = 6


# --- time ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Calendar:
    """Local days of one timezone around ``now``: ``mids[d]`` is the epoch of local midnight."""

    mids: list[float]
    weekday0: int  # weekday of day 0, Monday = 0
    today: int  # index of now's local day
    now_sec: float  # seconds since local midnight, now


def calendar(tz: ZoneInfo, now: datetime) -> Calendar:
    first = now.astimezone(tz).date() - timedelta(days=SPAN_DAYS + 2)
    days = SPAN_DAYS + 2 + 60
    mids = [
        datetime.combine(first + timedelta(days=i), time(), tz).timestamp() for i in range(days)
    ]
    today = SPAN_DAYS + 2
    return Calendar(mids, first.weekday(), today, now.timestamp() - mids[today])


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone: {name!r}") from exc


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights``, summing exactly to ``total``."""
    scale = total / sum(weights)
    quotas = [w * scale for w in weights]
    counts = [int(q) for q in quotas]
    short = total - sum(counts)
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - quotas[i], i))
    for i in order[:short]:
        counts[i] += 1
    return counts
