"""Unit tests for domain.predictions (SPEC §6): pure, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.metrics import RuleHit, Score
from domain.predictions import (
    ACTION_CHECK_CALENDAR,
    ACTION_FOLLOW_UP_24H,
    ACTION_FOLLOW_UP_POSSIBLE,
    ACTION_FOLLOW_UP_UNLIKELY,
    ACTION_LINKEDIN_CURRENT,
    ACTION_NO_ENGAGEMENT_LATE,
    ACTION_PREPARE,
    BacktestSample,
    CalibrationBin,
    EngagementFacts,
    HistoricalComparison,
    HistoryPoint,
    Outcome,
    backtest,
    calibrate,
    classify,
    confidence,
    decile_of,
    historical_comparison,
    is_positive,
    predict,
    reasons,
    recommended_actions,
)

POINTS = {
    # engagement
    "any_click": 10,
    "linkedin": 25,
    "calendly": 40,
    "repeat_clicks": 5,
    "quick_response": 30,
    "weekend": 20,
    "multiple_functions": 10,
    # intent
    "very_quick_response": 50,
    "high_velocity": 30,
    "velocity": 15,
    "repeat_visits": 20,
}


def score(*rules: str, value: int | None = None) -> Score:
    hits = tuple(RuleHit(rule, POINTS.get(rule, 7)) for rule in rules)
    total = sum(hit.points for hit in hits) if value is None else value
    return Score(value=min(total, 100), hits=hits)


def facts(
    engagement: tuple[str, ...] = ("any_click",),
    intent: tuple[str, ...] = (),
    *,
    engagement_value: int | None = None,
    total: int = 3,
    unique: int = 2,
    sequence: tuple[str, ...] = ("LinkedIn", "Calendly", "Calendly"),
    hours_to_first: str | None = "1.5",
    velocity: str = "0.5",
    calendly_hours: str | None = None,
    days: str = "10",
    status: str = "applied",
) -> EngagementFacts:
    return EngagementFacts(
        engagement=score(*engagement, value=engagement_value),
        intent=score(*intent),
        total_click_events=total,
        unique_functions_clicked=unique,
        click_sequence=sequence,
        hours_to_first_click=None if hours_to_first is None else Decimal(hours_to_first),
        engagement_velocity=Decimal(velocity),
        calendly_hours_after_applying=None if calendly_hours is None else Decimal(calendly_hours),
        days_since_applied=Decimal(days),
        status=status,
    )


def no_click_facts(days: str = "12", status: str = "applied") -> EngagementFacts:
    return facts(
        engagement=(),
        total=0,
        unique=0,
        sequence=(),
        hours_to_first=None,
        velocity="0",
        days=days,
        status=status,
    )


# --------------------------------------------------------------------------- classify


@pytest.mark.parametrize(
    ("clicks", "engagement_score", "expected"),
    [
        (0, 0, Outcome.NO_ENGAGEMENT),
        (0, 90, Outcome.NO_ENGAGEMENT),  # no clicks wins whatever the score says
        (1, 0, Outcome.UNLIKELY),
        (1, 39, Outcome.UNLIKELY),
        (1, 40, Outcome.POSSIBLE),
        (2, 70, Outcome.POSSIBLE),
        (2, 71, Outcome.INTERVIEW_LIKELY),
        (5, 100, Outcome.INTERVIEW_LIKELY),
    ],
)
def test_classify_boundaries(clicks: int, engagement_score: int, expected: Outcome) -> None:
    assert classify(total_click_events=clicks, engagement_score=engagement_score) is expected


def test_outcome_values_and_positive_classes() -> None:
    assert Outcome.INTERVIEW_LIKELY.value == "interview_likely"
    assert isinstance(Outcome.NO_ENGAGEMENT, str)
    assert str.__eq__(Outcome.NO_ENGAGEMENT, "no_engagement")
    assert is_positive(Outcome.POSSIBLE)
    assert is_positive(Outcome.INTERVIEW_LIKELY)
    assert not is_positive(Outcome.UNLIKELY)
    assert not is_positive(Outcome.NO_ENGAGEMENT)


# --------------------------------------------------------------------------- reasons


def test_reason_any_click_single_link_type() -> None:
    f = facts(("any_click",), total=1, unique=1, sequence=("Portfolio",))
    assert reasons(f) == ["1 click on the Portfolio link"]


def test_reason_any_click_several_types_without_multiple_functions_rule() -> None:
    assert reasons(facts(("any_click",))) == ["3 clicks across 2 link types"]


def test_reason_multiple_functions_names_the_types_in_one_sentence() -> None:
    out = reasons(facts(("any_click", "multiple_functions")))
    assert out == ["3 clicks across 2 link types (LinkedIn, Calendly)"]


def test_reason_linkedin() -> None:
    out = reasons(facts(("any_click", "linkedin"), total=1, unique=1, sequence=("LinkedIn",)))
    assert "LinkedIn profile viewed (the employer is researching you)" in out


@pytest.mark.parametrize(
    ("hours", "sentence"),
    [
        ("1.5", "Calendly clicked within 2 hours of applying"),
        ("0.25", "Calendly clicked within 1 hour of applying"),
        ("0", "Calendly clicked within 1 hour of applying"),
        ("23.5", "Calendly clicked within 24 hours of applying"),
        ("36", "Calendly clicked 1.5 days after applying"),
        ("48", "Calendly clicked 2 days after applying"),
        (None, "Calendly link clicked (the strongest interest signal)"),
    ],
)
def test_reason_calendly(hours: str | None, sentence: str) -> None:
    out = reasons(facts(("any_click", "calendly"), calendly_hours=hours))
    assert out[0] == sentence


def test_reason_calendly_in_both_scores_is_one_sentence() -> None:
    out = reasons(facts(("any_click", "calendly"), ("calendly",), calendly_hours="1.5"))
    assert [r for r in out if "Calendly" in r] == ["Calendly clicked within 2 hours of applying"]
    # Intent-only calendly (hypothetical data) still explains itself.
    out = reasons(facts(("any_click",), ("calendly",), calendly_hours="1.5"))
    assert "Calendly clicked within 2 hours of applying" in out


def test_reason_quick_response_engagement() -> None:
    out = reasons(facts(("any_click", "quick_response"), hours_to_first="3.25"))
    assert "First click came 3.25 hours after applying (a quick response)" in out


def test_reason_quick_response_intent() -> None:
    out = reasons(facts(("any_click",), ("quick_response",), hours_to_first="6"))
    assert "First click came 6 hours after applying (a quick response)" in out


def test_reason_very_quick_response_merges_with_quick_response() -> None:
    out = reasons(facts(("any_click", "quick_response"), ("very_quick_response",)))
    timing = [r for r in out if r.startswith("First click")]
    assert timing == ["First click came 1.5 hours after applying (a very quick response)"]


@pytest.mark.parametrize(
    ("hours", "sentence"),
    [
        ("1", "First click came 1 hour after applying (a very quick response)"),
        ("0.25", "First click came 15 minutes after applying (a very quick response)"),
        ("0.01", "First click came 1 minute after applying (a very quick response)"),
        ("0", "First click came within a minute of applying (a very quick response)"),
    ],
)
def test_reason_first_click_wording(hours: str, sentence: str) -> None:
    out = reasons(facts(("any_click",), ("very_quick_response",), hours_to_first=hours))
    assert sentence in out


def test_reason_repeat_clicks() -> None:
    out = reasons(facts(("any_click", "repeat_clicks")))
    assert (
        "The same link was opened again (1 repeat click): the employer came back or shared it"
        in out
    )


def test_reason_repeat_visits() -> None:
    f = facts(
        ("any_click",),
        ("repeat_visits",),
        total=4,
        unique=4,
        sequence=("LinkedIn", "Calendly", "Portfolio", "Company_Website"),
    )
    assert "Repeat visits: 4 clicks in total" in reasons(f)


def test_reason_repeat_clicks_and_visits_is_one_sentence() -> None:
    out = reasons(facts(("any_click", "repeat_clicks"), ("repeat_visits",), total=5, unique=2))
    repeats = [r for r in out if "again" in r or "Repeat" in r]
    assert repeats == [
        "Links opened again (3 repeat clicks, 5 clicks in total): "
        "the employer keeps coming back or shared them"
    ]


def test_reason_high_velocity() -> None:
    out = reasons(facts(("any_click",), ("high_velocity",), velocity="2.5"))
    assert "Fast engagement: 2.5 clicks per day since applying" in out


def test_reason_velocity() -> None:
    out = reasons(facts(("any_click",), ("velocity",), velocity="1.2000"))
    assert "Steady engagement: 1.2 clicks per day since applying" in out


def test_reason_weekend() -> None:
    out = reasons(facts(("any_click", "weekend")))
    assert "Clicked on a weekend (personal time: a sign of real interest)" in out


def test_reason_unknown_rule_gets_a_generic_sentence() -> None:
    out = reasons(facts(("any_click", "email_opened")))
    assert "Email opened (+7 points)" in out


def test_reasons_full_case_order_and_no_duplicates() -> None:
    f = facts(
        (
            "any_click",
            "linkedin",
            "calendly",
            "repeat_clicks",
            "quick_response",
            "weekend",
            "multiple_functions",
        ),
        ("very_quick_response", "high_velocity", "calendly"),
        velocity="3",
        calendly_hours="1.8",
    )
    assert reasons(f) == [
        "Calendly clicked within 2 hours of applying",
        "LinkedIn profile viewed (the employer is researching you)",
        "First click came 1.5 hours after applying (a very quick response)",
        "3 clicks across 2 link types (LinkedIn, Calendly)",
        "The same link was opened again (1 repeat click): the employer came back or shared it",
        "Fast engagement: 3 clicks per day since applying",
        "Clicked on a weekend (personal time: a sign of real interest)",
    ]


@pytest.mark.parametrize(
    ("days", "sentence"),
    [
        ("12.7", "No employer has clicked any link yet (12 days since applying)"),
        ("1", "No employer has clicked any link yet (1 day since applying)"),
        ("0.4", "No employer has clicked any link yet (less than a day since applying)"),
    ],
)
def test_reason_no_clicks(days: str, sentence: str) -> None:
    assert reasons(no_click_facts(days)) == [sentence]


# --------------------------------------------------------------------------- actions


def test_actions_calendly_clicked_still_applied() -> None:
    f = facts(("any_click", "calendly"), ("calendly",), engagement_value=55)
    assert recommended_actions(f, Outcome.POSSIBLE) == [
        ACTION_CHECK_CALENDAR,
        ACTION_PREPARE,
        ACTION_FOLLOW_UP_POSSIBLE,
    ]


def test_actions_high_engagement_follow_up_within_24h() -> None:
    f = facts(("any_click", "linkedin", "quick_response", "weekend"))
    assert recommended_actions(f, Outcome.INTERVIEW_LIKELY) == [
        "Send personalized follow-up email within 24 hours",
        "Prepare for potential interview request",
    ]
    assert ACTION_FOLLOW_UP_24H == "Send personalized follow-up email within 24 hours"


def test_actions_calendly_and_interview_likely_prepare_once() -> None:
    f = facts(("any_click", "calendly", "quick_response"))
    actions = recommended_actions(f, Outcome.INTERVIEW_LIKELY)
    assert actions == [ACTION_CHECK_CALENDAR, ACTION_FOLLOW_UP_24H, ACTION_PREPARE]


def test_actions_linkedin_only() -> None:
    f = facts(("any_click", "linkedin"), total=1, unique=1, sequence=("LinkedIn",))
    assert recommended_actions(f, Outcome.UNLIKELY) == [
        ACTION_FOLLOW_UP_UNLIKELY,
        ACTION_LINKEDIN_CURRENT,
    ]
    # LinkedIn among other link types: no profile advice.
    f = facts(("any_click", "linkedin", "multiple_functions"))
    assert ACTION_LINKEDIN_CURRENT not in recommended_actions(f, Outcome.POSSIBLE)


def test_actions_no_engagement_after_a_week() -> None:
    assert recommended_actions(no_click_facts("7"), Outcome.NO_ENGAGEMENT) == [
        ACTION_NO_ENGAGEMENT_LATE
    ]


def test_actions_no_engagement_early_means_wait() -> None:
    assert recommended_actions(no_click_facts("3.9"), Outcome.NO_ENGAGEMENT) == [
        "Wait: no clicks after 3 days is normal; follow up if nothing changes by day 7"
    ]


@pytest.mark.parametrize("status", ["interview", "offer", "rejected", "withdrawn"])
def test_actions_none_once_the_application_has_moved_on(status: str) -> None:
    f = facts(("any_click", "calendly", "quick_response"), status=status)
    assert recommended_actions(f, Outcome.INTERVIEW_LIKELY) == []
    assert recommended_actions(no_click_facts("30", status), Outcome.NO_ENGAGEMENT) == []


# --------------------------------------------------------------------------- calibration


def hp(score_: int, reached: bool, days: str | None = None) -> HistoryPoint:
    return HistoryPoint(
        engagement_score=score_,
        reached_interview=reached,
        days_to_interview=None if days is None else Decimal(days),
    )


# 20 applications, 5 interviews -> base_rate = 5 / 20 = 0.25.
HISTORY = [
    # decile 7 (70-79): 4 applications, 3 interviews after 3, 5 and 4.5 days
    hp(72, True, "3"),
    hp(75, True, "5"),
    hp(78, True, "4.5"),
    hp(79, False),
    # decile 2 (20-29): 10 applications, 1 interview with no recorded date
    hp(20, True),
    *[hp(25, False) for _ in range(9)],
    # decile 9 (90-100): 95 and 100 share it; 1 interview after 2 days
    hp(95, False),
    hp(100, True, "2"),
    # decile 0 (0-9): 4 applications, no interview
    hp(0, False),
    hp(0, False),
    hp(5, False),
    hp(9, False),
]


def test_decile_of() -> None:
    assert [decile_of(s) for s in (0, 9, 10, 39, 40, 99, 100, -5)] == [0, 0, 1, 3, 4, 9, 9, 0]


def test_calibrate_shrinks_toward_the_overall_rate() -> None:
    cal = calibrate(HISTORY)  # prior_strength 10
    assert cal.has_history
    assert cal.base_rate == pytest.approx(0.25)
    d7 = cal.decile(75)
    assert (d7.n, d7.interviews) == (4, 3)
    assert d7.raw_rate == pytest.approx(0.75)
    # decile 7: (3 + 10 * 0.25) / (4 + 10) = 5.5 / 14 = 0.392857...
    assert cal.p_interview(75) == pytest.approx(5.5 / 14)
    assert cal.p_interview(75) == pytest.approx(0.392857, abs=1e-6)
    # decile 2: (1 + 2.5) / (10 + 10) = 3.5 / 20 = 0.175
    assert cal.p_interview(25) == pytest.approx(0.175)
    # decile 9 (95 and 100): (1 + 2.5) / (2 + 10) = 3.5 / 12 = 0.291667
    assert cal.p_interview(100) == pytest.approx(3.5 / 12)
    assert cal.p_interview(90) == cal.p_interview(100)
    # decile 0: (0 + 2.5) / (4 + 10) = 0.178571
    assert cal.p_interview(0) == pytest.approx(2.5 / 14)
    # empty decile 5: 2.5 / 10 = the base rate itself; raw rate undefined
    assert cal.p_interview(55) == pytest.approx(0.25)
    assert cal.decile(55).raw_rate is None
    # Shrinkage: the small decile 7 sits between its raw rate and the base rate.
    assert 0.25 < cal.p_interview(75) < 0.75


def test_calibrate_prior_strength() -> None:
    # prior_strength 0: the raw rate; an empty decile falls back to the base rate.
    raw = calibrate(HISTORY, prior_strength=0)
    assert raw.p_interview(75) == pytest.approx(0.75)
    assert raw.p_interview(55) == pytest.approx(0.25)
    # prior_strength 2: (3 + 2 * 0.25) / (4 + 2) = 3.5 / 6 = 0.583333
    assert calibrate(HISTORY, prior_strength=2).p_interview(75) == pytest.approx(3.5 / 6)
    with pytest.raises(ValueError, match="prior_strength"):
        calibrate(HISTORY, prior_strength=-1)
    with pytest.raises(ValueError, match="default_prior"):
        calibrate([], default_prior=1.5)


def test_confidence_is_the_probability_of_the_predicted_class() -> None:
    cal = calibrate(HISTORY)
    assert confidence(Outcome.INTERVIEW_LIKELY, 75, cal) == 0.3929  # 5.5 / 14
    assert confidence(Outcome.POSSIBLE, 45, cal) == 0.25  # empty decile -> base rate
    assert confidence(Outcome.UNLIKELY, 25, cal) == 0.825  # 1 - 0.175
    assert confidence(Outcome.NO_ENGAGEMENT, 0, cal) == 0.8214  # 1 - 2.5 / 14


def test_confidence_moves_with_the_history() -> None:
    before = confidence(Outcome.INTERVIEW_LIKELY, 75, calibrate(HISTORY))
    # One more interview in decile 7: n = 5, interviews = 4; overall 6 / 21 = 2/7.
    # (4 + 10 * 2/7) / (5 + 10) = (4 + 2.857143) / 15 = 0.457143
    after = confidence(Outcome.INTERVIEW_LIKELY, 75, calibrate([*HISTORY, hp(74, True, "1")]))
    assert before == 0.3929
    assert after == 0.4571
    # A miss in the decile lowers it: n = 5, interviews = 3, overall 5 / 21.
    # (3 + 10 * 5/21) / 15 = (3 + 2.380952) / 15 = 0.358730
    lower = confidence(Outcome.INTERVIEW_LIKELY, 75, calibrate([*HISTORY, hp(74, False)]))
    assert lower == 0.3587
    # Even history outside the decile moves it through the base rate:
    # 21 apps, 6 interviews -> (3 + 10 * 6/21) / 14 = 5.857143 / 14 = 0.418367
    other = confidence(Outcome.INTERVIEW_LIKELY, 75, calibrate([*HISTORY, hp(25, True)]))
    assert other == 0.4184
    assert len({before, after, lower, other}) == 4


def test_empty_history_uses_the_default_prior_and_says_so() -> None:
    cal = calibrate([])
    assert not cal.has_history
    assert cal.base_rate == 0.15
    assert all(cal.p_interview(s) == pytest.approx(0.15) for s in range(0, 101, 10))
    assert confidence(Outcome.INTERVIEW_LIKELY, 80, cal) == 0.15
    assert confidence(Outcome.UNLIKELY, 20, cal) == 0.85
    note = "No interview history yet for this account: confidence uses the default prior of 15%"
    assert reasons(facts(("any_click",)), cal)[-1] == note
    assert reasons(no_click_facts(), cal)[-1] == note
    assert "default prior of 12.5%" in reasons(facts(), calibrate([], default_prior=0.125))[-1]
    # The prior follows the argument, so the confidence does too.
    assert confidence(Outcome.POSSIBLE, 50, calibrate([], default_prior=0.3)) == 0.3


def test_reasons_note_an_empty_decile_and_not_a_populated_one() -> None:
    cal = calibrate(HISTORY)
    f = facts(("any_click", "calendly"), engagement_value=50, calendly_hours="30")
    assert reasons(f, cal)[-1] == (
        "No past application scored 50-59 yet: "
        "confidence uses this account's overall interview rate of 25%"
    )
    f = facts(("any_click",), engagement_value=75)
    assert reasons(f, cal) == reasons(f)


def test_historical_comparison() -> None:
    cal = calibrate(HISTORY)
    # decile 7: 4 similar, 3 interviews = 75%, days (3 + 5 + 4.5) / 3 = 4.1667 -> 4.17
    assert historical_comparison(75, cal) == HistoricalComparison(
        similar_engagement_patterns=4, interview_rate=75.0, avg_days_to_interview=4.17
    )
    # decile 2: 10 similar, 1 interview = 10%, the interview has no date -> None
    assert historical_comparison(21, cal) == HistoricalComparison(
        similar_engagement_patterns=10, interview_rate=10.0, avg_days_to_interview=None
    )
    # decile 0: 4 similar, no interview
    assert historical_comparison(3, cal) == HistoricalComparison(
        similar_engagement_patterns=4, interview_rate=0.0, avg_days_to_interview=None
    )
    # decile 9: 1 of 2 = 50%, 2 days
    assert historical_comparison(100, cal) == HistoricalComparison(
        similar_engagement_patterns=2, interview_rate=50.0, avg_days_to_interview=2.0
    )
    # empty decile
    assert historical_comparison(60, cal) == HistoricalComparison(
        similar_engagement_patterns=0, interview_rate=0.0, avg_days_to_interview=None
    )


def test_historical_comparison_rounds_the_rate() -> None:
    # 1 interview in 3 -> 33.333...% -> 33.33; 2 in 3 -> 66.67
    one = calibrate([hp(45, True, "1"), hp(46, False), hp(47, False)])
    assert historical_comparison(45, one).interview_rate == 33.33
    two = calibrate([hp(45, True, "1"), hp(46, True, "2"), hp(47, False)])
    assert historical_comparison(45, two).interview_rate == 66.67
    assert historical_comparison(45, two).avg_days_to_interview == 1.5


# --------------------------------------------------------------------------- predict


def test_predict_bundles_everything() -> None:
    cal = calibrate(HISTORY)
    f = facts(
        ("any_click", "linkedin", "calendly", "repeat_clicks", "multiple_functions"),
        ("very_quick_response", "calendly"),
        calendly_hours="1.5",
    )
    # engagement 10 + 25 + 40 + 5 + 10 = 90; intent 50 + 40 = 90
    p = predict(f, cal)
    assert p.engagement_score == 90
    assert p.intent_score == 90
    assert p.predicted_outcome is Outcome.INTERVIEW_LIKELY
    assert p.confidence == 0.2917  # decile 9: 3.5 / 12
    assert p.reasons == tuple(reasons(f, cal))
    assert p.reasons[0] == "Calendly clicked within 2 hours of applying"
    assert p.recommended_actions == (ACTION_CHECK_CALENDAR, ACTION_FOLLOW_UP_24H, ACTION_PREPARE)
    assert p.historical_comparison == historical_comparison(90, cal)


def test_predict_no_engagement() -> None:
    p = predict(no_click_facts("8"), calibrate(HISTORY))
    assert p.predicted_outcome is Outcome.NO_ENGAGEMENT
    assert p.engagement_score == 0
    assert p.confidence == 0.8214  # 1 - 2.5 / 14 (decile 0)
    assert p.reasons == ("No employer has clicked any link yet (8 days since applying)",)
    assert p.recommended_actions == (ACTION_NO_ENGAGEMENT_LATE,)


# --------------------------------------------------------------------------- backtest


def bs(p: float, predicted: bool, actual: bool) -> BacktestSample:
    return BacktestSample(probability=p, predicted_positive=predicted, actual_positive=actual)


def test_backtest_hand_computed() -> None:
    samples = [
        bs(0.9, True, True),  # TP
        bs(0.7, True, False),  # FP
        bs(0.6, True, False),  # FP
        bs(0.4, False, True),  # FN
        bs(0.2, False, False),  # TN
        bs(0.1, False, False),  # TN
    ]
    result = backtest(samples)
    assert result.applications == 6
    # correct = TP 1 + TN 2 = 3 -> 3 / 6
    assert result.accuracy == pytest.approx(0.5)
    # precision = TP / predicted positive = 1 / 3
    assert result.precision == pytest.approx(0.3333)
    # recall = TP / actual positive = 1 / 2
    assert result.recall == pytest.approx(0.5)
    # majority class is "no interview": 4 / 6
    assert result.baseline_accuracy == pytest.approx(0.6667)
    # Brier: (0.1² + 0.7² + 0.6² + 0.6² + 0.2² + 0.1²) / 6
    #      = (0.01 + 0.49 + 0.36 + 0.36 + 0.04 + 0.01) / 6 = 1.27 / 6 = 0.211667
    assert result.brier_score == pytest.approx(0.2117)
    # AUC: positives 0.9, 0.4; negatives 0.7, 0.6, 0.2, 0.1.
    # 0.9 beats all 4, 0.4 beats 0.2 and 0.1 -> 6 of 8 pairs = 0.75
    assert result.auc == pytest.approx(0.75)
    assert [b.count for b in result.calibration] == [1, 1, 1, 1, 1, 1]


def test_backtest_auc_with_ties() -> None:
    samples = [
        bs(0.5, True, True),
        bs(0.8, True, True),
        bs(0.5, True, False),
        bs(0.2, False, False),
    ]
    # pairs (pos, neg): (0.5, 0.5) tie = 0.5, (0.5, 0.2) = 1, (0.8, 0.5) = 1, (0.8, 0.2) = 1
    # -> 3.5 / 4 = 0.875
    assert backtest(samples).auc == pytest.approx(0.875)
    # every probability tied: 0.5, the no-skill value
    flat = [bs(0.3, False, True), bs(0.3, False, False), bs(0.3, False, False)]
    assert backtest(flat).auc == pytest.approx(0.5)
    # perfectly inverted ranking: 0
    inverted = [bs(0.1, False, True), bs(0.9, True, False)]
    assert backtest(inverted).auc == pytest.approx(0.0)


def test_backtest_undefined_metrics_are_none() -> None:
    # nothing predicted positive -> precision None; one class only -> AUC None
    negatives = [bs(0.1, False, False), bs(0.2, False, False)]
    result = backtest(negatives)
    assert result.precision is None
    assert result.recall is None  # no actual positives
    assert result.auc is None
    assert result.accuracy == pytest.approx(1.0)
    assert result.baseline_accuracy == pytest.approx(1.0)
    # Brier: (0.01 + 0.04) / 2 = 0.025
    assert result.brier_score == pytest.approx(0.025)

    empty = backtest([])
    assert empty.applications == 0
    assert empty.accuracy is None
    assert empty.baseline_accuracy is None
    assert empty.brier_score is None
    assert empty.auc is None
    assert empty.calibration == ()


def test_backtest_rejects_probabilities_outside_0_1() -> None:
    with pytest.raises(ValueError, match="probability"):
        backtest([bs(1.2, True, True)])


def test_backtest_calibration_table_bins() -> None:
    samples = [
        bs(0.05, False, False),
        bs(0.08, False, True),  # bin [0, 0.1): mean p 0.065, observed 1 / 2
        bs(0.1, False, False),  # bin [0.1, 0.2): lower edge belongs to the bin
        bs(0.3, False, True),  # bin [0.3, 0.4) despite 0.3 * 10 = 3.0000000000000004
        bs(0.7, True, True),  # bin [0.7, 0.8)
        bs(0.95, True, True),
        bs(1.0, True, False),  # 1.0 belongs to the last bin [0.9, 1.0]
        bs(0.9, True, True),  # mean (0.95 + 1.0 + 0.9) / 3 = 0.95, observed 2 / 3
    ]
    table = backtest(samples).calibration
    assert table == (
        CalibrationBin(decile_low=0.0, decile_high=0.1, predicted=0.065, observed=0.5, count=2),
        CalibrationBin(decile_low=0.1, decile_high=0.2, predicted=0.1, observed=0.0, count=1),
        CalibrationBin(decile_low=0.3, decile_high=0.4, predicted=0.3, observed=1.0, count=1),
        CalibrationBin(decile_low=0.7, decile_high=0.8, predicted=0.7, observed=1.0, count=1),
        CalibrationBin(decile_low=0.9, decile_high=1.0, predicted=0.95, observed=0.6667, count=3),
    )


def test_backtest_from_a_calibration() -> None:
    """The intended wiring: probability = p_interview, predicted = POSSIBLE/INTERVIEW_LIKELY."""
    cal = calibrate(HISTORY)
    rows = [(75, True), (25, False), (95, False)]
    samples = []
    for score_, reached in rows:
        outcome = classify(total_click_events=1, engagement_score=score_)
        samples.append(bs(cal.p_interview(score_), is_positive(outcome), reached))
    result = backtest(samples)
    # predictions: 75 -> LIKELY (+), 25 -> UNLIKELY (-), 95 -> LIKELY (+); correct: 75, 25
    assert result.accuracy == pytest.approx(0.6667)
    assert result.precision == pytest.approx(0.5)
    assert result.recall == pytest.approx(1.0)
    # p: 0.392857 (pos), 0.175 (neg), 0.291667 (neg) -> the positive outranks both: AUC 1
    assert result.auc == pytest.approx(1.0)


def test_rule_ids_of_the_real_scores_all_have_sentences() -> None:
    """Every rule domain.metrics can fire gets a dedicated sentence, not the generic fallback."""
    from domain.metrics import engagement_score, intent_score

    sequence = ("LinkedIn", "Calendly", "Calendly", "Portfolio", "Calendly")
    engagement = engagement_score(
        total_click_events=5,
        click_sequence=sequence,
        unique_functions_clicked=3,
        hours_to_first_click_exact=Decimal("1"),
        click_days_of_week=(0, 3),
    )
    for velocity, hours in (("2.5", "1"), ("1.5", "5")):
        intent = intent_score(
            hours_to_first_click_exact=Decimal(hours),
            engagement_velocity_exact=Decimal(velocity),
            click_sequence=sequence,
            total_click_events=5,
        )
        f = EngagementFacts(
            engagement=engagement,
            intent=intent,
            total_click_events=5,
            unique_functions_clicked=3,
            click_sequence=sequence,
            hours_to_first_click=Decimal(hours),
            engagement_velocity=Decimal(velocity),
            calendly_hours_after_applying=Decimal("2"),
            days_since_applied=Decimal("2"),
            status="applied",
        )
        out = reasons(f)
        assert not [r for r in out if "point" in r]
        assert len(out) == 7  # calendly, linkedin, timing, clicks, repeats, velocity, weekend
