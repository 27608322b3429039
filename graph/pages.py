"""The two browser pages the app serves, GraphiQL and /dashboard, and their static files.

Everything a page loads comes from this package (graph/static/): GraphiQL, its explorer
plugin, React and Chart.js are committed, minified, with their licences, by
scripts/update-graphiql. So the pages work without internet access, behind a proxy, and
under a Content-Security-Policy that allows nothing from another site.

Caching: a vendor file's path holds its version and an app file's URL its content hash
(`?v=`), so both are cached for a year as immutable; the pages themselves are revalidated.

A page gets an API key only from `Settings.demo_api_key`, which `linkinsights serve --demo`
alone sets: outside the local demo no key is ever written into a page.
"""

from __future__ import annotations

import hashlib
import html
import json
from functools import cache
from pathlib import Path
from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

from config import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Nothing from another site: scripts, styles, fonts, images and requests from this origin only
# ('self' covers ws:/wss: to it in current browsers). GraphiQL's fonts are data: URLs.
# React and CodeMirror set element styles through the DOM, which style-src does not govern.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # GraphiQL's menus and dialogs (Radix UI) add <style> elements as they open; styles
        # cannot run code, and still come from this page only.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_IMMUTABLE = "public, max-age=31536000, immutable"


@cache
def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((STATIC_DIR / "vendor" / "manifest.json").read_text())
    return data


@cache
def _own_version(path: str) -> str:
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:16]


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def asset_url(request: Request, name: str) -> str:
    """The URL of a vendor file by its manifest name, or of an app file by its path."""
    base = _root(request) + "/static/"
    files: dict[str, dict[str, str]] = _manifest()["files"]
    if name in files:
        return base + files[name]["path"]
    return f"{base}{name}?v={_own_version(name)}"


def _tags(request: Request, styles: list[str], scripts: list[str]) -> str:
    files: dict[str, dict[str, str]] = _manifest()["files"]

    def integrity(name: str) -> str:
        return f' integrity="{files[name]["integrity"]}"' if name in files else ""

    out = [
        f'<link rel="stylesheet" href="{html.escape(asset_url(request, s))}"{integrity(s)}>'
        for s in styles
    ]
    out += [
        f'<script src="{html.escape(asset_url(request, s))}"{integrity(s)} defer></script>'
        for s in scripts
    ]
    return "\n    ".join(out)


def _config_tag(config: dict[str, Any]) -> str:
    # A JSON data block, not a script: the CSP allows no inline script. "<" is escaped so no
    # value can close the element.
    text = json.dumps(config).replace("<", "\\u003c")
    return f'<script type="application/json" id="li-config">{text}</script>'


def _page(title: str, head: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{html.escape(title)}</title>
    <link rel="icon" href="data:,">
    {head}
  </head>
  <body>
    {body}
  </body>
</html>
"""


def _html(text: str) -> HTMLResponse:
    return HTMLResponse(text, headers=_PAGE_HEADERS)


def _demo_key(settings: Settings | None) -> str | None:
    return (settings.demo_api_key or None) if settings is not None else None


# GraphiQL's first tabs, one worked example each: Run in the first tab shows data at once.
_INTRO = """\
# linkinsights: worked examples, one per tab.
# Requests need the header (Headers, below):
#   {"Authorization": "Bearer <your API key>"}
# ▶ or Ctrl-Enter runs the query; the Explorer
# (left bar) builds one by clicking fields.

"""

GRAPHIQL_EXAMPLES: list[tuple[str, dict[str, str] | None]] = [
    (
        _INTRO
        + """\
# Your most engaged applications
query TopApplications {
  applications(first: 5, orderBy: ENGAGEMENT_SCORE_DESC) {
    totalCount
    edges {
      node { id status createdAt engagementScore job { title company } }
    }
  }
}
""",
        None,
    ),
    (
        """\
# Totals, engagement rate and outcomes by engagement level
query EngagementSummary {
  engagementSummary {
    totalApplications
    applicationsWithClicks
    totalClicks
    engagementRate
    outcomes {
      level
      count
      interviewRate
      interviewInterval { low high sampleSize }
    }
    insight
  }
}
""",
        None,
    ),
    (
        """\
# Which link functions lead to interviews, with 95% intervals
query LinkFunctionEffectiveness {
  linkFunctionEffectiveness {
    linkFunctions {
      name
      sampleSize
      interviewConversionRate
      interviewConversionInterval { low high }
    }
    recommendations
  }
}
""",
        None,
    ),
    (
        """\
# One application's prediction: reasons and what to do next.
# For a given application: applicationHealth(applicationId: "...")
query Prediction {
  applications(first: 1, orderBy: ENGAGEMENT_SCORE_DESC) {
    edges {
      node {
        id
        job { title company }
        prediction {
          predictedOutcome
          confidence
          engagementScore
          reasons
          recommendedActions
        }
      }
    }
  }
}
""",
        None,
    ),
    (
        """\
# Recompute the metrics on the workers (needs the write scope),
# then follow the job in the next tab with the id this returns.
mutation CalculateAnalytics {
  calculateAnalytics { id status enqueuedAt }
}
""",
        None,
    ),
    (
        """\
# Put the id calculateAnalytics returned in Variables below.
query AnalyticsJob($jobId: ID!) {
  analyticsJob(id: $jobId) {
    id
    status
    applicationsProcessed
    finishedAt
    error
  }
}
""",
        {"jobId": "paste the id calculateAnalytics returned"},
    ),
]


def graphiql(request: Request, settings: Settings | None) -> Response:
    key = _demo_key(settings)
    config = {
        # The page is served by the endpoint it talks to (root path included).
        "url": request.url.path,
        "headers": json.dumps({"Authorization": f"Bearer {key}"}, indent=2) if key else "",
        "tabs": [
            {"query": query, "variables": json.dumps(variables, indent=2) if variables else ""}
            for query, variables in GRAPHIQL_EXAMPLES
        ],
    }
    head = _tags(
        request,
        ["graphiql.css", "explorer.css", "graphiql/graphiql.css"],
        ["react.js", "react-dom.js", "graphiql.js", "explorer.js", "graphiql/init.js"],
    )
    body = _config_tag(config) + '\n    <div id="graphiql">Loading GraphiQL…</div>'
    return _html(_page("linkinsights GraphiQL", head, body))


def dashboard(request: Request, settings: Settings | None) -> Response:
    config = {"graphql": f"{_root(request)}/graphql", "demoKey": _demo_key(settings)}
    head = _tags(request, ["dashboard/dashboard.css"], ["chart.js", "dashboard/dashboard.js"])
    body = _config_tag(config) + '\n    <div id="app"></div>'
    return _html(_page("linkinsights dashboard", head, body))


class _StaticFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        versioned = path.startswith("vendor/") or b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = _IMMUTABLE if versioned else "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def static_files() -> ASGIApp:
    """graph/static/ at /static, compressed (GraphiQL's script is 3.5 MB, 0.9 MB gzipped)."""
    return GZipMiddleware(_StaticFiles(directory=STATIC_DIR), minimum_size=1024)
