"""Predictions through the API (SPEC §6): classes, reasons, actions, calibration on a hand-built
history, the backtest on a small case computed by hand, and the high-priority list."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import GraphQLClient, StatementCounter
from factories import (
    WEDNESDAY,
    AppSpec,
    ClickSpec,
    create_account,
    create_applications,
    create_key,
    interview_after,
    recent_wednesday,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

PREDICT = """
query($input: EngagementInput!) {
  predictOutcome(input: $input) {
    engagementScore intentScore predictedOutcome confidence reasons recommendedActions
    historicalComparison { similarEngagementPatterns interviewRate avgDaysToInterview }
    application { id }
  }
}
"""

HEALTH = """
query($id: ID!) {
  applicationHealth(applicationId: $id) {
    engagementScore intentScore predictedOutcome confidence reasons recommendedActions
    historicalComparison { similarEngagementPatterns interviewRate avgDaysToInterview }
    application { id }
  }
  application(id: $id) { prediction { predictedOutcome confidence } }
}
"""

NO_HISTORY = "No interview history yet for this account: confidence uses the default prior of 15%"
CHECK_CALENDAR = (
    "Check your calendar and inbox: the employer opened your Calendly link and may have "
    "booked a meeting"
)
FOLLOW_UP_24H = "Send personalized follow-up email within 24 hours"
PREPARE = "Prepare for potential interview request"
FOLLOW_UP_POSSIBLE = "Send a short follow-up email within 2-3 days restating your fit for the role"
FOLLOW_UP_UNLIKELY = "Send a brief follow-up email to keep your application on the employer's radar"
LINKEDIN_CURRENT = (
    "Make sure your LinkedIn profile is current: it is the only link the employer opened"
)

MakeAccount = Callable[..., Awaitable[uuid.UUID]]
MakeKey = Callable[..., Awaitable[str]]
SM = async_sessionmaker[AsyncSession]


def engagement(
    clicks: list[tuple[str, float]], days: float, applied_at: datetime = WEDNESDAY
) -> dict[str, Any]:
    return {
        "input": {
            "daysSinceApplied": days,
            "appliedAt": applied_at.isoformat(),
            "clicks": [{"linkFunction": f, "hoursAfterApplying": h} for f, h in clicks],
        }
    }


async def predict(gql: GraphQLClient, key: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = await gql(PREDICT, variables, key=key)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["predictOutcome"]
    return result


# ----------------------------------------------------------------------------- classes


@pytest.mark.parametrize(
    ("clicks", "score", "intent", "outcome", "confidence"),
    [
        # no clicks at all
        ([], 0, 0, "NO_ENGAGEMENT", 0.85),
        # any click 10; intent: first click 5h < 8 -> 30, 1 click/day is not > 1
        ([("Portfolio", 5)], 10, 30, "UNLIKELY", 0.85),
        # 10 + LinkedIn 25 = 35, the highest score below 40 the rules can give
        ([("LinkedIn", 5)], 35, 30, "UNLIKELY", 0.85),
        # 10 + quick response 30 = 40: the lower edge of POSSIBLE
        ([("Portfolio", 3.5)], 40, 30, "POSSIBLE", 0.15),
        # 10 + 25 + quick 30 + one repeat 5 = 70: still POSSIBLE (> 70 is LIKELY);
        # intent: first click 1h < 2 -> 50, 2 clicks/day > 1 -> 15
        ([("LinkedIn", 1), ("LinkedIn", 5)], 70, 65, "POSSIBLE", 0.15),
        # two repeats: 75; intent 50 + 3 clicks/day > 2 -> 30
        ([("LinkedIn", 1), ("LinkedIn", 5), ("LinkedIn", 6)], 75, 80, "INTERVIEW_LIKELY", 0.15),
    ],
)
async def test_outcome_classes_at_each_boundary(
    gql: GraphQLClient,
    api_key: str,
    clicks: list[tuple[str, float]],
    score: int,
    intent: int,
    outcome: str,
    confidence: float,
) -> None:
    result = await predict(gql, api_key, engagement(clicks, days=1))
    assert result["engagementScore"] == score
    assert result["intentScore"] == intent
    assert result["predictedOutcome"] == outcome
    # No history: P(interview) is the 15% prior; the confidence is that of the predicted class.
    assert result["confidence"] == confidence
    assert result["historicalComparison"] == {
        "similarEngagementPatterns": 0,
        "interviewRate": 0.0,
        "avgDaysToInterview": None,
    }
    assert result["application"] is None


# ----------------------------------------------------------------------------- reasons


FRIDAY_NOON = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("clicks", "days", "applied_at", "reasons", "actions"),
    [
        (
            [],
            3,
            WEDNESDAY,
            ["No employer has clicked any link yet (3 days since applying)", NO_HISTORY],
            ["Wait: no clicks after 3 days is normal; follow up if nothing changes by day 7"],
        ),
        (
            [],
            8.5,
            WEDNESDAY,
            ["No employer has clicked any link yet (8 days since applying)", NO_HISTORY],
            ["Send a polite follow-up email, or move on to other openings"],
        ),
        (
            [("LinkedIn", 10)],
            3,
            WEDNESDAY,
            [
                "LinkedIn profile viewed (the employer is researching you)",
                "1 click on the LinkedIn link",
                NO_HISTORY,
            ],
            [FOLLOW_UP_UNLIKELY, LINKEDIN_CURRENT],
        ),
        (
            # quick response (3h, not < 2h) and one repeat click on the same link
            [("Portfolio", 3), ("Portfolio", 20)],
            3,
            WEDNESDAY,
            [
                "First click came 3 hours after applying (a quick response)",
                "2 clicks on the Portfolio link",
                "The same link was opened again (1 repeat click): the employer came back or "
                "shared it",
                NO_HISTORY,
            ],
            [FOLLOW_UP_POSSIBLE],
        ),
        (
            # 4 distinct links: multiple functions, repeat visits (> 3 clicks), 4/3 clicks a day
            [("Portfolio", 30), ("Company_Website", 31), ("Apply_Now", 32), ("GitHub", 33)],
            3,
            WEDNESDAY,
            [
                "4 clicks across 4 link types (Portfolio, Company_Website, Apply_Now, GitHub)",
                "Repeat visits: 4 clicks in total",
                "Steady engagement: 1.33 clicks per day since applying",
                NO_HISTORY,
            ],
            [FOLLOW_UP_POSSIBLE],
        ),
        (
            [("Calendly", 50)],
            3,
            WEDNESDAY,
            [
                "Calendly clicked 2.1 days after applying",
                "1 click on the Calendly link",
                NO_HISTORY,
            ],
            [CHECK_CALENDAR, PREPARE, FOLLOW_UP_POSSIBLE],
        ),
        (
            # Friday noon: Calendly 1.5h, LinkedIn 3h, then LinkedIn twice on Saturday
            [("Calendly", 1.5), ("LinkedIn", 3), ("LinkedIn", 26), ("LinkedIn", 27)],
            1.5,
            FRIDAY_NOON,
            [
                "Calendly clicked within 2 hours of applying",
                "LinkedIn profile viewed (the employer is researching you)",
                "First click came 1.5 hours after applying (a very quick response)",
                "4 clicks across 2 link types (Calendly, LinkedIn)",
                "Links opened again (2 repeat clicks, 4 clicks in total): the employer keeps "
                "coming back or shared them",
                "Fast engagement: 2.67 clicks per day since applying",
                "Clicked on a weekend (personal time: a sign of real interest)",
                NO_HISTORY,
            ],
            [CHECK_CALENDAR, FOLLOW_UP_24H, PREPARE],
        ),
    ],
)
async def test_reasons_and_actions_for_each_rule(
    gql: GraphQLClient,
    api_key: str,
    clicks: list[tuple[str, float]],
    days: float,
    applied_at: datetime,
    reasons: list[str],
    actions: list[str],
) -> None:
    result = await predict(gql, api_key, engagement(clicks, days=days, applied_at=applied_at))
    assert result["reasons"] == reasons
    assert result["recommendedActions"] == actions


async def test_rich_case_scores_are_capped(gql: GraphQLClient, api_key: str) -> None:
    clicks = [("Calendly", 1.5), ("LinkedIn", 3), ("LinkedIn", 26), ("LinkedIn", 27)]
    result = await predict(gql, api_key, engagement(clicks, days=1.5, applied_at=FRIDAY_NOON))
    # engagement 10+25+40+10+30+20+10 = 145 -> 100; intent 50+30+40+20 = 140 -> 100
    assert (result["engagementScore"], result["intentScore"]) == (100, 100)
    assert result["predictedOutcome"] == "INTERVIEW_LIKELY"


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        (engagement([("Portfolio", -1)], days=1), "clicks.0.hoursAfterApplying"),
        (engagement([("Portfolio", 25)], days=1), "clicks.0.hoursAfterApplying"),
        (engagement([("not a function", 1)], days=1), "clicks.0.linkFunction"),
        (engagement([], days=-1), "daysSinceApplied"),
        (engagement([], days=5000), "daysSinceApplied"),
    ],
)
async def test_predict_outcome_validates_input(
    gql: GraphQLClient, api_key: str, variables: dict[str, Any], field: str
) -> None:
    body = await gql(PREDICT, variables, key=api_key)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field


# ----------------------------------------------------------------------------- calibration


def decile_four_history(interviews: list[float | None], start_week: int = 0) -> list[AppSpec]:
    """Applications scoring 40 (one Portfolio click 2h after applying, a Wednesday)."""
    return [
        AppSpec(
            created_at=WEDNESDAY + timedelta(weeks=start_week + i),
            clicks=[ClickSpec("Portfolio", 2)],
            **interview_after(days),
        )
        for i, days in enumerate(interviews)
    ]


async def test_confidence_is_calibrated_on_the_account_history(
    gql: GraphQLClient,
    sessionmaker: SM,
) -> None:
    account = await create_account(sessionmaker)
    key = await create_key(sessionmaker, account)
    # 4 applications in decile 4 (score 40), 3 of them reached an interview after 5, 7, 9 days;
    # 6 without clicks (decile 0) and without interview. A bot click does not count.
    history = decile_four_history([5, 7, 9, None]) + [
        AppSpec(
            created_at=WEDNESDAY + timedelta(weeks=4 + i),
            clicks=[ClickSpec("Calendly", 1, bot=True)],
        )
        for i in range(6)
    ]
    await create_applications(sessionmaker, account, history)
    # The live application: recent (not in the history), one Portfolio click 2h after applying.
    (live,) = await create_applications(
        sessionmaker,
        account,
        [AppSpec(created_at=recent_wednesday(), clicks=[ClickSpec("Portfolio", 2)])],
    )
    # Another account with a very different history must change nothing here.
    other = await create_account(sessionmaker)
    await create_applications(sessionmaker, other, decile_four_history([3, 3, 3, 3, 3, 3]))
    other_key = await create_key(sessionmaker, other)

    body = await gql(HEALTH, {"id": str(live)}, key=key)
    assert "errors" not in body, body
    health = body["data"]["applicationHealth"]
    assert health["engagementScore"] == 40
    assert health["intentScore"] == 30  # first click at 2h: quick (not < 2h)
    assert health["predictedOutcome"] == "POSSIBLE"
    # base rate 3/10; decile 4: (3 + 10 * 0.3) / (4 + 10) = 6/14
    assert health["confidence"] == round(6 / 14, 4) == 0.4286
    assert health["historicalComparison"] == {
        "similarEngagementPatterns": 4,
        "interviewRate": 75.0,
        "avgDaysToInterview": 7.0,
    }
    # The decile has history, so no prior note.
    assert health["reasons"] == [
        "First click came 2 hours after applying (a quick response)",
        "1 click on the Portfolio link",
    ]
    assert health["recommendedActions"] == [FOLLOW_UP_POSSIBLE]
    assert health["application"] == {"id": str(live)}
    assert body["data"]["application"]["prediction"] == {
        "predictedOutcome": "POSSIBLE",
        "confidence": 0.4286,
    }

    # An empty decile (70-79) falls back on the account's overall rate, and says so.
    empty = await predict(
        gql, key, engagement([("LinkedIn", 1), ("LinkedIn", 5), ("LinkedIn", 6)], days=1)
    )
    assert empty["confidence"] == 0.3
    assert empty["reasons"][-1] == (
        "No past application scored 70-79 yet: confidence uses this account's overall "
        "interview rate of 30%"
    )
    # predictOutcome on the same pattern as the live application gives the same confidence.
    same = await predict(gql, key, engagement([("Portfolio", 2)], days=1))
    assert same["confidence"] == 0.4286

    # The history grows: 4 more in decile 4 without interview. Base 3/14; decile 4 n=8, i=3:
    # (3 + 10 * 3/14) / 18.
    await create_applications(sessionmaker, account, decile_four_history([None] * 4, start_week=10))
    body = await gql(HEALTH, {"id": str(live)}, key=key)
    moved = body["data"]["applicationHealth"]
    assert moved["confidence"] == round((3 + 10 * 3 / 14) / 18, 4) == 0.2857
    assert moved["historicalComparison"] == {
        "similarEngagementPatterns": 8,
        "interviewRate": 37.5,
        "avgDaysToInterview": 7.0,
    }

    # The other account's key sees nothing of this one, and its own calibration differs.
    foreign = await gql(HEALTH, {"id": str(live)}, key=other_key)
    assert foreign["data"] == {"applicationHealth": None, "application": None}
    assert "errors" not in foreign
    theirs = await predict(gql, other_key, engagement([("Portfolio", 2)], days=1))
    # all 6 reached interview: base 1; decile 4 (6 + 10) / 16 = 1
    assert theirs["confidence"] == 1.0


async def test_interview_clicks_after_the_interview_do_not_count(
    gql: GraphQLClient, sessionmaker: SM
) -> None:
    """History is scored on the clicks before the first interview: a Calendly click the day
    after the interview does not move the application to a higher decile."""
    account = await create_account(sessionmaker)
    key = await create_key(sessionmaker, account)
    await create_applications(
        sessionmaker,
        account,
        [
            AppSpec(
                created_at=WEDNESDAY,
                clicks=[ClickSpec("Portfolio", 2), ClickSpec("Calendly", 48)],
                **interview_after(1),
            )
        ],
    )
    result = await predict(gql, key, engagement([("Portfolio", 2)], days=1))
    assert result["historicalComparison"] == {
        "similarEngagementPatterns": 1,
        "interviewRate": 100.0,
        "avgDaysToInterview": 1.0,
    }


# ----------------------------------------------------------------------------- backtest

BACKTEST = """
query($days: Int!) {
  predictionBacktest(observationDays: $days) {
    observationDays applications accuracy precision recall baselineAccuracy brierScore auc
    calibration { probabilityLow probabilityHigh predicted observed count }
    targetAccuracy meetsTarget summary
    timeSplit {
      calibratedOn evaluatedOn accuracy precision recall baselineAccuracy brierScore auc
      calibration { probabilityLow probabilityHigh predicted observed count }
    }
  }
}
"""


async def test_backtest_on_a_small_case_computed_by_hand(
    gql: GraphQLClient, sessionmaker: SM
) -> None:
    account = await create_account(sessionmaker)
    key = await create_key(sessionmaker, account)
    week = timedelta(weeks=1)
    await create_applications(
        sessionmaker,
        account,
        [
            # oldest first; predicted from the first 7 days of clicks
            AppSpec(WEDNESDAY),  # A1 NO_ENGAGEMENT, no interview: TN
            AppSpec(
                WEDNESDAY + week, clicks=[ClickSpec("Portfolio", 2)], **interview_after(5)
            ),  # A2 40: TP
            AppSpec(
                WEDNESDAY + 2 * week, clicks=[ClickSpec("Portfolio", 2)]
            ),  # A3 40, no interview: FP
            AppSpec(WEDNESDAY + 3 * week, **interview_after(10)),  # A4 no clicks, interview: FN
            # A5 LinkedIn 35 UNLIKELY (the bot's Calendly click is ignored), no interview: TN
            AppSpec(
                WEDNESDAY + 4 * week,
                clicks=[ClickSpec("LinkedIn", 5), ClickSpec("Calendly", 1, bot=True)],
            ),
            # A6 Calendly on day 8 is outside the 7 observed days: NO_ENGAGEMENT; interview: FN
            AppSpec(
                WEDNESDAY + 5 * week,
                clicks=[ClickSpec("Calendly", 8 * 24)],
                **interview_after(12),
            ),
            # too recent to have an outcome: not in the backtest
            AppSpec(datetime.now(UTC) - timedelta(days=2), clicks=[ClickSpec("Portfolio", 1)]),
        ],
    )
    body = await gql(BACKTEST, {"days": 7}, key=key)
    assert "errors" not in body, body
    bt = body["data"]["predictionBacktest"]
    assert bt["observationDays"] == 7
    assert bt["applications"] == 6
    assert bt["accuracy"] == 0.5  # A1, A2, A5 right
    assert bt["precision"] == 0.5  # A2 of A2, A3
    assert bt["recall"] == 0.3333  # A2 of A2, A4, A6
    assert bt["baselineAccuracy"] == 0.5  # 3 interviews, 3 not
    # In-sample calibration: base 3/6. Decile 0 (A1, A4, A6; 2 interviews): (2 + 5) / 13;
    # decile 3 (A5): (0 + 5) / 11; decile 4 (A2, A3; 1 interview): (1 + 5) / 12.
    p0, p3, p4 = 7 / 13, 5 / 11, 6 / 12
    brier = ((p0 - 0) ** 2 + 2 * (p0 - 1) ** 2 + (p3 - 0) ** 2 + (p4 - 1) ** 2 + p4**2) / 6
    assert bt["brierScore"] == round(brier, 4) == 0.2371
    # Pairs (positive, negative), ties count half: A2 vs A1 0, A3 0.5, A5 1; A4 and A6 vs A1
    # 0.5, A3 1, A5 1 each: 6.5 / 9.
    assert bt["auc"] == round(6.5 / 9, 4) == 0.7222
    assert bt["calibration"] == [
        {
            "probabilityLow": 0.4,
            "probabilityHigh": 0.5,
            "predicted": 0.4545,
            "observed": 0.0,
            "count": 1,
        },
        {
            "probabilityLow": 0.5,
            "probabilityHigh": 0.6,
            "predicted": round((2 * p4 + 3 * p0) / 5, 4),
            "observed": 0.6,
            "count": 5,
        },
    ]
    assert bt["targetAccuracy"] == 0.6
    assert bt["meetsTarget"] is False
    # Time split: calibrated on A1-A3 (base 1/3), evaluated on A4-A6. Decile 0 (A1):
    # (0 + 10/3) / 11; decile 3 (empty): 1/3. Nothing predicted positive: only A5 right.
    q0, q3 = (10 / 3) / 11, 1 / 3
    split = bt["timeSplit"]
    assert split["calibratedOn"] == 3
    assert split["evaluatedOn"] == 3
    assert split["accuracy"] == 0.3333
    assert split["precision"] is None
    assert split["recall"] == 0.0
    assert split["baselineAccuracy"] == 0.6667
    assert split["brierScore"] == round((2 * (q0 - 1) ** 2 + q3**2) / 3, 4) == 0.3609
    assert split["auc"] == 0.0  # both interviews got a lower probability than A5
    assert bt["summary"] == (
        "Predicting from the first 7 days of clicks, the rules were right for 50% of 6 past "
        "applications, no better than the 50% of always predicting the most common outcome, "
        "and not above the 60% target. Calibrated on the older 3 and tested on the newer 3, the "
        "Brier score is 0.3609 and the AUC 0.00. With only 6 applications these figures are "
        "rough."
    )

    # Observed for 21 days instead, A6's Calendly click counts: 10 + 40 = 50, POSSIBLE, right.
    body = await gql(BACKTEST, {"days": 21}, key=key)
    assert body["data"]["predictionBacktest"]["accuracy"] == round(4 / 6, 4)


async def test_backtest_without_history_and_bad_input(gql: GraphQLClient, api_key: str) -> None:
    query = "{ predictionBacktest { observationDays applications accuracy timeSplit { auc } "
    query += "meetsTarget summary } }"
    body = await gql(query, key=api_key)
    assert "errors" not in body, body
    bt = body["data"]["predictionBacktest"]
    assert bt["applications"] == 0
    assert bt["observationDays"] == 7
    assert bt["accuracy"] is None
    assert bt["timeSplit"] is None
    assert bt["meetsTarget"] is False
    assert bt["summary"].startswith("No application is old enough to backtest yet")
    body = await gql(BACKTEST, {"days": 0}, key=api_key)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# ----------------------------------------------------------------------------- high priority

HIGH_PRIORITY = """
query($threshold: Int, $first: Int) {
  highPriorityApplications(threshold: $threshold, first: $first) {
    engagementScore recommendedAction recommendedActions application { id status }
  }
}
"""


async def test_high_priority_list(gql: GraphQLClient, sessionmaker: SM) -> None:
    account = await create_account(sessionmaker)
    key = await create_key(sessionmaker, account)
    live = recent_wednesday()
    likely = [
        ClickSpec("LinkedIn", 1),
        ClickSpec("LinkedIn", 5),
        ClickSpec("LinkedIn", 6),
    ]  # 75, INTERVIEW_LIKELY
    ids = await create_applications(
        sessionmaker,
        account,
        [
            AppSpec(live, clicks=likely, engagement_score=85, is_high_priority=True),
            AppSpec(
                live, clicks=likely, status="interview", engagement_score=90, is_high_priority=True
            ),
            AppSpec(
                live, clicks=[ClickSpec("Portfolio", 2)], engagement_score=72, is_high_priority=True
            ),  # 40 live
            AppSpec(live, clicks=likely, engagement_score=70),  # not above 70
        ],
    )
    other = await create_account(sessionmaker)
    await create_applications(
        sessionmaker, other, [AppSpec(live, clicks=likely, engagement_score=95)]
    )

    body = await gql(HIGH_PRIORITY, {}, key=key)
    assert "errors" not in body, body
    rows = body["data"]["highPriorityApplications"]
    assert [(r["application"]["id"], r["engagementScore"]) for r in rows] == [
        (str(ids[0]), 85),
        (str(ids[2]), 72),
    ]
    assert rows[0]["recommendedAction"] == FOLLOW_UP_24H
    # LinkedIn is the only link the employer opened: keep the profile current.
    assert rows[0]["recommendedActions"] == [FOLLOW_UP_24H, PREPARE, LINKEDIN_CURRENT]
    assert rows[1]["recommendedAction"] == FOLLOW_UP_POSSIBLE

    body = await gql(HIGH_PRIORITY, {"threshold": 80}, key=key)
    assert [r["engagementScore"] for r in body["data"]["highPriorityApplications"]] == [85]
    body = await gql(HIGH_PRIORITY, {"threshold": 0, "first": 1}, key=key)
    assert [r["engagementScore"] for r in body["data"]["highPriorityApplications"]] == [85]

    for variables, field in (
        ({"threshold": 101}, "threshold"),
        ({"threshold": -1}, "threshold"),
        ({"first": 201}, "first"),
    ):
        body = await gql(HIGH_PRIORITY, variables, key=key)
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}


# ----------------------------------------------------------------------------- no N+1

LIST_PREDICTIONS = """
{ applications(first: 50) { edges { node { id prediction { predictedOutcome confidence
  historicalComparison { similarEngagementPatterns } } } } } }
"""


async def test_predictions_of_a_list_take_a_constant_number_of_statements(
    gql: GraphQLClient,
    sessionmaker: SM,
    count_statements: StatementCounter,
) -> None:
    counts = []
    for size in (3, 30):
        account = await create_account(sessionmaker)
        key = await create_key(sessionmaker, account)
        await create_applications(
            sessionmaker,
            account,
            [
                AppSpec(
                    recent_wednesday(), clicks=[ClickSpec("Portfolio", 2), ClickSpec("LinkedIn", 3)]
                )
                for _ in range(size)
            ]
            + decile_four_history([5, None]),
        )
        await gql(LIST_PREDICTIONS, key=key)  # warm up: the key's last_used_at is written once
        before = count_statements.count
        body = await gql(LIST_PREDICTIONS, key=key)
        counts.append(count_statements.count - before)
        edges = body["data"]["applications"]["edges"]
        assert len(edges) == size + 2
        assert {e["node"]["prediction"]["predictedOutcome"] for e in edges[:size]} == {
            "INTERVIEW_LIKELY"  # 10 + 25 + 30 + 10 = 75
        }
    assert counts[0] == counts[1]
