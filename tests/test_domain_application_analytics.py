"""The rules of the application analytics, without I/O."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.application_analytics import (
    FunnelCounts,
    GroupFigures,
    Step,
    funnel,
    quantile,
    rank_groups,
    title_keywords,
    weekly_series,
)


def test_quantile_interpolates_like_percentile_cont() -> None:
    assert quantile([], 0.5) is None
    assert quantile([3.0], 0.25) == 3.0
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([4.0, 1.0, 3.0, 2.0], 0.25) == 1.75
    with pytest.raises(ValueError, match="q must be"):
        quantile([1.0], 1.5)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1), st.floats(0, 1), st.floats(0, 1))
def test_quantile_is_monotone_and_bounded(values: list[float], q1: float, q2: float) -> None:
    low, high = sorted((q1, q2))
    a, b = quantile(values, low), quantile(values, high)
    assert a is not None
    assert b is not None
    assert min(values) - 1e-6 <= a <= b + 1e-6
    assert b <= max(values) + 1e-6


def test_funnel_converts_over_the_step_before() -> None:
    steps = funnel(FunnelCounts(applied=20, responses=10, interviews=4, offers=0))
    assert [s.step for s in steps] == [Step.APPLIED, Step.RESPONSE, Step.INTERVIEW, Step.OFFER]
    assert [s.sample_size for s in steps] == [None, 20, 10, 4]
    assert [s.conversion_rate for s in steps] == [None, 50.0, 40.0, 0.0]
    assert [s.rate_from_applied for s in steps] == [100.0, 50.0, 20.0, 0.0]
    assert steps[3].conversion_interval is not None
    assert steps[3].conversion_interval.low == 0.0
    empty = funnel(FunnelCounts(0, 0, 0, 0))
    assert [s.conversion_rate for s in empty] == [None, None, None, None]
    with pytest.raises(ValueError, match="exceeds"):
        funnel(FunnelCounts(applied=3, responses=1, interviews=2, offers=0))


def test_groups_under_the_minimum_are_never_ranked() -> None:
    ranks = rank_groups(
        [
            GroupFigures("tiny", 4, 4),
            GroupFigures("b", 6, 2),
            GroupFigures("a", 6, 2),
            GroupFigures("big", 9, 3),
            GroupFigures("best", 5, 4),
        ]
    )
    # 1/3 ties: the larger group first, then the key.
    assert ranks == {"best": 1, "big": 2, "a": 3, "b": 4}


def test_title_keywords() -> None:
    assert title_keywords(None) == set()
    assert title_keywords("Senior Backend Engineer (Python), m/f/d") == {
        "senior",
        "backend",
        "engineer",
        "python",
    }
    assert title_keywords("Head of QA & UI") == {"head", "qa", "ui"}


def test_weekly_series_fills_gaps() -> None:
    assert weekly_series({}) == []
    assert weekly_series({date(2025, 3, 17): 2, date(2025, 3, 3): 1}) == [
        (date(2025, 3, 3), 1),
        (date(2025, 3, 10), 0),
        (date(2025, 3, 17), 2),
    ]
