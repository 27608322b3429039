"""GraphiQL and /dashboard as the app serves them (no browser: tests/browser has those), their
static files, and the `viewer` query."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import httpx
import pytest
from conftest import GraphQLClient
from factories import create_account, create_key
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from config import Settings
from graph import pages

VIEWER = """{ viewer { scopes canWrite account { name timezone webhookUrl webhookSecret
  profileLinks { linkFunction url } } } }"""


def _request(path: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": path,
            "root_path": "",
            "query_string": b"",
            "headers": [],
            "scheme": "http",
            "server": ("testserver", 80),
        }
    )


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


@pytest.mark.parametrize("path", ["/graphql", "/dashboard"])
async def test_pages_load_nothing_from_another_site(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self';" in csp
    assert "connect-src 'self'" in csp
    assert "http" not in csp
    assert response.headers["cache-control"] == "no-cache"
    html = response.text
    assert "unpkg" not in html
    assert "cdn" not in html.lower()
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    # Each script and stylesheet is one of the package's files, and it is served.
    assets = _assets(html)
    assert len(assets) >= 3
    for url in assets:
        asset = await client.get(url)
        assert asset.status_code == 200, url


async def test_no_key_in_a_page_outside_the_demo(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert not settings.demo_api_key
    for path in ["/graphql", "/dashboard"]:
        html = (await client.get(path, headers={"Accept": "text/html"})).text
        assert "li_" not in html
        assert "Bearer li" not in html


def test_the_demo_key_goes_into_both_pages_only_when_set() -> None:
    key = "li_abcdef12_" + "k" * 43
    demo = Settings(demo_api_key=key)
    graphiql = bytes(pages.graphiql(_request("/graphql"), demo).body).decode()
    dashboard = bytes(pages.dashboard(_request("/dashboard"), demo).body).decode()
    assert f"Bearer {key}" in graphiql
    assert key in dashboard
    for settings in [Settings(demo_api_key=None), Settings(demo_api_key=""), None]:
        assert key not in bytes(pages.graphiql(_request("/graphql"), settings).body).decode()
        assert "li_" not in bytes(pages.dashboard(_request("/dashboard"), settings).body).decode()


def test_graphiql_opens_on_the_worked_examples() -> None:
    html = bytes(pages.graphiql(_request("/graphql"), None).body).decode()
    block = re.search(r'<script type="application/json" id="li-config">(.*?)</script>', html)
    assert block is not None
    config = json.loads(block.group(1))
    queries = "\n".join(tab["query"] for tab in config["tabs"])
    for name in [
        "query TopApplications",
        "engagementSummary",
        "linkFunctionEffectiveness",
        "prediction {",
        "mutation CalculateAnalytics",
        "analyticsJob(id: $jobId)",
    ]:
        assert name in queries
    assert config["headers"] == ""


def test_the_config_block_cannot_be_closed_by_a_value() -> None:
    demo = Settings(demo_api_key="</script><script>alert(1)</script>")
    html = bytes(pages.dashboard(_request("/dashboard"), demo).body).decode()
    assert html.count("</script>") == html.count("<script")


async def test_the_worked_examples_are_valid_queries(gql: GraphQLClient, api_key: str) -> None:
    # Every example but the job lookup (which needs an id) runs on an account without data.
    for query, variables in pages.GRAPHIQL_EXAMPLES:
        if variables:
            continue
        body = await gql(query, key=api_key)
        assert "errors" not in body, body


async def test_vendor_files_are_cached_for_a_year_and_match_the_manifest(
    client: httpx.AsyncClient,
) -> None:
    manifest = json.loads((pages.STATIC_DIR / "vendor" / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        response = await client.get(f"/static/{entry['path']}")
        assert response.status_code == 200, name
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        digest = base64.b64encode(hashlib.sha384(response.content).digest()).decode()
        assert entry["integrity"] == f"sha384-{digest}", name
    # Each vendored package keeps its licence beside it.
    for folder in (pages.STATIC_DIR / "vendor").iterdir():
        if folder.is_dir():
            assert (folder / "LICENSE").read_text().strip(), folder.name


async def test_app_files_are_cached_by_content_hash(client: httpx.AsyncClient) -> None:
    url = pages.asset_url(_request("/dashboard"), "dashboard/dashboard.js")
    path, _, version = url.partition("?v=")
    body = (pages.STATIC_DIR / "dashboard" / "dashboard.js").read_bytes()
    assert version == hashlib.sha256(body).hexdigest()[:16]
    response = await client.get(url)
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    # Without the hash the file is revalidated.
    assert (await client.get(path)).headers["cache-control"] == "no-cache"


async def test_static_files_are_compressed(client: httpx.AsyncClient) -> None:
    entry = json.loads((pages.STATIC_DIR / "vendor" / "manifest.json").read_text())["files"]
    response = await client.get(
        f"/static/{entry['graphiql.js']['path']}", headers={"Accept-Encoding": "gzip"}
    )
    assert response.headers["content-encoding"] == "gzip"


async def test_viewer_is_the_keys_own_account(
    gql: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    account = await create_account(
        sessionmaker,
        name="Viewer test",
        timezone="Europe/Paris",
        profile_links={"LinkedIn": "https://l.in/x"},
    )
    key = await create_key(sessionmaker, account, ("read", "write"))
    # A webhook gives the account a secret: viewer never shows it.
    set_hook = """mutation { updateAccount(input: {webhookUrl: "https://hooks.example.com/x"})
      { webhookSecret } }"""
    assert (await gql(set_hook, key=key))["data"]["updateAccount"]["webhookSecret"]
    body = await gql(VIEWER, key=key)
    assert body["data"]["viewer"] == {
        "scopes": ["read", "write"],
        "canWrite": True,
        "account": {
            "name": "Viewer test",
            "timezone": "Europe/Paris",
            "webhookUrl": "https://hooks.example.com/x",
            "webhookSecret": None,
            "profileLinks": [{"linkFunction": "LinkedIn", "url": "https://l.in/x"}],
        },
    }
    other = await create_account(sessionmaker, name="Someone else")
    read_only = await create_key(sessionmaker, other, ("read",))
    viewer = (await gql(VIEWER, key=read_only))["data"]["viewer"]
    assert viewer["account"]["name"] == "Someone else"
    assert viewer["scopes"] == ["read"]
    assert viewer["canWrite"] is False


async def test_viewer_needs_a_key(gql: GraphQLClient) -> None:
    response = await gql.post(VIEWER)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
