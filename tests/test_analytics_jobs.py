"""calculateAnalytics / analyticsJob, the chunk jobs on a burst worker, nightly lock, cron parsing,
retention scheduling."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.cron import next_cron
from cronsim import CronSim
from factories import AppSpec, ClickSpec, create_account, create_applications, create_key
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from config import Settings
from db.batch import dirty_count
from jobs.calculate import nightly_calculation, nightly_cron_jobs, nightly_lock_key
from jobs.schedule import cron_schedules
from jobs.worker import build_worker, cron_jobs

CALCULATE = """
mutation($id: ID, $asOf: DateTime) {
  calculateAnalytics(applicationId: $id, asOf: $asOf) {
    id status enqueuedAt finishedAt applicationsProcessed error
  }
}
"""
JOB = (
    "query($id: ID!) { analyticsJob(id: $id) { id status finishedAt applicationsProcessed error } }"
)
ENGAGEMENT = """
query($id: ID!) { application(id: $id) { totalClicks engagementScore isHighPriority
  engagement { totalClickEvents clickSequence uniqueFunctionsClicked timeToFirstClick
    hoursToFirstClick timeBetweenFirstLastClick hoursBetweenFirstLastClick peakClickHour
    clickDaysOfWeek engagementVelocity engagementScore intentScore calculatedAt } } }
