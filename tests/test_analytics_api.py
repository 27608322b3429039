"""The aggregate analytics (SPEC §5) against a small account computed by hand.

The account (UTC) has six applications, sent one day apart from Monday 2025-03-03 12:00 UTC,
each with LinkedIn, Calendly and Portfolio links unless noted (hours after sending):

  a1 interview (applied, interview)            LinkedIn 0.5, Calendly 2, LinkedIn 3   -> 3 clicks
  a2 rejected  (applied, interview, rejected)  Calendly 2; bot on LinkedIn 1           -> 1 click
  a3 offer     (applied, interview, offer)     LinkedIn 30, Portfolio 31               -> 2 clicks
  a4 applied                                   bots only: all three links at 0.01      -> 0 clicks
  a5 rejected  (applied, rejected)             LinkedIn 5, 6, 100; Calendly 200        -> 4 clicks
  a6 applied   LinkedIn link + inactive Portfolio link: Portfolio 10                 -> 1 click

Reached interview: a1, a2 (then rejected: the seed's current-status test missed it), a3.
Reached offer: a3.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from factories import AppSpec, ClickSpec, create_account_with_key, create_applications
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)  # a Monday


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


SPECS = [
    AppSpec(
        day(0),
        status="interview",
        history=("applied", "interview"),
        clicks=[ClickSpec("LinkedIn", 0.5), ClickSpec("Calendly", 2), ClickSpec("LinkedIn", 3)],
        functions=("LinkedIn", "Calendly", "Portfolio"),
    ),
    AppSpec(
        day(1),
        status="rejected",
        history=("applied", "interview", "rejected"),
        clicks=[ClickSpec("Calendly", 2), ClickSpec("LinkedIn", 1, bot=True)],
        functions=("LinkedIn", "Calendly", "Portfolio"),
    ),
    AppSpec(
        day(2),
        status="offer",
        history=("applied", "interview", "offer"),
        clicks=[ClickSpec("LinkedIn", 30), ClickSpec("Portfolio", 31)],
        functions=("LinkedIn", "Calendly", "Portfolio"),
    ),
    AppSpec(
        day(3),
        clicks=[
            ClickSpec("LinkedIn", 0.01, bot=True),
            ClickSpec("Calendly", 0.01, bot=True),
            ClickSpec("Portfolio", 0.01, bot=True),
        ],
        functions=("LinkedIn", "Calendly", "Portfolio"),
    ),
    AppSpec(
        day(4),
        status="rejected",
        history=("applied", "rejected"),
        clicks=[
            ClickSpec("LinkedIn", 5),
            ClickSpec("LinkedIn", 6),
            ClickSpec("LinkedIn", 100),
            ClickSpec("Calendly", 200),
        ],
        functions=("LinkedIn", "Calendly", "Portfolio"),
    ),
    AppSpec(
        day(5),
        functions=("LinkedIn",),
        inactive=("Portfolio",),
        clicks=[ClickSpec("Portfolio", 10)],
    ),
]


@dataclass
class World:
    account_id: uuid.UUID
    key: str
    other_account_id: uuid.UUID
    other_key: str
    app_ids: list[uuid.UUID]


@pytest.fixture(scope="module")
async def world(sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    account_id, key = await create_account_with_key(sessionmaker)
    other_id, other_key = await create_account_with_key(sessionmaker)
    async with sessionmaker() as session, session.begin():
        app_ids = await create_applications(session, account_id, SPECS)
        # Another account with an interview and clicks on the same days: never seen by A.
        await create_applications(
            session,
            other_id,
            [
                AppSpec(
                    day(0),
                    status="offer",
                    history=("applied", "interview", "offer"),
                    clicks=[ClickSpec("LinkedIn", 1), ClickSpec("Calendly", 2)],
                    functions=("LinkedIn", "Calendly", "Portfolio"),
                )
            ],
        )
    return World(account_id, key, other_id, other_key, app_ids)


Gql = Callable[..., Coroutine[Any, Any, dict[str, Any]]]


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


SUMMARY = """
query ($filter: AnalyticsFilter) {
  engagementSummary(filter: $filter) {
    totalApplications applicationsWithClicks totalClicks engagementRate avgClicksPerApplication
    outcomes { level count interviews offers interviewRate offerRate
               interviewInterval { low high successes sampleSize } }
    linkEffectiveness { function name interviewRate clickedInterviewRate totalClicks
                        applicationsWithLink }
    insight
  }
}"""


async def test_engagement_summary(world: World, gql: Gql) -> None:
    s = data(await gql(SUMMARY, key=world.key))["engagementSummary"]
    assert s["totalApplications"] == 6
    assert s["applicationsWithClicks"] == 5
    assert s["totalClicks"] == 11  # bot clicks excluded: a2's and a4's
    assert s["engagementRate"] == 83.33
    assert s["avgClicksPerApplication"] == 1.83  # 11 / 6, a real division
    outcomes = {o["level"]: o for o in s["outcomes"]}
    assert [o["level"] for o in s["outcomes"]] == ["NONE", "LOW", "HIGH"]
    assert outcomes["NONE"] | {"interviewInterval": None} == {
        "level": "NONE",
        "count": 1,
        "interviews": 0,
        "offers": 0,
        "interviewRate": 0.0,
        "offerRate": 0.0,
        "interviewInterval": None,
    }
    # LOW: a2 (1 click, reached interview then rejected), a3 (2, offer), a6 (1).
    assert outcomes["LOW"]["count"] == 3
    assert outcomes["LOW"]["interviews"] == 2
    assert outcomes["LOW"]["interviewRate"] == 66.67
    assert outcomes["LOW"]["offerRate"] == 33.33
    # HIGH: a1 (3 clicks, interview), a5 (4, rejected).
    assert outcomes["HIGH"]["count"] == 2
    assert outcomes["HIGH"]["interviewRate"] == 50.0
    assert outcomes["HIGH"]["offerRate"] == 0.0
    # Wilson 95% for 1 of 2: centre (0.5 + 0.9604)/1.9208 = 0.7604/... -> 9.45 .. 90.55
    assert outcomes["HIGH"]["interviewInterval"] == {
        "low": 9.45,
        "high": 90.55,
        "successes": 1,
        "sampleSize": 2,
    }
    assert s["linkEffectiveness"] == [
        {
            "function": "Calendly",
            "name": "Calendly",
            "interviewRate": 60.0,
            "clickedInterviewRate": 66.67,
            "totalClicks": 3,
            "applicationsWithLink": 5,
        },
        {
            "function": "Portfolio",
            "name": "Portfolio",
            "interviewRate": 60.0,
            "clickedInterviewRate": 100.0,
            "totalClicks": 1,
            "applicationsWithLink": 5,
        },
        {
            "function": "LinkedIn",
            "name": "LinkedIn",
            "interviewRate": 50.0,
            "clickedInterviewRate": 66.67,
            "totalClicks": 6,
            "applicationsWithLink": 6,
        },
    ]
    assert s["insight"].startswith("5 of 6 applications (83.33%) had a human click.")


@pytest.mark.parametrize(
    "flt",
    [None, {"status": "rejected"}, {"start_date": day(1), "end_date": day(4)}],
    ids=["all", "status", "dates"],
)
async def test_summary_statement_counts_as_the_two_it_replaces(
    world: World, sessionmaker: async_sessionmaker[AsyncSession], flt: dict[str, Any] | None
) -> None:
    """The summary reads the clicks once (db.analytics._SUMMARY_CTES) and must count what
    click_count_groups and function_effectiveness count, inactive links and bots included."""
    from db import analytics as analytics_db

    db_filter = analytics_db.AnalyticsFilter(**flt) if flt else None
    async with sessionmaker() as session:
        groups, functions = await analytics_db.summary_counts(
            session, account_id=world.account_id, flt=db_filter
        )
        expected_groups = await analytics_db.click_count_groups(
            session, account_id=world.account_id, flt=db_filter
        )
        expected_functions = await analytics_db.function_effectiveness(
            session, account_id=world.account_id, flt=db_filter
        )
    assert groups == expected_groups
    assert functions == expected_functions
    assert groups  # the comparison compares something


async def test_engagement_summary_filters(world: World, gql: Gql) -> None:
    s = data(await gql(SUMMARY, {"filter": {"status": "REJECTED"}}, key=world.key))[
        "engagementSummary"
    ]
    # a2 (1 click, reached interview) and a5 (4 clicks).
    assert (s["totalApplications"], s["applicationsWithClicks"], s["totalClicks"]) == (2, 2, 5)
    assert s["avgClicksPerApplication"] == 2.5
    outcomes = {o["level"]: o for o in s["outcomes"]}
    assert (outcomes["LOW"]["count"], outcomes["LOW"]["interviewRate"]) == (1, 100.0)
    assert (outcomes["HIGH"]["count"], outcomes["HIGH"]["interviewRate"]) == (1, 0.0)
    assert outcomes["NONE"]["count"] == 0
    assert outcomes["NONE"]["interviewRate"] is None

    window = {"startDate": day(1).isoformat(), "endDate": day(3).isoformat()}  # inclusive
    s = data(await gql(SUMMARY, {"filter": window}, key=world.key))["engagementSummary"]
    # a2, a3, a4: 1 + 2 + 0 clicks.
    assert (s["totalApplications"], s["applicationsWithClicks"], s["totalClicks"]) == (3, 2, 3)
    assert s["engagementRate"] == 66.67
    assert s["avgClicksPerApplication"] == 1.0

    body = await gql(
        SUMMARY,
        {"filter": {"startDate": day(3).isoformat(), "endDate": day(1).isoformat()}},
        key=world.key,
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_other_account_sees_none_of_it(world: World, gql: Gql) -> None:
    s = data(await gql(SUMMARY, key=world.other_key))["engagementSummary"]
    assert (s["totalApplications"], s["totalClicks"]) == (1, 2)
    assert [f["function"] for f in s["linkEffectiveness"]] == ["Calendly", "LinkedIn", "Portfolio"]
    assert all(f["applicationsWithLink"] == 1 for f in s["linkEffectiveness"])
    seqs = data(
        await gql(
            "{ clickSequences { totalCount edges { node { sequence } } } }", key=world.other_key
        )
    )["clickSequences"]
    assert seqs["totalCount"] == 1
    assert seqs["edges"][0]["node"]["sequence"] == ["LinkedIn", "Calendly"]


EFFECTIVENESS = """
query ($filter: AnalyticsFilter) {
  linkFunctionEffectiveness(filter: $filter) {
    linkFunctions {
      name applicationsWithLink applicationsWithClicks totalClicks avgClicksPerApplication
      interviewsGenerated offersGenerated interviewConversionRate offerConversionRate
      clickedInterviewRate sampleSize clickedSampleSize medianHoursToFirstClick
      interviewConversionInterval { low high successes sampleSize }
      offerConversionInterval { low high }
      clickedInterviewInterval { low high sampleSize }
    }
    recommendations
  }
}"""


async def test_link_function_effectiveness(world: World, gql: Gql) -> None:
    r = data(await gql(EFFECTIVENESS, key=world.key))["linkFunctionEffectiveness"]
    by_name = {f["name"]: f for f in r["linkFunctions"]}
    assert [f["name"] for f in r["linkFunctions"]] == ["Calendly", "Portfolio", "LinkedIn"]
    linkedin = by_name["LinkedIn"]
    assert linkedin == {
        "name": "LinkedIn",
        "applicationsWithLink": 6,
        "applicationsWithClicks": 3,  # a1, a3, a5; a2 and a4 had bot clicks only
        "totalClicks": 6,
        "avgClicksPerApplication": 1.0,
        "interviewsGenerated": 3,  # a1, a2 (reached, then rejected), a3
        "offersGenerated": 1,
        "interviewConversionRate": 50.0,
        "offerConversionRate": 16.67,
        "clickedInterviewRate": 66.67,  # a1, a3 of a1, a3, a5
        "sampleSize": 6,
        "clickedSampleSize": 3,
        "medianHoursToFirstClick": 5.0,  # 0.5, 5, 30
        # Wilson, 3 of 6: centre 0.5, half 1.96*sqrt(0.25/6 + 3.8415/144)/1.6402 = 0.3124
        "interviewConversionInterval": {
            "low": 18.76,
            "high": 81.24,
            "successes": 3,
            "sampleSize": 6,
        },
        "offerConversionInterval": {"low": 3.01, "high": 56.35},
        "clickedInterviewInterval": {"low": 20.77, "high": 93.85, "sampleSize": 3},
    }
    calendly = by_name["Calendly"]
    # 3 human clicks over 5 applications: 0.6, where the seed's integer division gave 0.
    assert calendly["avgClicksPerApplication"] == 0.6
    assert calendly["totalClicks"] == 3  # a4's bot click is not one
    assert calendly["applicationsWithClicks"] == 3
    assert calendly["interviewConversionRate"] == 60.0
    assert calendly["offerConversionRate"] == 20.0
    assert calendly["clickedInterviewRate"] == 66.67
    assert calendly["medianHoursToFirstClick"] == 2.0  # 2, 2, 200
    portfolio = by_name["Portfolio"]
    # a6's Portfolio link is inactive: not counted, as the view.
    assert (portfolio["applicationsWithLink"], portfolio["totalClicks"]) == (5, 1)
    assert portfolio["avgClicksPerApplication"] == 0.2
    assert (portfolio["clickedInterviewRate"], portfolio["clickedSampleSize"]) == (100.0, 1)
    assert portfolio["medianHoursToFirstClick"] == 31.0
    # Calendly and Portfolio (60%, 5 each) lead LinkedIn (50%, 6) without clear separation.
    assert r["recommendations"][0] == (
        "Calendly links lead on interview conversion (60% of 5 applications), but not "
        "clearly ahead of Portfolio yet - keep both and collect more data."
    )
    assert len(r["recommendations"]) == 1  # too few clicked applications for more


async def test_link_function_effectiveness_matches_the_view(
    world: World, gql: Gql, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    r = data(await gql(EFFECTIVENESS, key=world.key))["linkFunctionEffectiveness"]
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                text("SELECT * FROM link_function_effectiveness WHERE account_id = :a"),
                {"a": world.account_id},
            )
        ).all()
    view = {
        row.link_function: (
            row.applications_with_link,
            row.applications_with_clicks,
            row.total_clicks,
            float(row.avg_clicks_per_application),
            row.interviews_generated,
            row.offers_generated,
            float(row.interview_conversion_rate),
            float(row.offer_conversion_rate),
            float(row.clicked_interview_rate),
        )
        for row in rows
    }
    api = {
        f["name"]: (
            f["applicationsWithLink"],
            f["applicationsWithClicks"],
            f["totalClicks"],
            f["avgClicksPerApplication"],
            f["interviewsGenerated"],
            f["offersGenerated"],
            f["interviewConversionRate"],
            f["offerConversionRate"],
            f["clickedInterviewRate"],
        )
        for f in r["linkFunctions"]
    }
    assert api == view
    assert view["Calendly"][3] == 0.6


async def test_engagement_view_counts_clicked_functions_only(
    world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        rows = {
            r.application_id: r
            for r in (
                await session.execute(
                    text("SELECT * FROM application_engagement_outcomes WHERE account_id = :a"),
                    {"a": world.account_id},
                )
            ).all()
        }
    a2, a4 = rows[world.app_ids[1]], rows[world.app_ids[3]]
    # The seed listed every function with a link (clicked or not) and counted bots.
    assert (a4.total_clicks, list(a4.clicked_functions), a4.most_clicked_function) == (0, [], None)
    assert (a2.total_clicks, list(a2.clicked_functions)) == (1, ["Calendly"])
    assert a2.status == "rejected"
    assert a2.reached_interview is True


async def test_recommendations_need_five_applications(
    gql: Gql, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account_id, key = await create_account_with_key(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await create_applications(
            session,
            account_id,
            [
                AppSpec(
                    day(i),
                    status="interview",
                    history=("applied", "interview"),
                    functions=("LinkedIn", "Calendly", "Portfolio"),
                )
                for i in range(4)
            ],
        )
    r = data(await gql(EFFECTIVENESS, key=key))["linkFunctionEffectiveness"]
    assert r["recommendations"] == [
        "Not enough data yet: recommendations need at least 5 applications that carry a link type."
    ]
    assert {f["interviewConversionRate"] for f in r["linkFunctions"]} == {100.0}


TIMING = """
query ($filter: AnalyticsFilter) {
  timingAnalysis(filter: $filter) {
    buckets { bucket applications interviews interviewRate medianHoursToFirstClick insight }
    applicationsWithClicks applicationsWithoutClicks noClickInterviewRate
    medianHoursToFirstClick insight
  }
}"""


async def test_timing_analysis(world: World, gql: Gql) -> None:
    t = data(await gql(TIMING, key=world.key))["timingAnalysis"]
    buckets = {b["bucket"]: b for b in t["buckets"]}
    assert [b["bucket"] for b in t["buckets"]] == ["<1h", "1-4h", "4-24h", "1-3d", "3-7d", ">7d"]
    # First human clicks: a1 0.5h, a2 2h (its bot at 1h ignored), a3 30h, a5 5h, a6 10h.
    assert {k: (b["applications"], b["interviews"]) for k, b in buckets.items()} == {
        "<1h": (1, 1),
        "1-4h": (1, 1),
        "4-24h": (2, 0),
        "1-3d": (1, 1),
        "3-7d": (0, 0),
        ">7d": (0, 0),
    }
    assert buckets["4-24h"]["interviewRate"] == 0.0
    assert buckets["4-24h"]["medianHoursToFirstClick"] == 7.5
    assert buckets["3-7d"]["interviewRate"] is None
    assert t["applicationsWithClicks"] == 5
    assert t["applicationsWithoutClicks"] == 1
    assert t["noClickInterviewRate"] == 0.0
    assert t["medianHoursToFirstClick"] == 5.0
    assert t["insight"].startswith("Too few applications whose first click came within 4 hours")


async def test_timing_bucket_bounds_and_insight(
    gql: Gql, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account_id, key = await create_account_with_key(sessionmaker)
    # First clicks at exactly 1h and 4h fall in the later bucket; 5 within 4h, 5 later.
    hours = [0.0, 1.0, 1.5, 3.5, 2.0, 4.0, 24.0, 72.0, 168.0, 500.0]
    reached = [True, True, True, False, False, False, False, True, False, False]
    specs = [
        AppSpec(
            day(i),
            status="interview" if r else "applied",
            history=("applied", "interview") if r else ("applied",),
            clicks=[ClickSpec("LinkedIn", h)],
            functions=("LinkedIn", "Calendly", "Portfolio"),
        )
        for i, (h, r) in enumerate(zip(hours, reached, strict=True))
    ]
    async with sessionmaker() as session, session.begin():
        await create_applications(session, account_id, specs)
    t = data(await gql(TIMING, key=key))["timingAnalysis"]
    assert [(b["bucket"], b["applications"]) for b in t["buckets"]] == [
        ("<1h", 1),
        ("1-4h", 4),
        ("4-24h", 1),
        ("1-3d", 1),
        ("3-7d", 1),
        (">7d", 2),
    ]
    assert t["medianHoursToFirstClick"] == 3.75  # (3.5 + 4.0) / 2
    assert t["insight"] == (
        "Applications whose first click came within 4 hours reached interview 60% of the "
        "time (3 of 5). Those first clicked later: 20%."
    )


SEQUENCES = """
query ($first: Int!, $after: String, $filter: AnalyticsFilter) {
  clickSequences(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node { sequence applications interviews offers interviewRate offerRate insight } }
  }
}"""


async def test_click_sequences_pages(world: World, gql: Gql) -> None:
    page1 = data(await gql(SEQUENCES, {"first": 2}, key=world.key))["clickSequences"]
    assert page1["totalCount"] == 4
    assert page1["pageInfo"]["hasNextPage"] is True
    nodes = [e["node"] for e in page1["edges"]]
    assert nodes[0] == {
        "sequence": ["LinkedIn", "Calendly"],  # a1 and a5; LinkedIn clicked first in both
        "applications": 2,
        "interviews": 1,
        "offers": 0,
        "interviewRate": 50.0,
        "offerRate": 0.0,
        "insight": "Too few applications whose links were first clicked in the order "
        "LinkedIn, then Calendly (2) to say how often they reach interview; insights need "
        "at least 5.",
    }
    assert nodes[1]["sequence"] == ["Calendly"]  # a2: its bot click on LinkedIn is not one
    after = page1["pageInfo"]["endCursor"]
    page2 = data(await gql(SEQUENCES, {"first": 2, "after": after}, key=world.key))[
        "clickSequences"
    ]
    assert [e["node"]["sequence"] for e in page2["edges"]] == [
        ["LinkedIn", "Portfolio"],
        ["Portfolio"],  # a6: clicks on an inactive link still happened
    ]
    assert (page2["edges"][0]["node"]["interviews"], page2["edges"][0]["node"]["offers"]) == (1, 1)
    assert page2["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "endCursor": page2["pageInfo"]["endCursor"],
    }
    page3 = data(
        await gql(SEQUENCES, {"first": 2, "after": page2["pageInfo"]["endCursor"]}, key=world.key)
    )["clickSequences"]
    assert (page3["edges"], page3["totalCount"]) == ([], 4)
    filtered = data(
        await gql(SEQUENCES, {"first": 10, "filter": {"status": "REJECTED"}}, key=world.key)
    )["clickSequences"]
    assert [e["node"]["sequence"] for e in filtered["edges"]] == [
        ["Calendly"],
        ["LinkedIn", "Calendly"],
    ]
    body = await gql(SEQUENCES, {"first": 201}, key=world.key)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


PATTERNS = """
{ behavioralPatterns {
    timezone peakHour insights
    patterns { pattern applications interviews interviewRate lift insight }
    clicksByHour { hour clicks }
    clicksByDayOfWeek { dayOfWeek clicks }
} }"""


async def test_behavioral_patterns(world: World, gql: Gql) -> None:
    p = data(await gql(PATTERNS, key=world.key))["behavioralPatterns"]
    figures = {f["pattern"]: (f["applications"], f["interviews"]) for f in p["patterns"]}
    assert figures == {
        "ALL": (6, 3),
        "NO_CLICKS": (1, 0),
        "ANY_CLICK": (5, 3),
        "QUICK_RESPONSE": (2, 2),  # a1, a2
        "MULTIPLE_FUNCTIONS": (3, 2),  # a1, a3, a5
        "REPEAT_CLICKS": (2, 1),  # a1, a5
        "HIGH_ENGAGEMENT": (2, 1),
        "CALENDLY_CLICKED": (3, 2),  # a1, a2, a5
        "LINKEDIN_CLICKED": (3, 2),  # a1, a3, a5
        "WEEKEND_FIRST_CLICK": (1, 0),  # a6: Saturday 22:00 UTC
    }
    by = {f["pattern"]: f for f in p["patterns"]}
    assert (by["ANY_CLICK"]["interviewRate"], by["ANY_CLICK"]["lift"]) == (60.0, 10.0)
    assert by["QUICK_RESPONSE"]["lift"] == 50.0
    assert by["ANY_CLICK"]["insight"] == (
        "Applications with at least one click reached interview 60% of the time (3 of 5)."
    )
    assert p["insights"] == [
        "Applications with at least one click reached interview 60% of the time (3 of 5), "
        "10 points above all applications."
    ]
    hours = {h["hour"]: h["clicks"] for h in p["clicksByHour"] if h["clicks"]}
    assert hours == {12: 1, 14: 2, 15: 1, 16: 1, 17: 1, 18: 2, 19: 1, 20: 1, 22: 1}
    assert p["peakHour"] == 14  # tie with 18: the earliest
    days = [d["clicks"] for d in p["clicksByDayOfWeek"]]
    assert days == [0, 3, 2, 0, 2, 2, 2]  # Sun..Sat
    assert p["timezone"] == "UTC"


TRENDS = """
query ($days: Int!, $tz: String) {
  clickTrends(days: $days, timezone: $tz) {
    timezone totalClicks insight days { date clicks applications interviewRate }
  }
}"""


async def test_click_trends_in_the_callers_timezone(
    gql: Gql, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tz = ZoneInfo("Asia/Tokyo")
    account_id, key = await create_account_with_key(sessionmaker, timezone="Asia/Tokyo")
    today = datetime.now(tz).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=tz)
    sent = midnight - timedelta(days=5)
    # Local times: yesterday 23:30 and 00:30, the day before 12:00, plus a bot yesterday.
    clicks = [
        ClickSpec("LinkedIn", (midnight - timedelta(minutes=30) - sent).total_seconds() / 3600),
        ClickSpec("Calendly", (midnight - timedelta(hours=23.5) - sent).total_seconds() / 3600),
        ClickSpec("LinkedIn", (midnight - timedelta(hours=36) - sent).total_seconds() / 3600),
        ClickSpec(
            "LinkedIn", (midnight - timedelta(hours=2) - sent).total_seconds() / 3600, bot=True
        ),
    ]
    async with sessionmaker() as session, session.begin():
        await create_applications(
            session,
            account_id,
            [
                AppSpec(
                    sent,
                    status="interview",
                    history=("applied", "interview"),
                    clicks=clicks,
                    functions=("LinkedIn", "Calendly", "Portfolio"),
                ),
                AppSpec(sent, clicks=[clicks[0]], functions=("LinkedIn", "Calendly", "Portfolio")),
            ],
        )
    for variables in ({"days": 3}, {"days": 3, "tz": "asia/tokyo"}):
        t = data(await gql(TRENDS, variables, key=key))["clickTrends"]
        assert t["timezone"] == "Asia/Tokyo"
        assert t["days"] == [
            {
                "date": (today - timedelta(days=2)).isoformat(),
                "clicks": 1,
                "applications": 1,
                "interviewRate": 100.0,
            },
            {
                "date": (today - timedelta(days=1)).isoformat(),
                "clicks": 3,
                "applications": 2,
                "interviewRate": 50.0,
            },
            {
                "date": today.isoformat(),
                "clicks": 0,
                "applications": 0,
                "interviewRate": None,
            },
        ]
        assert t["totalClicks"] == 4
        assert t["insight"] == (
            f"4 human clicks over the last 3 days (Asia/Tokyo); the busiest day was "
            f"{(today - timedelta(days=1)).isoformat()} with 3."
        )
    body = await gql(TRENDS, {"days": 3, "tz": "Mars/Olympus"}, key=key)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql(TRENDS, {"days": 0}, key=key)
    assert body["errors"][0]["extensions"]["field"] == "days"
