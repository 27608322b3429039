"""The API's answers, byte for byte, pinned: tests/answers.json holds what these documents
answered over HTTP on the data below (recorded when graph/execution.py, a custom executor, was
replaced by Strawberry's own execution; the two answered identically then).

Ids and tracking ids are random per run: each is replaced by a name in order of first
appearance (`<u0>`, `<t0>`), inside cursors too (a cursor is shown decoded), so the
comparison is of everything else: values, key order, nulls, number and date formats.
Record again (after a deliberate change of an answer) with ANSWERS_RECORD=1.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from factories import (
    AppSpec,
    ClickSpec,
    create_account_with_key,
    create_analytics,
    create_applications,
)
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.tables import job_applications

ANSWERS = Path(__file__).with_name("answers.json")
T0 = datetime(2025, 4, 7, 8, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Seeded:
    key: str
    ids: list[uuid.UUID]


@pytest.fixture(scope="module")
async def seeded(sessionmaker: async_sessionmaker[AsyncSession]) -> Seeded:
    """Four applications: clicked and not (null timestamps), every status kind, two titles,
    human and bot clicks, metrics for two of them. Ids are drawn in increasing order (a
    counter in the high bits, random low bits), so that orders by id (links by tracking id,
    clicks by time then id) are the same in every run."""
    low = random.getrandbits(96)
    counter = itertools.count(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=(next(counter) << 96) | low))
        return await _seed(sessionmaker)


async def _seed(sessionmaker: async_sessionmaker[AsyncSession]) -> Seeded:
    account_id, key = await create_account_with_key(sessionmaker)
    specs = [
        AppSpec(
            T0,
            status="applied",
            clicks=[ClickSpec("LinkedIn", 2, session_id="s1")],
            functions=("LinkedIn", "Calendly", "Portfolio"),
        ),
        AppSpec(
            T0 + timedelta(days=1),
            status="interview",
            job_title="Data engineer",
            clicks=[
                ClickSpec("Calendly", 1.5, session_id="s2"),
                ClickSpec("Calendly", 30, bot=True),
                ClickSpec("Portfolio", 49.25, session_id="s2"),
            ],
            functions=("LinkedIn", "Calendly", "Portfolio"),
        ),
        AppSpec(
            T0 + timedelta(days=2),
            status="offer",
            history=("applied", "offer"),
            inactive=("GitHub",),
            functions=("LinkedIn", "Calendly", "Portfolio"),
        ),
        AppSpec(
            T0 + timedelta(days=3),
            status="rejected",
            functions=("LinkedIn", "Calendly", "Portfolio"),
        ),
    ]
    async with sessionmaker() as session, session.begin():
        ids = await create_applications(session, account_id, specs)
        for i, app_id in enumerate(ids[:2]):
            await session.execute(
                update(job_applications)
                .where(job_applications.c.id == app_id)
                .values(
                    first_click_timestamp=T0 + timedelta(hours=3 + i),
                    last_click_timestamp=T0 + timedelta(days=1, microseconds=250 + i),
                    total_clicks=7 + i,
                    unique_click_sessions=2,
                    most_clicked_link_function="Calendly",
                    engagement_score=81 - i,
                    is_high_priority=True,
                )
            )
            await create_analytics(
                session,
                app_id,
                total_click_events=3 - i,
                click_sequence=["Calendly", "Portfolio"][: 2 - i],
                unique_functions_clicked=2 - i,
                time_to_first_click=timedelta(hours=1, minutes=30, microseconds=5),
                hours_to_first_click=Decimal("1.50"),
                time_between_first_last_click=timedelta(days=2, seconds=3) if i else None,
                hours_between_first_last_click=Decimal("48.00") if i else None,
                peak_click_hour=9 + i,
                click_days_of_week=[1, 3][: 2 - i],
                engagement_velocity=Decimal("0.7500"),
                engagement_score=81 - i,
                intent_score=64 + i,
                calculated_at=T0 + timedelta(days=5),
            )
    return Seeded(key, ids)


PAGE = """
{ applications(first: 100) { totalCount edges { node {
  id status createdAt updatedAt firstClickTimestamp lastClickTimestamp totalClicks
  uniqueClickSessions mostClickedLinkFunction engagementScore isHighPriority job { title }
} } } }"""

ALIASES = """
{ applications(first: 10, orderBy: APPLIED_AT_ASC) { __typename edges { __typename node {
  __typename a: id b: id id s: status status when: createdAt
  clicks: totalClicks total: totalClicks job { __typename t: title title }
} } } }"""

FRAGMENTS = """
query Page { applications(first: 10) { ...Conn } }
fragment Conn on ApplicationConnection {
  totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { ...App ... on Application { status totalClicks id } } }
}
fragment App on Application {
  id status updatedAt lastClickTimestamp
  job { ... on Job { id title company url location createdAt } ...JobTitle }
}
fragment JobTitle on Job { title }
"""

DIRECTIVES = """
query ($yes: Boolean!, $no: Boolean!) { applications(first: 10) { edges { node {
  id
  status @include(if: $yes)
  createdAt @include(if: $no)
  totalClicks @skip(if: $yes)
  engagementScore @skip(if: $no)
  ... on Application @include(if: $yes) { isHighPriority }
  ... on Application @skip(if: $yes) { uniqueClickSessions }
} } } }"""

NESTED_LISTS = """
{ applications(first: 10, orderBy: ENGAGEMENT_SCORE_DESC) { edges { node {
  id
  statusHistory { status changedAt }
  links { trackingId linkFunction linkType isActive description createdAt
          job { id } application { id status } }
  engagement { engagementScore clickSequence }
  contacts { id }
} } } }"""

ONE = """
query ($id: ID!) { application(id: $id) {
  id status createdAt job { id title company }
  links { trackingId linkFunction isActive }
  clicks(first: 5) { totalCount edges { node { clickedAt } } }
} }"""

# bench/api.py's "one application", every engagement field, and clicks of every kind.
FULL = """
query ($id: ID!) { application(id: $id) {
  id status createdAt
  job { id title company url location createdAt }
  links { trackingId linkFunction isActive
          clicks(first: 2, includeBots: true) { totalCount pageInfo { hasNextPage endCursor } } }
  engagement { totalClickEvents clickSequence uniqueFunctionsClicked timeToFirstClick
    hoursToFirstClick timeBetweenFirstLastClick hoursBetweenFirstLastClick peakClickHour
    clickDaysOfWeek engagementVelocity engagementScore intentScore calculatedAt }
  clicks(first: 5) { totalCount edges { cursor node { id trackingId clickedAt clickSource
    referrerUrl sessionId userAgent ipAddress requestMethod isBot botReason metadata } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
  bots: clicks(first: 1, includeBots: true) { totalCount edges { node { isBot botReason } }
    pageInfo { hasNextPage endCursor } }
} }"""

SECOND_PAGE = """
query ($after: String!) { applications(first: 1, after: $after, orderBy: LAST_CLICK_DESC) {
  totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { id lastClickTimestamp } } } }"""

FILTERED = """
{ applications(first: 2, filter: {status: OFFER}) { totalCount edges { node { id status } } }
  empty: applications(first: 2, filter: {minEngagementScore: 100}) { totalCount
    pageInfo { hasNextPage startCursor endCursor } edges { node { id } } } }"""

SUMMARY = """
{ engagementSummary {
  totalApplications applicationsWithClicks engagementRate avgClicksPerApplication totalClicks
  outcomes { level count interviewRate offerRate }
  linkEffectiveness { function interviewRate totalClicks }
} }"""

JOB_AND_LINK = """
query ($id: ID!) { job(id: $id) { id title company createdAt } }"""

MISSING = """
query ($id: ID!) { application(id: $id) { id status } }"""

CASES: dict[str, tuple[str, dict[str, str] | None]] = {
    "page": (PAGE, {}),
    "aliases": (ALIASES, {}),
    "fragments": (FRAGMENTS, {}),
    "directives": (DIRECTIVES, {"yes": "true", "no": "false"}),
    "nested_lists": (NESTED_LISTS, {}),
    "one": (ONE, None),
    "full": (FULL, None),
    "second_page": (SECOND_PAGE, None),
    "filtered": (FILTERED, {}),
    "summary": (SUMMARY, {}),
    "missing": (MISSING, {"id": str(uuid.UUID(int=1))}),
    "bad_id": (MISSING, {"id": "not-an-id"}),
}

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TRACKING = re.compile(r"t[0-9a-f]{20}")
_CURSOR = re.compile(r'"(cursor|startCursor|endCursor)":"([A-Za-z0-9_-]+)"')


def normalize(body: bytes) -> str:
    """The body with every id named by its first appearance, and cursors decoded."""

    def decoded(m: re.Match[str]) -> str:
        raw = base64.urlsafe_b64decode(m[2] + "=" * (-len(m[2]) % 4)).decode()
        return f'"{m[1]}":"cursor {raw.replace(chr(34), chr(39))}"'

    text = _CURSOR.sub(decoded, body.decode())
    names: dict[str, str] = {}
    for pattern, prefix in ((_UUID, "u"), (_TRACKING, "t")):

        def name(m: re.Match[str], prefix: str = prefix) -> str:
            return names.setdefault(m[0], f"<{prefix}{len(names)}>")

        text = pattern.sub(name, text)
    return text


async def _answers(seeded: Seeded, client: httpx.AsyncClient) -> dict[str, str]:
    out: dict[str, str] = {}

    async def post(query: str, variables: dict[str, object]) -> bytes:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {seeded.key}"},
        )
        assert response.status_code == 200, response.text
        return response.content

    second_id = str(seeded.ids[1])
    first_page = json.loads(
        await post("{ applications(first: 1, orderBy: LAST_CLICK_DESC) { edges { cursor } } }", {})
    )
    after = first_page["data"]["applications"]["edges"][0]["cursor"]
    for case, (query, variables) in CASES.items():
        values: dict[str, object]
        if case == "directives":
            values = {"yes": True, "no": False}
        elif case == "second_page":
            values = {"after": after}
        elif variables is None:
            values = {"id": second_id}
        else:
            values = dict(variables)
        out[case] = normalize(await post(query, values))
    job = json.loads(await post(ONE, {"id": second_id}))["data"]["application"]["job"]
    out["job"] = normalize(await post(JOB_AND_LINK, {"id": job["id"]}))
    return out


async def test_answers_are_the_pinned_ones(seeded: Seeded, client: httpx.AsyncClient) -> None:
    answers = await _answers(seeded, client)
    if os.environ.get("ANSWERS_RECORD"):
        ANSWERS.write_text(json.dumps(answers, indent=1) + "\n")
    pinned = json.loads(ANSWERS.read_text())
    assert set(answers) == set(pinned)
    for case, text in answers.items():
        assert text == pinned[case], case
    # The data behind them is what the cases say: errors only where asked for.
    assert [c for c, t in answers.items() if '"errors"' in t] == ["bad_id"]