"""

CREATED = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)  # a Monday
AS_OF = CREATED + timedelta(days=4)
H = timedelta(hours=1)


async def _drain(settings: Settings) -> None:
    worker = build_worker(settings, burst=True)
    try:
        await worker.main()
    finally:
        # Worker.close() calls redis' deprecated close(); do its work with aclose().
        await worker.pool.delete(worker.health_check_key)
        if worker.on_shutdown is not None:
            await worker.on_shutdown(worker.ctx)
        await worker.pool.aclose()


def _sample() -> list[AppSpec]:
    return [
        AppSpec(
            CREATED,
            clicks=[
                ClickSpec(
                    "LinkedIn",
                    at=CREATED + 90 * timedelta(minutes=1),
                    session_id="s1",
                ),
                ClickSpec("Calendly", at=CREATED + 26 * H, session_id="s1"),
                ClickSpec("Calendly", at=CREATED + 27 * H, session_id="s2"),
            ],
        ),
        AppSpec(CREATED),
    ]


async def _runs(sessionmaker: async_sessionmaker[AsyncSession], account: uuid.UUID) -> int:
    async with sessionmaker() as session:
        return int(
            (
                await session.execute(
                    text("SELECT count(*) FROM analytics_runs WHERE account_id = :a"),
                    {"a": account},
                )
            ).scalar_one()
        )


async def test_calculate_one_application_end_to_end(
    gql: Any,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: uuid.UUID,
    api_key: str,
) -> None:
    apps = await create_applications(sessionmaker, account_id, _sample())
    body = await gql(CALCULATE, {"id": str(apps[0]), "asOf": AS_OF.isoformat()}, key=api_key)
    job = body["data"]["calculateAnalytics"]
    assert (job["status"], job["applicationsProcessed"], job["finishedAt"]) == ("QUEUED", 0, None)

    before = await gql(ENGAGEMENT, {"id": str(apps[0])}, key=api_key)
    assert before["data"]["application"]["engagement"] is None  # not calculated yet

    await _drain(settings)
    done = (await gql(JOB, {"id": job["id"]}, key=api_key))["data"]["analyticsJob"]
    assert (done["status"], done["applicationsProcessed"], done["error"]) == ("COMPLETE", 1, None)
    assert done["finishedAt"] is not None

    app = (await gql(ENGAGEMENT, {"id": str(apps[0])}, key=api_key))["data"]["application"]
    # 1.5 h to the first click; 3 clicks in 4 days; LinkedIn + Calendly.
    assert app["engagement"] == {
        "totalClickEvents": 3,
        "clickSequence": ["LinkedIn", "Calendly", "Calendly"],
        "uniqueFunctionsClicked": 2,
        "timeToFirstClick": "PT1H30M0S",
        "hoursToFirstClick": 1.5,
        "timeBetweenFirstLastClick": "PT25H30M0S",
        "hoursBetweenFirstLastClick": 25.5,
        "peakClickHour": 13,  # one click each at 13, 14 and 15 h (UTC): the earliest
        "clickDaysOfWeek": [1, 2],
        "engagementVelocity": 0.75,
        # 10 + 25 + 40 + repeat 5 + quick 30 + second function 10 = 120 -> 100
        "engagementScore": 100,
        # < 2 h: 50; velocity 0.75: 0; Calendly 40; 3 clicks: 0
        "intentScore": 90,
        "calculatedAt": "2024-06-07T12:00:00+00:00",
    }
    assert (app["totalClicks"], app["engagementScore"], app["isHighPriority"]) == (3, 100, True)
    # The other application was not part of this job.
    other = await gql(ENGAGEMENT, {"id": str(apps[1])}, key=api_key)
    assert other["data"]["application"]["engagement"] is None


async def test_calculate_whole_account_in_chunks(
    gql: Any,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: uuid.UUID,
    api_key: str,
    app: Starlette,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apps = await create_applications(sessionmaker, account_id, _sample() + _sample() + _sample())
    monkeypatch.setattr(app.state.resources.settings, "analytics_chunk_size", 2)
    job = (await gql(CALCULATE, {"asOf": AS_OF.isoformat()}, key=api_key))["data"][
        "calculateAnalytics"
    ]
    async with sessionmaker() as session:
        total = (
            await session.execute(
                text("SELECT chunks_total FROM analytics_runs WHERE id = :id"), {"id": job["id"]}
            )
        ).scalar_one()
    assert total == 3
    await _drain(settings)
    done = (await gql(JOB, {"id": job["id"]}, key=api_key))["data"]["analyticsJob"]
    assert (done["status"], done["applicationsProcessed"]) == ("COMPLETE", 6)
    app_row = await gql(ENGAGEMENT, {"id": str(apps[5])}, key=api_key)
    assert app_row["data"]["application"]["engagement"]["totalClickEvents"] == 0


async def test_calculate_whole_account_without_as_of_is_incremental(
    gql: Any,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: uuid.UUID,
    api_key: str,
) -> None:
    """Without asOf the account's dirty applications are recomputed (all of them, new here) and
    their marks cleared; with asOf (a backfill) every application is recomputed."""
    await create_applications(sessionmaker, account_id, _sample() + _sample())
    async with sessionmaker() as session:
        assert await dirty_count(session, account_id=account_id) == 4
    job = (await gql(CALCULATE, {}, key=api_key))["data"]["calculateAnalytics"]
    backfill = (await gql(CALCULATE, {"asOf": AS_OF.isoformat()}, key=api_key))["data"][
        "calculateAnalytics"
    ]
    await _drain(settings)
    async with sessionmaker() as session:
        rows = await session.execute(
            text("SELECT id::text AS id, incremental FROM analytics_runs WHERE id = ANY(:ids)"),
            {"ids": [uuid.UUID(job["id"]), uuid.UUID(backfill["id"])]},
        )
        kinds = {row.id: row.incremental for row in rows}
        assert kinds == {job["id"]: True, backfill["id"]: False}
        assert await dirty_count(session, account_id=account_id) == 0
    done = (await gql(JOB, {"id": job["id"]}, key=api_key))["data"]["analyticsJob"]
    assert (done["status"], done["applicationsProcessed"]) == ("COMPLETE", 4)


async def test_unknown_and_foreign_application_are_not_found(
    gql: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    mine = await create_account(sessionmaker)
    theirs = await create_account(sessionmaker)
    key = await create_key(sessionmaker, mine)
    (foreign, _) = await create_applications(sessionmaker, theirs, _sample())
    missing = await gql(CALCULATE, {"id": str(uuid.uuid4())}, key=key)
    other = await gql(CALCULATE, {"id": str(foreign)}, key=key)
    for body in (missing, other):
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await _runs(sessionmaker, mine) == 0
    # Another account's job id answers like a missing one.
    their_key = await create_key(sessionmaker, theirs)
    job = (await gql(CALCULATE, {"id": str(foreign)}, key=their_key))["data"]["calculateAnalytics"]
    assert (await gql(JOB, {"id": job["id"]}, key=key))["data"]["analyticsJob"] is None
    assert (await gql(JOB, {"id": str(uuid.uuid4())}, key=key))["data"]["analyticsJob"] is None


async def test_read_scope_cannot_calculate(
    gql: Any, account_id: uuid.UUID, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    key = await create_key(sessionmaker, account_id, ("read",))
    body = await gql(CALCULATE, {}, key=key)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_redis_down_is_queue_unavailable_and_leaves_no_run(
    gql: Any,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: uuid.UUID,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await create_applications(sessionmaker, account_id, _sample())
    dead = ArqRedis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    monkeypatch.setattr(app.state.resources, "redis", dead)
    try:
        body = await gql(CALCULATE, {}, key=api_key)
    finally:
        await dead.aclose()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "QUEUE_UNAVAILABLE"
    assert await _runs(sessionmaker, account_id) == 0


async def test_naive_as_of_is_bad_input(gql: Any, api_key: str) -> None:
    body = await gql(CALCULATE, {"asOf": "2024-06-01T00:00:00"}, key=api_key)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_nightly_run_holds_a_lock(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    assert settings.redis_url is not None
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        await redis.set(nightly_lock_key(settings), "someone-else", ex=60)
        ctx = {"settings": settings, "redis": redis, "sessionmaker": sessionmaker}
        assert await nightly_calculation(ctx) is None  # another run holds the lock
        await redis.delete(nightly_lock_key(settings))
        run_id = await nightly_calculation(ctx)
        assert run_id is not None
        assert await redis.get(nightly_lock_key(settings)) == run_id.encode()
        assert await nightly_calculation(ctx) is None  # one at a time
        await _drain(settings)
        async with sessionmaker() as session:
            status, incremental = (
                await session.execute(
                    text("SELECT status, incremental FROM analytics_runs WHERE id = :id"),
                    {"id": run_id},
                )
            ).one()
        assert (status, incremental) == ("complete", True)
        assert await redis.get(nightly_lock_key(settings)) is None  # released by the last chunk
    finally:
        await redis.delete(nightly_lock_key(settings))
        await redis.aclose()


def _arq_runs(schedules: list[dict[str, Any]], start: datetime, count: int) -> list[datetime]:
    """The times arq's cron would run the union of `schedules`, from `start` on."""
    runs: list[datetime] = []
    now = start
    while len(runs) < count:
        now = min(next_cron(now, microsecond=0, **schedule) for schedule in schedules)
        runs.append(now)
    return runs


