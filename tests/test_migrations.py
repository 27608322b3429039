"""Migrations up and down on a real PostgreSQL, and raw SQL rows valid without our code (SPEC §2).

The raw-row tests talk to the database with plain asyncpg and never set
`linkinsights.app_writer`: they stand for a "direct database integration" (seed 002).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import async_url, make_engine
from db.migrate import downgrade, upgrade
from db.sqlscript import run_script
from db.tables import metadata

# SPEC §2 (0001) and 0002. Later migrations may add more; these must all be there.
SPEC_TABLES = {
    "accounts",
    "api_keys",
    "jobs",
    "job_applications",
    "application_status_history",
    "link_tracking",
    "link_clicks",
    "link_click_analytics",
    "application_contacts",
    "engagement_tracking",
}
TABLES_0002 = {"analytics_runs", "analytics_run_chunks", "follow_ups", "webhook_deliveries"}
SPEC_VIEWS = {"application_engagement_outcomes", "link_function_effectiveness"}
OUR_FUNCTIONS = {"link_tracking_fill_account", "job_applications_history"}


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    )
    return {r["table_name"] for r in rows}


async def _views(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.views WHERE table_schema = 'public'"
    )
    return {r["table_name"] for r in rows}


async def _functions(conn: asyncpg.Connection) -> set[str]:
    # Functions in public that no extension owns: ours.
    rows = await conn.fetch(
        """
        SELECT p.proname FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.objid = p.oid AND d.deptype = 'e')
        """
    )
    return {r["proname"] for r in rows}


async def _sequences_and_types(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('S', 'i', 'm')
        UNION ALL
        SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c')
          AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)
        """
    )
    return {r[0] for r in rows}


@pytest.fixture
async def scratch_url(database_url: str) -> AsyncIterator[str]:
    """An empty database on the test server, dropped afterwards."""
    name = f"li_mig_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = database_url.rpartition("/")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    conn = await asyncpg.connect(scratch_url)
    try:
        assert await _tables(conn) == set()
        assert await _views(conn) == set()

        await upgrade(scratch_url)
        tables = await _tables(conn)
        assert SPEC_TABLES | TABLES_0002 | {"alembic_version"} <= tables
        assert SPEC_VIEWS | {"application_outcomes"} <= await _views(conn)
        assert await _functions(conn) >= OUR_FUNCTIONS
        head = await conn.fetchval("SELECT version_num FROM alembic_version")
        assert head is not None

        await downgrade(scratch_url)
        # Alembic keeps its (now empty) bookkeeping table; nothing of ours is left.
        assert await _tables(conn) == {"alembic_version"}
        assert await conn.fetchval("SELECT count(*) FROM alembic_version") == 0
        assert await _views(conn) == set()
        assert await _functions(conn) == set()
        assert await _sequences_and_types(conn) == {"alembic_version_pkc"}

        await upgrade(scratch_url)
        assert await _tables(conn) >= SPEC_TABLES | TABLES_0002
        assert await _views(conn) >= SPEC_VIEWS
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == head
        # The re-created schema takes rows.
        account = await conn.fetchval("INSERT INTO accounts(name) VALUES ('again') RETURNING id")
        assert isinstance(account, uuid.UUID)
    finally:
        await conn.close()


