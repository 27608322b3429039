"""The row generator: a deterministic stream of batches of rows for every demo table.

Everything is drawn from ``random.Random(seed)`` (the content) and from a second
``random.Random`` salted with the seed and the account id (identifiers: uuids, tracking ids,
session ids), so the same seed, ``now`` and account give identical rows, and two accounts
seeded with the same seed hold the same data under different ids. Identifiers carry a
per-run counter (uuid version 4 layout, random prefix, counter in the middle, random tail;
``lt_`` tracking ids from a random start and odd stride): unique within a run, practically
unique across runs, and in index order, which keeps the primary key and tracking indexes
append-only at a million applications.
"""

from __future__ import annotations

import random
import uuid
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import IPv4Address
from itertools import accumulate
from math import exp as _exp
from math import log as _log
from typing import Final
from urllib.parse import urlsplit

from asyncpg.pgproto.pgproto import UUID as _PgUUID  # a uuid.UUID that asyncpg copies fast

from demo.distributions import (
    APPLY_HOURS,
    APPLY_WEEKDAY,
    BENCH_TIMEZONES,
    BOT_CLICKS_PER_APPLICATION,
    CAL_WINDOW,
    CALENDLY,
    CLICK_MULTIPLIER,
    COMBOS,
    COMPANIES,
    CONTACT_ROLES,
    CRAWLER_AGENTS,
    CRAWLER_NETS,
    CUM_WEIGHTS,
    DAY,
    DRIVING_WINDOW,
    EMPTY_JSON,
    ENGAGED,
    FAST_FIRST_CLICK,
    FIRST_CLICK_MU,
    FIRST_CLICK_SIGMA,
    FIRST_NAMES,
    HEAD_AGENTS,
    HOUR,
    HUMAN_AGENTS,
    HUMAN_OCTETS,
    INTEREST_CUTS,
    LAST_NAMES,
    LINK_SPECS,
    LOCATIONS,
    N_ATS,
    P_CRAWLER,
    P_DNT_VISITOR,
    P_HEAD,
    P_OPTIONAL,
    P_SCANNER_BURST,
    REFERRERS,
    SCANNER_AGENTS,
    SCANNER_NETS,
    SPAN_DAYS,
    TITLES,
    UTM_BY_SOURCE,
    WORK_HOURS,
    Calendar,
    calendar,
    job_urls,
    largest_remainder,
    zone,
)
from demo.email import contact_emails, judged
from demo.rows import (
    ApplicationRow,
    ClickRow,
    ContactRow,
    EventRow,
    HistoryRow,
    JobRow,
    LinkRow,
)
from domain.bots import REASON_CRAWLER_USER_AGENT, REASON_HEAD_REQUEST, REASON_SCANNER_BURST
from domain.sources import detect_click_source

# --- identifiers -----------------------------------------------------------------------

MASK48: Final = (1 << 48) - 1
MASK32: Final = (1 << 32) - 1
UUID_V4_VARIANT: Final = 4 << 76 | 2 << 62  # version 4, RFC 4122 variant


class Ids:
    """Opaque identifiers, deterministic per salt, unique within a run, in index order.

    A uuid is a 16-bit run prefix, a 32-bit counter, the version 4 and variant bits and 62
    random bits; callers reserve a block of counters per application and build the uuids
    inline (``make_uuid``), the hot path of the generator.
    """

    __slots__ = ("_n", "_tid", "_tid_step", "bits", "hi")

    def __init__(self, salt: str) -> None:
        rng = random.Random(salt)
        self.bits = rng.getrandbits
        self.hi = rng.getrandbits(16) << 112 | UUID_V4_VARIANT
        self._n = 0
        self._tid = rng.getrandbits(48)
        self._tid_step = rng.getrandbits(12) | 1  # odd: the sequence mod 2**48 never repeats

    def reserve(self, count: int) -> int:
        """The first of ``count`` unused counters; ``hi`` may change (a fresh prefix)."""
        n = self._n
        if n + count > MASK32:
            self.hi = self.bits(16) << 112 | UUID_V4_VARIANT
            n = 0
        self._n = n + count
        return n

    def uuid(self) -> uuid.UUID:
        return make_uuid(self.hi, self.reserve(1), self.bits(62))

    def tracking_id(self) -> str:
        value = self._tid
        self._tid = (value + self._tid_step) & MASK48
        return f"lt_{value:012x}"

    def session_id(self) -> str:
        return f"sess_{self.bits(64):016x}"

    def message_id(self) -> str:
        return f"em_{self.bits(64):016x}"


