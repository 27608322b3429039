"""Hostile input gets a clear answer (BAD_USER_INPUT naming the argument, or HTTP 400 for a body
that is not a GraphQL request), never INTERNAL_SERVER_ERROR or a 5xx. The generated cases are in
test_hostile_graphql.py; these are the ones found by hand (issue 13)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import GraphQLClient

SUMMARY = """query($f: AnalyticsFilter) {
  engagementSummary(filter: $f) { totalApplications }
}"""


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("data") is None or all(v is None for v in (body["data"] or {}).values())
    errors = body["errors"]
    assert len(errors) == 1, errors
    error: dict[str, Any] = errors[0]
    return error


@pytest.mark.parametrize(
    "end",
    ["9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00Z", "1899-12-31T23:59:59Z"],
)
async def test_dates_out_of_range_are_bad_input(gql: GraphQLClient, api_key: str, end: str) -> None:
    body = await gql(SUMMARY, {"f": {"startDate": "2026-01-01", "endDate": end}}, key=api_key)
    error = only_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "endDate" in error["message"]
    assert "between 1900-01-01 and 9000-01-01" in error["message"]


async def test_date_out_of_range_as_a_literal_is_bad_input(
    gql: GraphQLClient, api_key: str
) -> None:
    query = (
        '{ linkFunctionEffectiveness(filter: {endDate: "0001-01-01T00:00:00Z"}) { __typename } }'
    )
    error = only_error(await gql(query, key=api_key))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "between 1900-01-01 and 9000-01-01" in error["message"]


async def test_a_period_ending_before_it_starts_is_bad_input(
    gql: GraphQLClient, api_key: str
) -> None:
    # Bounds with different offsets: compared as instants.
    period = {"startDate": "2026-02-01T00:00:00+02:00", "endDate": "2026-01-31T21:00:00Z"}
    error = only_error(await gql(SUMMARY, {"f": period}, key=api_key))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "filter.endDate"}
    assert "is before filter.startDate" in error["message"]


async def test_a_period_in_order_is_answered(gql: GraphQLClient, api_key: str) -> None:
    period = {"startDate": "2026-01-01T00:00:00+14:00", "endDate": "2026-02-01T00:00:00Z"}
    body = await gql(SUMMARY, {"f": period}, key=api_key)
    assert body == {"data": {"engagementSummary": {"totalApplications": 0}}}


async def test_nul_in_a_literal_names_the_argument(gql: GraphQLClient, api_key: str) -> None:
    body = await gql('{ trackedLink(trackingId: "\\u202e\\u0000") { trackingId } }', key=api_key)
    error = only_error(body)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "trackingId"}
    assert "NUL" in error["message"]


async def test_nul_in_a_variable_names_the_variable(gql: GraphQLClient, api_key: str) -> None:
    query = "query($id: String!) { trackedLink(trackingId: $id) { trackingId } }"
    error = only_error(await gql(query, {"id": "lt_\u0000"}, key=api_key))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "$id"}


async def test_nul_inside_an_input_object_names_its_field(gql: GraphQLClient, api_key: str) -> None:
    query = 'mutation { createJob(input: {title: "a\\u0000", company: "b"}) { id } }'
    error = only_error(await gql(query, key=api_key))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.title"}


async def test_lone_surrogate_in_a_variable_is_bad_input(
    client: httpx.AsyncClient, api_key: str
) -> None:
    # Written by hand: a JSON encoder would refuse to produce it.
    body = (
        b'{"query": "query($id: String!) { trackedLink(trackingId: $id) { trackingId } }",'
        b' "variables": {"id": "\\ud800"}}'
    )
    response = await client.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    error = only_error(response.json())
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"null", "not null"),
        (b'"str"', "not a string"),
        (b"true", "not a boolean"),
        (b"0", "not a number"),
        (b"1e999999", "not valid JSON"),
        (b'[{"query": "{ __typename }"}]', "not an array"),
        (b'{"query": 1}', "`query` must be a string"),
    ],
)
async def test_a_body_that_is_not_a_graphql_request_is_a_400(
    client: httpx.AsyncClient, api_key: str, body: bytes, says: str
) -> None:
    response = await client.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    error = only_error(response.json())
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert says in error["message"]


async def test_graphql_with_a_trailing_slash_is_not_redirected(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql/", json={"query": "{ __typename }"})
    assert response.status_code == 404
    assert "location" not in response.headers


UPDATE_WEBHOOK = """mutation($url: String) {
  updateAccount(input: {webhookUrl: $url}) { webhookUrl } }"""


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/hook",
        "https://[::1]/hook",
        "http://localhost:9000/hook",
        "https://localhost./hook",  # a trailing dot is the same host
    ],
)
async def test_webhook_urls_to_internal_addresses_are_refused(
    gql: GraphQLClient, api_key: str, url: str
) -> None:
    error = only_error(await gql(UPDATE_WEBHOOK, {"url": url}, key=api_key))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "webhookUrl"}
    assert "loopback, private or link-local" in error["message"]


async def test_webhook_url_to_a_public_address_is_kept(gql: GraphQLClient, api_key: str) -> None:
    url = "https://93.184.215.14/hook"
    body = await gql(UPDATE_WEBHOOK, {"url": url}, key=api_key)
    assert body == {"data": {"updateAccount": {"webhookUrl": url}}}