# --- raw rows, as a direct database integration writes them -------------------------------


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection (no SQLAlchemy, no `app_writer` mark: a direct integration)
    inside a transaction rolled back at the end, so the rows below leave nothing behind."""
    connection = await asyncpg.connect(database_url)
    outer = connection.transaction()
    await outer.start()
    try:
        yield connection
    finally:
        await outer.rollback()
        await connection.close()


async def _account(conn: asyncpg.Connection, name: str = "raw") -> uuid.UUID:
    value = await conn.fetchval("INSERT INTO accounts(name) VALUES ($1) RETURNING id", name)
    assert isinstance(value, uuid.UUID)
    return value


async def _application(conn: asyncpg.Connection, account: uuid.UUID) -> uuid.UUID:
    value = await conn.fetchval(
        "INSERT INTO job_applications(account_id) VALUES ($1) RETURNING id", account
    )
    assert isinstance(value, uuid.UUID)
    return value


async def _link(
    conn: asyncpg.Connection, application: uuid.UUID, function: str, tracking_id: str | None = None
) -> str:
    tid = tracking_id or f"t_{uuid.uuid4().hex[:16]}"
    await conn.execute(
        "INSERT INTO link_tracking(tracking_id, application_id, link_function, link_type,"
        " original_url, redirect_url) VALUES ($1, $2, $3, 'profile', $4, $5)",
        tid,
        application,
        function,
        f"https://example.com/{function.lower()}",
        f"https://go.example.com/track/{tid}",
    )
    return tid


async def test_raw_application_gets_defaults_and_first_history_row(
    conn: asyncpg.Connection,
) -> None:
    account = await _account(conn)
    row = await conn.fetchrow(
        "INSERT INTO job_applications(account_id) VALUES ($1) RETURNING id, status, created_at,"
        " total_clicks, engagement_score, is_high_priority",
        account,
    )
    assert row["status"] == "applied"
    assert (row["total_clicks"], row["engagement_score"], row["is_high_priority"]) == (0, 0, False)
    history = await conn.fetch(
        "SELECT status, changed_at FROM application_status_history WHERE application_id = $1",
        row["id"],
    )
    assert [(h["status"], h["changed_at"]) for h in history] == [("applied", row["created_at"])]


async def test_raw_status_update_writes_history(conn: asyncpg.Connection) -> None:
    account = await _account(conn)
    app_id = await _application(conn, account)
    await conn.execute("UPDATE job_applications SET status = 'interview' WHERE id = $1", app_id)
    # An update that does not change the status writes nothing.
    await conn.execute("UPDATE job_applications SET status = 'interview' WHERE id = $1", app_id)
    await conn.execute("UPDATE job_applications SET total_clicks = 3 WHERE id = $1", app_id)
    statuses = await conn.fetch(
        "SELECT status FROM application_status_history WHERE application_id = $1 ORDER BY id",
        app_id,
    )
    assert [r["status"] for r in statuses] == ["applied", "interview"]


async def test_raw_link_takes_account_from_application(conn: asyncpg.Connection) -> None:
    account = await _account(conn)
    app_id = await _application(conn, account)
    tid = await _link(conn, app_id, "LinkedIn")
    row = await conn.fetchrow(
        "SELECT account_id, is_active, created_by FROM link_tracking WHERE tracking_id = $1", tid
    )
    assert (row["account_id"], row["is_active"], row["created_by"]) == (account, True, "system")


async def test_raw_link_into_another_accounts_application_fails(conn: asyncpg.Connection) -> None:
    mine = await _account(conn, "mine")
    theirs = await _account(conn, "theirs")
    their_app = await _application(conn, theirs)
    tid = f"t_{uuid.uuid4().hex[:16]}"
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="another account"):
        async with conn.transaction():  # a savepoint: the outer transaction goes on
            await conn.execute(
                "INSERT INTO link_tracking(tracking_id, account_id, application_id, link_function,"
                " link_type, original_url, redirect_url) VALUES ($1, $2, $3, 'LinkedIn',"
                " 'profile', 'https://a.example', 'https://b.example')",
                tid,
                mine,
                their_app,
            )
    assert (
        await conn.fetchval("SELECT count(*) FROM link_tracking WHERE tracking_id = $1", tid) == 0
    )


async def test_raw_link_without_any_owner_fails(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.NotNullViolationError, match="account_id is required"):
        await conn.execute(
            "INSERT INTO link_tracking(tracking_id, link_function, link_type, original_url,"
            " redirect_url) VALUES ($1, 'LinkedIn', 'profile', 'https://a.example',"
            " 'https://b.example')",
            f"t_{uuid.uuid4().hex[:16]}",
        )


async def test_raw_click_is_a_human_click_counted_by_the_views(conn: asyncpg.Connection) -> None:
    account = await _account(conn)
    app_id = await _application(conn, account)
    tid = await _link(conn, app_id, "Calendly")
    await _link(conn, app_id, "LinkedIn")  # never clicked
    click = await conn.fetchrow(
        "INSERT INTO link_clicks(tracking_id) VALUES ($1)"
        " RETURNING is_bot, bot_reason, clicked_at, metadata, request_method",
        tid,
    )
    assert click["is_bot"] is False
    assert click["bot_reason"] is None
    assert click["clicked_at"] is not None
    assert json.loads(click["metadata"]) == {}
    assert click["request_method"] == "GET"
    # A bot click is stored but never counted.
    await conn.execute(
        "INSERT INTO link_clicks(tracking_id, is_bot, bot_reason) VALUES ($1, true, 'crawler')",
        tid,
    )
    row = await conn.fetchrow(
        "SELECT total_clicks, clicked_functions, most_clicked_function, reached_interview,"
        " reached_offer FROM application_engagement_outcomes WHERE application_id = $1",
        app_id,
    )
    assert row["total_clicks"] == 1
    assert list(row["clicked_functions"]) == ["Calendly"]
    assert row["most_clicked_function"] == "Calendly"
    assert (row["reached_interview"], row["reached_offer"]) == (False, False)


async def test_raw_bot_click_needs_a_reason(conn: asyncpg.Connection) -> None:
    account = await _account(conn)
    tid = await _link(conn, await _application(conn, account), "Portfolio")
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("INSERT INTO link_clicks(tracking_id, is_bot) VALUES ($1, true)", tid)


async def test_link_function_effectiveness_divides_and_counts_clicked_only(
    conn: asyncpg.Connection,
) -> None:
    account = await _account(conn)
    apps = [await _application(conn, account) for _ in range(3)]
    links = [await _link(conn, a, "Calendly") for a in apps]
    for a in apps:
        await _link(conn, a, "LinkedIn")  # three LinkedIn links, none clicked
    await conn.execute("INSERT INTO link_clicks(tracking_id) VALUES ($1)", links[0])
    await conn.execute(
        "INSERT INTO link_clicks(tracking_id, is_bot, bot_reason) VALUES ($1, true, 'scanner')",
        links[1],
    )
    # The clicked application went to interview, then was rejected: it reached interview.
    await conn.execute("UPDATE job_applications SET status = 'interview' WHERE id = $1", apps[0])
    await conn.execute("UPDATE job_applications SET status = 'rejected' WHERE id = $1", apps[0])

    rows = {
        r["link_function"]: r
        for r in await conn.fetch(
            "SELECT * FROM link_function_effectiveness WHERE account_id = $1", account
        )
    }
    assert set(rows) == {"Calendly", "LinkedIn"}
    cal = rows["Calendly"]
    assert cal["applications_with_link"] == 3
    assert cal["applications_with_clicks"] == 1
    assert cal["total_clicks"] == 1
    assert cal["avg_clicks_per_application"] == Decimal("0.33")
    assert cal["interviews_generated"] == 1
    assert cal["offers_generated"] == 0
    assert cal["interview_conversion_rate"] == Decimal("33.33")
    assert cal["offer_conversion_rate"] == Decimal("0.00")
    assert cal["clicked_interview_rate"] == Decimal("100.00")
    lin = rows["LinkedIn"]
    assert lin["applications_with_link"] == 3
    assert lin["applications_with_clicks"] == 0
    assert lin["total_clicks"] == 0
    assert lin["avg_clicks_per_application"] == Decimal("0.00")
    assert lin["clicked_interview_rate"] is None


async def test_interview_then_rejected_counts_as_reached_interview(
    conn: asyncpg.Connection,
) -> None:
    account = await _account(conn)
    app_id = await _application(conn, account)
    for status in ("interview", "rejected"):
        await conn.execute("UPDATE job_applications SET status = $2 WHERE id = $1", app_id, status)
    row = await conn.fetchrow(
        "SELECT status, reached_interview, reached_offer, total_clicks, clicked_functions"
        " FROM application_engagement_outcomes WHERE application_id = $1",
        app_id,
    )
    assert row["status"] == "rejected"
    assert (row["reached_interview"], row["reached_offer"]) == (True, False)
    assert row["total_clicks"] == 0
    assert list(row["clicked_functions"]) == []
    history = await conn.fetch(
        "SELECT status FROM application_status_history WHERE application_id = $1 ORDER BY id",
        app_id,
    )
    assert [h["status"] for h in history] == ["applied", "interview", "rejected"]


async def test_offer_in_history_counts_as_interview_and_offer(conn: asyncpg.Connection) -> None:
    account = await _account(conn)
    app_id = await _application(conn, account)
    for status in ("offer", "withdrawn"):
        await conn.execute("UPDATE job_applications SET status = $2 WHERE id = $1", app_id, status)
    row = await conn.fetchrow(
        "SELECT reached_interview, reached_offer FROM application_engagement_outcomes"
        " WHERE application_id = $1",
        app_id,
    )
    assert (row["reached_interview"], row["reached_offer"]) == (True, True)


# --- scripts run as PostgreSQL parses them (db/sqlscript.py) ------------------------------

SCRIPT = """
-- a comment; with a semicolon
CREATE TEMPORARY TABLE script_notes (note text);
INSERT INTO script_notes VALUES ('one; two'), ($q$three; 'four'$q$);
CREATE FUNCTION pg_temp.script_echo(x text) RETURNS text LANGUAGE plpgsql AS $body$
BEGIN
  RETURN x || ';';
END;
$body$;
INSERT INTO script_notes SELECT pg_temp.script_echo('five')
"""


async def test_run_script_keeps_semicolons_in_literals_and_dollar_bodies(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        await conn.run_sync(run_script, SCRIPT)
        rows = await conn.execute(text("SELECT note FROM script_notes ORDER BY note"))
        assert [r.note for r in rows] == ["five;", "one; two", "three; 'four'"]
        await conn.rollback()


# --- db/tables.py mirrors the migrated schema ---------------------------------------------


def _mirrored(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # Indexes and defaults live only in the migrations (see db/tables.py).
    return type_ != "index"


async def test_tables_py_matches_the_migrated_database(scratch_url: str) -> None:
    await upgrade(scratch_url)
    engine = make_engine(async_url(scratch_url), pool_size=1)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(
                        sync,
                        opts={
                            "compare_type": True,
                            "compare_server_default": False,
                            "include_object": _mirrored,
                        },
                    ),
                    metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diff == []
