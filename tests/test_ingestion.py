"""The ingestion write API (issue 3): mutations, validation, account isolation, GDPR delete,
click connections through loaders, the link trigger and reclassification."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from conftest import GraphQLClient
from factories import (
    create_account,
    create_analytics,
    create_analytics_run,
    create_click,
    create_follow_up,
    create_key,
    create_webhook_delivery,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from config import Settings
from jobs.reclassify import reclassify_all

CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari"

CREATE_JOB = "mutation($i: CreateJobInput!) { createJob(input: $i) { id } }"
CREATE_APP = """mutation($i: CreateApplicationInput!) {
  createApplication(input: $i) {
    id status createdAt job { id } statusHistory { status changedAt } } }"""
UPDATE_STATUS = """mutation($i: UpdateApplicationStatusInput!) {
  updateApplicationStatus(input: $i) {
    id status job { id title } statusHistory { status changedAt } } }"""
CREATE_LINK = """mutation($i: CreateTrackedLinkInput!) {
  createTrackedLink(input: $i) { trackingId redirectUrl originalUrl linkFunction linkType
    isActive job { id } application { id } } }"""
UPDATE_ACCOUNT = """mutation($i: UpdateAccountInput!) {
  updateAccount(input: $i) {
    timezone profileLinks { linkFunction url } webhookUrl webhookSecret } }"""
PACKAGE = """mutation($i: CreateApplicationLinksInput!) {
  createApplicationLinks(input: $i) { trackingId linkFunction linkType originalUrl } }"""
ADD_CONTACT = """mutation($i: AddApplicationContactInput!) {
  addApplicationContact(input: $i) { id email name role } }"""
DEACTIVATE = """mutation($i: DeactivateTrackedLinkInput!) {
  deactivateTrackedLink(input: $i) { trackingId isActive } }"""
RECORD_CLICK = """mutation($i: RecordClickInput!) {
  recordClick(input: $i) { id trackingId clickedAt clickSource referrerUrl sessionId isBot botReason
    ipAddress userAgent metadata } }"""
RECORD_EVENT = """mutation($i: RecordEmailEventInput!) {
  recordEmailEvent(input: $i) { id contactId eventType eventData } }"""
DELETE = """mutation($i: DeleteApplicationInput!) {
  deleteApplication(input: $i) { applicationId applications statusChanges links clicks contacts
    emailEvents metrics followUps webhookDeliveries analyticsRuns } }"""
APPLICATION = """query($id: ID!) { application(id: $id) { id links { trackingId }
  contacts { email } clicks(includeBots: true) { totalCount } } }"""
TRACKED = "query($t: String!) { trackedLink(trackingId: $t) { trackingId originalUrl } }"


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def error(body: dict[str, Any]) -> tuple[str, str | None]:
    assert body.get("errors"), body
    ext = body["errors"][0]["extensions"]
    return ext["code"], ext.get("field")


class Api:
    def __init__(self, gql: Any, key: str) -> None:
        self.gql = gql
        self.key = key

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        body: dict[str, Any] = await self.gql(query, variables, key=self.key)
        return body

    async def application(self, **fields: Any) -> str:
        return str(data(await self(CREATE_APP, i=fields))["createApplication"]["id"])

    async def link(self, app_id: str | None, function: str = "LinkedIn", url: str = "") -> str:
        body = await self(
            CREATE_LINK,
            i={
                "applicationId": app_id,
                "linkFunction": function,
                "linkType": "profile",
                "originalUrl": url or f"https://example.com/{function}",
            },
        )
        return str(data(body)["createTrackedLink"]["trackingId"])


@pytest.fixture
async def api(gql: Any, api_key: str) -> Api:
    return Api(gql, api_key)


@pytest.fixture
async def other(gql: Any, sessionmaker: async_sessionmaker[AsyncSession]) -> Api:
    return Api(
        gql, await create_key(sessionmaker, await create_account(sessionmaker, name="Someone else"))
    )


# --- applications and status history --------------------------------------------------------


async def test_create_application_and_status_changes_write_history(api: Api) -> None:
    job = data(await api(CREATE_JOB, i={"title": "Engineer", "url": "https://jobs.example/1"}))
    body = data(
        await api(
            CREATE_APP,
            i={
                "jobId": job["createJob"]["id"],
                "appliedAt": "2025-07-01T09:00:00+00:00",
                "status": "APPLIED",
            },
        )
    )["createApplication"]
    assert body["status"] == "APPLIED"
    assert body["createdAt"] == "2025-07-01T09:00:00+00:00"
    assert body["job"] == {"id": job["createJob"]["id"]}
    assert body["statusHistory"] == [
        {"status": "APPLIED", "changedAt": "2025-07-01T09:00:00+00:00"}
    ]
    changed = data(
        await api(
            UPDATE_STATUS,
            i={
                "applicationId": body["id"],
                "status": "INTERVIEW",
                "changedAt": "2025-07-05T14:30:00+02:00",
            },
        )
    )["updateApplicationStatus"]
    assert changed["status"] == "INTERVIEW"
    # The written row comes back with its job (db.applications reads it in the same statement).
    assert changed["job"] == {"id": job["createJob"]["id"], "title": "Engineer"}
    assert changed["statusHistory"] == [
        {"status": "APPLIED", "changedAt": "2025-07-01T09:00:00+00:00"},
        {"status": "INTERVIEW", "changedAt": "2025-07-05T12:30:00+00:00"},
    ]
    without_job = data(await api(CREATE_APP, i={}))["createApplication"]
    assert without_job["job"] is None


# --- tracked links ----------------------------------------------------------------------------


async def test_create_tracked_link(api: Api, settings: Settings) -> None:
    job = data(await api(CREATE_JOB, i={"title": "Engineer"}))["createJob"]["id"]
    app_id = await api.application(jobId=job)
    link = data(
        await api(
            CREATE_LINK,
            i={
                "applicationId": app_id,
                "linkFunction": "Company_Website",
                "linkType": "External",
                "originalUrl": "  https://acme.example/about  ",
                "description": "Their site",
            },
        )
    )["createTrackedLink"]
    assert re.fullmatch(r"lt_[0-9a-f]{12}", link["trackingId"])
    assert link["redirectUrl"] == f"{settings.public_base_url}/track/{link['trackingId']}"
    assert link["originalUrl"] == "https://acme.example/about"
    assert (link["linkFunction"], link["linkType"], link["isActive"]) == (
        "Company_Website",
        "external",
        True,
    )
    # The job is taken from the application when not given.
    assert link["job"] == {"id": job}
    assert link["application"] == {"id": app_id}
    fetched = data(await api(TRACKED, t=link["trackingId"]))["trackedLink"]
    assert fetched == {
        "trackingId": link["trackingId"],
        "originalUrl": "https://acme.example/about",
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"originalUrl": "javascript:alert(1)"}, "originalUrl"),
        ({"originalUrl": "data:text/html,<script>x</script>"}, "originalUrl"),
        ({"originalUrl": "/relative/path"}, "originalUrl"),
        ({"originalUrl": "https://example.com/" + "a" * 1000}, "originalUrl"),
        ({"linkFunction": "Linked In!"}, "linkFunction"),
        ({"linkType": "banner"}, "linkType"),
        ({"applicationId": "not-a-uuid"}, "applicationId"),
        ({"applicationId": str(uuid.uuid4())}, "applicationId"),
        ({"jobId": str(uuid.uuid4())}, "jobId"),
    ],
)
async def test_tracked_link_validation_names_the_field(
    api: Api, fields: dict[str, Any], field: str
) -> None:
    base = {"linkFunction": "LinkedIn", "linkType": "profile", "originalUrl": "https://x.example"}
    assert error(await api(CREATE_LINK, i={**base, **fields})) == ("BAD_USER_INPUT", field)


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (UPDATE_ACCOUNT, {"timezone": "Mars/Olympus"}, "timezone"),
        (UPDATE_ACCOUNT, {"webhookUrl": "http://hooks.example/x"}, "webhookUrl"),
        (
            UPDATE_ACCOUNT,
            {"profileLinks": [{"linkFunction": "LinkedIn", "url": "javascript:x"}]},
            "profileLinks.0.url",
        ),
        (CREATE_APP, {"appliedAt": "2025-07-01T09:00:00"}, "appliedAt"),
    ],
)
async def test_validation_errors_name_the_field(
    api: Api, query: str, variables: dict[str, Any], field: str
) -> None:
    assert error(await api(query, i=variables)) == ("BAD_USER_INPUT", field)


async def test_update_account_and_the_standard_link_package(api: Api) -> None:
    app_id = await api.application()
    refused = await api(PACKAGE, i={"applicationId": app_id})
    assert error(refused) == ("BAD_USER_INPUT", "profileLinks")

    account = data(
        await api(
            UPDATE_ACCOUNT,
            i={
                "timezone": "europe/berlin",
                "profileLinks": [
                    {"linkFunction": "LinkedIn", "url": "https://linkedin.com/in/alex"},
                    {"linkFunction": "Calendly", "url": "https://calendly.com/alex/30min"},
                ],
                "webhookUrl": "https://hooks.example/li",
            },
        )
    )["updateAccount"]
    assert account["timezone"] == "Europe/Berlin"
    assert account["profileLinks"] == [
        {"linkFunction": "Calendly", "url": "https://calendly.com/alex/30min"},
        {"linkFunction": "LinkedIn", "url": "https://linkedin.com/in/alex"},
    ]
    assert account["webhookUrl"] == "https://hooks.example/li"
    assert account["webhookSecret"].startswith("whsec_")
    # The secret is shown once.
    again = data(await api(UPDATE_ACCOUNT, i={"timezone": "UTC"}))["updateAccount"]
    assert again["webhookSecret"] is None
    assert again["webhookUrl"] == "https://hooks.example/li"

    links = data(await api(PACKAGE, i={"applicationId": app_id}))["createApplicationLinks"]
    assert sorted((x["linkFunction"], x["linkType"], x["originalUrl"]) for x in links) == [
        ("Calendly", "profile", "https://calendly.com/alex/30min"),
        ("LinkedIn", "profile", "https://linkedin.com/in/alex"),
    ]
    # Idempotent: the same package again reuses the links.
    links2 = data(await api(PACKAGE, i={"applicationId": app_id}))["createApplicationLinks"]
    assert sorted(x["trackingId"] for x in links2) == sorted(x["trackingId"] for x in links)


# --- recordClick ------------------------------------------------------------------------------


async def test_record_click_from_an_external_domain(api: Api) -> None:
    app_id = await api.application()
    tid = await api.link(app_id)
    click = data(
        await api(
            RECORD_CLICK,
            i={
                "trackingId": tid,
                "clickedAt": "2025-07-27T21:15:30Z",
                "ipAddress": "192.168.1.100",
                "userAgent": CHROME,
                "referrerUrl": "https://gmail.com",
                "sessionId": "sess_xyz789",
                "metadata": {"utm_source": "email"},
            },
        )
    )["recordClick"]
    assert click["clickedAt"] == "2025-07-27T21:15:30+00:00"
    assert (click["clickSource"], click["ipAddress"], click["sessionId"]) == (
        "email",
        "192.168.1.100",
        "sess_xyz789",
    )
    assert (click["isBot"], click["botReason"], click["metadata"]) == (
        False,
        None,
        {"utm_source": "email"},
    )
    override = data(await api(RECORD_CLICK, i={"trackingId": tid, "clickSource": "custom_source"}))[
        "recordClick"
    ]
    assert override["clickSource"] == "custom_source"
    bot = data(await api(RECORD_CLICK, i={"trackingId": tid, "userAgent": "Googlebot/2.1"}))[
        "recordClick"
    ]
    assert (bot["isBot"], bot["botReason"]) == (True, "crawler_user_agent")


async def test_record_click_applies_the_burst_rule(api: Api) -> None:
    app_id = await api.application()
    a, b = await api.link(app_id, "LinkedIn"), await api.link(app_id, "Portfolio")
    common = {"ipAddress": "192.0.2.9", "userAgent": CHROME}
    first = data(
        await api(RECORD_CLICK, i={"trackingId": a, "clickedAt": "2025-07-27T10:00:00Z", **common})
    )["recordClick"]
    assert first["isBot"] is False
    second = data(
        await api(RECORD_CLICK, i={"trackingId": b, "clickedAt": "2025-07-27T10:00:03Z", **common})
    )["recordClick"]
    assert (second["isBot"], second["botReason"]) == (True, "scanner_burst")
    page = data(
        await api(
            "query($id: ID!) { application(id: $id) { clicks(includeBots: true) { edges { node {"
            " trackingId isBot botReason } } } } }",
            id=app_id,
        )
    )["application"]["clicks"]["edges"]
    assert [e["node"] for e in page] == [
        {"trackingId": a, "isBot": True, "botReason": "scanner_burst"},
        {"trackingId": b, "isBot": True, "botReason": "scanner_burst"},
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ipAddress": "999.1.1.1"}, "ipAddress"),
        ({"clickSource": "Bad Source!"}, "clickSource"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"clickedAt": "2999-01-01T00:00:00Z"}, "clickedAt"),
        ({"requestMethod": "POST"}, "requestMethod"),
        ({"trackingId": "lt_doesnotexist"}, "trackingId"),
    ],
)
async def test_record_click_validation(api: Api, fields: dict[str, Any], field: str) -> None:
    tid = await api.link(None)
    assert error(await api(RECORD_CLICK, i={"trackingId": tid, **fields})) == (
        "BAD_USER_INPUT",
        field,
    )


async def test_record_click_refuses_an_inactive_link(api: Api) -> None:
    tid = await api.link(None)
    data(await api(DEACTIVATE, i={"trackingId": tid}))
    assert error(await api(RECORD_CLICK, i={"trackingId": tid})) == ("BAD_USER_INPUT", "trackingId")


# --- account isolation ------------------------------------------------------------------------


async def test_a_second_account_can_neither_read_write_nor_delete(
    api: Api, other: Api, sessionmaker: Any
) -> None:
    app_id = await api.application()
    tid = await api.link(app_id)
    contact = data(await api(ADD_CONTACT, i={"applicationId": app_id, "email": "r@acme.example"}))
    contact_id = contact["addApplicationContact"]["id"]
    missing_app, missing_contact = str(uuid.uuid4()), str(uuid.uuid4())

    # Reads: null, exactly like a missing id.
    assert data(await other(APPLICATION, id=app_id)) == {"application": None}
    assert data(await other(TRACKED, t=tid)) == {"trackedLink": None}

    attempts = [
        (UPDATE_STATUS, {"applicationId": "{app}", "status": "OFFER"}, "applicationId"),
        (CREATE_LINK, {"applicationId": "{app}", "linkFunction": "X", "linkType": "profile",
                       "originalUrl": "https://x.example"}, "applicationId"),
        (PACKAGE, {"applicationId": "{app}"}, None),
        (ADD_CONTACT, {"applicationId": "{app}", "email": "x@y.example"}, "applicationId"),
        (DEACTIVATE, {"trackingId": "{tid}"}, "trackingId"),
        (RECORD_CLICK, {"trackingId": "{tid}"}, "trackingId"),
        (RECORD_EVENT, {"contactId": "{contact}", "eventType": "OPENED"}, "contactId"),
        (DELETE, {"applicationId": "{app}"}, "applicationId"),
    ]  # fmt: skip
    for query, template, field in attempts:

        def fill(values: dict[str, str], t: dict[str, Any] = template) -> dict[str, Any]:
            return {k: (v.format(**values) if isinstance(v, str) else v) for k, v in t.items()}

        real = fill({"app": app_id, "tid": tid, "contact": contact_id})
        fake = fill({"app": missing_app, "tid": "lt_000000000000", "contact": missing_contact})
        foreign = await other(query, i=real)
        absent = await other(query, i=fake)
        if field is None:  # the other account has no profile links: refused before the id
            assert error(foreign) == error(absent) == ("BAD_USER_INPUT", "profileLinks")
            continue
        assert error(foreign) == ("BAD_USER_INPUT", field), query
        # Same answer as a missing id, apart from the id itself in the message.
        msg_foreign = foreign["errors"][0]["message"]
        msg_absent = absent["errors"][0]["message"]
        for value in real.values():
            msg_foreign = msg_foreign.replace(str(value), "?")
        for value in fake.values():
            msg_absent = msg_absent.replace(str(value), "?")
        assert msg_foreign == msg_absent

    # Nothing changed for the owner.
    body = data(await api(APPLICATION, id=app_id))["application"]
    assert body["links"] == [{"trackingId": tid}]
    assert body["contacts"] == [{"email": "r@acme.example"}]
    assert body["clicks"]["totalCount"] == 0
    async with sessionmaker() as s:
        status, active = (
            await s.execute(
                text(
                    "SELECT ja.status, lt.is_active FROM job_applications ja"
                    " JOIN link_tracking lt ON lt.application_id = ja.id WHERE ja.id = :a"
                ),
                {"a": app_id},
            )
        ).one()
    assert (status, active) == ("applied", True)


# --- GDPR delete ------------------------------------------------------------------------------

TABLE_COUNTS = """
SELECT
  (SELECT count(*) FROM job_applications WHERE id = :a) AS applications,
  (SELECT count(*) FROM application_status_history WHERE application_id = :a) AS history,
  (SELECT count(*) FROM link_tracking WHERE application_id = :a OR tracking_id = ANY(:t)) AS links,
  (SELECT count(*) FROM link_clicks WHERE tracking_id = ANY(:t)) AS clicks,
  (SELECT count(*) FROM application_contacts WHERE application_id = :a) AS contacts,
  (SELECT count(*) FROM engagement_tracking WHERE campaign_contact_id = ANY(:c)) AS events,
  (SELECT count(*) FROM link_click_analytics WHERE application_id = :a) AS metrics,
  (SELECT count(*) FROM follow_ups WHERE application_id = :a) AS follow_ups,
  (SELECT count(*) FROM webhook_deliveries WHERE follow_up_id = ANY(:f)) AS deliveries,
  (SELECT count(*) FROM analytics_runs WHERE application_id = :a) AS runs
