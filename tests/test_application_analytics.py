"""`applicationAnalytics` against an account computed by hand, and the SQL against the rules.

The account (America/New_York) has 13 applications (hours after sending of each history row):

  Acme, "Senior Backend Engineer" (6)           Globex, "Data Engineer (Python)" (5)
    a applied                                     g applied
    b applied, interview 24h                      h applied, interview 36h
    c applied, rejected 48h                       i applied
    d applied, interview 12h, offer 100h          j applied, rejected 10h
    e applied, withdrawn 5h (no response)         k applied (sent two weeks later)
    f applied, rejected 72h
  Initech, "Frontend Developer" (2)
    l applied, interview 6h, rejected 30h (reached interview though rejected now)
    m applied (sent Monday 03:00 UTC = Sunday 23:00 in New York)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import AppSpec, create_account_with_key, create_applications
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import application_analytics as app_analytics_db
from domain.application_analytics import RESPONSE_STATUSES, quantile, title_keywords

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)  # a Monday
ACME, GLOBEX, INITECH = "Senior Backend Engineer", "Data Engineer (Python)", "Frontend Developer"


def spec(
    company: str,
    title: str,
    created: datetime,
    history: tuple[tuple[str, float], ...] = (),
) -> AppSpec:
    statuses = ("applied", *(s for s, _ in history))
    return AppSpec(
        created,
        status=statuses[-1],
        history=statuses,
        history_hours=(0.0, *(h for _, h in history)),
        functions=("LinkedIn",),
        job_title=title,
        company=company,
    )


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


SPECS = {
    "a": spec("Acme", ACME, day(0)),
    "b": spec("Acme", ACME, day(1), (("interview", 24),)),
    "c": spec("Acme", ACME, day(2), (("rejected", 48),)),
    "d": spec("Acme", ACME, day(3), (("interview", 12), ("offer", 100))),
    "e": spec("Acme", ACME, day(4), (("withdrawn", 5),)),
    "f": spec("Acme", ACME, day(5), (("rejected", 72),)),
    "g": spec("Globex", GLOBEX, day(6)),
    "h": spec("Globex", GLOBEX, day(7), (("interview", 36),)),
    "i": spec("Globex", GLOBEX, day(8)),
    "j": spec("Globex", GLOBEX, day(9), (("rejected", 10),)),
    "k": spec("Globex", GLOBEX, day(21)),
    "l": spec("Initech", INITECH, day(10), (("interview", 6), ("rejected", 30))),
    "m": spec("Initech", INITECH, datetime(2025, 3, 10, 3, 0, tzinfo=UTC)),
}


@dataclass
class World:
    account_id: uuid.UUID
    key: str
    other_key: str


@pytest.fixture(scope="module")
async def world(sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    account_id, key = await create_account_with_key(sessionmaker, timezone="America/New_York")
    other_id, other_key = await create_account_with_key(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await create_applications(session, account_id, list(SPECS.values()))
        await create_applications(session, other_id, [spec("Acme", ACME, day(0), (("offer", 1),))])
    return World(account_id, key, other_key)


QUERY = """
query ($filter: AnalyticsFilter, $groupLimit: Int) {
  applicationAnalytics(filter: $filter, groupLimit: $groupLimit) {
    timezone totalApplications
    statusDistribution { status applications percent }
    funnel { step applications sampleSize conversionRate rateFromApplied
             conversionInterval { low high successes sampleSize } }
    timeToFirstResponse { sampleSize p25Hours medianHours p75Hours medianDays }
    timeToInterview { sampleSize p25Hours medianHours p75Hours medianDays }
    byCompany { totalGroups rankedGroups minimumSample
      groups { key rank applications interviewRate
               funnel { step applications conversionRate }
               statusDistribution { status applications }
               timeToFirstResponse { sampleSize medianHours } } }
    byTitleKeyword { totalGroups rankedGroups groups { key rank applications interviewRate } }
    weekly { weekStart applications }
    insights computedAt
  }
}"""


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["applicationAnalytics"]
    return result


async def test_status_distribution_funnel_and_times(world: World, gql: Any) -> None:
    a = data(await gql(QUERY, key=world.key))
    assert a["timezone"] == "America/New_York"
    assert a["totalApplications"] == 13
    assert {s["status"]: s["applications"] for s in a["statusDistribution"]} == {
        "APPLIED": 5,
        "INTERVIEW": 2,
        "OFFER": 1,
        "REJECTED": 4,
        "WITHDRAWN": 1,
    }
    assert a["statusDistribution"][0]["percent"] == 38.46  # 5 of 13
    funnel = {s["step"]: s for s in a["funnel"]}
    assert [s["step"] for s in a["funnel"]] == ["APPLIED", "RESPONSE", "INTERVIEW", "OFFER"]
    assert funnel["APPLIED"]["applications"] == 13
    assert funnel["APPLIED"]["sampleSize"] is None
    assert funnel["APPLIED"]["conversionInterval"] is None
    # Responses: b c d f h j l (e withdrew: no response). Interviews: b d h l. Offers: d.
    assert funnel["RESPONSE"] | {"conversionInterval": None} == {
        "step": "RESPONSE",
        "applications": 7,
        "sampleSize": 13,
        "conversionRate": 53.85,
        "rateFromApplied": 53.85,
        "conversionInterval": None,
    }
    assert funnel["INTERVIEW"]["sampleSize"] == 7
    assert funnel["INTERVIEW"]["conversionRate"] == 57.14
    assert funnel["INTERVIEW"]["rateFromApplied"] == 30.77
    assert funnel["OFFER"]["conversionRate"] == 25.0
    assert funnel["OFFER"]["conversionInterval"]["sampleSize"] == 4
    assert funnel["OFFER"]["conversionInterval"]["successes"] == 1
    # Wilson 95% for 1 of 4.
    assert funnel["OFFER"]["conversionInterval"]["low"] == 4.56
    assert funnel["OFFER"]["conversionInterval"]["high"] == 69.94
    # Hours to first response 6 10 12 24 36 48 72; to interview 6 12 24 36.
    assert a["timeToFirstResponse"] == {
        "sampleSize": 7,
        "p25Hours": 11.0,
        "medianHours": 24.0,
        "p75Hours": 42.0,
        "medianDays": 1.0,
    }
    assert a["timeToInterview"] == {
        "sampleSize": 4,
        "p25Hours": 10.5,
        "medianHours": 18.0,
        "p75Hours": 27.0,
        "medianDays": 0.75,
    }


async def test_groups_are_ranked_only_from_five_applications(world: World, gql: Any) -> None:
    a = data(await gql(QUERY, key=world.key))
    companies = a["byCompany"]
    assert companies["totalGroups"] == 3
    assert companies["rankedGroups"] == 2
    assert companies["minimumSample"] == 5
    ranked = [
        (g["key"], g["rank"], g["applications"], g["interviewRate"]) for g in companies["groups"]
    ]
    # Initech reached interview 1 of 2 (50%), above both, and is still not ranked.
    assert ranked == [
        ("Acme", 1, 6, 33.33),
        ("Globex", 2, 5, 20.0),
        ("Initech", None, 2, 50.0),
    ]
    acme = companies["groups"][0]
    assert [s["applications"] for s in acme["funnel"]] == [6, 4, 2, 1]
    assert acme["timeToFirstResponse"] == {"sampleSize": 4, "medianHours": 36.0}
    keywords = {g["key"]: g for g in a["byTitleKeyword"]["groups"]}
    assert set(keywords) == {
        "senior", "backend", "engineer", "data", "python", "frontend", "developer"
    }  # fmt: skip
    assert [(g["key"], g["rank"]) for g in a["byTitleKeyword"]["groups"][:5]] == [
        ("backend", 1),
        ("senior", 2),
        ("engineer", 3),
        ("data", 4),
        ("python", 5),
    ]
    assert keywords["engineer"]["applications"] == 11
    assert keywords["developer"]["rank"] is None


async def test_group_limit_keeps_the_totals(world: World, gql: Any) -> None:
    a = data(await gql(QUERY, {"groupLimit": 1}, key=world.key))
    assert [g["key"] for g in a["byCompany"]["groups"]] == ["Acme"]
    assert a["byCompany"]["totalGroups"] == 3
    body = await gql(QUERY, {"groupLimit": 0}, key=world.key)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "groupLimit"}


async def test_weeks_are_local_and_gaps_are_zero(world: World, gql: Any) -> None:
    a = data(await gql(QUERY, key=world.key))
    # m (Monday 03:00 UTC) is Sunday evening in New York: the first week.
    assert a["weekly"] == [
        {"weekStart": "2025-03-03", "applications": 8},
        {"weekStart": "2025-03-10", "applications": 4},
        {"weekStart": "2025-03-17", "applications": 0},
        {"weekStart": "2025-03-24", "applications": 1},
    ]


async def test_filter_and_tenancy(world: World, gql: Any) -> None:
    a = data(await gql(QUERY, {"filter": {"status": "REJECTED"}}, key=world.key))
    assert a["totalApplications"] == 4
    assert [s["applications"] for s in a["funnel"]] == [4, 4, 1, 0]
    a = data(
        await gql(
            QUERY,
            {"filter": {"startDate": day(21).isoformat(), "endDate": day(22).isoformat()}},
            key=world.key,
        )
    )
    assert a["totalApplications"] == 1
    other = data(await gql(QUERY, key=world.other_key))
    assert other["totalApplications"] == 1
    assert [s["applications"] for s in other["funnel"]] == [1, 1, 1, 1]
    empty = data(await gql(QUERY, {"filter": {"status": "OFFER"}}, key=world.key))
    assert empty["totalApplications"] == 1
    none = data(await gql(QUERY, {"filter": {"startDate": "2030-01-01T00:00:00Z"}}, key=world.key))
    assert none["totalApplications"] == 0
    assert none["weekly"] == []
    assert none["timeToInterview"]["medianHours"] is None
    assert none["insights"] == ["No applications match yet."]


async def test_sql_matches_the_rules(
    world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The statement's quartiles are `quantile`'s and its keywords `title_keywords`'."""
    async with sessionmaker() as session:
        rows = await app_analytics_db.application_groups(
            session, account_id=world.account_id, timezone="America/New_York", flt=None
        )
    response_hours: list[float] = []
    keywords: dict[str, int] = {}
    for s in SPECS.values():
        assert s.history_hours is not None
        hours = [
            h for st, h in zip(s.history, s.history_hours, strict=True)
            if st in RESPONSE_STATUSES
        ]  # fmt: skip
        if hours:
            response_hours.append(min(hours))
        for word in title_keywords(s.job_title):
            keywords[word] = keywords.get(word, 0) + 1
    overall = next(r for r in rows if r.dimension == "all")
    assert overall.response_hours == [quantile(response_hours, q) for q in (0.25, 0.5, 0.75)]
    assert {r.key: r.applications for r in rows if r.dimension == "keyword"} == keywords
    # Titles with punctuation, repeats and stopwords split the same way in both.
    assert title_keywords("C++ / C# Engineer, Engineer of the Year") == {
        "c++", "c#", "engineer", "year"
    }  # fmt: skip


async def test_a_filter_date_without_offset_is_refused(world: World, gql: Any) -> None:
    body = await gql(
        QUERY,
        {"filter": {"startDate": "2025-03-03T00:00:00", "endDate": "2025-03-04T00:00:00Z"}},
        key=world.key,
    )
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "filter.startDate",
    }
