"""Incremental analytics (migration 0008, db/batch.py): dirty marks and the clock refresh.

The property test drives random sequences of what changes metrics (clicks inserted as the
flusher does, scanner-burst and manual reclassifications, deletes, status, link and timezone
changes, GDPR deletes, new applications), incremental runs as the clock moves and backfills, on
the real PostgreSQL, then compares the incremental table with a full recompute column by column.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import AppSpec, analytics_rows, create_account, create_applications
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from config import Settings
from db import applications as app_db
from db.batch import compute_analytics, dirty_count
from db.ingest import ClickEntry, store_clicks
from db.session import mark_app_writer
from jobs.calculate import calculate_in_process

SM = async_sessionmaker[AsyncSession]
MakeAccount = Callable[..., Awaitable[uuid.UUID]]

START = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)  # a Friday: weekends come and go
FUNCTIONS = ("LinkedIn", "Calendly", "Portfolio")
TIMEZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Pacific/Auckland")
STATUSES = ("applied", "interview", "offer", "rejected")
# What the comparison leaves aside: row identity and bookkeeping times.
IGNORED = {"id", "calculated_at", "created_at", "updated_at"}


# ----------------------------------------------------------------------------- helpers


async def _new_application(
    session: AsyncSession, account: uuid.UUID, created: datetime
) -> uuid.UUID:
    """An application with one link per function."""
    (app_id,) = await create_applications(session, account, [AppSpec(created, functions=FUNCTIONS)])
    return app_id


async def _flush_clicks(
    session: AsyncSession, app_id: uuid.UUID, clicks: list[tuple[int, datetime, bool, str]]
) -> list[uuid.UUID]:
    """The flusher's write: one multi-row INSERT ... ON CONFLICT (click_id) DO NOTHING, then
    the scanner-burst UPDATE of some of them."""
    ids = [uuid.uuid4() for _ in clicks]
    await session.execute(
        text(
            """
            INSERT INTO link_clicks (click_id, tracking_id, clicked_at, session_id)
            SELECT c.id, lt.tracking_id, c.at, c.session
            FROM unnest(CAST(:ids AS uuid[]), CAST(:functions AS text[]),
                        CAST(:ats AS timestamptz[]), CAST(:sessions AS text[]))
              AS c(id, function, at, session)
            JOIN link_tracking lt ON lt.application_id = :app AND lt.link_function = c.function
            ON CONFLICT (click_id) DO NOTHING
            """
        ),
        {
            "ids": ids,
            "functions": [FUNCTIONS[f] for f, _, _, _ in clicks],
            "ats": [at for _, at, _, _ in clicks],
            "sessions": [s for _, _, _, s in clicks],
            "app": app_id,
        },
    )
    burst = [i for i, (_, _, bot, _) in zip(ids, clicks, strict=True) if bot]
    if burst:
        await _set_bot(session, burst, True)
    return ids


async def _set_bot(session: AsyncSession, ids: list[uuid.UUID], bot: bool) -> None:
    await session.execute(
        text(
            "UPDATE link_clicks SET is_bot = :bot,"
            " bot_reason = CASE WHEN :bot THEN 'scanner_burst' END"
            " WHERE click_id = ANY(:ids)"
        ),
        {"ids": ids, "bot": bot},
    )


def _metrics(rows: dict[uuid.UUID, dict[str, Any]]) -> dict[uuid.UUID, dict[str, Any]]:
    return {app: {k: v for k, v in row.items() if k not in IGNORED} for app, row in rows.items()}


def _assert_same(incremental: dict[uuid.UUID, Any], full: dict[uuid.UUID, Any]) -> None:
    assert incremental.keys() == full.keys()
    for app, row in full.items():
        for column, value in row.items():
            assert incremental[app][column] == value, (app, column, incremental[app][column], value)


# ----------------------------------------------------------------------------- the property

CLICK = st.tuples(
    st.integers(0, len(FUNCTIONS) - 1),
    st.integers(-48 * 60, 6 * 60),  # minutes from the clock: late arrivals, a few in the future
    st.sampled_from((False, False, False, True)),  # a scanner burst now and then
    st.sampled_from(("s1", "s2", "s3")),
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("clicks"), st.integers(0, 9), st.lists(CLICK, min_size=1, max_size=5)),
        st.tuples(st.just("reclassify"), st.integers(0, 99), st.booleans()),
        st.tuples(st.just("delete_click"), st.integers(0, 99)),
        st.tuples(st.just("status"), st.integers(0, 9), st.sampled_from(STATUSES)),
        st.tuples(st.just("link"), st.integers(0, 9), st.sampled_from(FUNCTIONS)),
        st.tuples(st.just("timezone"), st.sampled_from(TIMEZONES)),
        st.tuples(st.just("gdpr"), st.integers(0, 9)),
        st.tuples(st.just("new_app"), st.integers(0, 72)),
        st.tuples(st.just("advance"), st.integers(1, 60 * 60)),  # minutes
        st.tuples(st.just("nightly")),
        st.tuples(st.just("backfill"), st.integers(1, 96)),  # hours back
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS, tz=st.sampled_from(TIMEZONES), apps=st.integers(1, 4))
async def test_incremental_runs_equal_a_full_recompute(
    settings_: Settings,
    sessionmaker: SM,
    ops: list[tuple[Any, ...]],
    tz: str,
    apps: int,
) -> None:
    account = await create_account(sessionmaker, timezone=tz)
    clock = START
    app_ids: list[uuid.UUID] = []
    click_ids: list[uuid.UUID] = []

    async def run(*, incremental: bool, as_of: datetime) -> None:
        await calculate_in_process(
            settings_,
            account_id=account,
            as_of=as_of,
            incremental=incremental,
            sessionmaker=sessionmaker,
            follow_ups=False,
        )

    async with sessionmaker() as session, session.begin():
        for i in range(apps):
            app_ids.append(await _new_application(session, account, START - timedelta(hours=i)))
    await run(incremental=False, as_of=clock)

    for op in ops:
        kind = op[0]
        async with sessionmaker() as session, session.begin():
            if kind == "clicks" and app_ids:
                app = app_ids[op[1] % len(app_ids)]
                clicks = [(f, clock + timedelta(minutes=m), bot, s) for f, m, bot, s in op[2]]
                click_ids.extend(await _flush_clicks(session, app, clicks))
            elif kind == "reclassify" and click_ids:
                await _set_bot(session, [click_ids[op[1] % len(click_ids)]], op[2])
            elif kind == "delete_click" and click_ids:
                await session.execute(
                    text("DELETE FROM link_clicks WHERE click_id = :id"),
                    {"id": click_ids.pop(op[1] % len(click_ids))},
                )
            elif kind == "status" and app_ids:
                await mark_app_writer(session)
                await session.execute(
                    text("UPDATE job_applications SET status = :s WHERE id = :id"),
                    {"s": op[2], "id": app_ids[op[1] % len(app_ids)]},
                )
            elif kind == "link" and app_ids:
                # One link of the application now counts as another function.
                await session.execute(
                    text(
                        "UPDATE link_tracking SET link_function = :f WHERE tracking_id ="
                        " (SELECT min(tracking_id) FROM link_tracking WHERE application_id = :id)"
                    ),
                    {"f": op[2], "id": app_ids[op[1] % len(app_ids)]},
                )
            elif kind == "timezone":
                await session.execute(
                    text("UPDATE accounts SET timezone = :tz WHERE id = :id"),
                    {"tz": op[1], "id": account},
                )
            elif kind == "gdpr" and app_ids:
                app = app_ids.pop(op[1] % len(app_ids))
                await app_db.delete_application(session, account_id=account, application_id=app)
            elif kind == "new_app":
                created = clock - timedelta(hours=op[1])
                app_ids.append(await _new_application(session, account, created))
            elif kind == "advance":
                clock += timedelta(minutes=op[1])
        if kind == "nightly":
            await run(incremental=True, as_of=clock)
        elif kind == "backfill":
            await run(incremental=False, as_of=clock - timedelta(hours=op[1]))

    await run(incremental=True, as_of=clock)
    incremental = _metrics(await analytics_rows(sessionmaker, [account]))
    await run(incremental=False, as_of=clock)
    full = _metrics(await analytics_rows(sessionmaker, [account]))
    _assert_same(incremental, full)
    # Every application has its row (new ones were marked), and nothing stays dirty but clicks
    # still after the clock.
    assert all(row["application_id"] is not None for row in full.values())


@pytest.fixture
def settings_(settings: Settings) -> Settings:
    # Chunks of two applications, so chunk ranges and marks outside a chunk are exercised.
    return settings.model_copy(update={"analytics_chunk_size": 2})


# ----------------------------------------------------------------------------- the marks


async def _dirty(sessionmaker: SM, account: uuid.UUID) -> int:
    async with sessionmaker() as session:
        return await dirty_count(session, account_id=account)


async def _clean(sessionmaker: SM, account: uuid.UUID, as_of: datetime) -> None:
    async with sessionmaker() as session, session.begin():
        await compute_analytics(
            session, as_of=as_of, high_priority_threshold=70, account_id=account
        )
    assert await _dirty(sessionmaker, account) == 0


@pytest.mark.parametrize(
    "change",
    [
        "human_click",
        "scanner_burst",
        "reclassified_human",
        "click_deleted",
        "status",
        "link_function",
        "timezone",
        "created_at",
    ],
)
async def test_each_change_marks_the_application(db_sessions: SM, change: str) -> None:
    account = await create_account(db_sessions)
    async with db_sessions() as session, session.begin():
        app = await _new_application(session, account, START - timedelta(days=1))
        other = await _new_application(session, account, START - timedelta(days=1))
        human, bot = await _flush_clicks(
            session, app, [(0, START, False, "s1"), (1, START, True, "s2")]
        )
    await _clean(db_sessions, account, START)
    statements: dict[str, str] = {
        "scanner_burst": "UPDATE link_clicks SET is_bot = true, bot_reason = 'scanner_burst'"
        " WHERE click_id = :human",
        "reclassified_human": "UPDATE link_clicks SET is_bot = false, bot_reason = NULL"
        " WHERE click_id = :bot",
        "click_deleted": "DELETE FROM link_clicks WHERE click_id = :human",
        "status": "UPDATE job_applications SET status = 'interview' WHERE id = :app",
        "link_function": "UPDATE link_tracking SET link_function = 'Portfolio'"
        " WHERE application_id = :app AND link_function = 'LinkedIn'",
        "timezone": "UPDATE accounts SET timezone = 'Asia/Tokyo' WHERE id = :account",
        "created_at": "UPDATE job_applications SET created_at = created_at - interval '1 hour'"
        " WHERE id = :app",
    }
    async with db_sessions() as session, session.begin():
        await mark_app_writer(session)
        if change not in statements:  # human_click
            await _flush_clicks(session, app, [(2, START, False, "s3")])
        else:
            await session.execute(
                text(statements[change]),
                {"human": human, "bot": bot, "app": app, "account": account},
            )
    async with db_sessions() as session:
        marked = set(
            (
                await session.execute(
                    text(
                        "SELECT DISTINCT application_id FROM analytics_dirty"
                        " WHERE application_id = ANY(:ids)"
                    ),
                    {"ids": [app, other]},
                )
            ).scalars()
        )
    assert marked == ({app, other} if change == "timezone" else {app})


async def test_what_does_not_change_metrics_marks_nothing(db_sessions: SM) -> None:
    account = await create_account(db_sessions)
    async with db_sessions() as session, session.begin():
        app = await _new_application(session, account, START - timedelta(days=1))
        (human,) = await _flush_clicks(session, app, [(0, START, False, "s1")])
    await _clean(db_sessions, account, START)
    async with db_sessions() as session, session.begin():
        # a bot click arrives, an IP is anonymised, the batch refreshes the §1.1 columns
        await session.execute(
            text(
                "INSERT INTO link_clicks (tracking_id, clicked_at, is_bot, bot_reason)"
                " SELECT tracking_id, :at, true, 'crawler' FROM link_tracking"
                " WHERE application_id = :app"
            ),
            {"app": app, "at": START},
        )
        await session.execute(
            text("UPDATE link_clicks SET ip_address = NULL WHERE click_id = :id"), {"id": human}
        )
        await mark_app_writer(session)
        await session.execute(
            text("UPDATE job_applications SET total_clicks = total_clicks WHERE id = :id"),
            {"id": app},
        )
    assert await _dirty(db_sessions, account) == 0


async def test_a_mark_written_during_a_run_survives_it(sessionmaker: SM) -> None:
    """A run deletes only the marks it read: a click committed after its snapshot stays marked."""
    account = await create_account(sessionmaker)
    async with sessionmaker() as session, session.begin():
        app = await _new_application(session, account, START - timedelta(days=1))
    await _clean(sessionmaker, account, START)

    async with sessionmaker() as run_session, run_session.begin():
        # The run's snapshot is taken by its first statement.
        await run_session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        await run_session.execute(text("SELECT 1"))
        async with sessionmaker() as flusher, flusher.begin():
            await _flush_clicks(flusher, app, [(1, START, False, "s1")])
        result = await compute_analytics(
            run_session,
            as_of=START + timedelta(hours=1),
            high_priority_threshold=70,
            account_id=account,
            incremental=True,
        )
        assert result.recomputed == 0  # the click and its mark are after the snapshot
    assert await _dirty(sessionmaker, account) == 1
    async with sessionmaker() as session, session.begin():
        result = await compute_analytics(
            session,
            as_of=START + timedelta(hours=1),
            high_priority_threshold=70,
            account_id=account,
            incremental=True,
        )
    assert (result.recomputed, result.marks_cleared) == (1, 1)
    row = (await analytics_rows(sessionmaker, [account]))[app]
    assert row["click_sequence"] == ["Calendly"]


async def test_a_click_after_as_of_keeps_its_mark_until_the_clock_passes_it(
    db_sessions: SM,
) -> None:
    account = await create_account(db_sessions)
    async with db_sessions() as session, session.begin():
        app = await _new_application(session, account, START - timedelta(days=1))
        await _flush_clicks(session, app, [(0, START + timedelta(hours=2), False, "s1")])

    async def incremental(as_of: datetime) -> Any:
        async with db_sessions() as session, session.begin():
            return await compute_analytics(
                session,
                as_of=as_of,
                high_priority_threshold=70,
                account_id=account,
                incremental=True,
            )

    await incremental(START)
    assert (await analytics_rows(db_sessions, [account]))[app]["total_click_events"] == 0
    assert await _dirty(db_sessions, account) == 1
    await incremental(START + timedelta(hours=3))
    assert (await analytics_rows(db_sessions, [account]))[app]["total_click_events"] == 1
    assert await _dirty(db_sessions, account) == 0


async def test_the_clock_refresh_writes_only_rows_whose_values_move(db_sessions: SM) -> None:
    """Velocity 4 clicks / 1 day = 4 (intent +30); a day later 2 (not > 2: +15); an
    application without clicks keeps velocity 0 and is not written."""
    account = await create_account(db_sessions)
    created = START - timedelta(days=1)
    async with db_sessions() as session, session.begin():
        busy = await _new_application(session, account, created)
        idle = await _new_application(session, account, created)
        await _flush_clicks(
            session,
            busy,
            [(2, created + timedelta(hours=10 + i), False, "s1") for i in range(4)],
        )
    await _clean(db_sessions, account, START)
    before = await analytics_rows(db_sessions, [account])
    assert (before[busy]["engagement_velocity"], before[busy]["intent_score"]) == (4, 30 + 20)
    async with db_sessions() as session, session.begin():
        result = await compute_analytics(
            session,
            as_of=START + timedelta(days=1),
            high_priority_threshold=70,
            account_id=account,
            incremental=True,
        )
    assert (result.applications, result.recomputed, result.clock_written) == (2, 0, 1)
    after = await analytics_rows(db_sessions, [account])
    assert (after[busy]["engagement_velocity"], after[busy]["intent_score"]) == (2, 15 + 20)
    assert after[busy]["calculated_at"] == START + timedelta(days=1)
    assert after[idle] == before[idle]


async def test_a_backfill_marks_the_clicks_it_leaves_out(
    settings: Settings, sessionmaker: SM
) -> None:
    """After a backfill to an earlier asOf the rows leave out the later clicks: the next
    incremental run must recompute those applications, not refresh them for the clock."""
    account = await create_account(sessionmaker)
    async with sessionmaker() as session, session.begin():
        app = await _new_application(session, account, START - timedelta(days=2))
        await _flush_clicks(session, app, [(1, START - timedelta(hours=5), False, "s1")])

    async def run(*, incremental: bool, as_of: datetime) -> int:
        await calculate_in_process(
            settings,
            account_id=account,
            as_of=as_of,
            incremental=incremental,
            sessionmaker=sessionmaker,
            follow_ups=False,
        )
        return int((await analytics_rows(sessionmaker, [account]))[app]["total_click_events"])

    assert await run(incremental=True, as_of=START) == 1
    assert await run(incremental=False, as_of=START - timedelta(days=1)) == 0
    assert await _dirty(sessionmaker, account) == 1
    assert await run(incremental=True, as_of=START) == 1


async def test_analytics_table_is_set_up_for_hot_updates(db_sessions: SM) -> None:
    """Migration 0008: no index on calculated_at nor a second one on application_id, room on
    each page for the nightly's new row versions."""
    async with db_sessions() as session:
        indexes = set(
            (
                await session.execute(
                    text(
                        "SELECT indexname FROM pg_indexes WHERE tablename = 'link_click_analytics'"
                    )
                )
            ).scalars()
        )
        options = (
            await session.execute(
                text("SELECT reloptions FROM pg_class WHERE oid = 'link_click_analytics'::regclass")
            )
        ).scalar_one()
    assert "idx_analytics_calculated_at" not in indexes
    assert "idx_analytics_application" not in indexes
    assert "idx_analytics_unique_application" in indexes
    assert options == ["fillfactor=50"]


