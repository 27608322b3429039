"""`applications(first, after, filter, orderBy)`: every order paged through to the end.

Seven applications with ties on every key (and NULL last clicks); ties break on the id, in
the direction opposite to the key (ascending ids under a descending key).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import AppSpec, create_account_with_key, create_analytics, create_applications
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.tables import job_applications

Gql = Callable[..., Coroutine[Any, Any, dict[str, Any]]]
T0 = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)

# (created_at day, engagement score, last click day or None, intent score or None = no row)
ROWS = [
    (0, 50, 3, 40),
    (1, 80, None, None),
    (1, 50, 5, 90),
    (2, 10, 5, 40),
    (3, 80, None, 0),
    (4, 0, 1, 90),
    (4, 95, 2, None),
]

QUERY = """
query ($first: Int!, $after: String, $order: ApplicationOrder!, $filter: ApplicationFilter) {
  applications(first: $first, after: $after, orderBy: $order, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id } }
  }
}"""


@pytest.fixture(scope="module")
async def paged(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[str, list[uuid.UUID]]:
    account_id, key = await create_account_with_key(sessionmaker)
    async with sessionmaker() as session, session.begin():
        ids = await create_applications(
            session,
            account_id,
            [
                AppSpec(T0 + timedelta(days=d), functions=("LinkedIn", "Calendly", "Portfolio"))
                for d, *_ in ROWS
            ],
        )
        for app_id, (_, score, last, intent) in zip(ids, ROWS, strict=True):
            await session.execute(
                update(job_applications)
                .where(job_applications.c.id == app_id)
                .values(
                    engagement_score=score,
                    is_high_priority=score > 70,
                    last_click_timestamp=None if last is None else T0 + timedelta(days=last),
                )
            )
            if intent is not None:
                await create_analytics(session, app_id, intent_score=intent)
    return key, ids


def expected(ids: list[uuid.UUID], order: str) -> list[uuid.UUID]:
    items = list(zip(ids, ROWS, strict=True))
    if order == "APPLIED_AT_DESC":
        items.sort(key=lambda x: (-x[1][0], x[0]))
    elif order == "APPLIED_AT_ASC":
        items.sort(key=lambda x: (x[1][0], -x[0].int))  # ties: the larger id first
    elif order == "ENGAGEMENT_SCORE_DESC":
        items.sort(key=lambda x: (-x[1][1], x[0]))
    elif order == "LAST_CLICK_DESC":
        items.sort(key=lambda x: (x[1][2] is None, -(x[1][2] or 0), x[0]))
    else:  # INTENT_SCORE_DESC: unscored applications count as 0
        items.sort(key=lambda x: (-(x[1][3] or 0), x[0]))
    return [i for i, _ in items]


@pytest.mark.parametrize(
    "order",
    [
        "APPLIED_AT_DESC",
        "APPLIED_AT_ASC",
        "ENGAGEMENT_SCORE_DESC",
        "LAST_CLICK_DESC",
        "INTENT_SCORE_DESC",
    ],
)
async def test_pages_cover_every_application_once_in_order(
    paged: tuple[str, list[uuid.UUID]], gql: Gql, order: str
) -> None:
    key, ids = paged
    seen: list[uuid.UUID] = []
    after = None
    pages = 0
    while True:
        body = await gql(QUERY, {"first": 2, "after": after, "order": order}, key=key)
        assert "errors" not in body, body
        conn = body["data"]["applications"]
        assert conn["totalCount"] == 7
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [uuid.UUID(e["node"]["id"]) for e in conn["edges"]]
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert pages == 4  # 2 + 2 + 2 + 1
    assert seen == expected(ids, order)


async def test_page_info_cursors_without_edge_cursors(
    paged: tuple[str, list[uuid.UUID]], gql: Gql
) -> None:
    """Edge cursors are encoded only when asked for (graph.resolvers.applications); the
    start and end cursors are the same either way, and paging on them alone reaches every
    application."""
    key, ids = paged
    info_only = """query ($after: String) { applications(first: 3, after: $after) {
      pageInfo { hasNextPage startCursor endCursor } edges { node { id } } } }"""
    with_edges = """query ($after: String) { applications(first: 3, after: $after) {
      pageInfo { hasNextPage startCursor endCursor } edges { cursor node { id } } } }"""
    seen: list[uuid.UUID] = []
    after = None
    while True:
        lean = (await gql(info_only, {"after": after}, key=key))["data"]["applications"]
        full = (await gql(with_edges, {"after": after}, key=key))["data"]["applications"]
        assert lean["pageInfo"] == full["pageInfo"]
        cursors = [e["cursor"] for e in full["edges"]]
        assert all(cursors)
        assert len(set(cursors)) == len(cursors)
        assert (lean["pageInfo"]["startCursor"], lean["pageInfo"]["endCursor"]) == (
            cursors[0],
            cursors[-1],
        )
        seen += [uuid.UUID(e["node"]["id"]) for e in lean["edges"]]
        if not lean["pageInfo"]["hasNextPage"]:
            break
        after = lean["pageInfo"]["endCursor"]
    assert seen == expected(ids, "APPLIED_AT_DESC")


def test_expected_orders_by_hand() -> None:
    # Spot-check the helper on the keys alone (indexes into ROWS), so it cannot drift.
    fake = [uuid.UUID(int=i + 1) for i in range(7)]
    assert [f.int - 1 for f in expected(fake, "ENGAGEMENT_SCORE_DESC")] == [6, 1, 4, 0, 2, 3, 5]
    assert [f.int - 1 for f in expected(fake, "LAST_CLICK_DESC")] == [2, 3, 0, 6, 5, 1, 4]
    assert [f.int - 1 for f in expected(fake, "INTENT_SCORE_DESC")] == [2, 5, 0, 3, 1, 4, 6]
    assert [f.int - 1 for f in expected(fake, "APPLIED_AT_ASC")] == [0, 2, 1, 3, 4, 6, 5]
    assert [f.int - 1 for f in expected(fake, "APPLIED_AT_DESC")] == [5, 6, 4, 3, 1, 2, 0]


async def test_filters_and_page_cap(paged: tuple[str, list[uuid.UUID]], gql: Gql) -> None:
    key, ids = paged
    body = await gql(
        QUERY,
        {
            "first": 10,
            "order": "ENGAGEMENT_SCORE_DESC",
            "filter": {"minEngagementScore": 50, "startDate": (T0 + timedelta(days=1)).isoformat()},
        },
        key=key,
    )
    conn = body["data"]["applications"]
    # Scores >= 50 from day 1 on: ids[6] (95), ids[1] (80), ids[4] (80), ids[2] (50).
    assert conn["totalCount"] == 4
    assert [uuid.UUID(e["node"]["id"]) for e in conn["edges"]] == [
        ids[6],
        *sorted([ids[1], ids[4]]),
        ids[2],
    ]
    body = await gql(
        QUERY, {"first": 10, "order": "APPLIED_AT_DESC", "filter": {"highPriority": True}}, key=key
    )
    assert body["data"]["applications"]["totalCount"] == 3  # 80, 80, 95
    body = await gql(QUERY, {"first": 201, "order": "APPLIED_AT_DESC"}, key=key)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
    assert "at most 200" in body["errors"][0]["message"]
    body = await gql(
        QUERY, {"first": 2, "after": "bm90IGEgY3Vyc29y", "order": "APPLIED_AT_DESC"}, key=key
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_page_jobs_match_the_job_query_with_and_without_fragments(
    gql: Gql, api_key: str
) -> None:
    """A page reads its applications' jobs with its own statement (db.applications joins them);
    whichever way `job` is asked, the answer is the job `application(id:)` and `job(id:)` give."""

    async def job(title: str) -> str:
        body = await gql(
            "mutation($i: CreateJobInput!) { createJob(input: $i) { id } }",
            {"i": {"title": title, "company": "Acme"}},
            key=api_key,
        )
        return str(body["data"]["createJob"]["id"])

    a, b = await job("Engineer"), await job("Analyst")
    for job_id in (a, a, b, None):
        body = await gql(
            "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }",
            {"i": {"jobId": job_id} if job_id else {}},
            key=api_key,
        )
        assert "errors" not in body, body
    direct = "{ applications(first: 10) { edges { node { id job { id title } } } } }"
    named = """{ applications(first: 10) { edges { node { ...Row } } } }
      fragment Row on Application { id job { id title } }"""
    inline = "{ applications(first: 10) { edges { ... on ApplicationEdge { node { id ... on Application { job { id title } } } } } } }"  # noqa: E501
    answers = []
    for query in (direct, named, inline):
        body = await gql(query, key=api_key)
        assert "errors" not in body, body
        answers.append(
            {e["node"]["id"]: e["node"]["job"] for e in body["data"]["applications"]["edges"]}
        )
    assert answers[0] == answers[1] == answers[2]
    for app_id, got in answers[0].items():
        body = await gql(
            "query($id: ID!) { application(id: $id) { job { id title } } }",
            {"id": app_id},
            key=api_key,
        )
        assert body["data"]["application"]["job"] == got
        if got is not None:
            body = await gql(
                "query($id: ID!) { job(id: $id) { id title } }", {"id": got["id"]}, key=api_key
            )
            assert body["data"]["job"] == got
    assert sorted((j or {}).get("title", "-") for j in answers[0].values()) == [
        "-",
        "Analyst",
        "Engineer",
        "Engineer",
    ]
