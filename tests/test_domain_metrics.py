"""Unit and property tests for domain.metrics (SPEC §4): no I/O.

Expected values are worked out by hand in the comments next to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.metrics import (
    ApplicationMetrics,
    ClickEvent,
    ExactNumber,
    RuleHit,
    Score,
    compute_metrics,
    engagement_score,
    intent_score,
    round_half_up,
)

NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
FUNCTIONS = ("LinkedIn", "Calendly", "Portfolio", "Company_Website", "Apply_Now")

# A Wednesday, so a click a few hours later is not on a weekend in UTC.
WEDNESDAY_9AM = datetime(2026, 1, 7, 9, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def click(
    at: datetime, function: str = "Portfolio", click_id: str = "", session: str | None = None
) -> ClickEvent:
    return ClickEvent(
        click_id=click_id or f"id-{at.isoformat()}-{function}",
        clicked_at=at,
        link_function=function,
        session_id=session,
    )


def metrics(
    clicks: Sequence[ClickEvent],
    *,
    applied_at: datetime = WEDNESDAY_9AM,
    as_of: datetime | None = None,
    tz: tzinfo = UTC,
) -> ApplicationMetrics:
    return compute_metrics(
        applied_at=applied_at,
        clicks=clicks,
        as_of=as_of if as_of is not None else applied_at + timedelta(days=10),
        tz=tz,
    )


def rules(score: Score) -> dict[str, int]:
    return {hit.rule: hit.points for hit in score.hits}


# --------------------------------------------------------------------- engagement score


# A late (30 h) Wednesday click on the portfolio earns only the base 10 points; each row
# changes one input from that baseline.
BASE: dict[str, Any] = {
    "total": 1,
    "sequence": ("Portfolio",),
    "unique": 1,
    "hours": 30,
    "days": (3,),
}


@pytest.mark.parametrize(
    ("changes", "expected_hits"),
    [
        pytest.param(
            {"total": 0, "sequence": (), "unique": 0, "hours": None, "days": ()},
            {},
            id="no-clicks",
        ),
        pytest.param({}, {"any_click": 10}, id="any-click"),
        pytest.param({"sequence": ("LinkedIn",)}, {"any_click": 10, "linkedin": 25}, id="linkedin"),
        pytest.param({"sequence": ("Calendly",)}, {"any_click": 10, "calendly": 40}, id="calendly"),
        # 2 clicks, 1 function: 1 repeat * 5
        pytest.param(
            {"total": 2, "sequence": ("Portfolio",) * 2},
            {"any_click": 10, "repeat_clicks": 5},
            id="repeat-1",
        ),
        # 4 clicks, 1 function: 3 repeats * 5 = 15, exactly the cap
        pytest.param(
            {"total": 4, "sequence": ("Portfolio",) * 4},
            {"any_click": 10, "repeat_clicks": 15},
            id="repeat-3-at-cap",
        ),
        # 6 clicks, 1 function: 5 repeats * 5 = 25, capped at 15
        pytest.param(
            {"total": 6, "sequence": ("Portfolio",) * 6},
            {"any_click": 10, "repeat_clicks": 15},
            id="repeat-5-capped",
        ),
        # a first click at 0 hours is quick: 0 is not null (the seed's truthiness defect)
        pytest.param({"hours": 0}, {"any_click": 10, "quick_response": 30}, id="quick-0h"),
        pytest.param(
            {"hours": Decimal("3.99")}, {"any_click": 10, "quick_response": 30}, id="quick-3.99h"
        ),
        # 4 h minus one microsecond: still < 4
        pytest.param(
            {"hours": Fraction(4 * 3_600_000_000 - 1, 3_600_000_000)},
            {"any_click": 10, "quick_response": 30},
            id="quick-just-under-4h",
        ),
        # exactly 4 hours is not < 4
        pytest.param({"hours": 4}, {"any_click": 10}, id="not-quick-exactly-4h"),
        pytest.param({"hours": 4.0}, {"any_click": 10}, id="not-quick-4.0-float"),
        # bad data, a click before the application: compared as a number, so quick
        pytest.param(
            {"hours": -1}, {"any_click": 10, "quick_response": 30}, id="negative-hours-quick"
        ),
        pytest.param({"days": (0,)}, {"any_click": 10, "weekend": 20}, id="weekend-sunday-0"),
        pytest.param({"days": (6,)}, {"any_click": 10, "weekend": 20}, id="weekend-saturday-6"),
        # Friday (5) is not a weekend day: the seed PRD's [5, 6] was a defect
        pytest.param({"days": (5,)}, {"any_click": 10}, id="not-weekend-friday-5"),
        pytest.param({"days": (1, 2, 3, 4, 5)}, {"any_click": 10}, id="not-weekend-mon-to-fri"),
        # 2 functions: (2-1)*10
        pytest.param(
            {"total": 2, "sequence": ("Portfolio", "Apply_Now"), "unique": 2},
            {"any_click": 10, "multiple_functions": 10},
            id="multiple-functions-2",
        ),
        # 3 functions: (3-1)*10
        pytest.param(
            {"total": 3, "sequence": ("Portfolio", "Apply_Now", "Company_Website"), "unique": 3},
            {"any_click": 10, "multiple_functions": 20},
            id="multiple-functions-3",
        ),
    ],
)
def test_engagement_score_rules(changes: dict[str, Any], expected_hits: dict[str, int]) -> None:
    args = BASE | changes
    score = engagement_score(
        total_click_events=args["total"],
        click_sequence=args["sequence"],
        unique_functions_clicked=args["unique"],
        hours_to_first_click_exact=args["hours"],
        click_days_of_week=args["days"],
    )
    assert rules(score) == expected_hits
    assert score.value == sum(expected_hits.values())


def test_engagement_score_caps_at_100_and_keeps_every_hit_in_rule_order() -> None:
    score = engagement_score(
        total_click_events=6,
        click_sequence=("LinkedIn", "Calendly", "Portfolio", "LinkedIn", "LinkedIn", "Calendly"),
        unique_functions_clicked=3,
        hours_to_first_click_exact=Fraction(1, 2),
        click_days_of_week=(0, 6),
    )
    # 10 + 25 + 40 + min((6-3)*5, 15)=15 + 30 + 20 + (3-1)*10=20 = 160 -> 100
    assert score == Score(
        value=100,
        hits=(
            RuleHit("any_click", 10),
            RuleHit("linkedin", 25),
            RuleHit("calendly", 40),
            RuleHit("repeat_clicks", 15),
            RuleHit("quick_response", 30),
            RuleHit("weekend", 20),
            RuleHit("multiple_functions", 20),
        ),
    )


# ------------------------------------------------------------------------- intent score


@pytest.mark.parametrize(
    ("hours", "expected_hits"),
    [
        pytest.param(None, {}, id="no-first-click"),
        pytest.param(0, {"very_quick_response": 50}, id="0h"),
        pytest.param(Decimal("1.99"), {"very_quick_response": 50}, id="1.99h"),
        pytest.param(2, {"quick_response": 30}, id="exactly-2h"),
        pytest.param(2.0, {"quick_response": 30}, id="exactly-2.0h-float"),
        pytest.param(Decimal("7.99"), {"quick_response": 30}, id="7.99h"),
        pytest.param(8, {}, id="exactly-8h"),
        pytest.param(Fraction(-3, 2), {"very_quick_response": 50}, id="negative-hours"),
    ],
)
def test_intent_score_timing(hours: ExactNumber | None, expected_hits: dict[str, int]) -> None:
    # velocity 0, no Calendly, 1 click: only the timing rule can fire
    score = intent_score(
        hours_to_first_click_exact=hours,
        engagement_velocity_exact=0,
        click_sequence=("Portfolio",),
        total_click_events=1,
    )
    assert rules(score) == expected_hits
    assert score.value == sum(expected_hits.values())


@pytest.mark.parametrize(
    ("velocity", "expected_hits"),
    [
        pytest.param(0, {}, id="0"),
        pytest.param(1, {}, id="exactly-1"),
        pytest.param(Decimal("1.0001"), {"velocity": 15}, id="1.0001"),
        pytest.param(Fraction(3, 2), {"velocity": 15}, id="1.5"),
        pytest.param(2, {"velocity": 15}, id="exactly-2"),
        pytest.param(Fraction(2) + Fraction(1, 10**9), {"high_velocity": 30}, id="just-over-2"),
        pytest.param(3.5, {"high_velocity": 30}, id="3.5"),
    ],
)
def test_intent_score_velocity(velocity: ExactNumber, expected_hits: dict[str, int]) -> None:
    score = intent_score(
        hours_to_first_click_exact=None,
        engagement_velocity_exact=velocity,
        click_sequence=(),
        total_click_events=0,
    )
    assert rules(score) == expected_hits
    assert score.value == sum(expected_hits.values())


@pytest.mark.parametrize(
    ("sequence", "expected_hits"),
    [
        pytest.param(("Portfolio", "LinkedIn"), {}, id="no-calendly"),
        pytest.param(("Portfolio", "Calendly"), {"calendly": 40}, id="calendly"),
        pytest.param(("Portfolio",) * 3, {}, id="three-clicks"),
        pytest.param(("Portfolio",) * 4, {"repeat_visits": 20}, id="four-clicks"),
        pytest.param(("Calendly",) * 4, {"calendly": 40, "repeat_visits": 20}, id="both"),
    ],
)
def test_intent_score_calendly_and_repeat_visits(
    sequence: tuple[str, ...], expected_hits: dict[str, int]
) -> None:
    score = intent_score(
        hours_to_first_click_exact=None,
        engagement_velocity_exact=0,
        click_sequence=sequence,
        total_click_events=len(sequence),
    )
    assert rules(score) == expected_hits
    assert score.value == sum(expected_hits.values())


def test_intent_score_caps_at_100() -> None:
    score = intent_score(
        hours_to_first_click_exact=1,
        engagement_velocity_exact=5,
        click_sequence=("Calendly",) * 5,
        total_click_events=5,
    )
    # 50 + 30 + 40 + 20 = 140 -> 100
    assert score == Score(
        value=100,
        hits=(
            RuleHit("very_quick_response", 50),
            RuleHit("high_velocity", 30),
            RuleHit("calendly", 40),
            RuleHit("repeat_visits", 20),
        ),
    )


# ---------------------------------------------------------------------- compute_metrics


def test_no_clicks() -> None:
    assert metrics([]) == ApplicationMetrics(
        total_click_events=0,
        click_sequence=(),
        unique_functions_clicked=0,
        unique_click_sessions=0,
        first_click_at=None,
        last_click_at=None,
        most_clicked_link_function=None,
        time_to_first_click=None,
        hours_to_first_click=None,
        time_between_first_last_click=None,
        hours_between_first_last_click=None,
        peak_click_hour=None,
        click_days_of_week=(),
        engagement_velocity=Decimal("0.0000"),
        engagement=Score(0, ()),
        intent=Score(0, ()),
    )


def test_only_clicks_after_as_of_is_no_clicks() -> None:
    late = [click(WEDNESDAY_9AM + timedelta(days=11), "Calendly")]
    assert metrics(late) == metrics([])


def test_worked_example() -> None:
    applied = utc(2026, 1, 5, 9)  # Monday 09:00
    as_of = utc(2026, 1, 10, 9)  # 5 days later
    clicks = [
        click(utc(2026, 1, 10, 8), "LinkedIn", "c4"),  # Sat 08:00, no session
        click(utc(2026, 1, 6, 14), "LinkedIn", "c3", "s2"),  # Tue 14:00
        click(utc(2026, 1, 11, 12), "Calendly", "c5", "s3"),  # after as_of: ignored
        click(utc(2026, 1, 5, 10, 45), "Portfolio", "c2", "s1"),  # Mon 10:45
        click(utc(2026, 1, 5, 10, 30), "LinkedIn", "c1", "s1"),  # Mon 10:30
    ]
    result = metrics(clicks, applied_at=applied, as_of=as_of)
    assert result == ApplicationMetrics(
        total_click_events=4,
        click_sequence=("LinkedIn", "Portfolio", "LinkedIn", "LinkedIn"),
        unique_functions_clicked=2,
        unique_click_sessions=2,  # s1, s2; the null session does not count
        first_click_at=utc(2026, 1, 5, 10, 30),
        last_click_at=utc(2026, 1, 10, 8),
        most_clicked_link_function="LinkedIn",  # 3 clicks against 1
        time_to_first_click=timedelta(hours=1, minutes=30),
        hours_to_first_click=Decimal("1.50"),
        # Mon 10:30 -> Sat 08:00 = 4 days 21h30m = 117.5 h
        time_between_first_last_click=timedelta(days=4, hours=21, minutes=30),
        hours_between_first_last_click=Decimal("117.50"),
        peak_click_hour=10,  # two clicks in hour 10
        click_days_of_week=(1, 2, 6),  # Mon, Tue, Sat
        engagement_velocity=Decimal("0.8000"),  # 4 clicks / 5 days
        # 10 + 25 + (4-2)*5 + 30 (1.5h) + 20 (Sat) + (2-1)*10 = 105 -> 100
        engagement=Score(
            100,
            (
                RuleHit("any_click", 10),
                RuleHit("linkedin", 25),
                RuleHit("repeat_clicks", 10),
                RuleHit("quick_response", 30),
                RuleHit("weekend", 20),
                RuleHit("multiple_functions", 10),
            ),
        ),
        # 50 (1.5h < 2) + 20 (4 clicks > 3); velocity 0.8 earns nothing
        intent=Score(70, (RuleHit("very_quick_response", 50), RuleHit("repeat_visits", 20))),
    )
    assert result.engagement_score == 100
    assert result.intent_score == 70


@pytest.mark.parametrize(
    ("delay", "hours", "engagement_value", "intent_hits"),
    [
        # one Portfolio click on a Wednesday, 10 days to as_of (velocity 0.1)
        # engagement = 10 base + 30 if exact hours < 4; intent from the timing rule only
        pytest.param(timedelta(0), Decimal("0.00"), 40, {"very_quick_response": 50}, id="0h"),
        pytest.param(
            timedelta(hours=2) - timedelta(microseconds=1),
            Decimal("2.00"),  # rounds to 2.00 but the exact value is < 2
            40,
            {"very_quick_response": 50},
            id="2h-minus-1us",
        ),
        pytest.param(timedelta(hours=2), Decimal("2.00"), 40, {"quick_response": 30}, id="2h"),
        pytest.param(
            timedelta(hours=4) - timedelta(seconds=1),
            Decimal("4.00"),  # 3.99972 h rounds to 4.00, still quick
            40,
            {"quick_response": 30},
            id="4h-minus-1s",
        ),
        pytest.param(timedelta(hours=4), Decimal("4.00"), 10, {"quick_response": 30}, id="4h"),
        pytest.param(
            timedelta(hours=8) - timedelta(seconds=1),
            Decimal("8.00"),
            10,
            {"quick_response": 30},
            id="8h-minus-1s",
        ),
        pytest.param(timedelta(hours=8), Decimal("8.00"), 10, {}, id="8h"),
        pytest.param(
            timedelta(hours=1, seconds=18),  # 1.005 h: half up -> 1.01 (half-even: 1.00)
            Decimal("1.01"),
            40,
            {"very_quick_response": 50},
            id="1.005h-rounds-half-up",
        ),
        pytest.param(
            -timedelta(hours=1),  # bad data: clicked before applying; still "quick"
            Decimal("-1.00"),
            40,
            {"very_quick_response": 50},
            id="negative-1h",
        ),
    ],
)
def test_time_to_first_click_boundaries(
    delay: timedelta, hours: Decimal, engagement_value: int, intent_hits: dict[str, int]
) -> None:
    result = metrics([click(WEDNESDAY_9AM + delay)])
    assert result.time_to_first_click == delay
    assert result.hours_to_first_click == hours
    assert str(result.hours_to_first_click) == str(hours)  # two places kept
    assert result.engagement_score == engagement_value
    assert rules(result.intent) == intent_hits


@pytest.mark.parametrize(
    ("n_clicks", "as_of_after", "velocity", "velocity_hits"),
    [
        # clicks / max(days, 1); only the velocity rules are checked here
        pytest.param(2, timedelta(days=2), Decimal("1.0000"), {}, id="exactly-1"),
        pytest.param(3, timedelta(days=2), Decimal("1.5000"), {"velocity": 15}, id="1.5"),
        pytest.param(4, timedelta(days=2), Decimal("2.0000"), {"velocity": 15}, id="exactly-2"),
        pytest.param(5, timedelta(days=2), Decimal("2.5000"), {"high_velocity": 30}, id="2.5"),
        pytest.param(
            # 4 / (172799/86400) = 2.0000116: rounds to 2.0000 but is > 2
            4,
            timedelta(days=2) - timedelta(seconds=1),
            Decimal("2.0000"),
            {"high_velocity": 30},
            id="just-over-2-rounds-to-2",
        ),
        pytest.param(2, timedelta(days=3), Decimal("0.6667"), {}, id="2/3-rounds-half-up"),
        pytest.param(
            # 6 hours after applying: days = max(0.25, 1) = 1 -> 3 clicks/day
            3,
            timedelta(hours=6),
            Decimal("3.0000"),
            {"high_velocity": 30},
            id="under-a-day-counts-as-1",
        ),
        pytest.param(
            # 1 click in 1 hour is 1/day, not 24/day
            1,
            timedelta(hours=1),
            Decimal("1.0000"),
            {},
            id="one-click-first-hour",
        ),
    ],
)
def test_engagement_velocity(
    n_clicks: int, as_of_after: timedelta, velocity: Decimal, velocity_hits: dict[str, int]
) -> None:
    clicks = [click(WEDNESDAY_9AM + timedelta(minutes=i + 1)) for i in range(n_clicks)]
    result = metrics(clicks, as_of=WEDNESDAY_9AM + as_of_after)
    assert result.total_click_events == n_clicks
    assert result.engagement_velocity == velocity
    assert str(result.engagement_velocity) == str(velocity)  # four places kept
    got = {rule: points for rule, points in rules(result.intent).items() if "velocity" in rule}
    assert got == velocity_hits


def test_four_clicks_are_repeat_visits_three_are_not() -> None:
    # 10+ hours after applying (no timing points), 10 days (velocity <= 0.4)
    at = [WEDNESDAY_9AM + timedelta(hours=10, minutes=i) for i in range(4)]
    three = metrics([click(t) for t in at[:3]])
    four = metrics([click(t) for t in at])
    assert three.intent == Score(0, ())
    assert four.intent == Score(20, (RuleHit("repeat_visits", 20),))


def test_repeat_clicks_capped_through_compute_metrics() -> None:
    # 7 Portfolio clicks on a Wednesday, 10h after applying:
    # 10 base + min((7-1)*5, 15) = 25
    at = [WEDNESDAY_9AM + timedelta(hours=10, minutes=i) for i in range(7)]
    result = metrics([click(t) for t in at])
    assert result.engagement == Score(25, (RuleHit("any_click", 10), RuleHit("repeat_clicks", 15)))


def test_clicks_after_as_of_are_ignored_and_as_of_itself_is_included() -> None:
    as_of = WEDNESDAY_9AM + timedelta(days=1)
    clicks = [
        click(as_of + timedelta(microseconds=1), "Calendly", "late"),
        click(as_of, "LinkedIn", "at-as-of"),
        click(WEDNESDAY_9AM + timedelta(hours=5), "Portfolio", "early"),
    ]
    result = metrics(clicks, as_of=as_of)
    assert result.click_sequence == ("Portfolio", "LinkedIn")
    assert result.last_click_at == as_of
    assert "calendly" not in rules(result.engagement)
    assert "calendly" not in rules(result.intent)


def test_same_instant_orders_by_click_id() -> None:
    at = WEDNESDAY_9AM + timedelta(hours=1)
    clicks = [click(at, "LinkedIn", "bbb"), click(at, "Calendly", "aaa")]
    assert metrics(clicks).click_sequence == ("Calendly", "LinkedIn")


def test_duplicate_click_ids_still_order_independently_of_input() -> None:
    # bad data: one id twice at one instant; the order falls back to the other fields
    at = WEDNESDAY_9AM + timedelta(hours=1)
    a, b = click(at, "LinkedIn", "dup"), click(at, "Calendly", "dup")
    assert metrics([a, b]).click_sequence == ("Calendly", "LinkedIn")
    assert metrics([b, a]).click_sequence == ("Calendly", "LinkedIn")


def test_ordering_uses_instants_even_with_a_shared_tzinfo() -> None:
    # 2026-11-01, New York falls back: 01:30 EDT (05:30Z) is before 01:10 EST (06:10Z),
    # although its wall-clock time is later.
    edt = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)
    est = datetime(2026, 11, 1, 1, 10, tzinfo=NEW_YORK, fold=1)
    clicks = [click(est, "Calendly", "a"), click(edt, "LinkedIn", "z")]
    result = metrics(clicks, applied_at=utc(2026, 10, 30), tz=NEW_YORK)
    assert result.click_sequence == ("LinkedIn", "Calendly")
    assert result.first_click_at == utc(2026, 11, 1, 5, 30)
    assert result.time_between_first_last_click == timedelta(minutes=40)
    assert result.hours_between_first_last_click == Decimal("0.67")  # 0.666.. half up
    assert result.peak_click_hour == 1


def test_time_to_first_click_across_spring_forward_with_a_shared_tzinfo() -> None:
    # 2026-03-08 01:00 EST (06:00Z) to 03:00 EDT (07:00Z) is one hour, not two:
    # Python's same-tzinfo subtraction would say two, and intent would drop 50 -> 30.
    applied = datetime(2026, 3, 8, 1, 0, tzinfo=NEW_YORK)
    result = metrics(
        [click(datetime(2026, 3, 8, 3, 0, tzinfo=NEW_YORK))], applied_at=applied, tz=NEW_YORK
    )
    assert result.time_to_first_click == timedelta(hours=1)
    assert result.hours_to_first_click == Decimal("1.00")
    assert rules(result.intent) == {"very_quick_response": 50}


def test_peak_hour_tie_goes_to_the_earliest_hour() -> None:
    day = utc(2026, 1, 8)  # Thursday
    hours = [(14, 5), (14, 10), (20, 0), (9, 0), (9, 30)]  # 14:2, 9:2, 20:1
    result = metrics([click(day.replace(hour=h, minute=m)) for h, m in hours])
    assert result.peak_click_hour == 9


def test_peak_hour_single_winner_beats_earlier_hours() -> None:
    day = utc(2026, 1, 8)
    hours = [(3, 0), (22, 0), (22, 10), (22, 20), (7, 0)]  # 22:3
    assert metrics([click(day.replace(hour=h, minute=m)) for h, m in hours]).peak_click_hour == 22


def test_most_clicked_function_tie_goes_alphabetically_first() -> None:
    t = WEDNESDAY_9AM + timedelta(hours=10)
    functions = ["Portfolio", "Portfolio", "LinkedIn", "Calendly", "LinkedIn"]  # P:2 L:2 C:1
    clicks = [click(t + timedelta(minutes=i), f) for i, f in enumerate(functions)]
    assert metrics(clicks).most_clicked_link_function == "LinkedIn"


def test_unique_click_sessions_ignores_null_sessions() -> None:
    t = WEDNESDAY_9AM + timedelta(hours=10)
    sessions = ["a", None, "b", "a", None]
    clicks = [
        click(t + timedelta(minutes=i), session=s, click_id=str(i)) for i, s in enumerate(sessions)
    ]
    assert metrics(clicks).unique_click_sessions == 2


def test_peak_hour_across_spring_forward() -> None:
    # America/New_York moves from EST (-5) to EDT (-4) on 2026-03-08.
    clicks = [
        click(utc(2026, 3, 6, 14, 15)),  # Fri 09:15 EST
        click(utc(2026, 3, 9, 13, 30)),  # Mon 09:30 EDT (08:30 if EST were kept)
        click(utc(2026, 3, 10, 13, 45)),  # Tue 09:45 EDT (08:45 if EST were kept)
        click(utc(2026, 3, 11, 14, 20)),  # Wed 10:20 EDT
    ]
    result = metrics(clicks, applied_at=utc(2026, 3, 2, 12), tz=NEW_YORK)
    # local hours 9, 9, 9, 10 -> 9; a fixed -5 offset would give 9, 8, 8, 9 -> 8
    assert result.peak_click_hour == 9
    assert result.click_days_of_week == (1, 2, 3, 5)


def test_peak_hour_and_day_across_fall_back() -> None:
    # America/New_York moves from EDT (-4) to EST (-5) on Sunday 2026-11-01.
    clicks = [
        click(utc(2026, 11, 1, 5, 10)),  # Sun 01:10 EDT
        click(utc(2026, 11, 1, 6, 20)),  # Sun 01:20 EST (the repeated hour)
        click(utc(2026, 11, 2, 4, 40)),  # Sun 23:40 EST (Mon 00:40 if EDT were kept)
        click(utc(2026, 11, 2, 4, 50)),  # Sun 23:50 EST
        click(utc(2026, 11, 2, 4, 55)),  # Sun 23:55 EST
    ]
    result = metrics(clicks, applied_at=utc(2026, 10, 30, 12), tz=NEW_YORK)
    # local hours 1, 1, 23, 23, 23 -> 23 (UTC: 4; fixed EDT: 0)
    assert result.peak_click_hour == 23
    # all on Sunday locally (UTC or fixed EDT would add Monday = 1)
    assert result.click_days_of_week == (0,)
    assert "weekend" in rules(result.engagement)


@pytest.mark.parametrize(
    ("day", "expected_day", "weekend"),
    [
        pytest.param(utc(2026, 1, 4, 12), 0, True, id="sunday"),
        pytest.param(utc(2026, 1, 10, 12), 6, True, id="saturday"),
        pytest.param(utc(2026, 1, 9, 12), 5, False, id="friday"),
        pytest.param(utc(2026, 1, 5, 12), 1, False, id="monday"),
    ],
)
def test_day_of_week_numbering_and_weekend(day: datetime, expected_day: int, weekend: bool) -> None:
    result = metrics([click(day)], applied_at=utc(2026, 1, 1))
    assert result.click_days_of_week == (expected_day,)
    assert ("weekend" in rules(result.engagement)) is weekend


def test_local_day_uses_the_account_timezone() -> None:
    # Fri 2026-01-09 20:00Z is Sat 01:30 in Kolkata (+05:30): a weekend click there only
    clicks = [click(utc(2026, 1, 9, 20))]
    assert metrics(clicks, applied_at=utc(2026, 1, 1)).click_days_of_week == (5,)
    in_kolkata = metrics(clicks, applied_at=utc(2026, 1, 1), tz=KOLKATA)
    assert in_kolkata.click_days_of_week == (6,)
    assert in_kolkata.peak_click_hour == 1
    assert "weekend" in rules(in_kolkata.engagement)


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 1, 7, 9, 0)
    with pytest.raises(ValueError, match="clicked_at must be timezone-aware"):
        ClickEvent(click_id="x", clicked_at=naive, link_function="LinkedIn")
    with pytest.raises(ValueError, match="applied_at must be timezone-aware"):
        compute_metrics(applied_at=naive, clicks=[], as_of=WEDNESDAY_9AM, tz=UTC)
    with pytest.raises(ValueError, match="as_of must be timezone-aware"):
        compute_metrics(applied_at=WEDNESDAY_9AM, clicks=[], as_of=naive, tz=UTC)


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Fraction(1005, 1000), 2, "1.01"),
        (Fraction(-1005, 1000), 2, "-1.01"),  # away from zero, as PostgreSQL
        (Fraction(2, 3), 4, "0.6667"),
        (Fraction(1, 3), 4, "0.3333"),
        (0, 4, "0.0000"),
        (Fraction(235, 2), 2, "117.50"),
    ],
)
def test_round_half_up(value: Fraction, places: int, expected: str) -> None:
    assert str(round_half_up(value, places)) == expected


# ----------------------------------------------------------------------- properties

TIMEZONES = st.sampled_from([UTC, NEW_YORK, KOLKATA])
INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2026, 12, 31),
    timezones=TIMEZONES,
    allow_imaginary=False,
)
CLICKS = st.builds(
    ClickEvent,
    click_id=st.uuids().map(str),
    clicked_at=INSTANTS,
    link_function=st.sampled_from(FUNCTIONS),
    session_id=st.none() | st.sampled_from(["s1", "s2", "s3"]),
)
CLICK_LISTS = st.lists(CLICKS, max_size=12, unique_by=lambda c: c.click_id)
EXACT_NUMBERS = st.one_of(
    st.integers(-1000, 1000),
    st.fractions(min_value=-1000, max_value=1000),
    st.decimals(min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1000, max_value=1000, allow_nan=False),
)


@given(
    sequence=st.lists(st.sampled_from(FUNCTIONS), max_size=30),
    hours=st.none() | EXACT_NUMBERS,
    velocity=EXACT_NUMBERS,
    days=st.lists(st.integers(0, 6), max_size=7),
)
def test_scores_stay_within_0_and_100(
    sequence: list[str], hours: ExactNumber | None, velocity: ExactNumber, days: list[int]
) -> None:
    engagement = engagement_score(
        total_click_events=len(sequence),
        click_sequence=sequence,
        unique_functions_clicked=len(set(sequence)),
        hours_to_first_click_exact=hours,
        click_days_of_week=days,
    )
    intent = intent_score(
        hours_to_first_click_exact=hours,
        engagement_velocity_exact=velocity,
        click_sequence=sequence,
        total_click_events=len(sequence),
    )
    for score in (engagement, intent):
        assert 0 <= score.value <= 100
        assert all(hit.points > 0 for hit in score.hits)
        assert score.value == min(sum(hit.points for hit in score.hits), 100)


@given(clicks=CLICK_LISTS, applied_at=INSTANTS, as_of=INSTANTS, tz=TIMEZONES)
def test_computed_scores_stay_within_0_and_100(
    clicks: list[ClickEvent], applied_at: datetime, as_of: datetime, tz: tzinfo
) -> None:
    result = compute_metrics(applied_at=applied_at, clicks=clicks, as_of=as_of, tz=tz)
    assert 0 <= result.engagement_score <= 100
    assert 0 <= result.intent_score <= 100
    assert result.total_click_events == len(result.click_sequence)
    assert result.unique_functions_clicked == len(set(result.click_sequence))
    if result.total_click_events == 0:
        assert result.engagement_score == result.intent_score == 0
    else:
        assert result.peak_click_hour is not None
        assert 0 <= result.peak_click_hour <= 23
        assert set(result.click_days_of_week) <= set(range(7))


@given(data=st.data(), clicks=CLICK_LISTS, applied_at=INSTANTS, tz=TIMEZONES)
def test_input_order_does_not_matter(
    data: st.DataObject, clicks: list[ClickEvent], applied_at: datetime, tz: tzinfo
) -> None:
    as_of = applied_at + timedelta(days=data.draw(st.integers(0, 400)))
    shuffled = data.draw(st.permutations(clicks))
    first = compute_metrics(applied_at=applied_at, clicks=clicks, as_of=as_of, tz=tz)
    second = compute_metrics(applied_at=applied_at, clicks=shuffled, as_of=as_of, tz=tz)
    assert first == second


@given(clicks=CLICK_LISTS, extra=CLICKS, applied_at=INSTANTS, as_of=INSTANTS, tz=TIMEZONES)
def test_adding_a_click_never_lowers_counts(
    clicks: list[ClickEvent],
    extra: ClickEvent,
    applied_at: datetime,
    as_of: datetime,
    tz: tzinfo,
) -> None:
    before = compute_metrics(applied_at=applied_at, clicks=clicks, as_of=as_of, tz=tz)
    after = compute_metrics(applied_at=applied_at, clicks=[*clicks, extra], as_of=as_of, tz=tz)
    assert after.total_click_events >= before.total_click_events
    assert after.unique_functions_clicked >= before.unique_functions_clicked
    counted = extra.clicked_at.astimezone(UTC) <= as_of.astimezone(UTC)
    assert after.total_click_events == before.total_click_events + counted
    new_functions = {extra.link_function} if counted else set()
    assert after.unique_functions_clicked == len(set(before.click_sequence) | new_functions)
