"""The shortcut score used for the calibration history agrees with domain.metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.engagement_facts import (
    PastApplication,
    engagement_score_as_of,
    facts_from_clicks,
    past_as_of,
    to_history_point,
)
from domain.metrics import ClickEvent, compute_metrics

APPLIED = datetime(2025, 3, 28, 22, 30, tzinfo=UTC)  # a Friday night: weekends and DST nearby
FUNCTIONS = ["LinkedIn", "Calendly", "Portfolio", "Apply_Now"]

clicks_strategy = st.lists(
    st.tuples(st.sampled_from(FUNCTIONS), st.integers(min_value=-3600, max_value=10 * 86400)),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(
    clicks=clicks_strategy,
    as_of_hours=st.integers(min_value=0, max_value=300),
    tz=st.sampled_from(["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"]),
)
def test_shortcut_score_equals_compute_metrics(
    clicks: list[tuple[str, int]], as_of_hours: int, tz: str
) -> None:
    events = [
        ClickEvent(f"c{i}", APPLIED + timedelta(seconds=s), f) for i, (f, s) in enumerate(clicks)
    ]
    as_of = APPLIED + timedelta(hours=as_of_hours)
    zone = ZoneInfo(tz)
    full = compute_metrics(applied_at=APPLIED, clicks=events, as_of=as_of, tz=zone)
    assert engagement_score_as_of(applied_at=APPLIED, clicks=events, as_of=as_of, tz=zone) == (
        full.engagement_score,
        full.total_click_events,
    )


def test_history_is_scored_before_the_first_interview() -> None:
    app = PastApplication(
        application_id="a",
        created_at=APPLIED,
        reached_interview=True,
        first_interview_at=APPLIED + timedelta(days=2),
        clicks=(
            ClickEvent("1", APPLIED + timedelta(hours=5), "Portfolio"),
            ClickEvent("2", APPLIED + timedelta(days=3), "Calendly"),  # after the interview
        ),
    )
    assert past_as_of(app, timedelta(days=21)) == APPLIED + timedelta(days=2)
    assert past_as_of(app, timedelta(days=1)) == APPLIED + timedelta(days=1)
    point = to_history_point(app, horizon=timedelta(days=21), tz=ZoneInfo("UTC"))
    # Portfolio 5h after applying, on Saturday 03:30 UTC: 10 + weekend 20 (no Calendly 40)
    assert point.engagement_score == 30
    assert point.days_to_interview == Decimal("2.0000")


def test_facts_of_a_calendly_click() -> None:
    facts = facts_from_clicks(
        applied_at=APPLIED,
        clicks=[ClickEvent("1", APPLIED + timedelta(minutes=90), "Calendly")],
        as_of=APPLIED + timedelta(days=2, hours=12),
        tz=ZoneInfo("UTC"),
        status="applied",
    )
    assert facts.calendly_hours_after_applying == Decimal("1.50")
    assert facts.days_since_applied == Decimal("2.5000")
    assert facts.total_click_events == 1
