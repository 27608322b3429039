"""domain.stats: rates, Wilson intervals, medians, buckets and recommendation rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.stats import (
    EngagementLevel,
    FunctionFigures,
    Interval,
    average,
    engagement_level,
    median,
    percent,
    percent_text,
    reach_sentence,
    recommendations,
    round2,
    timing_bucket,
    wilson_interval,
)


def test_percent_is_a_real_division_rounded_half_up() -> None:
    assert percent(1, 3) == 33.33
    assert percent(2, 3) == 66.67
    assert percent(1, 8) == 12.5
    assert percent(1, 400) == 0.25
    assert percent(1, 800) == 0.13  # 0.125 rounds half up, as PostgreSQL's round(numeric)
    assert percent(0, 0) is None
    assert average(3, 5) == 0.6  # the seed's integer division gave 0
    assert average(11, 6) == 1.83
    assert average(1, 0) is None


def test_wilson_interval_by_hand() -> None:
    # 1 of 2: z^2 = 3.8415; centre (0.5 + 0.9604) / 2.9207 = 0.5; half 0.4055
    assert wilson_interval(1, 2) == Interval(9.45, 90.55)
    assert wilson_interval(3, 6) == Interval(18.76, 81.24)
    assert wilson_interval(0, 10) == Interval(0.0, 27.75)
    assert wilson_interval(10, 10) == Interval(72.25, 100.0)
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(3, 2)


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_contains_the_rate(pair: tuple[int, int]) -> None:
    k, n = pair
    found = wilson_interval(k, n)
    assert found is not None
    rate = 100 * k / n
    assert 0.0 <= found.low <= rate + 0.005
    assert rate - 0.005 <= found.high <= 100.0


def test_median_and_rounding() -> None:
    assert median([]) is None
    assert median([5.0]) == 5.0
    assert median([30.0, 0.5, 5.0]) == 5.0
    assert median([1.0, 4.0, 2.0, 10.0]) == 3.0
    assert round2(3.995) == 4.0
    assert round2(2.344999) == 2.34


def test_engagement_levels() -> None:
    assert [engagement_level(n) for n in (0, 1, 2, 3, 40)] == [
        EngagementLevel.NONE,
        EngagementLevel.LOW,
        EngagementLevel.LOW,
        EngagementLevel.HIGH,
        EngagementLevel.HIGH,
    ]


@pytest.mark.parametrize(
    ("hours", "label"),
    [
        (-0.5, "<1h"),
        (0.0, "<1h"),
        (0.99, "<1h"),
        (1.0, "1-4h"),
        (3.99, "1-4h"),
        (4.0, "4-24h"),
        (24.0, "1-3d"),
        (71.99, "1-3d"),
        (72.0, "3-7d"),
        (168.0, ">7d"),
        (10_000.0, ">7d"),
    ],
)
def test_timing_buckets(hours: float, label: str) -> None:
    assert timing_bucket(hours).label == label


def test_sentences() -> None:
    assert percent_text(31.0) == "31%"
    assert percent_text(31.25) == "31.25%"
    assert reach_sentence("applications whose first click came within 4 hours", 5, 16) == (
        "Applications whose first click came within 4 hours reached interview 31.25% of the "
        "time (5 of 16)."
    )
    assert reach_sentence("applications with 3 or more clicks", 1, 4) == (
        "Too few applications with 3 or more clicks (4) to say how often they reach interview; "
        "insights need at least 5."
    )


def test_recommendations_never_from_fewer_than_five() -> None:
    tiny = FunctionFigures("Calendly", 4, 4, 4, 4)
    assert recommendations([tiny]) == [
        "Not enough data yet: recommendations need at least 5 applications that carry a link type."
    ]
    # The 4-application function is left out even though it converts best.
    out = recommendations([tiny, FunctionFigures("LinkedIn", 10, 5, 2, 2)])
    assert all("Calendly" not in line for line in out)


def test_recommendations_rules() -> None:
    out = recommendations(
        [
            # 18 of 20 (Wilson 69.90..97.21) clearly beats 2 of 20 (2.79..30.10).
            FunctionFigures("Calendly", 20, 15, 18, 13),  # clicked: 86.67% < 90%
            FunctionFigures("LinkedIn", 20, 10, 2, 2),
            FunctionFigures("Portfolio", 30, 1, 6, 1),
        ]
    )
    assert out == [
        "Calendly links show the highest interview conversion (90% of 20 applications with "
        "one reached interview), clearly ahead of the rest - give them prominent placement.",
        "When the LinkedIn link was clicked, 20% of applications reached interview (against "
        "10% for all with the link) - follow up within 24 hours of a LinkedIn click.",
        "Portfolio links were clicked in only 3.33% of 30 applications - consider relabelling "
        "or dropping them.",
    ]
