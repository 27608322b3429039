"""Benchmark: live predictions of a page of applications in one GraphQL query.

    .venv/bin/python bench/predictions.py [--live 100] [--history 2000] [--runs 15]

Creates a throw-away database (on DATABASE_URL's server, or the embedded default), loads one
account with ``--history`` past applications (the calibration history, with clicks and
interviews) and ``--live`` recent ones, then times

* baseline: ``applications(first: live) { id engagementScore }``
* predictions: the same page with ``prediction { ... historicalComparison }`` on every node

and prints the median latency of each, their ratio, and the SQL statements per request (which
must not grow with the page size). The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import Settings  # noqa: E402
from db import accounts as accounts_db  # noqa: E402
from db.engine import make_engine, make_sessionmaker  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from domain.apikeys import generate_key  # noqa: E402
from linkinsights.runtime import services  # noqa: E402

FUNCTIONS = ["LinkedIn", "Calendly", "Portfolio", "Company_Website", "Apply_Now"]

BASELINE = "{ applications(first: %d) { edges { node { id engagementScore } } } }"
PREDICTIONS = """{ applications(first: %d) { edges { node { id engagementScore prediction {
  engagementScore intentScore predictedOutcome confidence reasons recommendedActions
  historicalComparison { similarEngagementPatterns interviewRate avgDaysToInterview } } } } } }"""


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def load(url: str, account: uuid.UUID, *, live: int, history: int) -> None:
    rng = random.Random(6)
    now = datetime.now(UTC)
    apps, hist, links, clicks = [], [], [], []
    for i in range(history + live):
        app_id = uuid.uuid4()
        created = (
            now - timedelta(days=30 + rng.random() * 300)
            if i < history
            else now - timedelta(days=rng.random() * 10)
        )
        interview = i < history and rng.random() < 0.25
        apps.append((app_id, account, "interview" if interview else "applied", created, created))
        hist.append((app_id, "applied", created))
        if interview:
            hist.append((app_id, "interview", created + timedelta(days=3 + rng.random() * 10)))
        for function in rng.sample(FUNCTIONS, rng.randint(0, 3)):
            tracking_id = f"b{uuid.uuid4().hex}"
            links.append((tracking_id, account, app_id, function, "profile", "https://x/", "r"))
            for _ in range(rng.randint(1, 3)):
                at = created + timedelta(hours=rng.random() * 24 * 14)
                clicks.append((uuid.uuid4(), tracking_id, at))
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('linkinsights.app_writer', 'on', true)")
            await conn.copy_records_to_table(
                "job_applications",
                records=apps,
                columns=["id", "account_id", "status", "created_at", "updated_at"],
            )
            await conn.copy_records_to_table(
                "application_status_history",
                records=hist,
                columns=["application_id", "status", "changed_at"],
            )
            await conn.copy_records_to_table(
                "link_tracking",
                records=links,
                columns=[
                    "tracking_id",
                    "account_id",
                    "application_id",
                    "link_function",
                    "link_type",
                    "original_url",
                    "redirect_url",
                ],
            )
            await conn.copy_records_to_table(
                "link_clicks", records=clicks, columns=["click_id", "tracking_id", "clicked_at"]
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    print(f"loaded {history} past + {live} live applications, {len(clicks)} clicks")


async def timed(
    client: httpx.AsyncClient, query: str, key: str, runs: int, counter: list[str]
) -> tuple[float, int]:
    times = []
    statements = 0
    for _ in range(runs):
        counter.clear()
        start = time.perf_counter()
        response = await client.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"}
        )
        times.append(time.perf_counter() - start)
        body = response.json()
        assert "errors" not in body, body
        statements = len(counter)
    return statistics.median(times), statements


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
            await engine.dispose()
            await load(url, account, live=args.live, history=args.history)

            from graph.app import create_app

            app = create_app(settings)
            async with app.router.lifespan_context(app):
                resources = app.state.resources
                app_engine = resources.sessionmaker.kw["bind"]
                counter: list[str] = []
                event.listen(
                    app_engine.sync_engine,
                    "before_cursor_execute",
                    lambda *a: counter.append(a[2]),
                )
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                    await timed(client, BASELINE % args.live, new.key, 2, counter)  # warm up
                    await timed(client, PREDICTIONS % args.live, new.key, 2, counter)
                    base_t, base_n = await timed(
                        client, BASELINE % args.live, new.key, args.runs, counter
                    )
                    pred_t, pred_n = await timed(
                        client, PREDICTIONS % args.live, new.key, args.runs, counter
                    )
                    _, small_n = await timed(client, PREDICTIONS % 5, new.key, 1, counter)
                    one_t, one_n = await timed(client, PREDICTIONS % 1, new.key, args.runs, counter)
            print(f"page of {args.live} applications, history of {args.history}, {args.runs} runs")
            print(f"baseline (no prediction): {base_t * 1000:8.1f} ms median, {base_n} statements")
            print(f"with predictions:         {pred_t * 1000:8.1f} ms median, {pred_n} statements")
            print(f"ratio to baseline:        {pred_t / base_t:8.2f}x")
            print(f"per prediction:           {(pred_t - base_t) / args.live * 1000:8.2f} ms")
            print(f"one application:          {one_t * 1000:8.1f} ms median, {one_n} statements")
            print(f"statements for 5 vs {args.live}: {small_n} vs {pred_n} (must be equal)")
        finally:
            admin = await asyncpg.connect(server)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--live", type=int, default=100)
    parser.add_argument("--history", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=15)
    asyncio.run(main(parser.parse_args()))
