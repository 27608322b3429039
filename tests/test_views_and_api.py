"""One definition per figure: the seed 000 views and the API agree on the same data.

A direct SQL user reads `link_function_effectiveness` and `application_engagement_outcomes`;
the API serves `linkFunctionEffectiveness` and `engagementSummary`. On an account with bots,
inactive links, unclicked links, a rejection after an interview and an offer, every figure the
two have in common must be equal, to the last decimal.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from factories import AppSpec, ClickSpec, create_account_with_key, create_applications
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T0 = datetime(2025, 5, 5, 9, 0, tzinfo=UTC)

SPECS = [
    AppSpec(
        T0 + timedelta(days=i),
        status=status,
        history=history,
        functions=functions,
        inactive=inactive,
        clicks=clicks,
    )
    for i, (status, history, functions, inactive, clicks) in enumerate(
        [
            ("applied", ("applied",), ("LinkedIn", "Calendly"), (), []),
            (
                "interview",
                ("applied", "interview"),
                ("LinkedIn", "Calendly", "Portfolio"),
                (),
                [ClickSpec("Calendly", 0.5), ClickSpec("Calendly", 3), ClickSpec("LinkedIn", 7)],
            ),
            (
                "rejected",
                ("applied", "interview", "rejected"),
                ("LinkedIn",),
                ("Portfolio",),
                [
                    ClickSpec("LinkedIn", 30),
                    ClickSpec("Portfolio", 2),
                    ClickSpec("LinkedIn", 1, bot=True),
                ],
            ),
            (
                "offer",
                ("applied", "interview", "offer"),
                ("LinkedIn", "Calendly", "Apply_Now"),
                (),
                [ClickSpec("Apply_Now", 200), ClickSpec("LinkedIn", 12.25)],
            ),
            (
                "withdrawn",
                ("applied", "withdrawn"),
                ("Calendly",),
                (),
                [ClickSpec("Calendly", 0.1, bot=True)],
            ),
            ("applied", ("applied",), ("LinkedIn", "Portfolio"), (), [ClickSpec("Portfolio", 48)]),
        ]
    )
]  # fmt: skip

EFFECTIVENESS = """{ linkFunctionEffectiveness { linkFunctions {
  name applicationsWithLink applicationsWithClicks totalClicks avgClicksPerApplication
  interviewsGenerated offersGenerated interviewConversionRate offerConversionRate
  clickedInterviewRate medianHoursToFirstClick } } }"""

SUMMARY = """{ engagementSummary { totalApplications applicationsWithClicks totalClicks
  engagementRate avgClicksPerApplication outcomes { level count interviews offers } } }"""


async def view_rows(
    sessionmaker: async_sessionmaker[AsyncSession], sql: str, account_id: uuid.UUID
) -> list[Any]:
    """What a direct SQL user reads."""
    async with sessionmaker() as session:
        return list((await session.execute(text(sql), {"a": account_id})).mappings().all())


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    return round(float(value), 2)


async def test_link_function_effectiveness_view_equals_the_api(
    sessionmaker: async_sessionmaker[AsyncSession], gql: Any
) -> None:
    account_id, key = await create_account_with_key(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await create_applications(session, account_id, SPECS)
    rows = await view_rows(
        sessionmaker,
        "SELECT * FROM link_function_effectiveness WHERE account_id = :a ORDER BY link_function",
        account_id,
    )
    body = await gql(EFFECTIVENESS, key=key)
    assert "errors" not in body, body
    api = {f["name"]: f for f in body["data"]["linkFunctionEffectiveness"]["linkFunctions"]}
    assert sorted(api) == [r["link_function"] for r in rows]
    assert len(rows) == 4
    for r in rows:
        f = api[r["link_function"]]
        assert {
            "applicationsWithLink": f["applicationsWithLink"],
            "applicationsWithClicks": f["applicationsWithClicks"],
            "totalClicks": f["totalClicks"],
            "avgClicksPerApplication": f["avgClicksPerApplication"],
            "interviewsGenerated": f["interviewsGenerated"],
            "offersGenerated": f["offersGenerated"],
            "interviewConversionRate": f["interviewConversionRate"],
            "offerConversionRate": f["offerConversionRate"],
            "clickedInterviewRate": f["clickedInterviewRate"],
            "medianHoursToFirstClick": f["medianHoursToFirstClick"],
        } == {
            "applicationsWithLink": r["applications_with_link"],
            "applicationsWithClicks": r["applications_with_clicks"],
            "totalClicks": r["total_clicks"],
            "avgClicksPerApplication": _number(r["avg_clicks_per_application"]),
            "interviewsGenerated": r["interviews_generated"],
            "offersGenerated": r["offers_generated"],
            "interviewConversionRate": _number(r["interview_conversion_rate"]),
            "offerConversionRate": _number(r["offer_conversion_rate"]),
            "clickedInterviewRate": _number(r["clicked_interview_rate"]),
            "medianHoursToFirstClick": _number(r["median_hours_to_first_click"]),
        }, r["link_function"]
    # Figures by hand: Calendly on a1, a2, a4, a5; clicked (humanly) on a2 only, twice.
    assert api["Calendly"]["applicationsWithLink"] == 4
    assert api["Calendly"]["totalClicks"] == 2
    assert api["Calendly"]["interviewConversionRate"] == 50.0
    # The inactive Portfolio link of a3 is not counted, nor its click.
    assert api["Portfolio"]["applicationsWithLink"] == 2
    assert api["Portfolio"]["totalClicks"] == 1
    assert api["LinkedIn"]["medianHoursToFirstClick"] == 12.25


async def test_engagement_outcomes_view_equals_the_summary(
    sessionmaker: async_sessionmaker[AsyncSession], gql: Any
) -> None:
    account_id, key = await create_account_with_key(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await create_applications(session, account_id, SPECS)
    rows = await view_rows(
        sessionmaker,
        "SELECT total_clicks, reached_interview, reached_offer "
        "FROM application_engagement_outcomes WHERE account_id = :a",
        account_id,
    )
    body = await gql(SUMMARY, key=key)
    assert "errors" not in body, body
    s = body["data"]["engagementSummary"]
    assert s["totalApplications"] == len(rows) == 6
    assert s["applicationsWithClicks"] == sum(1 for r in rows if r["total_clicks"] > 0) == 4
    assert s["totalClicks"] == sum(r["total_clicks"] for r in rows) == 8

    def level(clicks: int) -> str:
        return "NONE" if clicks == 0 else "LOW" if clicks <= 2 else "HIGH"

    expected: dict[str, dict[str, Any]] = {}
    for r in rows:
        o = expected.setdefault(
            level(r["total_clicks"]), {"count": 0, "interviews": 0, "offers": 0}
        )
        o["count"] += 1
        o["interviews"] += int(r["reached_interview"])
        o["offers"] += int(r["reached_offer"])
    got = {o["level"]: {k: o[k] for k in ("count", "interviews", "offers")} for o in s["outcomes"]}
    assert got == expected | {
        lv: {"count": 0, "interviews": 0, "offers": 0}
        for lv in ("NONE", "LOW", "HIGH")
        if lv not in expected
    }