"""


async def test_gdpr_delete_leaves_no_row_behind(
    api: Api, app: Starlette, account_id: uuid.UUID, sessionmaker: Any
) -> None:
    app_id = await api.application()
    keep_id = await api.application()
    tids = [await api.link(app_id, "LinkedIn"), await api.link(app_id, "Portfolio")]
    keep_tid = await api.link(keep_id, "LinkedIn")
    data(await api(UPDATE_STATUS, i={"applicationId": app_id, "status": "INTERVIEW"}))
    transport = httpx.ASGITransport(app=app, client=("192.0.2.44", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for tid in [*tids, keep_tid]:
            assert (await c.get(f"/track/{tid}", headers={"user-agent": CHROME})).status_code == 302
    data(await api(RECORD_CLICK, i={"trackingId": tids[0], "clickedAt": "2025-01-01T00:00:00Z"}))
    contact = data(await api(ADD_CONTACT, i={"applicationId": app_id, "email": "hr@acme.example"}))
    contact_id = contact["addApplicationContact"]["id"]
    for event in ("DELIVERED", "OPENED"):
        data(await api(RECORD_EVENT, i={"contactId": contact_id, "eventType": event}))
    async with sessionmaker() as s, s.begin():
        await create_analytics(s, uuid.UUID(app_id))
        follow_up = await create_follow_up(s, account_id, uuid.UUID(app_id))
        await create_webhook_delivery(s, account_id, follow_up)
        await create_analytics_run(s, account_id, application_id=uuid.UUID(app_id))

    removed = data(await api(DELETE, i={"applicationId": app_id}))["deleteApplication"]
    assert removed == {
        "applicationId": app_id,
        "applications": 1,
        "statusChanges": 2,
        "links": 2,
        "clicks": 3,
        "contacts": 1,
        "emailEvents": 2,
        "metrics": 1,
        "followUps": 1,
        "webhookDeliveries": 1,
        "analyticsRuns": 1,
    }
    params = {"a": app_id, "t": tids, "c": [uuid.UUID(contact_id)], "f": [follow_up]}
    async with sessionmaker() as s:
        left = (await s.execute(text(TABLE_COUNTS), params)).mappings().one()
        assert dict(left) == dict.fromkeys(left.keys(), 0)
        kept = (
            await s.execute(
                text("SELECT count(*) FROM link_clicks WHERE tracking_id = :t"), {"t": keep_tid}
            )
        ).scalar_one()
    assert kept == 1
    # A second delete answers like any missing id, and /track forgets the links.
    assert error(await api(DELETE, i={"applicationId": app_id})) == (
        "BAD_USER_INPUT",
        "applicationId",
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get(f"/track/{tids[0]}")).status_code == 404


# --- reads through loaders ---------------------------------------------------------------------

LIST = """{ applications(first: 50) { edges { node { id
  links { trackingId clicks(first: 1) { totalCount edges { node { id } } } }
  contacts { email }
  clicks(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { trackingId } } }
} } } }"""


async def test_nested_fields_batch_into_a_constant_number_of_statements(
    gql: GraphQLClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    app: Starlette,
    count_statements: Any,
) -> None:
    account = await create_account(sessionmaker)
    key = await create_key(sessionmaker, account)
    api = Api(gql, key)

    async def add(n: int) -> None:
        for _ in range(n):
            app_id = await api.application()
            tid = await api.link(app_id)
            for _ in range(3):
                data(await api(RECORD_CLICK, i={"trackingId": tid, "userAgent": CHROME}))
            data(await api(ADD_CONTACT, i={"applicationId": app_id, "email": "a@b.example"}))

    # The key's last use is written in the background within seconds of its first request
    # (graph/key_usage.py); written now, it cannot land inside a measured request.
    key_usage = app.state.resources.key_usage
    await add(2)
    await key_usage.flush()
    count_statements.statements.clear()
    small = data(await api(LIST))
    few = count_statements.count
    await add(4)
    await key_usage.flush()
    count_statements.statements.clear()
    big = data(await api(LIST))
    assert count_statements.count == few
    edges = big["applications"]["edges"]
    assert len(small["applications"]["edges"]) == 2
    assert len(edges) == 6
    for edge in edges:
        node = edge["node"]
        assert node["clicks"]["totalCount"] == 3
        assert node["clicks"]["pageInfo"]["hasNextPage"] is True
        assert len(node["clicks"]["edges"]) == 2
        assert node["links"][0]["clicks"]["totalCount"] == 3
        assert node["contacts"] == [{"email": "a@b.example"}]


async def test_click_pages_follow_the_cursor_and_hide_bots_by_default(api: Api) -> None:
    app_id = await api.application()
    tid = await api.link(app_id)
    for minute, agent in enumerate([CHROME, "Googlebot/2.1", CHROME, CHROME]):
        data(
            await api(
                RECORD_CLICK,
                i={
                    "trackingId": tid,
                    "userAgent": agent,
                    "clickedAt": f"2025-03-01T10:0{minute}:00Z",
                    "sessionId": f"s{minute}",
                },
            )
        )
    q = """query($id: ID!, $after: String, $bots: Boolean!) { application(id: $id) {
      clicks(first: 2, after: $after, includeBots: $bots) { totalCount
        pageInfo { hasNextPage endCursor } edges { node { sessionId } } } } }"""
    page1 = data(await api(q, id=app_id, after=None, bots=False))["application"]["clicks"]
    assert page1["totalCount"] == 3
    assert [e["node"]["sessionId"] for e in page1["edges"]] == ["s0", "s2"]
    assert page1["pageInfo"]["hasNextPage"] is True
    after = page1["pageInfo"]["endCursor"]
    page2 = data(await api(q, id=app_id, after=after, bots=False))["application"]["clicks"]
    assert [e["node"]["sessionId"] for e in page2["edges"]] == ["s3"]
    assert page2["pageInfo"]["hasNextPage"] is False
    # the first page's count comes from the page's statement, a later one's from the count
    # loader: the same total, not the clicks left after the cursor
    assert page2["totalCount"] == 3
    empty = await api.application()
    none = data(await api(q, id=empty, after=None, bots=True))["application"]["clicks"]
    assert none == {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None},
                    "edges": []}  # fmt: skip
    everything = data(await api(q, id=app_id, after=None, bots=True))["application"]["clicks"]
    assert everything["totalCount"] == 4
    assert error(await api(q, id=app_id, after="garbage", bots=False)) == (
        "BAD_USER_INPUT",
        "after",
    )


# --- direct database integration and reclassification ----------------------------------------


async def test_raw_sql_link_without_account_gets_it_from_the_trigger(
    api: Api, account_id: uuid.UUID, sessionmaker: Any
) -> None:
    app_id = await api.application()
    async with sessionmaker() as s, s.begin():
        await s.execute(
            text(
                "INSERT INTO link_tracking (tracking_id, application_id, link_function, link_type,"
                " original_url, redirect_url) VALUES ('lt_rawsql000001', :a, 'LinkedIn',"
                " 'profile', 'https://x.example', 'https://t.example/track/lt_rawsql000001')"
            ),
            {"a": app_id},
        )
        owner = (
            await s.execute(
                text("SELECT account_id FROM link_tracking WHERE tracking_id = 'lt_rawsql000001'")
            )
        ).scalar_one()
    assert owner == account_id


async def test_reclassify_reapplies_the_rules_to_stored_clicks(api: Api, sessionmaker: Any) -> None:
    app_id = await api.application()
    a, b = await api.link(app_id, "LinkedIn"), await api.link(app_id, "Portfolio")
    lone = await api.link(None, "Portfolio")
    # Loaded by SQL, as "direct database integration" does: is_bot left false.
    rows = [
        (a, "2025-02-01T10:00:00Z", "198.51.100.1", CHROME, None, "GET"),  # burst with the next
        (b, "2025-02-01T10:00:04Z", "198.51.100.1", CHROME, None, "GET"),
        (a, "2025-02-02T10:00:00Z", "198.51.100.2", "Googlebot/2.1", None, "GET"),
        (a, "2025-02-03T10:00:00Z", "198.51.100.3", CHROME, None, "HEAD"),
        (b, "2025-02-04T10:00:00Z", "198.51.100.4", CHROME, "https://urldefense.com/v3/x", "GET"),
        (b, "2025-02-05T10:00:00Z", "198.51.100.5", CHROME, None, "GET"),  # human
        (lone, "2025-02-05T10:00:00Z", "198.51.100.6", "curl/8.5.0", None, "GET"),
    ]
    async with sessionmaker() as s, s.begin():
        for tid, at, ip, agent, ref, method in rows:
            await create_click(
                s,
                tid,
                clicked_at=datetime.fromisoformat(at),
                ip_address=ip,
                user_agent=agent,
                referrer_url=ref,
                request_method=method,
            )
    examined, changed = await reclassify_all(sessionmaker, chunk=1)
    assert examined >= 7
    assert changed >= 6
    async with sessionmaker() as s:
        got = (
            await s.execute(
                text(
                    "SELECT is_bot, bot_reason FROM link_clicks WHERE tracking_id = ANY(:t)"
                    " ORDER BY clicked_at, tracking_id = :lone"
                ),
                {"t": [a, b, lone], "lone": lone},
            )
        ).all()
    assert [tuple(r) for r in got] == [
        (True, "scanner_burst"),
        (True, "scanner_burst"),
        (True, "crawler_user_agent"),
        (True, "head_request"),
        (True, "email_security_scanner"),
        (False, None),
        (True, "crawler_user_agent"),
    ]
    # Running it again changes nothing for these clicks.
    await reclassify_all(sessionmaker)
    async with sessionmaker() as s:
        again = (
            await s.execute(
                text(
                    "SELECT is_bot, bot_reason FROM link_clicks WHERE tracking_id = ANY(:t)"
                    " ORDER BY clicked_at, tracking_id = :lone"
                ),
                {"t": [a, b, lone], "lone": lone},
            )
        ).all()
    assert [tuple(r) for r in again] == [tuple(r) for r in got]
