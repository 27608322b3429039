"""Per-application click metrics and the engagement and intent scores (SPEC §4).

Pure computation: a list of clicks in, an :class:`ApplicationMetrics` out. The
scores follow the seed 001 rules with the SPEC fixes: they compare exact
(unrounded) values, and a null test means null, so a first click at 0 hours
is a quick response.

Exact values are kept as :class:`fractions.Fraction` so that boundaries such as
"exactly 4 hours" or "exactly 2 clicks a day" are decided without float or
decimal-context error; only the stored outputs are rounded (``Decimal``,
ROUND_HALF_UP, as PostgreSQL's ``round(numeric)`` does).

Every instant is converted to UTC before it is compared or subtracted: Python
ignores the UTC offset when both operands share a ``tzinfo`` object, which
would be wrong across a daylight-saving change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from typing import Final, TypeVar

__all__ = [
    "CALENDLY",
    "LINKEDIN",
    "SCORE_CAP",
    "WEEKEND_DAYS",
    "ApplicationMetrics",
    "ClickEvent",
    "ExactNumber",
    "RuleHit",
    "Score",
    "compute_metrics",
    "days_exact",
    "engagement_score",
    "hours_exact",
    "intent_score",
    "round_half_up",
]

#: A number a score rule can compare: what :func:`compute_metrics` passes
#: (``Fraction``) or what a caller scoring hypothetical data may have.
ExactNumber = Fraction | Decimal | float | int

LINKEDIN: Final = "LinkedIn"
CALENDLY: Final = "Calendly"
#: 0 = Sunday, 6 = Saturday. The seed PRD's [5, 6] counted Friday, a defect.
WEEKEND_DAYS: Final = frozenset({0, 6})
SCORE_CAP: Final = 100

_MICROSECONDS_PER_HOUR: Final = 3_600 * 1_000_000
_MICROSECONDS_PER_DAY: Final = 86_400 * 1_000_000


@dataclass(frozen=True, slots=True)
class ClickEvent:
    """One human click on one of the application's tracked links."""

    click_id: str  # uuid text; tie-break for ordering
    clicked_at: datetime  # timezone-aware
    link_function: str
    session_id: str | None = None

    def __post_init__(self) -> None:
        _require_aware(self.clicked_at, "clicked_at")


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A scoring rule that fired."""

    rule: str  # stable id, e.g. "quick_response"
    points: int  # points this rule added, before the cap


@dataclass(frozen=True, slots=True)
class Score:
    value: int  # 0..100 after the cap
    hits: tuple[RuleHit, ...]  # every rule that fired, in rule order


_NO_SCORE: Final = Score(value=0, hits=())


@dataclass(frozen=True, slots=True)
class ApplicationMetrics:
    total_click_events: int
    click_sequence: tuple[str, ...]
    unique_functions_clicked: int
    unique_click_sessions: int  # distinct non-null session_id
    first_click_at: datetime | None  # in UTC
    last_click_at: datetime | None  # in UTC
    most_clicked_link_function: str | None  # most clicks; ties -> alphabetically first
    time_to_first_click: timedelta | None
    hours_to_first_click: Decimal | None  # 2 places, ROUND_HALF_UP
    time_between_first_last_click: timedelta | None
    hours_between_first_last_click: Decimal | None  # 2 places, ROUND_HALF_UP
    peak_click_hour: int | None  # local hour 0..23; ties -> earliest hour
    click_days_of_week: tuple[int, ...]  # ascending, 0 = Sunday .. 6 = Saturday, local
    engagement_velocity: Decimal  # clicks per day, 4 places, ROUND_HALF_UP
    engagement: Score
    intent: Score

    @property
    def engagement_score(self) -> int:
        return self.engagement.value

    @property
    def intent_score(self) -> int:
        return self.intent.value


# --------------------------------------------------------------------------- helpers


def _require_aware(value: datetime, name: str) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def hours_exact(delta: timedelta) -> Fraction:
    """The exact number of hours in ``delta`` (no float rounding)."""
    return Fraction(_microseconds(delta), _MICROSECONDS_PER_HOUR)


def days_exact(delta: timedelta) -> Fraction:
    """The exact, fractional number of days in ``delta`` (seconds / 86400)."""
    return Fraction(_microseconds(delta), _MICROSECONDS_PER_DAY)


def round_half_up(value: Fraction | int, places: int) -> Decimal:
    """Round an exact value to ``places`` decimals, halves away from zero.

    This is PostgreSQL's ``round(numeric, places)`` and ``Decimal``'s
    ROUND_HALF_UP, applied to the exact value rather than to a float.
    """
    scaled = Fraction(value) * 10**places
    magnitude = int(abs(scaled) + Fraction(1, 2))  # floor of |x| + 1/2
    rounded = -magnitude if scaled < 0 else magnitude
    return Decimal(rounded).scaleb(-places)


def _day_of_week(local: datetime) -> int:
    # isoweekday: Monday = 1 .. Sunday = 7, so % 7 gives Sunday = 0 .. Saturday = 6.
    return local.isoweekday() % 7


_Key = TypeVar("_Key", int, str)


def _most_common_smallest(counts: Counter[_Key]) -> _Key:
    """The key with the highest count; ties go to the smallest key."""
    return min(counts, key=lambda key: (-counts[key], key))


# --------------------------------------------------------------------------- scores


def _score(hits: list[RuleHit]) -> Score:
    return Score(value=min(sum(hit.points for hit in hits), SCORE_CAP), hits=tuple(hits))


def engagement_score(
    *,
    total_click_events: int,
    click_sequence: Sequence[str],
    unique_functions_clicked: int,
    hours_to_first_click_exact: ExactNumber | None,
    click_days_of_week: Collection[int],
) -> Score:
    """Seed 001 "Engagement Score", with the SPEC §4 fixes, capped at 100.

    ``hours_to_first_click_exact`` must be the unrounded value: a first click at
    3h59m59s is quick even though it rounds to 4.00. ``None`` means no click; 0
    is a click at the moment of applying and counts as quick. A negative value
    (a click recorded before the application, i.e. bad data) is compared like
    any other number, so it counts as quick too.
    """
    hits: list[RuleHit] = []
    if total_click_events > 0:
        hits.append(RuleHit("any_click", 10))
    if LINKEDIN in click_sequence:
        hits.append(RuleHit("linkedin", 25))
    if CALENDLY in click_sequence:
        hits.append(RuleHit("calendly", 40))
    repeat_clicks = total_click_events - unique_functions_clicked
    if repeat_clicks > 0:
        hits.append(RuleHit("repeat_clicks", min(repeat_clicks * 5, 15)))
    if hours_to_first_click_exact is not None and hours_to_first_click_exact < 4:
        hits.append(RuleHit("quick_response", 30))
    if any(day in WEEKEND_DAYS for day in click_days_of_week):
        hits.append(RuleHit("weekend", 20))
    if unique_functions_clicked > 1:
        hits.append(RuleHit("multiple_functions", (unique_functions_clicked - 1) * 10))
    return _score(hits)


def intent_score(
    *,
    hours_to_first_click_exact: ExactNumber | None,
    engagement_velocity_exact: ExactNumber,
    click_sequence: Sequence[str],
    total_click_events: int,
) -> Score:
    """Seed 001 "Intent Score", capped at 100, on exact (unrounded) values.

    Boundaries are strict: exactly 2 hours earns 30 (not 50), exactly 8 hours
    earns nothing, a velocity of exactly 2 earns 15 and exactly 1 earns nothing.
    Negative hours (bad data) are compared as they are, see :func:`engagement_score`.
    """
    hits: list[RuleHit] = []
    hours = hours_to_first_click_exact
    if hours is not None and hours < 2:
        hits.append(RuleHit("very_quick_response", 50))
    elif hours is not None and hours < 8:
        hits.append(RuleHit("quick_response", 30))
    velocity = engagement_velocity_exact
    if velocity > 2:
        hits.append(RuleHit("high_velocity", 30))
    elif velocity > 1:
        hits.append(RuleHit("velocity", 15))
    if CALENDLY in click_sequence:
        hits.append(RuleHit("calendly", 40))
    if total_click_events > 3:
        hits.append(RuleHit("repeat_visits", 20))
    return _score(hits)


# --------------------------------------------------------------------------- metrics


def compute_metrics(
    *,
    applied_at: datetime,
    clicks: Iterable[ClickEvent],
    as_of: datetime,
    tz: tzinfo,
) -> ApplicationMetrics:
    """The SPEC §4 metrics of one application.

    ``clicks`` are the application's human clicks in any order; those after
    ``as_of`` are ignored. ``tz`` is the account's timezone, used for the peak
    hour and the days of week. Returned ``first_click_at``/``last_click_at`` are
    in UTC.
    """
    _require_aware(applied_at, "applied_at")
    _require_aware(as_of, "as_of")
    applied_utc = applied_at.astimezone(UTC)
    as_of_utc = as_of.astimezone(UTC)

    # Sort on the UTC instant (never on wall-clock time), then click_id; the
    # remaining fields only make the order total, so that duplicate ids (bad
    # data) still give a result independent of the input order.
    ordered = sorted(
        (
            (click.clicked_at.astimezone(UTC), click)
            for click in clicks
            if click.clicked_at.astimezone(UTC) <= as_of_utc
        ),
        key=lambda pair: (
            pair[0],
            pair[1].click_id,
            pair[1].link_function,
            pair[1].session_id is not None,
            pair[1].session_id or "",
        ),
    )

    total = len(ordered)
    sequence = tuple(click.link_function for _, click in ordered)
    function_counts = Counter(sequence)
    unique_functions = len(function_counts)
    sessions = len({click.session_id for _, click in ordered if click.session_id is not None})
    # Clicks per day; applications younger than a day count as one day.
    velocity_exact = Fraction(total) / max(days_exact(as_of_utc - applied_utc), Fraction(1))

    if not ordered:
        return ApplicationMetrics(
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
            engagement_velocity=round_half_up(velocity_exact, 4),
            engagement=_NO_SCORE,
            intent=_NO_SCORE,
        )

    first_at = ordered[0][0]
    last_at = ordered[-1][0]
    to_first = first_at - applied_utc
    first_to_last = last_at - first_at
    hours_to_first = hours_exact(to_first)

    local_times = [instant.astimezone(tz) for instant, _ in ordered]
    peak_hour = _most_common_smallest(Counter(local.hour for local in local_times))
    days_of_week = tuple(sorted({_day_of_week(local) for local in local_times}))

    return ApplicationMetrics(
        total_click_events=total,
        click_sequence=sequence,
        unique_functions_clicked=unique_functions,
        unique_click_sessions=sessions,
        first_click_at=first_at,
        last_click_at=last_at,
        most_clicked_link_function=_most_common_smallest(function_counts),
        time_to_first_click=to_first,
        hours_to_first_click=round_half_up(hours_to_first, 2),
        time_between_first_last_click=first_to_last,
        hours_between_first_last_click=round_half_up(hours_exact(first_to_last), 2),
        peak_click_hour=peak_hour,
        click_days_of_week=days_of_week,
        engagement_velocity=round_half_up(velocity_exact, 4),
        engagement=engagement_score(
            total_click_events=total,
            click_sequence=sequence,
            unique_functions_clicked=unique_functions,
            hours_to_first_click_exact=hours_to_first,
            click_days_of_week=days_of_week,
        ),
        intent=intent_score(
            hours_to_first_click_exact=hours_to_first,
            engagement_velocity_exact=velocity_exact,
            click_sequence=sequence,
            total_click_events=total,
        ),
    )
