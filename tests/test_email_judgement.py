"""Undeliverable contacts in the product's judgement (issue 17): after a hard bounce, a spam
report or an unsubscribe, no follow-up, webhook or recommended action suggests writing again."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import GraphQLClient
from factories import (
    AppSpec,
    ClickSpec,
    create_account,
    create_applications,
    create_contact,
    create_email_event,
    create_key,
    interview_after,
    recent_wednesday,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_follow_ups import FOLLOW_UPS, Receiver, receiver, run_after_batch, set_webhook

from config import Settings
from domain.engagement_facts import facts_from_clicks
from domain.predictions import (
    ACTION_DO_NOT_EMAIL,
    ACTION_NO_ENGAGEMENT_LATE,
    Outcome,
    recommended_actions,
)
from jobs.webhooks import deliver_follow_up_webhook

__all__ = ["receiver"]  # the fixture, imported from test_follow_ups

MakeAccount = Callable[..., Awaitable[uuid.UUID]]
MakeKey = Callable[..., Awaitable[str]]
SM = async_sessionmaker[AsyncSession]
APPLIED = datetime(2026, 1, 5, 9, tzinfo=UTC)


def high(score: int = 85) -> AppSpec:
    return AppSpec(
        recent_wednesday(),
        clicks=[ClickSpec("LinkedIn", 1)],
        engagement_score=score,
        is_high_priority=True,
    )


async def contact(sm: SM, app_id: uuid.UUID, *events: tuple[str, str | None]) -> uuid.UUID:
    """A contact of the application with events (type, bounce type)."""
    async with sm() as s, s.begin():
        contact_id = await create_contact(s, app_id, email="hr@acme.example", name=None, role=None)
        for kind, bounce in events:
            data = {} if bounce is None else {"event_data": {"bounce_type": bounce}}
            await create_email_event(s, contact_id, kind, **data)
    return contact_id


def test_no_action_suggests_writing_to_undeliverable_contacts() -> None:
    for undeliverable, expected in (
        (False, ACTION_NO_ENGAGEMENT_LATE),
        (True, ACTION_DO_NOT_EMAIL),
    ):
        facts = facts_from_clicks(
            applied_at=APPLIED,
            clicks=[],
            as_of=APPLIED + timedelta(days=10),
            tz=UTC,
            status="applied",
            email_undeliverable=undeliverable,
        )
        assert recommended_actions(facts, Outcome.NO_ENGAGEMENT) == [expected]


async def test_applications_whose_contacts_are_all_undeliverable_get_no_follow_up(
    db_sessions: SM, receiver: Receiver
) -> None:
    account = await create_account(db_sessions)
    await set_webhook(db_sessions, account, receiver.url)
    hard, soft, mixed, none, all_gone = await create_applications(
        db_sessions, account, [high(), high(), high(), high(), high()]
    )
    await contact(db_sessions, hard, ("delivered", None), ("bounced", "hard"))
    await contact(db_sessions, soft, ("bounced", "soft"))  # a soft bounce is not final
    await contact(db_sessions, mixed, ("unsubscribed", None))
    await contact(db_sessions, mixed, ("delivered", None), ("opened", None))
    await contact(db_sessions, all_gone, ("spam_reported", None))
    await contact(db_sessions, all_gone, ("unsubscribed", None))
    created = await run_after_batch(db_sessions, account)
    async with db_sessions() as s:
        apps = set(
            await s.scalars(
                text("SELECT application_id FROM follow_ups WHERE id = ANY(:ids)"),
                {"ids": created},
            )
        )
    # `none` has no contact at all: nothing is known against writing.
    assert apps == {soft, mixed, none}


async def test_an_unsubscribe_after_the_follow_up_hides_it_and_stops_its_webhook(
    gql: GraphQLClient,
    settings: Settings,
    sessionmaker: SM,
    receiver: Receiver,
) -> None:
    account = await create_account(sessionmaker)
    key = await create_key(sessionmaker, account)
    await set_webhook(sessionmaker, account, receiver.url)
    (app_id,) = await create_applications(sessionmaker, account, [high()])
    recruiter = await contact(sessionmaker, app_id, ("delivered", None))
    (follow_up,) = await run_after_batch(sessionmaker, account)
    assert (await gql(FOLLOW_UPS, {}, key=key))["data"]["followUps"]["totalCount"] == 1

    body = await gql(
        """mutation($i: RecordEmailEventInput!) { recordEmailEvent(input: $i) { id } }""",
        {"i": {"contactId": str(recruiter), "eventType": "UNSUBSCRIBED"}},
        key=key,
    )
    assert "errors" not in body, body
    assert (await gql(FOLLOW_UPS, {}, key=key))["data"]["followUps"]["totalCount"] == 0
    everything = await gql(FOLLOW_UPS, {"all": True}, key=key)
    assert everything["data"]["followUps"]["totalCount"] == 1  # kept, not deleted
    ctx: dict[str, Any] = {"settings": settings, "sessionmaker": sessionmaker}
    result = await deliver_follow_up_webhook(ctx, str(follow_up))
    assert result == "skipped: every contact is undeliverable"
    assert receiver.requests == []

    prediction = await gql(
        "query($id: ID!) { application(id: $id) { prediction { recommendedActions } } }",
        {"id": str(app_id)},
        key=key,
    )
    actions = prediction["data"]["application"]["prediction"]["recommendedActions"]
    assert ACTION_DO_NOT_EMAIL in actions
    assert not any("email" in a.lower() and a != ACTION_DO_NOT_EMAIL for a in actions)


BACKTEST = """{ predictionBacktest { applications auc withEmailSignals {
  applicationsWithHumanOpen aucWithout aucWith timeSplitAucWithout timeSplitAucWith raisesAuc
  summary } } }"""


async def test_prediction_backtest_reports_auc_with_and_without_email_signals(
    gql: GraphQLClient, sessionmaker: SM
) -> None:
    account = await create_account(sessionmaker)
    key = await create_key(sessionmaker, account)
    old = datetime.now(UTC) - timedelta(days=90)
    apps = [
        AppSpec(old + timedelta(hours=i), **interview_after(5 if i % 3 == 0 else None))
        for i in range(30)
    ]
    ids = await create_applications(sessionmaker, account, apps)
    for i, app_id in enumerate(ids):
        contact_id = await contact(sessionmaker, app_id, ("delivered", None))
        if i % 3 == 0:  # a human open two days in, before each interview; machines everywhere
            async with sessionmaker() as s, s.begin():
                at = apps[i].created_at
                await create_email_event(s, contact_id, event_timestamp=at + timedelta(days=2))
                machine = at + timedelta(seconds=3)
                await create_email_event(s, contact_id, event_timestamp=machine, is_machine=True)
    body = await gql(BACKTEST, {}, key=key)
    assert "errors" not in body, body
    result = body["data"]["predictionBacktest"]
    assert result["applications"] == 30
    signals = result["withEmailSignals"]
    assert signals["applicationsWithHumanOpen"] == 10
    assert (signals["aucWithout"], signals["aucWith"]) == (0.5, 1.0)
    assert (signals["timeSplitAucWithout"], signals["timeSplitAucWith"]) == (0.5, 1.0)
    assert signals["raisesAuc"] is True
