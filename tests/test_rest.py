"""The seed 000 REST paths: the same figures as GraphQL, the same auth and errors, hourly
limits per endpoint, and an OpenAPI document the server keeps (checked with schemathesis)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import build_app
from factories import AppSpec, ClickSpec, create_account_with_key, create_applications, create_key
from hypothesis import HealthCheck, settings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from graph.rest import ENDPOINTS, openapi
from graph.schema import schema as graphql_schema

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)

SPECS = [
    AppSpec(
        T0,
        status="interview",
        history=("applied", "interview"),
        clicks=[ClickSpec("Calendly", 1)],
        functions=("LinkedIn", "Calendly", "Portfolio"),
    ),
    AppSpec(
        T0 + timedelta(days=1),
        clicks=[ClickSpec("LinkedIn", 2), ClickSpec("LinkedIn", 3)],
        functions=("LinkedIn", "Calendly", "Portfolio"),
    ),
    AppSpec(
        T0 + timedelta(days=2),
        status="rejected",
        history=("applied", "rejected"),
        functions=("LinkedIn", "Calendly", "Portfolio"),
    ),
]


@pytest.fixture(scope="module")
async def account(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[str, list[str]]:
    account_id, _ = await create_account_with_key(sessionmaker)
    key = await create_key(sessionmaker, account_id, ("read",))
    async with sessionmaker() as session, session.begin():
        apps = await create_applications(session, account_id, SPECS)
    return key, [str(a) for a in apps]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def graphql(client: httpx.AsyncClient, key: str, query: str) -> dict[str, Any]:
    body = (await client.post("/graphql", json={"query": query}, headers=auth(key))).json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


async def test_summary_is_the_graphql_summary_in_snake_case(
    client: httpx.AsyncClient, account: tuple[str, list[str]]
) -> None:
    key, _ = account
    response = await client.get("/api/analytics/engagement-summary", headers=auth(key))
    assert response.status_code == 200, response.text
    rest = response.json()
    gql = (
        await graphql(
            client,
            key,
            "{ engagementSummary { totalApplications applicationsWithClicks engagementRate "
            "avgClicksPerApplication outcomes { level count interviewRate } computedAt } }",
        )
    )["engagementSummary"]
    assert rest["total_applications"] == gql["totalApplications"] == 3
    assert rest["applications_with_clicks"] == 2
    assert rest["engagement_rate"] == gql["engagementRate"] == 66.67
    assert rest["avg_clicks_per_application"] == 1.0
    assert [(o["level"], o["count"], o["interview_rate"]) for o in rest["outcomes"]] == [
        (o["level"], o["count"], o["interviewRate"]) for o in gql["outcomes"]
    ]
    # The same cached computation answered both.
    assert rest["computed_at"] == gql["computedAt"]
    assert {f["function"] for f in rest["link_effectiveness"]} == {
        "LinkedIn",
        "Calendly",
        "Portfolio",
    }


async def test_filters_and_path_parameters(
    client: httpx.AsyncClient, account: tuple[str, list[str]]
) -> None:
    key, apps = account
    response = await client.get(
        "/api/analytics/engagement-to-outcome",
        params={"status": "rejected", "start_date": T0.isoformat()},
        headers=auth(key),
    )
    assert response.status_code == 200, response.text
    assert response.json()["total_applications"] == 1
    assert "link_effectiveness" not in response.json()
    response = await client.get(
        "/api/analytics/link-function-effectiveness",
        params={"end_date": (T0 + timedelta(hours=1)).isoformat()},
        headers=auth(key),
    )
    functions = {f["name"]: f for f in response.json()["link_functions"]}
    assert functions["Calendly"]["interviews_generated"] == 1
    assert functions["Calendly"]["applications_with_link"] == 1
    one = await client.get(f"/api/analytics/application-engagement/{apps[1]}", headers=auth(key))
    assert one.status_code == 200, one.text
    assert one.json()["id"] == apps[1]
    assert one.json()["status"] == "APPLIED"
    health = await client.get(f"/api/analytics/application-health/{apps[0]}", headers=auth(key))
    assert health.status_code == 200, health.text
    assert health.json()["application"]["id"] == apps[0]
    assert health.json()["predicted_outcome"] in ("UNLIKELY", "POSSIBLE", "INTERVIEW_LIKELY")
    sequences = await client.get(
        "/api/analytics/click-sequences", params={"first": 1}, headers=auth(key)
    )
    assert sequences.json()["total_count"] == 2
    assert len(sequences.json()["edges"]) == 1
    assert sequences.json()["page_info"]["has_next_page"] is True
    for path in ("behavioral-patterns", "timing-analysis", "high-priority-applications"):
        response = await client.get(f"/api/analytics/{path}", headers=auth(key))
        assert response.status_code == 200, (path, response.text)
    predicted = await client.post(
        "/api/analytics/predict-outcome",
        json={
            "days_since_applied": 2,
            "clicks": [{"link_function": "Calendly", "hours_after_applying": 1}],
        },
        headers=auth(key),
    )
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["engagement_score"] > 0


async def test_errors_are_json_with_their_status(
    client: httpx.AsyncClient,
    account: tuple[str, list[str]],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    key, apps = account
    cases: list[tuple[str, dict[str, str], int, str]] = [
        ("/api/analytics/engagement-summary", {}, 401, "UNAUTHENTICATED"),
        ("/api/analytics/engagement-summary", auth("li_nope"), 401, "UNAUTHENTICATED"),
        (f"/api/analytics/application-health/{uuid.uuid4()}", auth(key), 404, "NOT_FOUND"),
        ("/api/analytics/application-health/not-an-id", auth(key), 400, "BAD_USER_INPUT"),
        ("/api/analytics/application-engagement/a/b", auth(key), 400, "BAD_USER_INPUT"),
    ]
    for path, headers, status, code in cases:
        response = await client.get(path, headers=headers)
        assert response.status_code == status, (path, response.text)
        assert response.json()["error"]["code"] == code
    bad = await client.get(
        "/api/analytics/engagement-summary", params={"status": "hired"}, headers=auth(key)
    )
    assert (bad.status_code, bad.json()["error"]["field"]) == (400, "status")
    bad = await client.get(
        "/api/analytics/timing-analysis", params={"start_date": "2025-03-03"}, headers=auth(key)
    )
    assert bad.status_code == 400
    bad = await client.get(
        "/api/analytics/high-priority-applications", params={"first": "x"}, headers=auth(key)
    )
    assert (bad.status_code, bad.json()["error"]["field"]) == (400, "first")
    bad = await client.post(
        "/api/analytics/predict-outcome", json={"days_since_applied": -1}, headers=auth(key)
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "daysSinceApplied"
    # Another account's application is a missing one.
    _, other_key = await create_account_with_key(sessionmaker)
    response = await client.get(
        f"/api/analytics/application-engagement/{apps[0]}", headers=auth(other_key)
    )
    assert response.status_code == 404


async def test_hourly_limit_per_endpoint(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, key = await create_account_with_key(sessionmaker)
    limited = settings.model_copy(
        update={"rest_rate_limit_summary_per_hour": 2, "rest_rate_limit_health_per_hour": 3}
    )
    application = build_app(limited)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            statuses = [
                (await client.get("/api/analytics/engagement-summary", headers=auth(key)))
                for _ in range(3)
            ]
            assert [r.status_code for r in statuses] == [200, 200, 429]
            assert statuses[2].json()["error"]["code"] == "RATE_LIMITED"
            assert 0 < int(statuses[2].headers["Retry-After"]) <= 3600
            # Another endpoint has its own count.
            other = await client.get("/api/analytics/timing-analysis", headers=auth(key))
            assert other.status_code == 200


# --- the OpenAPI document, against the running server ------------------------------------------


def test_the_served_document_is_the_generated_one() -> None:
    spec = openapi(graphql_schema.as_str())
    assert set(spec["paths"]) == {e.path for e in ENDPOINTS}
    assert set(spec["paths"]) == {
        "/api/analytics/engagement-summary",
        "/api/analytics/engagement-to-outcome",
        "/api/analytics/link-function-effectiveness",
        "/api/analytics/application-engagement/{application_id}",
        "/api/analytics/behavioral-patterns",
        "/api/analytics/click-sequences",
        "/api/analytics/timing-analysis",
        "/api/analytics/application-health/{application_id}",
        "/api/analytics/predict-outcome",
        "/api/analytics/high-priority-applications",
    }


async def test_openapi_json_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json() == openapi(graphql_schema.as_str())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(settings: Settings, account: tuple[str, list[str]]) -> Iterator[str]:
    """The real server (uvicorn) on the test database, for schemathesis' own HTTP client."""
    port = _free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=str(settings.database_url),
        REDIS_URL=str(settings.redis_url),
        RATE_LIMIT_PER_KEY_PER_MINUTE="0",
        RATE_LIMIT_PER_IP_PER_MINUTE="0",
        REST_RATE_LIMIT_SUMMARY_PER_HOUR="0",
        REST_RATE_LIMIT_EFFECTIVENESS_PER_HOUR="0",
        REST_RATE_LIMIT_HEALTH_PER_HOUR="0",
        REST_RATE_LIMIT_DEFAULT_PER_HOUR="0",
        LOG_LEVEL="ERROR",
        API_WORKERS="1",
    )
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "linkinsights"), "api", "--port", str(port)],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert proc.poll() is None, "the server exited"
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # polling for a process to answer, not waiting on a timing
        else:
            raise AssertionError("the server did not become ready")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


SCHEMA = schemathesis.openapi.from_dict(openapi(graphql_schema.as_str()))


@SCHEMA.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_server_keeps_its_openapi_document(
    case: Any, server: str, account: tuple[str, list[str]]
) -> None:
    """No 5xx, and every response (status, body) as the document says, for generated input."""
    key, _ = account
    case.call_and_validate(
        base_url=server,
        headers=auth(key),
        checks=[
            schemathesis.checks.not_a_server_error,
            schemathesis.checks.status_code_conformance,
            schemathesis.checks.response_schema_conformance,
        ],
    )
