"""Root fields for predictions (SPEC §6): applicationHealth, predictOutcome, predictionBacktest,
highPriorityApplications, followUps and completeFollowUp."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import strawberry

from db import email as email_db
from db import follow_ups as follow_ups_db
from db import predictions as predictions_db
from domain.backtesting import run_backtest
from domain.engagement_facts import HypotheticalClick, hypothetical_clicks
from domain.validation import ValidationError, validate_link_function
from graph.context import Context
from graph.errors import BadUserInput, NotFound
from graph.prediction_loaders import zone
from graph.relay import Connection, build_connection, check_first, decode_cursor, encode_cursor
from graph.types.common import parse_id, require_uuid
from graph.types.follow_up import FollowUp
from graph.types.prediction import (
    HighPriorityApplication,
    Prediction,
    PredictionBacktest,
    calibration_for,
    predict_clicks,
    prediction_for,
    request_now,
    to_prediction,
)

MAX_HYPOTHETICAL_CLICKS = 500
MAX_DAYS_SINCE_APPLIED = 3650.0
MAX_OBSERVATION_DAYS = 365


@strawberry.input(description="One hypothetical click: which link, how long after applying.")
class HypotheticalClickInput:
    link_function: str = strawberry.field(description="e.g. LinkedIn, Calendly, Portfolio.")
    hours_after_applying: float = strawberry.field(
        description="0 or more, and no later than daysSinceApplied."
    )
    session_id: str | None = None


@strawberry.input(
    description="Hypothetical engagement for predictOutcome: the clicks themselves rather than "
    "metric values, so they are scored by exactly the code that scores stored applications "
    "(and no impossible combination of metrics can be entered). The clicks are placed at "
    "appliedAt + hoursAfterApplying and the application is observed daysSinceApplied after "
    "appliedAt; appliedAt defaults to now - daysSinceApplied, and decides the weekend rule "
    "(in the account's timezone)."
)
class EngagementInput:
    days_since_applied: float
    clicks: list[HypotheticalClickInput] = strawberry.field(default_factory=list)
    applied_at: datetime | None = None


def _validated_clicks(data: EngagementInput) -> tuple[float, list[HypotheticalClick]]:
    days = data.days_since_applied
    if not math.isfinite(days) or days < 0 or days > MAX_DAYS_SINCE_APPLIED:
        raise BadUserInput(
            f"daysSinceApplied must be between 0 and {MAX_DAYS_SINCE_APPLIED:g}",
            field="daysSinceApplied",
        )
    if len(data.clicks) > MAX_HYPOTHETICAL_CLICKS:
        raise BadUserInput(f"At most {MAX_HYPOTHETICAL_CLICKS} clicks", field="clicks")
    out: list[HypotheticalClick] = []
    for index, click in enumerate(data.clicks):
        try:
            function = validate_link_function(click.link_function)
        except ValidationError as exc:
            raise BadUserInput(exc.message, field=f"clicks.{index}.linkFunction") from exc
        hours = click.hours_after_applying
        if not math.isfinite(hours) or hours < 0 or hours > days * 24:
            raise BadUserInput(
                "hoursAfterApplying must be between 0 and daysSinceApplied * 24 "
                f"({days * 24:g}): a click cannot come before applying or after now",
                field=f"clicks.{index}.hoursAfterApplying",
            )
        out.append(HypotheticalClick(function, hours, click.session_id))
    return days, out


@strawberry.type
class PredictionQueries:
    @strawberry.field(description="Health score and prediction of one application (seed 000 §3.2).")
    async def application_health(
        self, info: strawberry.Info[Context, None], application_id: strawberry.ID
    ) -> Prediction | None:
        ctx = info.context
        ctx.require("read")
        row = await ctx.loaders.application_by_id.load(
            require_uuid(application_id, field="applicationId")
        )
        return None if row is None else await prediction_for(ctx, row)

    @strawberry.field(description="Predict the outcome of hypothetical engagement (seed 000 §3.2).")
    async def predict_outcome(
        self, info: strawberry.Info[Context, None], input: EngagementInput
    ) -> Prediction:
        ctx = info.context
        ctx.require("read")
        days, clicks = _validated_clicks(input)
        now = request_now(ctx)
        if input.applied_at is not None and input.applied_at.utcoffset() is None:
            raise BadUserInput("appliedAt needs a UTC offset", field="appliedAt")
        applied_at = input.applied_at or now - timedelta(days=days)
        as_of = applied_at + timedelta(days=days)
        result = await predict_clicks(
            ctx,
            applied_at=applied_at,
            clicks=hypothetical_clicks(clicks, applied_at=applied_at),
            as_of=as_of,
            status="applied",
            calibration=await calibration_for(ctx),
        )
        return to_prediction(result, as_of=as_of)

    @strawberry.field(
        description="How good the predictions are on this account's past applications."
    )
    async def prediction_backtest(
        self, info: strawberry.Info[Context, None], observation_days: int = 7
    ) -> PredictionBacktest:
        """Applications created at least max(observationDays, outcome age) ago, predicted from
        their first observationDays of clicks (see domain.backtesting for both evaluations).

        Scored in Python on clicks fetched in one statement for the account: fine for thousands
        of applications; for much bigger accounts the issue-4 SQL batch run with ``asOf`` is the
        path.
        """
        ctx = info.context
        viewer = ctx.require("read")
        if not 1 <= observation_days <= MAX_OBSERVATION_DAYS:
            raise BadUserInput(
                f"observationDays must be between 1 and {MAX_OBSERVATION_DAYS}",
                field="observationDays",
            )
        age = max(observation_days, ctx.settings.outcome_age_days)
        created_before = datetime.now(UTC) - timedelta(days=age)
        async with ctx.sessionmaker() as session:
            past = await predictions_db.past_applications(
                session,
                account_id=viewer.account_id,
                created_before=created_before,
                horizon_days=observation_days,
            )
            opens = await email_db.first_human_opens(
                session, account_id=viewer.account_id, created_before=created_before
            )
        report = run_backtest(
            [
                replace(app, first_human_open_at=opens.get(app.application_id))
                for app in past.applications
            ],
            observation_days=observation_days,
            tz=zone(viewer.timezone),
            prior_strength=ctx.settings.calibration_prior_strength,
        )
        return PredictionBacktest.build(report)

    @strawberry.field(
        description="Applications still at APPLIED with an engagement score above threshold, "
        "highest first, each with its recommended action."
    )
    async def high_priority_applications(
        self, info: strawberry.Info[Context, None], threshold: int = 70, first: int = 20
    ) -> list[HighPriorityApplication]:
        ctx = info.context
        viewer = ctx.require("read")
        if not 0 <= threshold <= 100:
            raise BadUserInput("threshold must be between 0 and 100", field="threshold")
        check_first(first, maximum=ctx.settings.max_page_size)
        async with ctx.sessionmaker() as session:
            rows = await predictions_db.high_priority_applications(
                session, account_id=viewer.account_id, threshold=threshold, first=first
            )
        out: list[HighPriorityApplication] = []
        for row in rows:
            ctx.loaders.application_by_id.prime(row.id, row)
        # Concurrently, so the clicks of all rows come through one loader batch.
        predictions = await asyncio.gather(*(prediction_for(ctx, row) for row in rows))
        for row, prediction in zip(rows, predictions, strict=True):
            actions = prediction.recommended_actions
            out.append(
                HighPriorityApplication(
                    row=row,
                    engagement_score=row.engagement_score,
                    recommended_action=actions[0] if actions else None,
                    recommended_actions=actions,
                )
            )
        return out

    @strawberry.field(
        description="Follow-ups, open ones only unless includeCompleted, by due time."
    )
    async def follow_ups(
        self,
        info: strawberry.Info[Context, None],
        first: int = 20,
        after: str | None = None,
        include_completed: bool = False,
    ) -> Connection[FollowUp]:
        ctx = info.context
        viewer = ctx.require("read")
        check_first(first, maximum=ctx.settings.max_page_size)
        keyset = None
        if after is not None:
            due, last_id = decode_cursor(after, length=2)
            try:
                due_at = datetime.fromisoformat(str(due))
            except ValueError as exc:
                raise BadUserInput(
                    "`after` is not a cursor this API returned", field="after"
                ) from exc
            keyset = (due_at, require_uuid(str(last_id), field="after"))
        async with ctx.sessionmaker() as session:
            rows = await follow_ups_db.list_follow_ups(
                session,
                account_id=viewer.account_id,
                first=first,
                after=keyset,
                include_completed=include_completed,
            )
            total = await follow_ups_db.count_follow_ups(
                session, account_id=viewer.account_id, include_completed=include_completed
            )
        return build_connection(
            [FollowUp.from_row(r) for r in rows],
            [encode_cursor([r.due_at.isoformat(), str(r.id)]) for r in rows],
            first=first,
            total_count=total,
            has_previous=after is not None,
        )


@strawberry.type
class PredictionMutations:
    @strawberry.mutation(description="Mark a follow-up done (idempotent).")
    async def complete_follow_up(
        self, info: strawberry.Info[Context, None], id: strawberry.ID
    ) -> FollowUp:
        ctx = info.context
        viewer = ctx.require("write")
        follow_up_id = parse_id(id, what="follow-up")
        async with ctx.sessionmaker() as session, session.begin():
            row = await follow_ups_db.complete_follow_up(
                session, account_id=viewer.account_id, follow_up_id=follow_up_id
            )
        if row is None:
            raise NotFound(f"No follow-up with id {id!r}", field="id")
        return FollowUp.from_row(row)
