"""Statistics and plain-language rules for the aggregate analytics (SPEC §5).

Pure: counts in, rates, intervals, buckets and sentences out. Rates are percentages
rounded half up to two places, as PostgreSQL's ``round(numeric, 2)`` rounds the views'
figures, so the API and the views agree to the last decimal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from fractions import Fraction
from typing import Final

__all__ = [
    "MIN_SAMPLE",
    "TIMING_BUCKETS",
    "Z95",
    "EngagementLevel",
    "FunctionFigures",
    "Interval",
    "TimingBucket",
    "average",
    "engagement_level",
    "median",
    "percent",
    "percent_text",
    "reach_sentence",
    "recommendations",
    "round2",
    "timing_bucket",
    "wilson_interval",
]

#: No recommendation or insight is drawn from fewer applications than this.
MIN_SAMPLE: Final = 5
#: The two-sided 95% normal quantile.
Z95: Final = 1.959963984540054


def _round(value: Fraction, places: int) -> float:
    quantum = Decimal(1).scaleb(-places)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(quantum, rounding=ROUND_HALF_UP))


def percent(part: int, whole: int) -> float | None:
    """``100 * part / whole`` rounded half up to two places; None when ``whole`` is 0."""
    if whole <= 0:
        return None
    return _round(Fraction(100 * part, whole), 2)


def round2(value: float) -> float:
    """Half up to two places, from the shortest decimal that prints ``value`` (3.995 -> 4.0)."""
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def average(total: int, count: int, places: int = 2) -> float | None:
    """``total / count`` as a real division, rounded half up; None when ``count`` is 0."""
    if count <= 0:
        return None
    return _round(Fraction(total, count), places)


@dataclass(frozen=True, slots=True)
class Interval:
    """A 95% confidence interval for a rate, in percent (two places)."""

    low: float
    high: float


def wilson_interval(successes: int, trials: int, z: float = Z95) -> Interval | None:
    """The Wilson score interval for ``successes`` out of ``trials``, in percent.

    Unlike the normal approximation it stays inside [0, 100] and is sensible for the small
    samples one account has (0 of 3 is not "0% +/- 0").
    """
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be within 0..{trials}, got {successes}")
    n = trials
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    low = max(0.0, centre - half)
    high = min(1.0, centre + half)
    # The exact ends are known: 0 successes start at 0, all successes end at 100.
    if successes == 0:
        low = 0.0
    if successes == n:
        high = 1.0
    return Interval(low=round(100 * low, 2), high=round(100 * high, 2))


def median(values: Iterable[float]) -> float | None:
    """The median (mean of the two middle values for an even count); None when empty."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    mid = n // 2
    if n % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


class EngagementLevel(Enum):
    NONE = "NONE"  # no human click
    LOW = "LOW"  # 1-2 clicks
    HIGH = "HIGH"  # 3 or more


def engagement_level(clicks: int) -> EngagementLevel:
    if clicks <= 0:
        return EngagementLevel.NONE
    if clicks <= 2:
        return EngagementLevel.LOW
    return EngagementLevel.HIGH


@dataclass(frozen=True, slots=True)
class TimingBucket:
    label: str
    low_hours: float | None  # inclusive; None: open below (clock skew may give < 0)
    high_hours: float | None  # exclusive; None: open above


TIMING_BUCKETS: Final[tuple[TimingBucket, ...]] = (
    TimingBucket("<1h", None, 1),
    TimingBucket("1-4h", 1, 4),
    TimingBucket("4-24h", 4, 24),
    TimingBucket("1-3d", 24, 72),
    TimingBucket("3-7d", 72, 168),
    TimingBucket(">7d", 168, None),
)


def timing_bucket(hours: float) -> TimingBucket:
    """The bucket of a time to first click; a bound belongs to the later bucket (4h is 4-24h)."""
    for bucket in TIMING_BUCKETS:
        if bucket.high_hours is None or hours < bucket.high_hours:
            return bucket
    raise AssertionError("the last bucket is open")  # pragma: no cover


