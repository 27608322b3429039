"""Health, readiness, Prometheus metrics, request ids and JSON logs (SPEC §10)."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from conftest import GraphQLClient, build_app, log_lines
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from config import Settings
from db.migrate import upgrade
from linkinsights.embedded import EmbeddedPostgres


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus exposition, None when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = build_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("192.0.2.5", 41000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"postgres": "ok", "redis": "ok", "clicks": "ok"},
    }


async def test_metrics_count_operations_by_name(
    client: httpx.AsyncClient, gql: GraphQLClient, api_key: str
) -> None:
    name = f"Probe_{uuid.uuid4().hex[:8]}"
    query = f"query {name} {{ applications(first: 1) {{ totalCount }} }}"
    for _ in range(2):
        assert (await gql(query, key=api_key))["data"]["applications"]["totalCount"] == 0
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert metric(text, "linkinsights_graphql_requests_total", operation=name) == 2.0
    assert metric(text, "linkinsights_graphql_request_seconds_count", operation=name) == 2.0


async def test_metrics_count_errors_by_code(client: httpx.AsyncClient, gql: GraphQLClient) -> None:
    before = (
        metric(
            (await client.get("/metrics")).text,
            "linkinsights_graphql_errors_total",
            code="UNAUTHENTICATED",
        )
        or 0.0
    )
    response = await gql.post("{ applications(first: 1) { totalCount } }")
    assert response.status_code == 401
    after = metric(
        (await client.get("/metrics")).text,
        "linkinsights_graphql_errors_total",
        code="UNAUTHENTICATED",
    )
    assert after == before + 1


async def test_metrics_queue_depth(settings: Settings, redis_url: str) -> None:
    queue = f"linkinsights-depth-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(redis_url)
    try:
        await redis.zadd(queue, {"job-a": 1.0, "job-b": 2.0, "job-c": 3.0})
        async with running_app(settings.model_copy(update={"queue_name": queue})) as c:
            text = (await c.get("/metrics")).text
            assert metric(text, "linkinsights_queue_depth") == 3.0
            await redis.zrem(queue, "job-c")
            text = (await c.get("/metrics")).text
            assert metric(text, "linkinsights_queue_depth") == 2.0
    finally:
        await redis.delete(queue)
        await redis.aclose()


# --- request ids and logs ------------------------------------------------------------------


async def test_every_response_has_a_request_id(
    client: httpx.AsyncClient, gql: GraphQLClient, api_key: str
) -> None:
    responses = [
        await client.get("/healthz"),
        await client.get("/readyz"),
        await client.get("/metrics"),
        await client.get("/nowhere"),
        await gql.post("{ applications(first: 1) { totalCount } }", key=api_key),
        await gql.post("{ applications(first: 1) { totalCount } }"),  # 401
        await client.post("/graphql", content=b"x" * 100_001),  # 413
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 200, 401, 413]
    ids = [r.headers["x-request-id"] for r in responses]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == len(ids)


async def test_incoming_request_id_is_kept_when_sane(client: httpx.AsyncClient) -> None:
    kept = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = await client.get("/healthz", headers={"X-Request-ID": "y" * 65})
    assert replaced.headers["x-request-id"] != "y" * 65
    assert len(replaced.headers["x-request-id"]) == 32


async def test_json_log_line_carries_the_request_id(
    gql: GraphQLClient, api_key: str, json_log: io.StringIO
) -> None:
    response = await gql.post("{ applications(first: 1) { totalCount } }", key=api_key)
    rid = response.headers["x-request-id"]
    lines = [entry for entry in log_lines(json_log) if entry["request_id"] == rid]
    assert len(lines) == 1
    line = lines[0]
    assert line["logger"] == "linkinsights.access"
    assert line["level"] == "info"
    assert line["msg"] == "POST /graphql 200"
    assert line["status"] == 200
    assert line["path"] == "/graphql"
    assert isinstance(line["duration_ms"], float)


async def test_error_log_inside_a_resolver_carries_the_request_id(
    gql: GraphQLClient, api_key: str, json_log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    import db.applications

    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("detail for operators")

    monkeypatch.setattr(db.applications, "count_applications", boom)
    response = await gql.post("{ applications(first: 1) { totalCount } }", key=api_key)
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    rid = response.headers["x-request-id"]
    errors = [e for e in log_lines(json_log) if e["level"] == "error" and e["request_id"] == rid]
    assert len(errors) == 1
    assert errors[0]["logger"] == "linkinsights.graphql"
    assert errors[0]["msg"] == "unhandled error in applications"
    assert "detail for operators" in str(errors[0]["exc"])


# --- readiness when PostgreSQL goes away ---------------------------------------------------


@pytest.mark.slow
async def test_readiness_reports_postgres_down_and_stays_ready(
    settings: Settings, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root: Path = tmp_path_factory.mktemp("rdy") / "pg"
    pg = EmbeddedPostgres(root=root)
    pg.start()
    try:
        assert pg.started_here
        await upgrade(pg.url)
        own = settings.model_copy(update={"database_url": pg.url, "redis_url": redis_url})
        async with running_app(own) as c:
            ready = await c.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok", "clicks": "ok"}
            pg.stop()
            assert not pg.started_here
            # Ready still (SPEC §3.1): cached links redirect and clicks are kept; reported.
            down = await c.get("/readyz")
            assert down.status_code == 200
            body = down.json()
            assert body["status"] == "ready"
            assert body["checks"]["postgres"].startswith("down")
            assert body["checks"]["redis"] == "ok"
            # Alive is not ready: the process still answers.
            assert (await c.get("/healthz")).status_code == 200
    finally:
        pg.stop()
