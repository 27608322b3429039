"""The prediction backtest over an account's history (SPEC §6, seed 000 "> 60% accuracy").

Pure: past applications in, a :class:`BacktestReport` out. Each past application is predicted
from the clicks of its first ``observation_days`` only (``domain.engagement_facts.past_as_of``,
which also stops at its first interview), and compared with whether it reached an interview.

Two evaluations are reported:

* **all applications, in-sample**: the calibration is built on the same applications it is
  scored on. Accuracy, precision, recall and the baseline do not depend on the calibration (the
  predicted class comes from the score thresholds alone), so they are honest; the Brier score,
  the AUC and the calibration table are optimistic, because each application helped estimate
  its own probability.
* **time split, out-of-sample**: calibrated on the older half of the applications, evaluated on
  the newer half, the way the calibration is used in production (past -> future). Its Brier
  score, AUC and calibration table are the ones to trust; with a small history they are noisy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta, tzinfo

from domain.engagement_facts import (
    DEFAULT_PRIOR,
    PastApplication,
    engagement_score_as_of,
    past_as_of,
)
from domain.predictions import (
    BacktestResult,
    BacktestSample,
    HistoryPoint,
    backtest,
    calibrate,
    classify,
    is_positive,
)

__all__ = ["TARGET_ACCURACY", "BacktestReport", "TimeSplit", "run_backtest", "summary_sentence"]

TARGET_ACCURACY = 0.6
"""Seed 000 success metric: "> 60% accuracy" (met when accuracy is strictly above it)."""


@dataclass(frozen=True, slots=True)
class _Scored:
    score: int
    clicks: int
    reached_interview: bool
    point: HistoryPoint


@dataclass(frozen=True)
class TimeSplit:
    calibrated_on: int
    evaluated_on: int
    result: BacktestResult


@dataclass(frozen=True)
class BacktestReport:
    observation_days: int
    overall: BacktestResult
    time_split: TimeSplit | None
    target_accuracy: float
    meets_target: bool
    summary: str


def _score(app: PastApplication, horizon: timedelta, tz: tzinfo) -> _Scored:
    score, clicks = engagement_score_as_of(
        applied_at=app.created_at, clicks=app.clicks, as_of=past_as_of(app, horizon), tz=tz
    )
    return _Scored(
        score=score,
        clicks=clicks,
        reached_interview=app.reached_interview,
        point=HistoryPoint(
            engagement_score=score,
            reached_interview=app.reached_interview,
            days_to_interview=None,  # not used by the backtest
        ),
    )


def _evaluate(
    train: Sequence[_Scored],
    test: Sequence[_Scored],
    *,
    prior_strength: float,
    default_prior: float,
) -> BacktestResult:
    calibration = calibrate(
        [s.point for s in train], prior_strength=prior_strength, default_prior=default_prior
    )
    return backtest(
        [
            BacktestSample(
                probability=calibration.p_interview(s.score),
                predicted_positive=is_positive(
                    classify(total_click_events=s.clicks, engagement_score=s.score)
                ),
                actual_positive=s.reached_interview,
            )
            for s in test
        ]
    )


def _pct(value: float) -> str:
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def summary_sentence(
    *, observation_days: int, overall: BacktestResult, time_split: TimeSplit | None
) -> str:
    """A plain-language verdict that compares the accuracy with the majority-class baseline."""
    n = overall.applications
    if n == 0 or overall.accuracy is None or overall.baseline_accuracy is None:
        return (
            "No application is old enough to backtest yet: predictions can be checked once "
            "applications have had time to reach an outcome."
        )
    accuracy, baseline = overall.accuracy, overall.baseline_accuracy
    if accuracy > baseline:
        verdict = "better than"
    elif accuracy == baseline:
        verdict = "no better than"
    else:
        verdict = "worse than"
    target = "above" if accuracy > TARGET_ACCURACY else "not above"
    text = (
        f"Predicting from the first {observation_days} days of clicks, the rules were right for "
        f"{_pct(accuracy)} of {n} past applications, {verdict} the {_pct(baseline)} of always "
        f"predicting the most common outcome, and {target} the {_pct(TARGET_ACCURACY)} target."
    )
    if time_split is not None and time_split.result.brier_score is not None:
        split = time_split.result
        text += (
            f" Calibrated on the older {time_split.calibrated_on} and tested on the newer "
            f"{time_split.evaluated_on}, the Brier score is {split.brier_score:.4f}"
        )
        text += f" and the AUC {split.auc:.2f}." if split.auc is not None else "."
    if n < 30:
        text += f" With only {n} applications these figures are rough."
    return text


def run_backtest(
    apps: Sequence[PastApplication],
    *,
    observation_days: int,
    tz: tzinfo,
    prior_strength: float,
    default_prior: float = DEFAULT_PRIOR,
) -> BacktestReport:
    """Backtest on ``apps`` (old enough to have an outcome), both evaluations (module doc)."""
    horizon = timedelta(days=observation_days)
    ordered = sorted(apps, key=lambda a: (a.created_at, a.application_id))
    scored = [_score(app, horizon, tz) for app in ordered]
    overall = _evaluate(scored, scored, prior_strength=prior_strength, default_prior=default_prior)
    split: TimeSplit | None = None
    if len(scored) >= 2:
        half = len(scored) // 2
        older, newer = scored[:half], scored[half:]
        split = TimeSplit(
            calibrated_on=len(older),
            evaluated_on=len(newer),
            result=_evaluate(
                older, newer, prior_strength=prior_strength, default_prior=default_prior
            ),
        )
    meets = overall.accuracy is not None and overall.accuracy > TARGET_ACCURACY
    return BacktestReport(
        observation_days=observation_days,
        overall=overall,
        time_split=split,
        target_accuracy=TARGET_ACCURACY,
        meets_target=meets,
        summary=summary_sentence(
            observation_days=observation_days, overall=overall, time_split=split
        ),
    )
