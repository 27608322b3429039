"""The SQL batch (db/batch.py) against the pure reference (domain/metrics.py) on a real database."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from factories import AppSpec, ClickSpec, analytics_rows, create_account, create_applications
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.batch import compute_analytics, plan_chunks
from domain.metrics import ClickEvent, compute_metrics

FUNCTIONS = ["LinkedIn", "Calendly", "Portfolio", "Company_Website", "Apply_Now", "GitHub"]
ZONES = ["America/New_York", "UTC", "Asia/Kolkata", "Australia/Lord_Howe"]
AS_OF = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def _random_apps(rng: random.Random, account_ids: list[uuid.UUID], n: int) -> list[AppSpec]:
    """Applications with tricky edges: exact 0/2/4/8 h first clicks, exact velocities 1 and 2,
    DST days in New York, equal timestamps, peak-hour ties, bots, clicks after as_of."""
    # Around the 2024 US DST changes (10 March, 3 November) and plain days.
    anchors = [
        datetime(2024, 3, 10, 6, 30, tzinfo=UTC),
        datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
        datetime(2024, 11, 17, 23, 59, 59, tzinfo=UTC),
        datetime(2024, 6, 1, 0, 0, tzinfo=UTC),
    ]
    apps: list[AppSpec] = []
    for i in range(n):
        account = account_ids[i % len(account_ids)]
        kind = i % 10
        if kind == 0:  # no clicks
            created = rng.choice(anchors) + timedelta(minutes=rng.randint(-600, 600))
            apps.append(AppSpec(created, account_id=account))
            continue
        if kind == 1:  # exact velocity: age k days, clicks = k or 2k
            days = rng.randint(1, 5)
            created = AS_OF - timedelta(days=days)
            count = days * rng.choice([1, 2])
        elif kind == 2:  # younger than a day: velocity = clicks
            created = AS_OF - timedelta(hours=rng.choice([1, 12, 23]))
            count = rng.choice([1, 2, 3])
        else:
            created = rng.choice(anchors) + timedelta(
                minutes=rng.randint(-720, 720), microseconds=rng.choice([0, 1, 999_999])
            )
            count = rng.randint(1, 22)
        first = created + rng.choice(
            [
                timedelta(0),
                2 * H,
                4 * H,
                8 * H,
                2 * H - timedelta(microseconds=1),
                4 * H - timedelta(microseconds=1),
                8 * H + timedelta(microseconds=1),
                timedelta(minutes=rng.randint(1, 3000)),
                timedelta(seconds=-30),  # bad data: a click before the application
                timedelta(minutes=17, seconds=59, microseconds=500_000),  # 0.3 h rounding
            ]
        )
        clicks: list[ClickSpec] = []
        at = first
        for j in range(count):
            if j > 0:
                at = at + rng.choice(
                    [
                        timedelta(0),  # equal timestamps: click_id breaks the tie
                        timedelta(minutes=rng.randint(1, 90)),
                        timedelta(hours=rng.randint(1, 30)),
                    ]
                )
            clicks.append(
                ClickSpec(
                    rng.choice(FUNCTIONS[: rng.randint(1, len(FUNCTIONS))]),
                    at=at,
                    session_id=rng.choice([None, "s1", "s2", f"s{i}"]),
                    click_id=uuid.uuid4(),  # known before the insert: it breaks ties
                )
            )
        if kind == 3:  # a bot click and a click after as_of: neither counts
            clicks.append(ClickSpec("Calendly", at=first, bot=True, click_id=uuid.uuid4()))
            clicks.append(
                ClickSpec("Calendly", at=AS_OF + timedelta(microseconds=1), click_id=uuid.uuid4())
            )
        if kind == 4:  # a click exactly at as_of counts
            clicks.append(ClickSpec("Portfolio", at=AS_OF, click_id=uuid.uuid4()))
        apps.append(AppSpec(created, clicks=clicks, account_id=account))
    return apps


def _expected(app: AppSpec, tz: str, as_of: datetime) -> Any:
    return compute_metrics(
        applied_at=app.created_at,
        clicks=[
            ClickEvent(str(c.click_id), app.clicked_at(c), c.function, c.session_id)
            for c in app.clicks
            if not c.bot
        ],
        as_of=as_of,
        tz=ZoneInfo(tz),
    )


def _assert_row_matches(row: dict[str, Any], m: Any, as_of: datetime, threshold: int = 70) -> None:
    where = f"application {row['application_id']}"
    assert row["total_click_events"] == m.total_click_events, where
    assert tuple(row["click_sequence"]) == m.click_sequence, where
    assert row["unique_functions_clicked"] == m.unique_functions_clicked, where
    assert row["time_to_first_click"] == m.time_to_first_click, where
    assert row["hours_to_first_click"] == m.hours_to_first_click, where
    assert row["time_between_first_last_click"] == m.time_between_first_last_click, where
    assert row["hours_between_first_last_click"] == m.hours_between_first_last_click, where
    assert row["peak_click_hour"] == m.peak_click_hour, where
    assert tuple(row["click_days_of_week"]) == m.click_days_of_week, where
    assert row["engagement_velocity"] == m.engagement_velocity, where
    assert row["engagement_score"] == m.engagement_score, where
    assert row["intent_score"] == m.intent_score, where
    assert row["calculated_at"] == as_of, where
    # seed 000 §1.1 columns
    assert row["first_click_timestamp"] == m.first_click_at, where
    assert row["last_click_timestamp"] == m.last_click_at, where
    assert row["total_clicks"] == m.total_click_events, where
    assert row["unique_click_sessions"] == m.unique_click_sessions, where
    assert row["most_clicked_link_function"] == m.most_clicked_link_function, where
    assert row["app_engagement_score"] == m.engagement_score, where
    assert row["is_high_priority"] == (m.engagement_score > threshold), where


async def _run(
    db_sessions: async_sessionmaker[AsyncSession],
    *,
    as_of: datetime,
    account_id: uuid.UUID | None = None,
    id_from: uuid.UUID | None = None,
    id_to: uuid.UUID | None = None,
) -> Any:
    async with db_sessions() as session, session.begin():
        return await compute_analytics(
            session,
            as_of=as_of,
            high_priority_threshold=70,
            account_id=account_id,
            id_from=id_from,
            id_to=id_to,
        )


async def test_sql_batch_equals_reference_on_random_click_sets(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    zones = {await create_account(db_sessions, timezone=tz): tz for tz in ZONES}
    accounts = list(zones)
    rng = random.Random(20241120)
    apps = _random_apps(rng, accounts, 400)
    ids = await create_applications(db_sessions, None, apps)

    for account in accounts:
        # Chunked exactly as the jobs do: id ranges of 37 applications.
        async with db_sessions() as session:
            chunks = await plan_chunks(session, chunk_size=37, account_id=account)
        assert sum(c.applications for c in chunks) == 100
        for chunk in chunks:
            result = await _run(
                db_sessions,
                as_of=AS_OF,
                account_id=account,
                id_from=chunk.id_from,
                id_to=chunk.id_to,
            )
            assert result.applications == chunk.applications

    rows = await analytics_rows(db_sessions, accounts)
    assert len(rows) == 400
    scores = set()
    for app_id, app in zip(ids, apps, strict=True):
        assert app.account_id is not None
        m = _expected(app, zones[app.account_id], AS_OF)
        _assert_row_matches(rows[app_id], m, AS_OF)
        scores.add((m.engagement_score, m.intent_score))
    # The generator reaches a spread of scores, not one corner.
    assert len(scores) > 30


async def test_hand_computed_fixture(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    account = await create_account(db_sessions, timezone="America/New_York")
    created = datetime(2024, 11, 1, 12, 0, tzinfo=UTC)  # Friday 08:00 in New York
    as_of = datetime(2024, 11, 3, 12, 0, tzinfo=UTC)  # two days later
    a = uuid.UUID(int=1)
    b = uuid.UUID(int=2)
    app = AppSpec(
        created,
        clicks=[
            # 2 h exactly after applying: not "very quick" (< 2), quick (< 4 and < 8)
            ClickSpec("LinkedIn", at=created + 2 * H, session_id="s1", click_id=b),
            ClickSpec(
                "Calendly", at=created + 2 * H, session_id="s1", click_id=a
            ),  # same instant, smaller id: first
            # Sunday 3 Nov 2024 05:30 UTC = 01:30 EST (after the fall-back change)
            ClickSpec(
                "LinkedIn",
                at=datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
                click_id=uuid.UUID(int=3),
            ),
            ClickSpec(
                "Portfolio",
                at=datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
                session_id="s2",
                click_id=uuid.UUID(int=4),
            ),
        ],
        account_id=account,
    )
    empty = AppSpec(created, account_id=account)
    app_id, empty_id = await create_applications(db_sessions, None, [app, empty])
    result = await _run(db_sessions, as_of=as_of, account_id=account)
    assert result.applications == 2
    rows = await analytics_rows(db_sessions, [account])
    row = rows[app_id]
    assert row["click_sequence"] == ["Calendly", "LinkedIn", "Portfolio", "LinkedIn"]
    assert row["total_click_events"] == 4
    assert row["unique_functions_clicked"] == 3
    assert row["time_to_first_click"] == timedelta(hours=2)
    assert row["hours_to_first_click"] == Decimal("2.00")
    # 12:00 -> 06:30 on 3 Nov: 40.5 h between first (14:00 on 1 Nov) and last click
    assert row["hours_between_first_last_click"] == Decimal("40.50")
    # local hours: 10:00 EDT, 10:00 EDT, 01:30 EST (06:30 UTC), 01:30 EDT (05:30 UTC) -> tie 1 vs 10
    assert row["peak_click_hour"] == 1
    assert row["click_days_of_week"] == [0, 5]  # Sunday, Friday
    assert row["engagement_velocity"] == Decimal("2.0000")  # 4 clicks / 2 days, exactly 2
    # engagement: any 10 + LinkedIn 25 + Calendly 40 + repeat 1*5 + quick 30 + weekend 20
    #             + 2 more functions 20 = 150 -> 100
    assert row["engagement_score"] == 100
    # intent: 2 h -> 30; velocity exactly 2 -> 15; Calendly 40; 4 clicks > 3 -> 20 = 105 -> 100
    assert row["intent_score"] == 100
    assert row["unique_click_sessions"] == 2
    assert row["most_clicked_link_function"] == "LinkedIn"
    assert row["is_high_priority"] is True
    none = rows[empty_id]
    assert none["total_click_events"] == 0
    assert none["click_sequence"] == []
    assert none["click_days_of_week"] == []
    assert none["time_to_first_click"] is None
    assert none["hours_to_first_click"] is None
    assert none["peak_click_hour"] is None
    assert none["engagement_velocity"] == Decimal("0.0000")
    assert (none["engagement_score"], none["intent_score"]) == (0, 0)
    assert none["first_click_timestamp"] is None
    assert none["is_high_priority"] is False


async def test_intent_boundaries_by_hand(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    account = await create_account(db_sessions)
    created = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)  # a Wednesday
    as_of = created + timedelta(days=10)

    def one(offset: timedelta) -> AppSpec:
        return AppSpec(
            created,
            clicks=[ClickSpec("X", at=created + offset)],
            account_id=account,
        )

    cases = {
        timedelta(0): (10 + 30, 50),  # 0 h is a quick response
        2 * H - timedelta(microseconds=1): (40, 50),
        2 * H: (40, 30),
        4 * H - timedelta(microseconds=1): (40, 30),
        4 * H: (10, 30),
        8 * H - timedelta(microseconds=1): (10, 30),
        8 * H: (10, 0),
    }
    ids = await create_applications(db_sessions, None, [one(offset) for offset in cases])
    apps = dict(zip(cases, ids, strict=True))
    await _run(db_sessions, as_of=as_of, account_id=account)
    rows = await analytics_rows(db_sessions, [account])
    for offset, (engagement, intent) in cases.items():
        row = rows[apps[offset]]
        assert (row["engagement_score"], row["intent_score"]) == (engagement, intent), offset
        assert row["engagement_velocity"] == Decimal("0.1000")


async def test_rerun_is_idempotent_and_writes_nothing(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    account = await create_account(db_sessions, timezone="America/New_York")
    apps = _random_apps(random.Random(7), [account], 60)
    await create_applications(db_sessions, None, apps)
    first = await _run(db_sessions, as_of=AS_OF, account_id=account)
    assert (first.applications, first.analytics_written) == (60, 60)
    # Only applications with a human click up to as_of change from the column defaults.
    assert first.applications_written == sum(
        1 for a in apps if any(not c.bot and a.clicked_at(c) <= AS_OF for c in a.clicks)
    )
    before = await analytics_rows(db_sessions, [account])
    second = await _run(db_sessions, as_of=AS_OF, account_id=account)
    assert (second.applications, second.analytics_written, second.applications_written) == (
        60,
        0,
        0,
    )
    assert await analytics_rows(db_sessions, [account]) == before


async def test_as_of_backfill_ignores_later_clicks(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    account = await create_account(db_sessions)
    created = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
    app = AppSpec(
        created,
        clicks=[
            ClickSpec("LinkedIn", at=created + 1 * H),
            ClickSpec("Calendly", at=created + timedelta(days=3)),
        ],
        account_id=account,
    )
    (app_id,) = await create_applications(db_sessions, None, [app])
    early = created + timedelta(days=2)
    await _run(db_sessions, as_of=early, account_id=account)
    row = (await analytics_rows(db_sessions, [account]))[app_id]
    assert row["click_sequence"] == ["LinkedIn"]
    assert row["engagement_velocity"] == Decimal("0.5000")  # 1 click / 2 days
    assert row["calculated_at"] == early
    # intent: < 2 h -> 50 only; engagement: 10 + 25 + 30 = 65, not high priority
    assert (row["engagement_score"], row["intent_score"]) == (65, 50)
    assert row["is_high_priority"] is False

    late = created + timedelta(days=4)
    await _run(db_sessions, as_of=late, account_id=account)
    row = (await analytics_rows(db_sessions, [account]))[app_id]
    assert row["click_sequence"] == ["LinkedIn", "Calendly"]
    assert row["engagement_velocity"] == Decimal("0.5000")  # 2 clicks / 4 days
    # engagement: 10 + 25 + 40 + 30 + 10 (two functions) = 115 -> 100
    assert row["engagement_score"] == 100
    assert row["is_high_priority"] is True
    assert row["total_clicks"] == 2


async def test_single_application_range(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    account = await create_account(db_sessions)
    apps = _random_apps(random.Random(3), [account], 10)
    target = (await create_applications(db_sessions, None, apps))[5]
    async with db_sessions() as session:
        chunks = await plan_chunks(session, chunk_size=100, application_id=target)
    assert [(c.id_from, c.id_to, c.applications) for c in chunks] == [(target, target, 1)]
    result = await _run(db_sessions, as_of=AS_OF, id_from=target, id_to=target)
    assert result.applications == 1
    rows = await analytics_rows(db_sessions, [account])
    assert [k for k, r in rows.items() if r["application_id"] is not None] == [target]
