"""From clicks to the inputs of ``domain.predictions`` (pure, no I/O).

The prediction code (``domain.predictions``) takes :class:`EngagementFacts` and
:class:`HistoryPoint`; this module builds both from an application's human clicks with
``domain.metrics.compute_metrics``, so a stored application, a past one in the calibration
history or the backtest, and a hypothetical one (``predictOutcome``) all go through the same
code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from domain.metrics import (
    CALENDLY,
    ClickEvent,
    compute_metrics,
    days_exact,
    engagement_score,
    hours_exact,
)
from domain.metrics import round_half_up as _round
from domain.predictions import Calibration, EngagementFacts, HistoryPoint, calibrate

__all__ = [
    "DEFAULT_PRIOR",
    "HypotheticalClick",
    "PastApplication",
    "calibration_from_history",
    "engagement_score_as_of",
    "facts_from_clicks",
    "hypothetical_clicks",
    "past_as_of",
    "to_history_point",
]

DEFAULT_PRIOR = 0.15
"""P(interview) for an account without history: the order of magnitude of interview rates
for job applications, a prior the account's own history replaces as soon as it has one."""


def facts_from_clicks(
    *,
    applied_at: datetime,
    clicks: Iterable[ClickEvent],
    as_of: datetime,
    tz: tzinfo,
    status: str,
    email_undeliverable: bool = False,
) -> EngagementFacts:
    """The SPEC §4 metrics of one application, as the facts a prediction needs."""
    clicks = list(clicks)
    metrics = compute_metrics(applied_at=applied_at, clicks=clicks, as_of=as_of, tz=tz)
    as_of_utc = as_of.astimezone(UTC)
    calendly_times = [
        c.clicked_at.astimezone(UTC)
        for c in clicks
        if c.link_function == CALENDLY and c.clicked_at.astimezone(UTC) <= as_of_utc
    ]
    calendly_hours = (
        _round(hours_exact(min(calendly_times) - applied_at.astimezone(UTC)), 2)
        if calendly_times
        else None
    )
    return EngagementFacts(
        engagement=metrics.engagement,
        intent=metrics.intent,
        total_click_events=metrics.total_click_events,
        unique_functions_clicked=metrics.unique_functions_clicked,
        click_sequence=metrics.click_sequence,
        hours_to_first_click=metrics.hours_to_first_click,
        engagement_velocity=metrics.engagement_velocity,
        calendly_hours_after_applying=calendly_hours,
        days_since_applied=max(
            _round(days_exact(as_of_utc - applied_at.astimezone(UTC)), 4), Decimal(0)
        ),
        status=status,
        email_undeliverable=email_undeliverable,
    )


@dataclass(frozen=True, slots=True)
class PastApplication:
    """A past application with its outcome and its human clicks (any order, any time)."""

    application_id: str
    created_at: datetime
    reached_interview: bool
    first_interview_at: datetime | None
    clicks: tuple[ClickEvent, ...]
    first_human_open_at: datetime | None = None
    """The first human open of an email to one of its contacts (issue 17; machine opens of
    mail privacy proxies and scanners are not in it)."""


def past_as_of(app: PastApplication, horizon: timedelta) -> datetime:
    """When a past application is scored: ``horizon`` after applying, or just before its first
    interview if that came sooner.

    A live application at ``applied`` has by definition not reached an interview, so its clicks
    are all pre-interview ones; scoring history on clicks made after the interview was set up
    (the employer re-opening links before the meeting) would inflate the interview deciles and
    make the calibration and the backtest look better than they are.
    """
    end = app.created_at + horizon
    if app.first_interview_at is not None and app.first_interview_at < end:
        return max(app.first_interview_at, app.created_at)
    return end


def engagement_score_as_of(
    *, applied_at: datetime, clicks: Iterable[ClickEvent], as_of: datetime, tz: tzinfo
) -> tuple[int, int]:
    """(engagement score, clicks) as ``compute_metrics`` gives them, without the other metrics.

    The calibration scores every past application of the account on each request; computing
    only what ``domain.metrics.engagement_score`` reads (the same rule function, fed the same
    exact inputs) makes that several times cheaper than the full metric set. A test checks both
    agree.
    """
    as_of_utc = as_of.astimezone(UTC)
    seen = [
        (c.clicked_at.astimezone(UTC), c.link_function)
        for c in clicks
        if c.clicked_at.astimezone(UTC) <= as_of_utc
    ]
    if not seen:
        return 0, 0
    functions = {function for _, function in seen}
    first = min(at for at, _ in seen)
    days = {_day_of_week(at.astimezone(tz)) for at, _ in seen}
    score = engagement_score(
        total_click_events=len(seen),
        click_sequence=tuple(functions),  # the rules only test membership
        unique_functions_clicked=len(functions),
        hours_to_first_click_exact=hours_exact(first - applied_at.astimezone(UTC)),
        click_days_of_week=days,
    )
    return score.value, len(seen)


def _day_of_week(local: datetime) -> int:
    return local.isoweekday() % 7  # 0 = Sunday .. 6 = Saturday, as domain.metrics


def to_history_point(app: PastApplication, *, horizon: timedelta, tz: tzinfo) -> HistoryPoint:
    """Score a past application on the clicks of its first ``horizon`` (see :func:`past_as_of`)."""
    score, _ = engagement_score_as_of(
        applied_at=app.created_at, clicks=app.clicks, as_of=past_as_of(app, horizon), tz=tz
    )
    days: Decimal | None = None
    if app.reached_interview and app.first_interview_at is not None:
        days = _round(days_exact(app.first_interview_at - app.created_at), 4)
    return HistoryPoint(
        engagement_score=score,
        reached_interview=app.reached_interview,
        days_to_interview=days,
    )


@dataclass(frozen=True, slots=True)
class HypotheticalClick:
    link_function: str
    hours_after_applying: float
    session_id: str | None = None


def hypothetical_clicks(
    clicks: Sequence[HypotheticalClick], *, applied_at: datetime
) -> list[ClickEvent]:
    """Real click events at ``applied_at`` + hours, so the same metric code scores them."""
    return [
        ClickEvent(
            click_id=f"hypothetical-{index:06d}",
            clicked_at=applied_at + timedelta(hours=click.hours_after_applying),
            link_function=click.link_function,
            session_id=click.session_id,
        )
        for index, click in enumerate(clicks)
    ]


def calibration_from_history(
    apps: Iterable[PastApplication],
    *,
    horizon: timedelta,
    tz: tzinfo,
    prior_strength: float,
    default_prior: float = DEFAULT_PRIOR,
) -> Calibration:
    """The account's calibration: its past applications scored on their first ``horizon``."""
    return calibrate(
        [to_history_point(app, horizon=horizon, tz=tz) for app in apps],
        prior_strength=prior_strength,
        default_prior=default_prior,
    )
