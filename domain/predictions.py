"""Outcome predictions for job applications (SPEC §6, seed 000 §3.2).

Pure Python, no I/O. The caller computes the per-application metrics and both scores
(``domain.metrics``), loads the account's history and hands them in:

* :func:`classify` turns the engagement score into one of four :class:`Outcome` classes;
* :func:`reasons` writes one plain sentence per score rule that fired;
* :func:`recommended_actions` turns the outcome and the facts into next steps;
* :func:`calibrate` builds a per-account :class:`Calibration` from past applications, which gives
  :func:`confidence` (the probability of the predicted class) and :func:`historical_comparison`;
* :func:`predict` bundles all of it into a :class:`Prediction`;
* :func:`backtest` scores past predictions against what happened (accuracy, precision, recall,
  majority-class baseline, Brier score, ROC AUC, calibration table).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from domain.metrics import RuleHit, Score

__all__ = [
    "POSITIVE_OUTCOMES",
    "STATUSES_WITHOUT_ACTIONS",
    "BacktestResult",
    "BacktestSample",
    "Calibration",
    "CalibrationBin",
    "DecileStats",
    "EngagementFacts",
    "HistoricalComparison",
    "HistoryPoint",
    "Outcome",
    "Prediction",
    "backtest",
    "calibrate",
    "classify",
    "confidence",
    "decile_of",
    "historical_comparison",
    "is_positive",
    "predict",
    "reasons",
    "recommended_actions",
]


# --------------------------------------------------------------------------------------------
# Outcome classes
# --------------------------------------------------------------------------------------------


class Outcome(str, Enum):  # noqa: UP042 - the brief fixes (str, Enum); values follow seed 000 §3.2
    """Predicted outcome of an application; the values are the seed 000 §3.2 strings."""

    NO_ENGAGEMENT = "no_engagement"
    UNLIKELY = "unlikely"
    POSSIBLE = "possible"
    INTERVIEW_LIKELY = "interview_likely"


UNLIKELY_BELOW = 40
"""Scores below this are UNLIKELY."""
INTERVIEW_LIKELY_ABOVE = 70
"""Scores above this are INTERVIEW_LIKELY; 40..70 inclusive is POSSIBLE."""

POSITIVE_OUTCOMES: frozenset[Outcome] = frozenset({Outcome.POSSIBLE, Outcome.INTERVIEW_LIKELY})
"""Outcomes that count as "predicted interview" in a backtest (see :class:`BacktestSample`)."""


def classify(*, total_click_events: int, engagement_score: int) -> Outcome:
    """SPEC §6: no clicks -> NO_ENGAGEMENT; score < 40 UNLIKELY; 40..70 POSSIBLE; > 70 LIKELY."""
    if total_click_events <= 0:
        return Outcome.NO_ENGAGEMENT
    if engagement_score < UNLIKELY_BELOW:
        return Outcome.UNLIKELY
    if engagement_score <= INTERVIEW_LIKELY_ABOVE:
        return Outcome.POSSIBLE
    return Outcome.INTERVIEW_LIKELY


def is_positive(outcome: Outcome) -> bool:
    """True for the outcomes that predict an interview: POSSIBLE and INTERVIEW_LIKELY."""
    return outcome in POSITIVE_OUTCOMES


# --------------------------------------------------------------------------------------------
# Facts about one application
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EngagementFacts:
    """What the prediction needs to know about one application (SPEC §4 metrics + status).

    ``calendly_hours_after_applying`` is the time from applying to the first Calendly click
    (None when Calendly was never clicked); ``days_since_applied`` is measured to ``asOf``;
    ``status`` is the current status (``applied``, ``interview``, ``offer``, ``rejected``,
    ``withdrawn``).
    """

    engagement: Score
    intent: Score
    total_click_events: int
    unique_functions_clicked: int
    click_sequence: tuple[str, ...]
    hours_to_first_click: Decimal | None
    engagement_velocity: Decimal
    calendly_hours_after_applying: Decimal | None
    days_since_applied: Decimal
    status: str
    email_undeliverable: bool = False
    """Every contact of the application hard-bounced, reported spam or unsubscribed (issue
    17): no action may suggest writing to them again."""


# --------------------------------------------------------------------------------------------
# Small text helpers
# --------------------------------------------------------------------------------------------


def _num(value: Decimal | float | int, places: int = 2) -> str:
    """A number for a sentence: rounded half up to ``places``, without trailing zeros."""
    quantum = Decimal(1).scaleb(-places)
    rounded = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
    text = format(rounded.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _plural(value: Decimal | float | int, singular: str, plural: str, places: int = 2) -> str:
    text = _num(value, places)
    return f"{text} {singular if text == '1' else plural}"


def _percent(rate: float) -> str:
    """0.15 -> '15%', 0.125 -> '12.5%'."""
    return f"{_num(rate * 100, 1)}%"


def _distinct_in_order(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _dedupe(items: Iterable[str]) -> list[str]:
    return _distinct_in_order(items)


def _fired(score: Score) -> dict[str, RuleHit]:
    return {hit.rule: hit for hit in score.hits}


def _score_range(decile: int) -> str:
    low = decile * 10
    return f"{low}-100" if decile == LAST_DECILE else f"{low}-{low + 9}"


# --------------------------------------------------------------------------------------------
# Reasons
# --------------------------------------------------------------------------------------------

_ENGAGEMENT_RULES = frozenset(
    {
        "any_click",
        "linkedin",
        "calendly",
        "repeat_clicks",
        "quick_response",
        "weekend",
        "multiple_functions",
    }
)
_INTENT_RULES = frozenset(
    {
        "very_quick_response",
        "quick_response",
        "high_velocity",
        "velocity",
        "calendly",
        "repeat_visits",
    }
)


def _calendly_sentence(hours: Decimal | None) -> str:
    if hours is None:
        return "Calendly link clicked (the strongest interest signal)"
    if hours < 24:
        whole = max(1, math.ceil(hours))
        return f"Calendly clicked within {_plural(whole, 'hour', 'hours')} of applying"
    days = hours / Decimal(24)
    return f"Calendly clicked {_plural(days, 'day', 'days', places=1)} after applying"


def _first_click_sentence(hours: Decimal | None, *, very_quick: bool) -> str:
    qualifier = " (a very quick response)" if very_quick else " (a quick response)"
    if hours is None:
        return f"First click came soon after applying{qualifier}"
    if hours < 1:
        minutes = int((hours * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        if minutes < 1:
            return f"First click came within a minute of applying{qualifier}"
        if minutes < 60:
            return (
                f"First click came {_plural(minutes, 'minute', 'minutes')} after applying"
                f"{qualifier}"
            )
    return f"First click came {_plural(hours, 'hour', 'hours')} after applying{qualifier}"


def _clicks_sentence(facts: EngagementFacts, *, list_functions: bool) -> str:
    clicks = _plural(facts.total_click_events, "click", "clicks")
    functions = _distinct_in_order(facts.click_sequence)
    if facts.unique_functions_clicked <= 1:
        where = f"the {functions[0]} link" if functions else "one link type"
        return f"{clicks} on {where}"
    sentence = f"{clicks} across {facts.unique_functions_clicked} link types"
    if list_functions and functions:
        sentence += f" ({', '.join(functions)})"
    return sentence


def _repeat_sentence(facts: EngagementFacts, *, repeat_clicks: bool, repeat_visits: bool) -> str:
    repeats = max(facts.total_click_events - facts.unique_functions_clicked, 0)
    total = _plural(facts.total_click_events, "click", "clicks")
    if repeat_clicks and repeat_visits:
        return (
            f"Links opened again ({_plural(repeats, 'repeat click', 'repeat clicks')}, "
            f"{total} in total): the employer keeps coming back or shared them"
        )
    if repeat_clicks:
        return (
            f"The same link was opened again ({_plural(repeats, 'repeat click', 'repeat clicks')})"
            ": the employer came back or shared it"
        )
    return f"Repeat visits: {total} in total"


def _velocity_sentence(velocity: Decimal, *, high: bool) -> str:
    rate = _plural(velocity, "click", "clicks")
    prefix = "Fast engagement" if high else "Steady engagement"
    return f"{prefix}: {rate} per day since applying"


def _no_clicks_sentence(days_since_applied: Decimal) -> str:
    if days_since_applied < 1:
        when = "less than a day since applying"
    else:
        days = int(days_since_applied)  # whole days elapsed
        when = f"{_plural(days, 'day', 'days')} since applying"
    return f"No employer has clicked any link yet ({when})"


def _history_sentence(calibration: Calibration, score: int) -> str | None:
    if not calibration.has_history:
        return (
            "No interview history yet for this account: confidence uses the default prior "
            f"of {_percent(calibration.base_rate)}"
        )
    stats = calibration.decile(score)
    if stats.n == 0:
        return (
            f"No past application scored {_score_range(stats.decile)} yet: confidence uses "
            f"this account's overall interview rate of {_percent(calibration.base_rate)}"
        )
    return None


def reasons(facts: EngagementFacts, calibration: Calibration | None = None) -> list[str]:
    """One plain sentence per score rule that fired, strongest signals first.

    Rules that overlap between the engagement and the intent score give one sentence:
    ``calendly`` (both scores), the first-click timing (``quick_response`` in both,
    ``very_quick_response``), the click count (``any_click``, which names the link types when
    ``multiple_functions`` fired), repeats (``repeat_clicks`` and ``repeat_visits``) and velocity
    (``high_velocity``/``velocity``). A rule id this module does not know still gets a generic
    sentence. With no clicks the only fact is that nobody clicked, and since when.

    With a ``calibration``, a last sentence says when the confidence rests on a prior rather than
    on the account's own history (no history at all, or nothing in this score decile).
    """
    engagement = _fired(facts.engagement)
    intent = _fired(facts.intent)
    fired = {**intent, **engagement}
    out: list[str] = []

    if facts.total_click_events <= 0:
        out.append(_no_clicks_sentence(facts.days_since_applied))
    else:
        if "calendly" in fired:
            out.append(_calendly_sentence(facts.calendly_hours_after_applying))
        if "linkedin" in engagement:
            out.append("LinkedIn profile viewed (the employer is researching you)")
        if "very_quick_response" in intent or "quick_response" in fired:
            out.append(
                _first_click_sentence(
                    facts.hours_to_first_click, very_quick="very_quick_response" in intent
                )
            )
        if "any_click" in engagement or "multiple_functions" in engagement:
            out.append(_clicks_sentence(facts, list_functions="multiple_functions" in engagement))
        if "repeat_clicks" in engagement or "repeat_visits" in intent:
            out.append(
                _repeat_sentence(
                    facts,
                    repeat_clicks="repeat_clicks" in engagement,
                    repeat_visits="repeat_visits" in intent,
                )
            )
        if "high_velocity" in intent or "velocity" in intent:
            out.append(
                _velocity_sentence(facts.engagement_velocity, high="high_velocity" in intent)
            )
        if "weekend" in engagement:
            out.append("Clicked on a weekend (personal time: a sign of real interest)")
        known = _ENGAGEMENT_RULES | _INTENT_RULES
        for hit in (*facts.engagement.hits, *facts.intent.hits):
            if hit.rule not in known:
                label = hit.rule.replace("_", " ").capitalize()
                out.append(f"{label} (+{_plural(hit.points, 'point', 'points')})")

    if calibration is not None:
        note = _history_sentence(calibration, facts.engagement.value)
        if note is not None:
            out.append(note)
    return _dedupe(out)


# --------------------------------------------------------------------------------------------
# Recommended actions
# --------------------------------------------------------------------------------------------

STATUSES_WITHOUT_ACTIONS = frozenset({"interview", "offer", "rejected", "withdrawn"})
"""Statuses past ``applied``: the application has an outcome, so no follow-up is recommended."""

NO_ENGAGEMENT_FOLLOW_UP_DAYS = 7

ACTION_CHECK_CALENDAR = (
    "Check your calendar and inbox: the employer opened your Calendly link and may have "
    "booked a meeting"
)
ACTION_FOLLOW_UP_24H = "Send personalized follow-up email within 24 hours"
ACTION_PREPARE = "Prepare for potential interview request"
ACTION_FOLLOW_UP_POSSIBLE = (
    "Send a short follow-up email within 2-3 days restating your fit for the role"
)
ACTION_FOLLOW_UP_UNLIKELY = (
    "Send a brief follow-up email to keep your application on the employer's radar"
)
ACTION_LINKEDIN_CURRENT = (
    "Make sure your LinkedIn profile is current: it is the only link the employer opened"
)
ACTION_NO_ENGAGEMENT_LATE = "Send a polite follow-up email, or move on to other openings"
ACTION_DO_NOT_EMAIL = (
    "Do not email this employer's contacts again: each bounced, reported your email as spam "
    "or unsubscribed; reach out another way (LinkedIn, the company's careers page) if at all"
)
_EMAIL_ACTIONS = frozenset(
    {
        ACTION_FOLLOW_UP_24H,
        ACTION_FOLLOW_UP_POSSIBLE,
        ACTION_FOLLOW_UP_UNLIKELY,
        ACTION_NO_ENGAGEMENT_LATE,
    }
)


def recommended_actions(facts: EngagementFacts, outcome: Outcome) -> list[str]:
    """Next steps for the job seeker, from rules.

    Only an application still at ``applied`` gets actions; for ``interview``, ``offer``,
    ``rejected`` and ``withdrawn`` the list is empty (the application has moved on, and an empty
    list is easier for a client to handle than a sentence saying there is nothing to do).

    Rules, in output order: Calendly clicked -> check the calendar; INTERVIEW_LIKELY -> follow up
    within 24 hours; either -> prepare for an interview request; POSSIBLE -> follow up within 2-3
    days; UNLIKELY -> a brief follow-up; LinkedIn the only link type clicked -> keep the profile
    current; NO_ENGAGEMENT -> after 7 days a polite follow-up or move on, before that wait.
    When ``email_undeliverable``, no action suggests an email: the follow-ups (and the wait for
    one) give way to one action that says not to write again.
    """
    if facts.status != "applied":
        return []
    calendly = "calendly" in _fired(facts.engagement) or "calendly" in _fired(facts.intent)
    # The linkedin rule fired and only one function was clicked: LinkedIn was the only one.
    linkedin_only = "linkedin" in _fired(facts.engagement) and facts.unique_functions_clicked == 1
    out: list[str] = []
    if calendly:
        out.append(ACTION_CHECK_CALENDAR)
    if outcome is Outcome.INTERVIEW_LIKELY:
        out.append(ACTION_FOLLOW_UP_24H)
    if calendly or outcome is Outcome.INTERVIEW_LIKELY:
        out.append(ACTION_PREPARE)
    if outcome is Outcome.POSSIBLE:
        out.append(ACTION_FOLLOW_UP_POSSIBLE)
    if outcome is Outcome.UNLIKELY:
        out.append(ACTION_FOLLOW_UP_UNLIKELY)
    if linkedin_only:
        out.append(ACTION_LINKEDIN_CURRENT)
    if facts.email_undeliverable:
        out = [a for a in out if a not in _EMAIL_ACTIONS]
        out.append(ACTION_DO_NOT_EMAIL)
    elif outcome is Outcome.NO_ENGAGEMENT:
        if facts.days_since_applied >= NO_ENGAGEMENT_FOLLOW_UP_DAYS:
            out.append(ACTION_NO_ENGAGEMENT_LATE)
        else:
            days = int(facts.days_since_applied)
            out.append(
                f"Wait: no clicks after {_plural(days, 'day', 'days')} is normal; follow up if "
                f"nothing changes by day {NO_ENGAGEMENT_FOLLOW_UP_DAYS}"
            )
    return _dedupe(out)


# --------------------------------------------------------------------------------------------
# Calibration on the account's own history
# --------------------------------------------------------------------------------------------

DECILES = 10
LAST_DECILE = DECILES - 1


def decile_of(score: int) -> int:
    """Score decile 0..9: ``min(score // 10, 9)``; 100 is in decile 9, negatives in 0."""
    return min(max(score, 0) // 10, LAST_DECILE)


@dataclass(frozen=True)
class HistoryPoint:
    """A past application old enough to have an outcome (the caller filters)."""

    engagement_score: int
    reached_interview: bool
    days_to_interview: Decimal | None


@dataclass(frozen=True)
class DecileStats:
    """One score decile of the history."""

    decile: int
    n: int
    interviews: int
    raw_rate: float | None
    """interviews / n; None when n = 0."""
    shrunk_rate: float
    """(interviews + prior_strength * base_rate) / (n + prior_strength)."""
    avg_days_to_interview: Decimal | None
    """Mean days_to_interview of the decile's interviews that have one; None if none have."""


@dataclass(frozen=True)
class Calibration:
    """P(interview | score decile) for one account; build it with :func:`calibrate`."""

    deciles: tuple[DecileStats, ...]
    base_rate: float
    prior_strength: float
    has_history: bool

    def decile(self, score: int) -> DecileStats:
        return self.deciles[decile_of(score)]

    def p_interview(self, score: int) -> float:
        """The shrunk interview rate of the score's decile."""
        return self.decile(score).shrunk_rate


def calibrate(
    history: Sequence[HistoryPoint],
    *,
    prior_strength: float = 10.0,
    default_prior: float = 0.15,
) -> Calibration:
    """Per-decile interview rates, shrunk toward the account's overall rate (empirical Bayes).

    ``history`` holds only applications old enough to have reached an outcome. Each decile's
    interview probability gets a Beta prior centred on the account-wide interview rate
    ``base_rate`` with ``prior_strength`` pseudo-applications, i.e. Beta(prior_strength *
    base_rate, prior_strength * (1 - base_rate)). The posterior mean after ``interviews``
    successes in ``n`` applications is::

        shrunk_rate = (interviews + prior_strength * base_rate) / (n + prior_strength)

    so a decile with few applications stays near the overall rate and a well-populated one
    approaches its own raw rate; an empty decile gets ``base_rate`` itself. The prior is
    "empirical" because ``base_rate`` is estimated from the same history. With no history at all
    ``base_rate`` is ``default_prior`` and ``has_history`` is False.
    """
    if prior_strength < 0:
        raise ValueError("prior_strength must be >= 0")
    if not 0.0 <= default_prior <= 1.0:
        raise ValueError("default_prior must be between 0 and 1")

    has_history = len(history) > 0
    total_interviews = sum(1 for point in history if point.reached_interview)
    base_rate = total_interviews / len(history) if has_history else default_prior

    buckets: list[list[HistoryPoint]] = [[] for _ in range(DECILES)]
    for point in history:
        buckets[decile_of(point.engagement_score)].append(point)

    deciles: list[DecileStats] = []
    for index, points in enumerate(buckets):
        n = len(points)
        interviews = sum(1 for point in points if point.reached_interview)
        denominator = n + prior_strength
        shrunk = (
            (interviews + prior_strength * base_rate) / denominator if denominator else base_rate
        )
        days = [
            point.days_to_interview
            for point in points
            if point.reached_interview and point.days_to_interview is not None
        ]
        deciles.append(
            DecileStats(
                decile=index,
                n=n,
                interviews=interviews,
                raw_rate=interviews / n if n else None,
                shrunk_rate=shrunk,
                avg_days_to_interview=sum(days, Decimal(0)) / len(days) if days else None,
            )
        )
    return Calibration(
        deciles=tuple(deciles),
        base_rate=base_rate,
        prior_strength=prior_strength,
        has_history=has_history,
    )


def confidence(outcome: Outcome, score: int, calibration: Calibration) -> float:
    """The probability of the predicted class, 4 places.

    POSSIBLE and INTERVIEW_LIKELY predict an interview: ``p_interview(score)``; UNLIKELY and
    NO_ENGAGEMENT predict none: ``1 - p_interview(score)``. It moves with the history.
    """
    p = calibration.p_interview(score)
    return round(p if is_positive(outcome) else 1.0 - p, 4)


@dataclass(frozen=True)
class HistoricalComparison:
    """Seed 000 §3.2 ``historical_comparison``, from the score's decile of the history."""

    similar_engagement_patterns: int
    """Past applications in the same score decile."""
    interview_rate: float
    """Their raw interview rate in percent, 2 places (0 when there are none)."""
    avg_days_to_interview: float | None
    """Mean days to interview of those that reached one, 2 places; None if none did."""


def _round_decimal(value: Decimal, places: int = 2) -> float:
    return float(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def historical_comparison(score: int, calibration: Calibration) -> HistoricalComparison:
    stats = calibration.decile(score)
    rate = _round_decimal(Decimal(stats.interviews * 100) / Decimal(stats.n)) if stats.n else 0.0
    avg = stats.avg_days_to_interview
    return HistoricalComparison(
        similar_engagement_patterns=stats.n,
        interview_rate=rate,
        avg_days_to_interview=_round_decimal(avg) if avg is not None else None,
    )


# --------------------------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """Seed 000 §3.2 response body (without the application id)."""

    engagement_score: int
    intent_score: int
    predicted_outcome: Outcome
    confidence: float
    reasons: tuple[str, ...]
    recommended_actions: tuple[str, ...]
    historical_comparison: HistoricalComparison


def predict(facts: EngagementFacts, calibration: Calibration) -> Prediction:
    """Score one application (stored or hypothetical) against the account's calibration."""
    score = facts.engagement.value
    outcome = classify(total_click_events=facts.total_click_events, engagement_score=score)
    return Prediction(
        engagement_score=score,
        intent_score=facts.intent.value,
        predicted_outcome=outcome,
        confidence=confidence(outcome, score, calibration),
        reasons=tuple(reasons(facts, calibration)),
        recommended_actions=tuple(recommended_actions(facts, outcome)),
        historical_comparison=historical_comparison(score, calibration),
    )


# --------------------------------------------------------------------------------------------
# Backtest
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestSample:
    """One past application in a backtest.

    ``probability`` is the predicted P(interview) (``Calibration.p_interview``), not the
    confidence of the predicted class; ``predicted_positive`` means the predicted outcome was
    POSSIBLE or INTERVIEW_LIKELY (:func:`is_positive`); ``actual_positive`` means the
    application reached interview.
    """

    probability: float
    predicted_positive: bool
    actual_positive: bool


@dataclass(frozen=True)
class CalibrationBin:
    """One probability bin of the calibration table: [decile_low, decile_high)."""

    decile_low: float
    decile_high: float
    predicted: float
    """Mean predicted probability in the bin."""
    observed: float
    """Observed interview rate in the bin."""
    count: int


@dataclass(frozen=True)
class BacktestResult:
    """Backtest metrics; floats rounded to 4 places.

    ``accuracy``, ``baseline_accuracy`` and ``brier_score`` are None only when there are no
    applications; ``precision`` is None when nothing was predicted positive, ``recall`` when
    nothing was actually positive, ``auc`` when only one class is present.
    """

    applications: int
    accuracy: float | None
    precision: float | None
    recall: float | None
    baseline_accuracy: float | None
    brier_score: float | None
    auc: float | None
    calibration: tuple[CalibrationBin, ...]


def _r4(value: float) -> float:
    return round(value, 4)


def _auc(samples: Sequence[BacktestSample]) -> float | None:
    """ROC AUC by the rank (Mann-Whitney U) method; tied probabilities count 0.5.

    AUC = (sum of the positives' ranks - n_pos (n_pos + 1) / 2) / (n_pos * n_neg), where tied
    probabilities share their average rank.
    """
    n_pos = sum(1 for s in samples if s.actual_positive)
    n_neg = len(samples) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ordered = sorted(samples, key=lambda s: s.probability)
    rank_sum = 0.0
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1].probability == ordered[i].probability:
            j += 1
        average_rank = (i + j) / 2 + 1  # ranks are 1-based
        rank_sum += average_rank * sum(1 for s in ordered[i : j + 1] if s.actual_positive)
        i = j + 1
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _calibration_table(samples: Sequence[BacktestSample]) -> tuple[CalibrationBin, ...]:
    bins: list[list[BacktestSample]] = [[] for _ in range(DECILES)]
    for sample in samples:
        bins[min(int(sample.probability * DECILES), LAST_DECILE)].append(sample)
    table: list[CalibrationBin] = []
    for index, members in enumerate(bins):
        if not members:
            continue
        count = len(members)
        table.append(
            CalibrationBin(
                decile_low=index / DECILES,
                decile_high=(index + 1) / DECILES,
                predicted=_r4(sum(s.probability for s in members) / count),
                observed=_r4(sum(1 for s in members if s.actual_positive) / count),
                count=count,
            )
        )
    return tuple(table)


def backtest(samples: Sequence[BacktestSample]) -> BacktestResult:
    """Compare past predictions with what happened.

    accuracy = correct / n; precision = TP / predicted positives; recall = TP / actual positives;
    baseline_accuracy = share of the majority class (always predicting it); brier_score = mean of
    (probability - actual)^2; auc = ROC AUC (see :func:`_auc`); calibration = the 10 equal-width
    probability bins [0, 0.1), ..., [0.9, 1.0] that hold at least one sample.
    """
    for sample in samples:
        if not 0.0 <= sample.probability <= 1.0:
            raise ValueError(f"probability out of [0, 1]: {sample.probability}")
    n = len(samples)
    if n == 0:
        return BacktestResult(
            applications=0,
            accuracy=None,
            precision=None,
            recall=None,
            baseline_accuracy=None,
            brier_score=None,
            auc=None,
            calibration=(),
        )
    tp = sum(1 for s in samples if s.predicted_positive and s.actual_positive)
    correct = sum(1 for s in samples if s.predicted_positive == s.actual_positive)
    predicted_pos = sum(1 for s in samples if s.predicted_positive)
    actual_pos = sum(1 for s in samples if s.actual_positive)
    brier = sum((s.probability - (1.0 if s.actual_positive else 0.0)) ** 2 for s in samples) / n
    auc = _auc(samples)
    return BacktestResult(
        applications=n,
        accuracy=_r4(correct / n),
        precision=_r4(tp / predicted_pos) if predicted_pos else None,
        recall=_r4(tp / actual_pos) if actual_pos else None,
        baseline_accuracy=_r4(max(actual_pos, n - actual_pos) / n),
        brier_score=_r4(brier),
        auc=_r4(auc) if auc is not None else None,
        calibration=_calibration_table(samples),
    )