def percent_text(rate: float) -> str:
    """A rate for a sentence: whole percent when it is whole, else two places."""
    if rate == int(rate):
        return f"{int(rate)}%"
    return f"{rate:.2f}%"


def _applications(n: int) -> str:
    return "1 application" if n == 1 else f"{n} applications"


def reach_sentence(subject: str, reached: int, total: int, *, what: str = "interview") -> str:
    """E.g. "applications whose first click came within 4 hours reached interview 31.25% of
    the time (5 of 16)". Below :data:`MIN_SAMPLE` it says there is too little data instead."""
    if total < MIN_SAMPLE:
        return (
            f"Too few {subject} ({total}) to say how often they reach {what}; "
            f"insights need at least {MIN_SAMPLE}."
        )
    rate = percent(reached, total)
    assert rate is not None
    return (
        f"{subject[0].upper()}{subject[1:]} reached {what} {percent_text(rate)} of the time "
        f"({reached} of {total})."
    )


@dataclass(frozen=True, slots=True)
class FunctionFigures:
    """What a recommendation needs to know about one link function."""

    name: str
    applications_with_link: int
    applications_with_clicks: int
    interviews: int  # applications with the link that reached interview
    clicked_interviews: int  # ... among those whose link was clicked


def recommendations(functions: Sequence[FunctionFigures]) -> list[str]:
    """Plain-language advice; never drawn from fewer than :data:`MIN_SAMPLE` applications."""
    eligible = [f for f in functions if f.applications_with_link >= MIN_SAMPLE]
    if not eligible:
        return [
            f"Not enough data yet: recommendations need at least {MIN_SAMPLE} applications "
            "that carry a link type."
        ]
    out: list[str] = []

    def rate(f: FunctionFigures) -> Fraction:
        return Fraction(f.interviews, f.applications_with_link)

    ranked = sorted(eligible, key=lambda f: (-rate(f), -f.applications_with_link, f.name))
    best = ranked[0]
    best_rate = percent(best.interviews, best.applications_with_link)
    if len(ranked) >= 2 and best.interviews > 0:
        runner = ranked[1]
        best_iv = wilson_interval(best.interviews, best.applications_with_link)
        runner_iv = wilson_interval(runner.interviews, runner.applications_with_link)
        assert best_iv is not None
        assert runner_iv is not None
        assert best_rate is not None
        if best_iv.low > runner_iv.high:
            out.append(
                f"{best.name} links show the highest interview conversion "
                f"({percent_text(best_rate)} of {best.applications_with_link} applications "
                "with one reached interview), clearly ahead of the rest - give them prominent "
                "placement."
            )
        else:
            out.append(
                f"{best.name} links lead on interview conversion "
                f"({percent_text(best_rate)} of {best.applications_with_link} applications), "
                f"but not clearly ahead of {runner.name} yet - keep both and collect more data."
            )
    overall_rate = {f.name: rate(f) for f in eligible}
    for f in sorted(eligible, key=lambda f: f.name):
        if f.applications_with_clicks >= MIN_SAMPLE:
            clicked = Fraction(f.clicked_interviews, f.applications_with_clicks)
            if clicked > overall_rate[f.name]:
                clicked_rate = percent(f.clicked_interviews, f.applications_with_clicks)
                base_rate = percent(f.interviews, f.applications_with_link)
                assert clicked_rate is not None
                assert base_rate is not None
                out.append(
                    f"When the {f.name} link was clicked, {percent_text(clicked_rate)} of "
                    f"applications reached interview (against {percent_text(base_rate)} for all "
                    f"with the link) - follow up within 24 hours of a {f.name} click."
                )
        click_rate = percent(f.applications_with_clicks, f.applications_with_link)
        assert click_rate is not None
        if click_rate < 10:
            out.append(
                f"{f.name} links were clicked in only {percent_text(click_rate)} of "
                f"{f.applications_with_link} applications - consider relabelling or dropping them."
            )
    if not out:
        out.append("No link type stands out yet: interview rates are similar across link types.")
    return out
