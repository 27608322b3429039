"""Benchmark: email engagement reads (issue 17) on the demo data.

    .venv/bin/python bench/email_engagement.py [--applications 3000] [--runs 15]

Creates a throw-away database (on DATABASE_URL's server, or the embedded default), fills one
account with the demo generator (db/demo.py: contacts, deliveries, human and machine opens,
clicks, bounces), then times through the ASGI app in process:

* the account's ``emailAnalytics`` (counts, rates, links, engaged contacts);
* a page of 100 applications with ``emailAnalytics`` and every contact's figures and
  deliverability, against the same page without them;
* ``predictionBacktest { withEmailSignals }``;
* the open pixel (``GET /o/{id}.gif``: the open appended to the click stream).

and prints the median latency of each. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import Settings  # noqa: E402
from db import accounts as accounts_db  # noqa: E402
from db.demo import seed_account  # noqa: E402
from db.engine import make_engine, make_sessionmaker  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from domain.apikeys import generate_key  # noqa: E402
from linkinsights.runtime import services  # noqa: E402

ACCOUNT = """{ emailAnalytics(minClicks: 1) {
  summary { delivered opened totalOpens clicked machineOpens bounced
    openRate { percent low high sampleSize } clickRate { percent } bounceRate { percent }
    medianHoursToFirstOpen }
  mostClickedLinks { url clicks uniqueClicks }
  mostEngagedContacts { contact { id email } opens clicks } } }"""
PAGE = "{ applications(first: 100) { edges { node { id status } } } }"
PAGE_EMAIL = """{ applications(first: 100) { edges { node { id status
  emailAnalytics { delivered opened clicked openRate { percent } }
  contacts { id undeliverable emailAnalytics { opened totalOpens machineOpens } } } } } }"""
BACKTEST = """{ predictionBacktest { auc withEmailSignals {
  aucWithout aucWith timeSplitAucWithout timeSplitAucWith raisesAuc summary } } }"""


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def timed(client: httpx.AsyncClient, query: str, key: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = await client.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"}
        )
        times.append(time.perf_counter() - start)
        body = response.json()
        assert "errors" not in body, body
    return statistics.median(times)


async def main(args: argparse.Namespace) -> None:
    base = Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        data_dir=ROOT / ".data" / "bench",
        rate_limit_per_key_per_minute=0,
        rate_limit_per_ip_per_minute=0,
    )
    with services(base) as (settings, _svc):
        assert settings.database_url is not None
        server = _plain(settings.database_url)
        name = f"li_bench_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(server)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = f"{server.rpartition('/')[0]}/{name}"
        try:
            await upgrade(url)
            settings = settings.model_copy(update={"database_url": url})
            engine = make_engine(url, pool_size=2)
            sm = make_sessionmaker(engine)
            new = generate_key()
            async with sm() as session, session.begin():
                account = (await accounts_db.create_account(session, name="bench")).id
                await accounts_db.create_api_key(
                    session,
                    account_id=account,
                    name="bench",
                    prefix=new.prefix,
                    key_hash=new.key_hash,
                    scopes=("read",),
                )
                summary = await seed_account(
                    session,
                    account_id=account,
                    applications=args.applications,
                    seed=42,
                    now=datetime.now(UTC),
                )
            async with sm() as session:
                events = await session.scalar(text("SELECT count(*) FROM engagement_tracking"))
                pixel = await session.scalar(
                    text("SELECT email_tracking_id FROM application_contacts LIMIT 1")
                )
            await engine.dispose()
            admin = await asyncpg.connect(url)
            await admin.execute("ANALYZE")
            await admin.close()
            print(f"{summary.applications} applications, {events} email events")

            from graph.app import create_app

            app = create_app(settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                    for query in (ACCOUNT, PAGE, PAGE_EMAIL, BACKTEST):
                        await timed(client, query, new.key, 2)  # warm up
                    account_t = await timed(client, ACCOUNT, new.key, args.runs)
                    page_t = await timed(client, PAGE, new.key, args.runs)
                    email_t = await timed(client, PAGE_EMAIL, new.key, args.runs)
                    backtest_t = await timed(client, BACKTEST, new.key, args.runs)
                    pixel_times = []
                    for _ in range(args.runs * 10):
                        start = time.perf_counter()
                        response = await client.get(f"/o/{pixel}.gif")
                        pixel_times.append(time.perf_counter() - start)
                        assert response.status_code == 200
            print(f"emailAnalytics (account):     {account_t * 1000:8.1f} ms median")
            print(f"page of 100 applications:     {page_t * 1000:8.1f} ms median")
            print(f"  with email figures:         {email_t * 1000:8.1f} ms median")
            print(f"predictionBacktest + email:   {backtest_t * 1000:8.1f} ms median")
            print(
                f"open pixel (stream append):   {statistics.median(pixel_times) * 1000:8.1f} ms "
                "median (in process)"
            )
        finally:
            admin = await asyncpg.connect(server)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=15)
    asyncio.run(main(parser.parse_args()))
