"""db/reader.py: statements compiled for asyncpg read exactly what SQLAlchemy reads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from analytics_fixtures import AppSpec, ClickSpec, create_account_with_key, create_applications
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import accounts as accounts_db
from db import analytics as analytics_db
from db import applications as app_db
from db import clicks as clicks_db
from db import engagement as engagement_db
from db import links as links_db
from db import predictions as predictions_db
from db.params import any_of
from db.reader import Reader, compile_read, rows
from db.tables import job_applications, link_click_analytics, link_clicks, link_tracking
from domain.apikeys import hash_key


@pytest.fixture
async def reader(database_url: str) -> AsyncIterator[Reader]:
    opened = await Reader.open(database_url, size=2, application_name="linkinsights-test")
    try:
        yield opened
    finally:
        await opened.close()


def test_compile_keeps_parameter_order_and_bound_literals() -> None:
    statement = select(func.coalesce(job_applications.c.engagement_score, 7)).where(
        any_of(job_applications.c.id)
    )
    read = compile_read(statement)
    assert read.sql.index("coalesce(job_applications.engagement_score, $1") < read.sql.index(
        "ANY ($2"
    )
    ids = [uuid.uuid4()]
    # the literal 7 travels as a parameter with its value; :ids comes from the caller
    assert read.names[1] == "ids"  # the literal's name is SQLAlchemy's to choose
    assert read.args({"ids": ids}) == [7, ids]


def test_compile_refuses_expanding_in() -> None:
    with pytest.raises(ValueError, match="expanding"):
        compile_read(select(job_applications.c.id).where(job_applications.c.id.in_([1, 2])))


def test_compile_refuses_a_parameter_computed_per_execution() -> None:
    computed = bindparam("at", callable_=lambda: datetime.now(UTC))
    with pytest.raises(ValueError, match="callable"):
        compile_read(select(job_applications.c.id).where(job_applications.c.created_at < computed))


def test_a_missing_value_is_an_error_not_a_null() -> None:
    read = compile_read(select(job_applications.c.id).where(any_of(job_applications.c.id)))
    with pytest.raises(KeyError):
        read.args({})


async def test_reader_and_session_read_the_same_values(
    sessionmaker: async_sessionmaker[AsyncSession], reader: Reader
) -> None:
    account_id, key = await create_account_with_key(sessionmaker, timezone="Europe/Berlin")
    t0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    specs = [
        AppSpec(t0, clicks=[ClickSpec("LinkedIn", 0.5), ClickSpec("Calendly", 3, bot=True)]),
        AppSpec(t0, clicks=[ClickSpec("Portfolio", 30)], job_title="Engineer"),
        AppSpec(t0),
    ]
    async with sessionmaker() as session, session.begin():
        ids = await create_applications(session, account_id, specs)
        await session.execute(
            insert(link_click_analytics).values(
                id=uuid.uuid4(),
                application_id=ids[0],
                engagement_score=55,
                hours_to_first_click=Decimal("0.50"),
                click_sequence=["LinkedIn"],
                click_days_of_week=[6],
            )
        )
        # a click with UTM metadata (jsonb) on the first application's LinkedIn link
        tracking_id = (
            await session.execute(
                select(link_tracking.c.tracking_id).where(
                    link_tracking.c.application_id == ids[0],
                    link_tracking.c.link_function == "LinkedIn",
                )
            )
        ).scalar_one()
        await session.execute(
            insert(link_clicks).values(
                click_id=uuid.uuid4(),
                tracking_id=tracking_id,
                ip_address="198.51.100.4",
                metadata={"utm_source": "mail", "n": [1, 2]},
            )
        )

    async with sessionmaker() as session:
        for include_bots in (False, True):
            pages = [
                await clicks_db.click_pages(
                    source,
                    account_id=account_id,
                    parent="application",
                    ids=ids,
                    include_bots=include_bots,
                    first=5,
                    after=None,
                )
                for source in (session, reader)
            ]
            assert pages[0] == pages[1]
            assert any(c.metadata.get("utm_source") == "mail" for c in pages[0][ids[0]])
        page, _ = await app_db.list_applications(reader, account_id=account_id, first=1)
        first_row = page[0]  # (the page holds first + 1 rows)
        keyset = (first_row.sort_value, first_row.row.id)
        high = app_db.ApplicationFilter(high_priority=False, status="applied")
        metadata = link_clicks.c.metadata
        with_utm = select(link_clicks.c.click_id).where(
            metadata.contains(bindparam("m", type_=metadata.type))
        )
        calls = [
            lambda s: app_db.applications_by_ids(s, account_id=account_id, ids=ids),
            lambda s: app_db.list_applications(s, account_id=account_id, first=2, with_total=True),
            lambda s: app_db.list_applications(
                s, account_id=account_id, first=5, after=keyset, with_job=True
            ),
            lambda s: app_db.list_applications(
                s, account_id=account_id, first=5, flt=high, order="INTENT_SCORE_DESC"
            ),
            lambda s: app_db.count_applications(s, account_id=account_id, flt=high),
            lambda s: rows(s, with_utm, {"m": {"utm_source": "mail"}}),
            lambda s: app_db.count_applications(s, account_id=account_id),
            lambda s: app_db.applications_with(
                s, account_id=account_id, ids=ids, with_job=True, with_engagement=True
            ),
            lambda s: app_db.status_history_by_application(s, account_id=account_id, ids=ids),
            lambda s: links_db.links_by_application(s, account_id=account_id, ids=ids),
            lambda s: engagement_db.engagement_by_applications(s, account_id=account_id, ids=ids),
            lambda s: clicks_db.click_counts(
                s, account_id=account_id, parent="application", ids=ids, include_bots=True
            ),
            lambda s: predictions_db.human_clicks_by_application(s, account_id=account_id, ids=ids),
            lambda s: analytics_db.summary_counts(s, account_id=account_id),
            lambda s: accounts_db.find_key(s, key_hash=hash_key(key)),
        ]
        for call in calls:
            through_session, through_reader = await call(session), await call(reader)
            if (
                isinstance(through_session, list)
                and through_session
                and not hasattr(through_session[0], "__dataclass_fields__")
            ):  # raw rows: SQLAlchemy's Row and asyncpg's Record compare by their values
                through_session = [tuple(r) for r in through_session]
                through_reader = [tuple(r) for r in through_reader]
            assert through_session == through_reader
            assert through_reader  # something was read: the comparison means something


async def test_listeners_see_every_statement(reader: Reader) -> None:
    seen: list[str] = []
    reader.listeners.append(seen.append)
    statement = select(job_applications.c.id).where(any_of(job_applications.c.id))
    assert await rows(reader, statement, {"ids": [uuid.uuid4()]}) == []
    assert len(seen) == 1
    assert seen[0].startswith("SELECT job_applications.id")