async def test_the_flushers_write_marks_the_application(
    db: AsyncConnection, db_sessions: SM
) -> None:
    """db.ingest.store_clicks (the flusher's batch) needs no call of its own: the triggers mark."""
    account = await create_account(db_sessions)
    async with db_sessions() as session, session.begin():
        app = await _new_application(session, account, START - timedelta(days=1))
        tracking_id = (
            await session.execute(
                text("SELECT min(tracking_id) FROM link_tracking WHERE application_id = :id"),
                {"id": app},
            )
        ).scalar_one()
    await _clean(db_sessions, account, START)
    entry = ClickEntry(
        click_id=uuid.uuid4(),
        tracking_id=tracking_id,
        clicked_at=START,
        ip_address="192.0.2.1",
        user_agent="Mozilla/5.0",
        referrer_url=None,
        session_id="s1",
        click_source="direct",
        is_bot=False,
        bot_reason=None,
        request_method="GET",
    )
    async with db.begin_nested():  # the flusher's transaction
        assert (await store_clicks(db, [entry])).inserted == 1
    assert await _dirty(db_sessions, account) == 1


async def test_the_clock_watermark_skips_exactly_until_the_next_change(
    settings_: Settings, sessionmaker: SM
) -> None:
    """Migration 0011: 4 clicks over 3 days is velocity 1.3333 (intent +15), which holds while
    the age A (microseconds) satisfies 2 * 4 * day * 10000 >= (2 * 13333 - 1) * A. A run just
    before that instant skips the refresh and is still right; one at it refreshes the row."""
    account = await create_account(sessionmaker)
    created = START - timedelta(days=3)
    async with sessionmaker() as session, session.begin():
        app = await _new_application(session, account, created)
        await _flush_clicks(
            session, app, [(0, created + timedelta(hours=5 + i), False, "s1") for i in range(4)]
        )
    await calculate_in_process(
        settings_, account_id=account, as_of=START, sessionmaker=sessionmaker, follow_ups=False
    )
    day_us = 86_400_000_000
    change = created + timedelta(microseconds=(2 * 4 * day_us * 10000) // (2 * 13333 - 1))
    async with sessionmaker() as session:
        valid_until = (
            await session.execute(
                text("SELECT valid_until FROM analytics_clock WHERE account_id = :a"),
                {"a": account},
            )
        ).scalar_one()
    assert valid_until == change

    async def incremental_then_full(as_of: datetime) -> tuple[Any, Any]:
        async with sessionmaker() as session, session.begin() as transaction:
            nightly = await compute_analytics(
                session,
                as_of=as_of,
                high_priority_threshold=70,
                incremental=True,
                account_id=account,
            )
            full = await compute_analytics(
                session, as_of=as_of, high_priority_threshold=70, account_id=account
            )
            await transaction.rollback()
        return nightly, full

    nightly, full = await incremental_then_full(change - timedelta(microseconds=1))
    assert (nightly.clock_skipped, nightly.clock_written, full.analytics_written) == (True, 0, 0)
    nightly, full = await incremental_then_full(change + timedelta(microseconds=1))
    assert (nightly.clock_skipped, nightly.clock_written, full.analytics_written) == (False, 1, 0)
    # A run of one application narrows the watermark to what that row vouches for.
    async with sessionmaker() as session, session.begin():
        await compute_analytics(
            session,
            as_of=START + timedelta(hours=1),
            high_priority_threshold=70,
            id_from=app,
            id_to=app,
        )
        window = (
            await session.execute(
                text("SELECT valid_from, valid_until FROM analytics_clock WHERE account_id = :a"),
                {"a": account},
            )
        ).one()
    assert tuple(window) == (START + timedelta(hours=1), change)


async def test_an_incremental_run_with_nothing_to_do_has_no_chunks(
    settings_: Settings, sessionmaker: SM
) -> None:
    """No mark and a watermark covering asOf: the run is complete at creation and counts its
    applications; a click (a mark) gives the next run chunks again."""
    account = await create_account(sessionmaker)
    async with sessionmaker() as session, session.begin():
        app = await _new_application(session, account, START - timedelta(days=3))
        await _new_application(session, account, START - timedelta(days=2))

    async def run(as_of: datetime, *, incremental: bool = True) -> tuple[int, int]:
        summary = await calculate_in_process(
            settings_,
            account_id=account,
            as_of=as_of,
            incremental=incremental,
            sessionmaker=sessionmaker,
            follow_ups=False,
        )
        return summary.chunks, summary.applications

    assert await run(START, incremental=False) == (1, 2)
    assert await run(START) == (0, 2)
    async with sessionmaker() as session, session.begin():
        await _flush_clicks(session, app, [(1, START - timedelta(hours=1), False, "s1")])
    assert await run(START) == (1, 2)
    row = (await analytics_rows(sessionmaker, [account]))[app]
    assert row["click_sequence"] == ["Calendly"]
    assert await run(START) == (0, 2)
