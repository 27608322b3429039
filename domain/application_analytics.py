"""Rules of the application analytics (seed 003 "Application Analytics"). Pure: counts in,
funnel steps, quantiles, keywords and ranks out.

The funnel is applied -> response -> interview -> offer, each step "reached" (SPEC §2): an
application reached a step if its current status or any row of its history is at or past it.
A *response* is anything the employer did: an interview, an offer or a rejection (a withdrawal
is the applicant's own doing and is no response). Each step's conversion is over the
applications that reached the step before it, with a 95% Wilson interval and that sample size.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from fractions import Fraction
from typing import Final

from domain.stats import MIN_SAMPLE, Interval, percent, wilson_interval

__all__ = [
    "INTERVIEW_STATUSES",
    "KEYWORD_PATTERN",
    "MIN_KEYWORD_LENGTH",
    "RESPONSE_STATUSES",
    "STOPWORDS",
    "FunnelCounts",
    "FunnelStep",
    "GroupFigures",
    "Step",
    "funnel",
    "quantile",
    "rank_groups",
    "title_keywords",
    "weekly_series",
]

#: History statuses that are an employer's response.
RESPONSE_STATUSES: Final = ("interview", "offer", "rejected")
#: History statuses that mean the application reached interview (SPEC §2).
INTERVIEW_STATUSES: Final = ("interview", "offer")

#: A job title is split on anything that is not a letter, digit, '+' or '#' (C++, C#), after
#: lower-casing; PostgreSQL's ``regexp_split_to_table`` uses the same pattern.
KEYWORD_PATTERN: Final = r"[^a-z0-9+#]+"
MIN_KEYWORD_LENGTH: Final = 2
#: Words that say nothing about the kind of job.
STOPWORDS: Final[frozenset[str]] = frozenset(
    {"a", "an", "and", "at", "for", "in", "of", "on", "or", "the", "to", "with", "m", "f", "w"}
)

_SPLIT = re.compile(KEYWORD_PATTERN)


def title_keywords(title: str | None) -> set[str]:
    """The distinct keywords of a job title ("Senior Backend Engineer (Python)" ->
    {"senior", "backend", "engineer", "python"})."""
    if not title:
        return set()
    return {
        w
        for w in _SPLIT.split(title.lower())
        if len(w) >= MIN_KEYWORD_LENGTH and w not in STOPWORDS
    }


def quantile(values: Iterable[float], q: float) -> float | None:
    """The ``q`` quantile with linear interpolation between the closest ranks, as
    PostgreSQL's ``percentile_cont`` computes it; None for no values."""
    if not 0 <= q <= 1:
        raise ValueError(f"q must be within 0..1, got {q}")
    ordered = sorted(values)
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Step(Enum):
    APPLIED = "APPLIED"
    RESPONSE = "RESPONSE"
    INTERVIEW = "INTERVIEW"
    OFFER = "OFFER"


@dataclass(frozen=True, slots=True)
class FunnelCounts:
    applied: int
    responses: int
    interviews: int
    offers: int


@dataclass(frozen=True, slots=True)
class FunnelStep:
    step: Step
    applications: int
    #: Applications that reached the step before (the conversion's sample size); None for
    #: the first step.
    sample_size: int | None
    conversion_rate: float | None  # percent of the previous step that reached this one
    conversion_interval: Interval | None
    rate_from_applied: float | None  # percent of all applications


def funnel(counts: FunnelCounts) -> list[FunnelStep]:
    steps = [
        (Step.APPLIED, counts.applied),
        (Step.RESPONSE, counts.responses),
        (Step.INTERVIEW, counts.interviews),
        (Step.OFFER, counts.offers),
    ]
    out: list[FunnelStep] = []
    previous: int | None = None
    for step, n in steps:
        if previous is not None and n > previous:
            # Reached is monotone (an offer implies an interview implies a response); a count
            # that is not means the caller mixed populations.
            raise ValueError(f"{step.value} ({n}) exceeds the step before it ({previous})")
        out.append(
            FunnelStep(
                step=step,
                applications=n,
                sample_size=previous,
                conversion_rate=None if previous is None else percent(n, previous),
                conversion_interval=None if previous is None else wilson_interval(n, previous),
                rate_from_applied=percent(n, counts.applied),
            )
        )
        previous = n
    return out


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """What ranking needs of one group (a company, a title keyword)."""

    key: str
    applications: int
    interviews: int


def rank_groups(groups: Sequence[GroupFigures], min_sample: int = MIN_SAMPLE) -> dict[str, int]:
    """Ranks (1 = best) by interview rate, then size, then key, of the groups with at least
    ``min_sample`` applications; a smaller group gets no rank at all."""
    eligible = [g for g in groups if g.applications >= min_sample]
    eligible.sort(key=lambda g: (-Fraction(g.interviews, g.applications), -g.applications, g.key))
    return {g.key: i for i, g in enumerate(eligible, start=1)}


def weekly_series(counts: dict[date, int]) -> list[tuple[date, int]]:
    """Applications per week from the first week with one to the last, the weeks between
    without any included as 0 (a chart needs the gaps). Keys are the weeks' Mondays."""
    if not counts:
        return []
    first, last = min(counts), max(counts)
    out: list[tuple[date, int]] = []
    week = first
    while week <= last:
        out.append((week, counts.get(week, 0)))
        week += timedelta(days=7)
    return out