def make_uuid(hi: int, n: int, tail: int) -> uuid.UUID:
    result: uuid.UUID = _PgUUID((hi | n << 80 | tail).to_bytes(16))
    return result


# --- generation ------------------------------------------------------------------------


@dataclass(slots=True)
class Batch:
    jobs: list[JobRow] = field(default_factory=list)
    applications: list[ApplicationRow] = field(default_factory=list)
    history: list[HistoryRow] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)
    clicks: list[ClickRow] = field(default_factory=list)
    contacts: list[ContactRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    bot_clicks: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    """One account to fill."""

    account_id: uuid.UUID
    timezone: str
    profile: tuple[str, str, str]  # LinkedIn, Calendly, Portfolio URLs
    applications: int


# A visitor: (session_id, ip, user_agent, referrer, click_source, metadata json)
Visitor = tuple[str, int | str | None, str | None, str | None, str, str]


class Generator:
    """The content stream. Not thread-safe; one thread at a time drives ``batches``."""

    def __init__(
        self,
        *,
        seed: int,
        ids: Ids,
        now: datetime,
        clicks_per_application: float,
        public_base_url: str,
    ) -> None:
        self._rng = random.Random(seed)
        # The email events (demo/email.py) draw from a stream of their own, so a change to
        # them never moves the clicks and outcomes drawn after them.
        self._email_rng = random.Random(f"linkinsights-demo-email:{seed}")
        self._rnd = self._rng.random
        self._ids = ids
        self._now = now.timestamp()
        self._now_dt = now
        self._track_base = public_base_url.rstrip("/") + "/track/"
        host = urlsplit(public_base_url).netloc
        dashboard = public_base_url.rstrip("/") + "/dashboard"
        referrers = [*REFERRERS, (dashboard, 1)]
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
                ENGAGED,
                (INTEREST_CUTS[0], INTEREST_CUTS[1] - INTEREST_CUTS[0], 1 - INTEREST_CUTS[1]),
                strict=True,
            )
        ]
        # (x 1.06: the clicks that would fall after `now` are never made.)
        human = max(clicks_per_application - BOT_CLICKS_PER_APPLICATION, 0.0) * 1.06
        per_engaged = human / sum(engaged)
        # Fewer bots when even they would exceed the mean (0 clicks per application: none).
        bot_scale = min(clicks_per_application / BOT_CLICKS_PER_APPLICATION, 1.0)
        self._p_bots = tuple(p * bot_scale for p in (P_SCANNER_BURST, P_CRAWLER, P_HEAD))
        # Below one click per engaged application, fewer applications are engaged instead.
        self._engaged = tuple(p * min(per_engaged, 1.0) for p in ENGAGED)
        per_engaged = max(per_engaged, 1.0)
        norm = sum(e * m for e, m in zip(engaged, CLICK_MULTIPLIER, strict=True)) / sum(engaged)
        self._clicks_mean = tuple(per_engaged * m / norm for m in CLICK_MULTIPLIER)
        self._calendars: dict[str, Calendar] = {}
        self._cal = Calendar([], 0, 0, 0.0)
        self._account_id = uuid.UUID(int=0)
        self._profile: tuple[str, str, str] = ("", "", "")

    # -- accounts --

    def person(self) -> tuple[str, str]:
        first = FIRST_NAMES[int(self._rnd() * len(FIRST_NAMES))]
        return first, LAST_NAMES[int(self._rnd() * len(LAST_NAMES))]

    def profile_links(self) -> dict[str, str]:
        first, last = self.person()
        slug = f"{first}-{last}".lower()
        return {
            "LinkedIn": f"https://www.linkedin.com/in/{slug}",
            "Calendly": f"https://calendly.com/{slug}/30min",
            "Portfolio": f"https://{first.lower()}{last.lower()}.dev",
        }

    def pick_timezone(self) -> str:
        return BENCH_TIMEZONES[int(self._rnd() * len(BENCH_TIMEZONES))]

    # -- the stream --

    def batches(self, plans: Sequence[Plan], batch_applications: int) -> Iterator[Batch]:
        batch = Batch()
        for plan in plans:
            cal = self._calendars.get(plan.timezone)
            if cal is None:
                cal = self._calendars[plan.timezone] = calendar(zone(plan.timezone), self._now_dt)
            self._cal = cal
            self._account_id = plan.account_id
            self._profile = plan.profile
            for created in self._application_times(plan.applications):
                self._application(batch, created)
                if len(batch.applications) >= batch_applications:
                    yield batch
                    batch = Batch()
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
            w = APPLY_WEEKDAY[(cal.weekday0 + d) % 7] * (0.6 + 0.8 * rnd())
            if d == cal.today:
                w *= cal.now_sec / DAY
            weights.append(w)
        hours = APPLY_HOURS
        n_hours = len(hours)
        for d, k in zip(
            range(first, cal.today + 1), largest_remainder(count, weights), strict=True
        ):
            if not k:
                continue
            if d == cal.today:
                secs = sorted(rnd() * cal.now_sec for _ in range(k))
            else:
                secs = sorted(hours[int(rnd() * n_hours)] * HOUR + rnd() * HOUR for _ in range(k))
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
        elif sec < 8 * HOUR:
            if r < 0.85:
                sec = self._work_second()
        elif sec >= 19 * HOUR and r < 0.85:
            d += 3 if weekday == 4 else 1
            sec = self._work_second()
        return mids[d] + sec

    def _work_second(self) -> float:
        rnd = self._rnd
        return WORK_HOURS[int(rnd() * len(WORK_HOURS))] * HOUR + rnd() * HOUR

    def _visitor(self) -> Visitor:
        rnd = self._rnd
        i = bisect_right(self._referrer_cum, rnd() * self._referrer_cum[-1])
        referrer, source = self._referrers[i]
        utm = UTM_BY_SOURCE.get(source)
        meta = utm[1] if utm is not None and rnd() < utm[0] else EMPTY_JSON
        session = self._ids.session_id()
        if rnd() < P_DNT_VISITOR:  # Do Not Track: the click counts, no IP or user agent
            return (session, None, None, referrer, source, meta)
        agent = HUMAN_AGENTS[int(rnd() * len(HUMAN_AGENTS))]
        ip: int | str
        if rnd() < 0.08:
            bits = self._rng.getrandbits(48)
            ip = (
                f"2600:{bits >> 32:x}:{bits >> 16 & 0xFFFF:x}:{bits & 0xFFFF:x}::{bits % 251 + 1:x}"
            )
        else:
            ip = HUMAN_OCTETS[int(rnd() * len(HUMAN_OCTETS))] << 24 | self._rng.getrandbits(24)
        return (session, ip, agent, referrer, source, meta)

    def _application(self, b: Batch, created: float) -> None:
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
        interest = 0 if r < INTEREST_CUTS[0] else 1 if r < INTEREST_CUTS[1] else 2
        n_clicks = 0
        if rnd() < self._engaged[interest]:
            mean = self._clicks_mean[interest]
            n_clicks = 1 if mean <= 1.0 else 1 + int((0.5 - mean) * _log(1.0 - rnd()))
        # Ids used below: 2 + clicks + bots (<= 6 + 3 + 2) + contacts (<= 2) + email events
        # (<= 2 x 16, demo/email.py).
        n = ids.reserve(n_clicks + 50)
        hi = ids.hi

        # Job and application.
        app_id = make_uuid(hi, n, bits(62))
        job_id = make_uuid(hi, n + 1, bits(62))
        n += 2
        company = COMPANIES[int(rnd() * len(COMPANIES))]
        title, title_slug = TITLES[int(rnd() * len(TITLES))]
        location = LOCATIONS[int(rnd() * len(LOCATIONS))]
        job_url, apply_url = job_urls(int(rnd() * N_ATS), company, title_slug, content_bits(40))
        created_dt = fromts(created, UTC)
        job_created = fromts(created - 60.0 - rnd() * 6 * HOUR, UTC)
        b.jobs.append(
            JobRow(
                id=job_id,
                account_id=account_id,
                title=title,
                company=company.name,
                url=job_url,
                location=location,
                created_at=job_created,
            )
        )

        # The standard link package: three profile links, plus some of the job's own.
        combo = (
            (1 if rnd() < P_OPTIONAL[0] else 0)
            | (2 if rnd() < P_OPTIONAL[1] else 0)
            | (4 if rnd() < P_OPTIONAL[2] else 0)
        )
        specs = COMBOS[combo]
        originals = (*self._profile, company.website, apply_url, job_url)
        tids: list[str] = []
        links_append = b.links.append
        track_base = self._track_base
        for i in specs:
            tid = ids.tracking_id()
            tids.append(tid)
            function, link_type, description = LINK_SPECS[i]
            links_append(
                LinkRow(
                    tracking_id=tid,
                    account_id=account_id,
                    job_id=job_id,
                    application_id=app_id,
                    link_function=function,
                    link_type=link_type,
                    original_url=originals[i],
                    redirect_url=track_base + tid,
                    created_at=created_dt,
                    created_by="system",
                    is_active=True,
                    description=description,
                )
            )

        # Human clicks: visits by up to three visitors, the first one log-normally delayed,
        # each moved (mostly) into the account's business hours.
        first_ts = 0.0
        last_driving = 0.0
        n_driving = 0
        calendly_ts = 0.0
        first_tid = ""
        first_visitor: Visitor | None = None
        clicks_append = b.clicks.append
        if n_clicks:
            cum = CUM_WEIGHTS[interest][combo]
            total_weight = cum[-1]
            visit_extra = max(n_clicks / 6.0, 1.3) - 1.0  # mean clicks per visit, minus one
            t = humanize(created + HOUR * _exp(gauss(FIRST_CLICK_MU[interest], FIRST_CLICK_SIGMA)))
            visitors: list[Visitor] = []
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
                        ClickRow(
                            click_id=make_uuid(hi, n, bits(62)),
                            tracking_id=tid,
                            clicked_at=fromts(t, UTC),
                            ip_address=ip,
                            user_agent=agent,
                            referrer_url=referrer,
                            session_id=session,
                            click_source=source,
                            metadata=meta,
                            is_bot=False,
                            bot_reason=None,
                            request_method="GET",
                        )
                    )
                    n += 1
                    done += 1
                    if not first_ts:
                        first_ts = t
                        first_tid = tid
                        first_visitor = visitor
                    if t - first_ts <= DRIVING_WINDOW:
                        n_driving += 1
                        last_driving = t
                    if specs[li] == CALENDLY and not calendly_ts and t - first_ts <= CAL_WINDOW:
                        calendly_ts = t
                    # Never two links of one session within seconds: that is a scanner burst.
                    t += 15.0 - 75.0 * _log(1.0 - rnd())
                t = humanize(t + HOUR * _exp(gauss(2.9, 1.1)))  # next visit, median ~18 h

        # Bots: an email-security scanner opening every link on delivery, crawlers, HEAD probes.
        p_bots = self._p_bots
        if rnd() < p_bots[0]:
            t0 = created + 2.0 + rnd() * 900.0
            if t0 + 3.0 <= now:
                span = 1.0 + 2.0 * rnd()
                net = SCANNER_NETS[int(rnd() * len(SCANNER_NETS))]
                ip_burst = net[0] << 24 | net[1] << 16 | content_bits(16)
                agent = SCANNER_AGENTS[int(rnd() * len(SCANNER_AGENTS))]
                offsets = sorted(rnd() * span for _ in tids)
                offsets[0] = 0.0
                offsets[-1] = span
                for tid, off in zip(tids, offsets, strict=True):
                    clicks_append(
                        ClickRow(
                            click_id=make_uuid(hi, n, bits(62)),
                            tracking_id=tid,
                            clicked_at=fromts(t0 + off, UTC),
                            ip_address=ip_burst,
                            user_agent=agent,
                            referrer_url=None,
                            session_id=None,
                            click_source="direct",
                            metadata=EMPTY_JSON,
                            is_bot=True,
                            bot_reason=REASON_SCANNER_BURST,
                            request_method="GET",
                        )
                    )
                    n += 1
                b.bot_clicks += len(tids)
        if rnd() < p_bots[1]:
            net = CRAWLER_NETS[int(rnd() * len(CRAWLER_NETS))]
            agent = CRAWLER_AGENTS[int(rnd() * len(CRAWLER_AGENTS))]
            for _ in range(1 + int(rnd() * 3)):
                t = created + 60.0 + rnd() * (now - created)
                if t > now:
                    continue
                clicks_append(
                    ClickRow(
                        click_id=make_uuid(hi, n, bits(62)),
                        tracking_id=tids[int(rnd() * 3)],
                        clicked_at=fromts(t, UTC),
                        ip_address=net[0] << 24 | net[1] << 16 | content_bits(16),
                        user_agent=agent,
                        referrer_url=None,
                        session_id=None,
                        click_source="direct",
                        metadata=EMPTY_JSON,
                        is_bot=True,
                        bot_reason=REASON_CRAWLER_USER_AGENT,
                        request_method="GET",
                    )
                )
                n += 1
                b.bot_clicks += 1
        if rnd() < p_bots[2]:
            agent = HEAD_AGENTS[int(rnd() * len(HEAD_AGENTS))]
            ip_head = HUMAN_OCTETS[int(rnd() * len(HUMAN_OCTETS))] << 24 | content_bits(24)
            for _ in range(1 + int(rnd() * 2)):
                t = created + 10.0 + rnd() * HOUR
                if t > now:
                    continue
                clicks_append(
                    ClickRow(
                        click_id=make_uuid(hi, n, bits(62)),
                        tracking_id=tids[int(rnd() * len(tids))],
                        clicked_at=fromts(t, UTC),
                        ip_address=ip_head,
                        user_agent=agent,
                        referrer_url=None,
                        session_id=None,
                        click_source="direct",
                        metadata=EMPTY_JSON,
                        is_bot=True,
                        bot_reason=REASON_HEAD_REQUEST,
                        request_method="HEAD",
                    )
                )
                n += 1
                b.bot_clicks += 1

        # Outcome: engagement raises the odds of an interview, which follows the clicks that
        # drove it (the first Calendly click, else the last click of the first three days).
        history: list[tuple[str, float]] = [("applied", created)]
        if n_driving:
            p_interview = 0.04 + 0.025 * min(n_driving, 8)
            if calendly_ts:
                p_interview += 0.38
            if first_ts - created <= FAST_FIRST_CLICK:
                p_interview += 0.12
            decisive = calendly_ts or last_driving
        else:
            p_interview = 0.03
            decisive = created + DAY * _exp(gauss(2.3, 0.6))  # median ~10 days
        if rnd() < min(p_interview, 0.9):
            interview = humanize(decisive + HOUR * max(_exp(gauss(3.4, 0.8)), 1.0))  # ~30 h
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
                    when = humanize(interview + DAY * delay)
                    if when <= now:
                        history.append((status, when))
        else:
            r = rnd()
            if r < 0.55:
                when = humanize(created + DAY * max(_exp(gauss(2.6, 0.6)), 2.0))  # ~2 weeks
                if when <= now:
                    history.append(("rejected", when))
            elif r < 0.59:
                when = humanize(created + DAY * (3.0 + 40.0 * rnd()))
                if when <= now:
                    history.append(("withdrawn", when))
        history_append = b.history.append
        when_dt = created_dt
        for status, when in history:
            when_dt = created_dt if when == created else fromts(when, UTC)
            history_append(HistoryRow(application_id=app_id, status=status, changed_at=when_dt))
        b.applications.append(
            ApplicationRow(
                id=app_id,
                account_id=account_id,
                job_id=job_id,
                status=history[-1][0],
                created_at=created_dt,
                updated_at=when_dt,
            )
        )

        # Who received it, and what the mail system saw (demo/email.py).
        interview_at = next((when for status, when in history if status == "interview"), None)
        urls = tuple(self._track_base + tid for tid in tids)
        for c in range(2 if rnd() < 0.3 else 1):
            first, last = self.person()
            role = "hiring_manager" if c else CONTACT_ROLES[int(rnd() * len(CONTACT_ROLES))]
            contact_id = make_uuid(hi, n, bits(62))
            n += 1
            pixel_id = f"eo_{bits(64):016x}{bits(32):08x}"
            b.contacts.append(
                ContactRow(
                    id=contact_id,
                    application_id=app_id,
                    email=f"{first}.{last}@{company.domain}".lower(),
                    name=f"{first} {last}",
                    role=role,
                    created_at=created_dt,
                    email_tracking_id=pixel_id,
                )
            )
            clicked = None
            if c == 0 and first_visitor is not None:
                agent, ip = first_visitor[2], first_visitor[1]
                ip_text = ip if ip is None or isinstance(ip, str) else str(IPv4Address(ip))
                clicked = (first_ts, self._track_base + first_tid, agent, ip_text)
            n = self._email_events(
                b, hi, n, contact_id, created, pixel_id, urls, interview_at, clicked
            )

    def _email_events(
        self,
        b: Batch,
        hi: int,
        n: int,
        contact_id: uuid.UUID,
        created: float,
        pixel_id: str,
        urls: tuple[str, ...],
        interview_at: float | None,
        clicked: tuple[float, str, str | None, str | None] | None,
    ) -> int:
        """The contact's email events (demo/email.py) with the verdicts of the ingestion
        rules; returns ``n``."""
        bits = self._ids.bits
        fromts = datetime.fromtimestamp
        events = contact_emails(
            self._email_rng,
            created=created,
            now=self._now,
            message_id=self._ids.message_id(),
            pixel_id=pixel_id,
            links=urls,
            interview_at=interview_at,
            clicked=clicked,
        )
        for e, verdict in judged(events):
            when = fromts(e.at, UTC)
            b.events.append(
                EventRow(
                    id=make_uuid(hi, n, bits(62)),
                    campaign_contact_id=contact_id,
                    event_type=e.kind,
                    event_data=e.data,
                    event_timestamp=when,
                    tracking_id=e.tracking_id,
                    user_agent=e.user_agent,
                    ip_address=e.ip_address,
                    clicked_url=e.clicked_url,
                    created_at=when,
                    is_machine=verdict.is_machine,
                    machine_reason=verdict.reason,
                )
            )
            n += 1
        return n