@pytest.mark.parametrize(
    "expression",
    [
        "0 2 * * *",
        "0 2 1 * 1",  # the 1st of the month or a Monday, as in cron
        "*/15 1-3 * * 0,6",
        "30 4 1,15 1 7",
        "0 2 */2 * 1",  # a day field starting with * makes it "and" (Debian cron)
        "5 0 * 2,8 MON-FRI",
    ],
)
def test_cron_schedules_run_when_cron_would(expression: str) -> None:
    start = datetime(2026, 1, 1, 0, 0, 30)
    expected = list(islice(CronSim(expression, start), 60))
    assert _arq_runs(cron_schedules(expression), start, 60) == expected


def test_cron_schedules_keep_day_of_month_or_day_of_week_apart() -> None:
    assert cron_schedules("0 2 1 * 1") == [
        {"minute": {0}, "hour": {2}, "day": {1}},
        {"minute": {0}, "hour": {2}, "weekday": {0}},  # cron's Monday (1) is arq's 0
    ]
    assert cron_schedules("0 2 * * *") == [{"minute": {0}, "hour": {2}}]
    for bad in ("0 2 * *", "60 2 * * *", "0 24 * * *", "a * * * *", "0 2 L * *", "0 2 * * 5#2"):
        with pytest.raises(ValueError, match="cron expression"):
            cron_schedules(bad)
    with pytest.raises(ValidationError, match="L, W and # are not supported"):
        Settings(nightly_cron="0 2 L * *")


def test_worker_schedules_nightly_and_retention() -> None:
    settings = Settings(nightly_cron="15 1 * * *", redis_url="redis://127.0.0.1:6379/0")
    jobs = {job.name: job for job in cron_jobs(settings)}
    nightly = jobs["nightly_calculation"]
    assert (nightly.minute, nightly.hour, nightly.unique) == ({15}, {1}, True)
    both = nightly_cron_jobs(Settings(nightly_cron="0 2 1 * 1"))
    # Two schedules, one name: arq's job id (name and time) makes a minute both match run once.
    assert [(job.name, job.unique, job.day, job.weekday) for job in both] == [
        ("nightly_calculation", True, {1}, None),
        ("nightly_calculation", True, None, {0}),
    ]
    retention = (
        jobs["cron:anonymise_ips"] if "cron:anonymise_ips" in jobs else jobs["anonymise_ips"]
    )
    assert retention.unique is True
    worker = build_worker(
        Settings(database_url="postgresql://x/y", redis_url="redis://127.0.0.1:6379/0"), burst=True
    )
    assert worker.health_check_interval == 30
    assert "calculate_chunk" in worker.functions


async def test_retention_anonymises_only_old_ips(
    settings: Settings, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    account_id = await create_account(db_sessions)
    now = datetime.now(UTC)
    old = ClickSpec("LinkedIn", at=now - timedelta(days=91), click_id=uuid.uuid4())
    new = ClickSpec("LinkedIn", at=now - timedelta(days=89), click_id=uuid.uuid4())
    await create_applications(
        db_sessions, account_id, [AppSpec(now - timedelta(days=100), clicks=[old, new])]
    )
    async with db_sessions() as session, session.begin():
        await session.execute(
            text("UPDATE link_clicks SET ip_address = '198.51.100.77' WHERE click_id = ANY(:ids)"),
            {"ids": [old.click_id, new.click_id]},
        )
    from jobs.tasks import anonymise_ips

    assert await anonymise_ips({"settings": settings, "sessionmaker": db_sessions}) >= 1
    async with db_sessions() as session:
        rows: dict[Any, Any] = dict(
            (
                await session.execute(
                    text(
                        "SELECT click_id, host(ip_address) FROM link_clicks"
                        " WHERE click_id = ANY(:ids)"
                    ),
                    {"ids": [old.click_id, new.click_id]},
                )
            ).all()
        )
    assert rows == {old.click_id: "198.51.100.0", new.click_id: "198.51.100.77"}
