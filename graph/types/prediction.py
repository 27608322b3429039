"""Prediction, backtest and high-priority types (SPEC §6), built from domain results."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.applications import ApplicationRow
from domain import predictions as dp
from domain.backtesting import BacktestReport, EmailSignals, TimeSplit
from domain.engagement_facts import facts_from_clicks
from domain.metrics import ClickEvent
from graph.context import Context
from graph.prediction_loaders import CalibrationKey, zone

if TYPE_CHECKING:
    from graph.types.application import Application


@strawberry.enum(description="SPEC §6 outcome classes, from the engagement score.")
class PredictedOutcome(Enum):
    NO_ENGAGEMENT = "no_engagement"
    UNLIKELY = "unlikely"
    POSSIBLE = "possible"
    INTERVIEW_LIKELY = "interview_likely"


@strawberry.type(description="Past applications of this account in the same score decile.")
class HistoricalComparison:
    similar_engagement_patterns: int = strawberry.field(
        description="Past applications (old enough to have an outcome) in the same score decile."
    )
    interview_rate: float = strawberry.field(
        description="Percent of them that reached an interview (0-100, 2 places)."
    )
    avg_days_to_interview: float | None = strawberry.field(
        description="Mean days from applying to the first interview of those that reached one."
    )


@strawberry.type(description="Seed 000 §3.2 health score and prediction of one application.")
class Prediction:
    application_row: strawberry.Private[ApplicationRow | None]
    engagement_score: int
    intent_score: int
    predicted_outcome: PredictedOutcome
    confidence: float = strawberry.field(
        description="Calibrated probability (0..1) of the predicted class, from this account's "
        "history: P(interview) for POSSIBLE and INTERVIEW_LIKELY, 1 - P(interview) otherwise."
    )
    reasons: list[str]
    recommended_actions: list[str]
    historical_comparison: HistoricalComparison
    as_of: datetime = strawberry.field(description="The clicks up to this time were used.")

    @strawberry.field(description="The application predicted; null for predictOutcome.")
    def application(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[Application, strawberry.lazy("graph.types.application")] | None:
        from graph.types.application import Application

        if self.application_row is None:
            return None
        return Application.from_row(self.application_row)


def to_prediction(
    result: dp.Prediction, *, as_of: datetime, row: ApplicationRow | None = None
) -> Prediction:
    hc = result.historical_comparison
    return Prediction(
        application_row=row,
        engagement_score=result.engagement_score,
        intent_score=result.intent_score,
        predicted_outcome=PredictedOutcome(result.predicted_outcome.value),
        confidence=result.confidence,
        reasons=list(result.reasons),
        recommended_actions=list(result.recommended_actions),
        historical_comparison=HistoricalComparison(
            similar_engagement_patterns=hc.similar_engagement_patterns,
            interview_rate=hc.interview_rate,
            avg_days_to_interview=hc.avg_days_to_interview,
        ),
        as_of=as_of,
    )


def calibration_key(ctx: Context) -> CalibrationKey:
    return CalibrationKey(
        outcome_age_days=ctx.settings.outcome_age_days,
        prior_strength=ctx.settings.calibration_prior_strength,
    )


def request_now(ctx: Context) -> datetime:
    """One "now" per request, so every prediction of a response uses the same instant."""
    now = ctx.extra.get("now")
    if not isinstance(now, datetime):
        now = datetime.now(UTC)
        ctx.extra["now"] = now
    return now


async def calibration_for(ctx: Context) -> dp.Calibration:
    calibration = await ctx.loaders.calibration_by_account.load(calibration_key(ctx))
    assert calibration is not None  # the batch function answers every key
    return calibration


async def predict_clicks(
    ctx: Context,
    *,
    applied_at: datetime,
    clicks: list[ClickEvent],
    as_of: datetime,
    status: str,
    calibration: dp.Calibration,
    email_undeliverable: bool = False,
) -> dp.Prediction:
    viewer = ctx.require("read")
    facts = facts_from_clicks(
        applied_at=applied_at,
        clicks=clicks,
        as_of=as_of,
        tz=zone(viewer.timezone),
        status=status,
        email_undeliverable=email_undeliverable,
    )
    return dp.predict(facts, calibration)


async def prediction_for(ctx: Context, row: ApplicationRow) -> Prediction:
    """The live prediction of a stored application: its clicks, the account's calibration and
    whether its contacts may still be written to come through loaders, so a list of
    applications costs three statements in all."""
    clicks, calibration, undeliverable = await asyncio.gather(
        ctx.loaders.human_clicks_by_application.load(row.id),
        calibration_for(ctx),
        ctx.loaders.undeliverable_by_application.load(row.id),
    )
    now = request_now(ctx)
    result = await predict_clicks(
        ctx,
        applied_at=row.created_at,
        clicks=list(clicks or []),
        as_of=now,
        status=row.status,
        calibration=calibration,
        email_undeliverable=bool(undeliverable),
    )
    return to_prediction(result, as_of=now, row=row)


# ------------------------------------------------------------------------------- backtest


@strawberry.type(description="One probability bin: predicted vs observed interview rate.")
class CalibrationBin:
    probability_low: float
    probability_high: float
    predicted: float = strawberry.field(description="Mean predicted P(interview) in the bin.")
    observed: float = strawberry.field(description="Share of the bin that reached an interview.")
    count: int


def _bins(result: dp.BacktestResult) -> list[CalibrationBin]:
    return [
        CalibrationBin(
            probability_low=b.decile_low,
            probability_high=b.decile_high,
            predicted=b.predicted,
            observed=b.observed,
            count=b.count,
        )
        for b in result.calibration
    ]


@strawberry.type(description="Out-of-sample check: calibrated on older, evaluated on newer.")
class BacktestSplit:
    calibrated_on: int = strawberry.field(description="Older applications calibrated on.")
    evaluated_on: int = strawberry.field(description="Newer applications evaluated.")
    accuracy: float | None
    precision: float | None
    recall: float | None
    baseline_accuracy: float | None
    brier_score: float | None
    auc: float | None
    calibration: list[CalibrationBin]

    @classmethod
    def build(cls, split: TimeSplit) -> BacktestSplit:
        r = split.result
        return cls(
            calibrated_on=split.calibrated_on,
            evaluated_on=split.evaluated_on,
            accuracy=r.accuracy,
            precision=r.precision,
            recall=r.recall,
            baseline_accuracy=r.baseline_accuracy,
            brier_score=r.brier_score,
            auc=r.auc,
            calibration=_bins(r),
        )


@strawberry.type(
    description="The backtest again with a human email open (issue 17) as a second feature: "
    "P(interview) per (score decile, human open in the window) instead of per decile. The AUC "
    "and Brier score with and without it, in sample and on the time split; raisesAuc is judged "
    "out of sample when there is a split. The live prediction uses the open only if this shows "
    "a gain on the demo data (README, 'Email engagement')."
)
class EmailSignalsBacktest:
    applications_with_human_open: int
    auc_without: float | None
    auc_with: float | None
    brier_without: float | None
    brier_with: float | None
    time_split_auc_without: float | None
    time_split_auc_with: float | None
    time_split_brier_without: float | None
    time_split_brier_with: float | None
    raises_auc: bool
    summary: str

    @classmethod
    def build(cls, e: EmailSignals) -> EmailSignalsBacktest:
        return cls(
            applications_with_human_open=e.applications_with_human_open,
            auc_without=e.auc_without,
            auc_with=e.auc_with,
            brier_without=e.brier_without,
            brier_with=e.brier_with,
            time_split_auc_without=e.time_split_auc_without,
            time_split_auc_with=e.time_split_auc_with,
            time_split_brier_without=e.time_split_brier_without,
            time_split_brier_with=e.time_split_brier_with,
            raises_auc=e.raises_auc,
            summary=e.summary,
        )


@strawberry.type(
    description="Predictions from the first observationDays of clicks of past applications, "
    "compared with whether they reached an interview. The top-level figures cover all of them, "
    "calibrated in-sample (accuracy, precision, recall and the baseline do not depend on the "
    "calibration; brierScore, auc and calibration are optimistic); timeSplit is out-of-sample."
)
class PredictionBacktest:
    observation_days: int
    applications: int
    accuracy: float | None
    precision: float | None = strawberry.field(
        description="Of the applications predicted POSSIBLE or INTERVIEW_LIKELY, the share that "
        "reached an interview."
    )
    recall: float | None
    baseline_accuracy: float | None = strawberry.field(
        description="Accuracy of always predicting the most common outcome."
    )
    brier_score: float | None
    auc: float | None
    calibration: list[CalibrationBin]
    target_accuracy: float
    meets_target: bool = strawberry.field(description="accuracy > targetAccuracy (seed 000).")
    summary: str
    time_split: BacktestSplit | None
    with_email_signals: EmailSignalsBacktest | None

    @classmethod
    def build(cls, report: BacktestReport) -> PredictionBacktest:
        r = report.overall
        return cls(
            observation_days=report.observation_days,
            applications=r.applications,
            accuracy=r.accuracy,
            precision=r.precision,
            recall=r.recall,
            baseline_accuracy=r.baseline_accuracy,
            brier_score=r.brier_score,
            auc=r.auc,
            calibration=_bins(r),
            target_accuracy=report.target_accuracy,
            meets_target=report.meets_target,
            summary=report.summary,
            time_split=None
            if report.time_split is None
            else BacktestSplit.build(report.time_split),
            with_email_signals=None
            if report.email_signals is None
            else EmailSignalsBacktest.build(report.email_signals),
        )


# ------------------------------------------------------------------------ high priority


@strawberry.type(description="An application above the priority threshold with no outcome yet.")
class HighPriorityApplication:
    row: strawberry.Private[ApplicationRow]
    engagement_score: int = strawberry.field(
        description="The stored score (kept current by the analytics batch)."
    )
    recommended_action: str | None = strawberry.field(
        description="The first recommended action of its live prediction."
    )
    recommended_actions: list[str]

    @strawberry.field
    def application(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[Application, strawberry.lazy("graph.types.application")]:
        from graph.types.application import Application

        return Application.from_row(self.row)
