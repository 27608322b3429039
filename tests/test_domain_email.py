"""Machine-open rules and undeliverable contacts (domain/email.py), without I/O."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.backtesting import run_backtest
from domain.email import (
    AT_DELIVERY,
    SCANNER_WINDOW,
    ContactEvent,
    MachineVerdict,
    classify_contact_events,
    classify_fetch,
    undeliverable_reason,
)
from domain.engagement_facts import PastApplication

T0 = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


def ev(kind: str, seconds: float, url: str | None = None, **kw: object) -> ContactEvent:
    return ContactEvent(
        id=uuid.uuid4(),
        event_type=kind,
        at=T0 + timedelta(seconds=seconds),
        clicked_url=url,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("agent", "ip", "reason"),
    [
        ("Mozilla/5.0", "203.0.113.9", "apple_mpp_user_agent"),
        (" mozilla/5.0 ", None, "apple_mpp_user_agent"),
        (CHROME, "17.58.100.4", "apple_mpp_network"),
        (None, "17.0.0.1", "apple_mpp_network"),
        (GMAIL, "66.249.84.1", "gmail_image_proxy"),
        (CHROME, "203.0.113.9", None),
        (None, None, None),
        (CHROME, "not an ip", None),
        (CHROME, "18.0.0.1", None),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)", "2001:db8::1", None),
    ],
)
def test_request_rules(agent: str | None, ip: str | None, reason: str | None) -> None:
    verdict = classify_fetch(user_agent=agent, ip_address=ip)
    assert verdict == MachineVerdict(reason is not None, reason)


def test_open_within_seconds_of_delivery_is_a_prefetch() -> None:
    delivered = ev("delivered", 0)
    prefetch = ev("opened", AT_DELIVERY.total_seconds())
    reader = ev("opened", AT_DELIVERY.total_seconds() + 1)
    verdicts = classify_contact_events([delivered, prefetch, reader])
    assert verdicts[prefetch.id] == MachineVerdict(True, "opened_at_delivery")
    assert verdicts[reader.id] == MachineVerdict.human()
    assert delivered.id not in verdicts  # only opens and clicks get a verdict


def test_open_before_any_delivery_and_click_at_delivery_stay_human() -> None:
    early = ev("opened", -2)
    delivered = ev("delivered", 0)
    click = ev("clicked", 1, "https://a.example")
    verdicts = classify_contact_events([early, delivered, click])
    assert verdicts == {early.id: MachineVerdict.human(), click.id: MachineVerdict.human()}


def test_open_and_clicks_of_the_whole_email_within_seconds_is_a_scanner() -> None:
    delivered = ev("delivered", 0)
    w = SCANNER_WINDOW.total_seconds()
    opened = ev("opened", 600)
    a = ev("clicked", 601, "https://a.example")
    b = ev("clicked", 600 + w, "https://b.example")
    later = ev("clicked", 600 + w + 60, "https://a.example")
    verdicts = classify_contact_events([delivered, opened, a, b, later])
    for e in (opened, a, b):
        assert verdicts[e.id] == MachineVerdict(True, "scanner_burst")
    assert verdicts[later.id] == MachineVerdict.human()


def test_no_scanner_burst_without_two_links_or_without_an_open() -> None:
    # An open and one link (clicked twice) within the window: a reader who clicked at once.
    opened = ev("opened", 600)
    a1 = ev("clicked", 602, "https://a.example")
    a2 = ev("clicked", 603, "https://a.example")
    assert not any(v.is_machine for v in classify_contact_events([opened, a1, a2]).values())
    # Two links but no open nearby.
    b = ev("clicked", 700, "https://b.example")
    c = ev("clicked", 701, "https://c.example")
    assert not any(v.is_machine for v in classify_contact_events([opened, b, c]).values())
    # An open and two links just wider apart than the window.
    w = SCANNER_WINDOW.total_seconds()
    o = ev("opened", 0)
    x = ev("clicked", 1, "https://x.example")
    y = ev("clicked", w + 0.5, "https://y.example")
    verdicts = classify_contact_events([o, x, y])
    assert not any(v.is_machine for v in verdicts.values())


def test_recorded_request_reason_is_kept_and_stored_agent_is_judged() -> None:
    # A DNT open judged at the request: no agent stored, the verdict stays.
    kept = ev("opened", 3600, is_machine=True, machine_reason="apple_mpp_user_agent")
    # Recorded without a verdict (a provider event, a raw row): judged from its stored agent.
    stored = ev("opened", 7200, user_agent=GMAIL)
    # A timing verdict recorded earlier is decided again from the events.
    stale = ev("opened", 9000, is_machine=True, machine_reason="opened_at_delivery")
    verdicts = classify_contact_events([kept, stored, stale])
    assert verdicts[kept.id] == MachineVerdict(True, "apple_mpp_user_agent")
    assert verdicts[stored.id] == MachineVerdict(True, "gmail_image_proxy")
    assert verdicts[stale.id] == MachineVerdict.human()


@pytest.mark.parametrize(
    ("kind", "data", "reason"),
    [
        (
            "bounced",
            {"bounce_type": "hard", "bounce_reason": "mailbox_does_not_exist"},
            "hard_bounce",
        ),
        ("bounced", {"bounce_type": "soft"}, None),
        ("bounced", None, None),
        ("spam_reported", None, "spam_reported"),
        ("unsubscribed", {}, "unsubscribed"),
        ("opened", None, None),
        ("delivered", None, None),
    ],
)
def test_undeliverable_reason(kind: str, data: dict[str, str] | None, reason: str | None) -> None:
    assert undeliverable_reason(kind, data) == reason


# --- the backtest with and without a human open (domain/backtesting.py) ------------------------


def _past(n: int, *, opens_predict: bool) -> list[PastApplication]:
    """n applications without clicks; every third reached an interview after 5 days. With
    ``opens_predict`` exactly those had a human open on day 2; otherwise every other one,
    whatever its outcome."""
    apps = []
    for i in range(n):
        created = T0 + timedelta(hours=i)
        interview = i % 3 == 0
        opened = interview if opens_predict else i % 2 == 0
        apps.append(
            PastApplication(
                application_id=f"app-{i:04d}",
                created_at=created,
                reached_interview=interview,
                first_interview_at=created + timedelta(days=5) if interview else None,
                clicks=(),
                first_human_open_at=created + timedelta(days=2) if opened else None,
            )
        )
    return apps


def test_backtest_reports_auc_with_and_without_a_human_open() -> None:
    report = run_backtest(
        _past(60, opens_predict=True), observation_days=7, tz=UTC, prior_strength=10.0
    )
    signals = report.email_signals
    assert signals is not None
    assert signals.applications_with_human_open == 20
    # Without clicks every application scores 0: one probability, AUC 0.5.
    assert signals.auc_without == 0.5
    assert signals.time_split_auc_without == 0.5
    assert signals.auc_with == 1.0
    assert signals.time_split_auc_with == 1.0
    assert signals.raises_auc is True
    assert signals.summary.startswith("A human email open raises the AUC out of sample")


def test_an_uninformative_open_does_not_raise_the_auc() -> None:
    report = run_backtest(
        _past(60, opens_predict=False), observation_days=7, tz=UTC, prior_strength=10.0
    )
    signals = report.email_signals
    assert signals is not None
    assert signals.raises_auc is False
    assert "does not raise" in signals.summary


def test_an_open_after_the_interview_or_the_window_is_not_evidence() -> None:
    apps = [
        replace(a, first_human_open_at=a.first_interview_at + timedelta(hours=1))
        if a.first_interview_at is not None
        else replace(a, first_human_open_at=a.created_at + timedelta(days=8))
        for a in _past(60, opens_predict=True)
    ]
    report = run_backtest(apps, observation_days=7, tz=UTC, prior_strength=10.0)
    assert report.email_signals is not None
    assert report.email_signals.applications_with_human_open == 0
    assert report.email_signals.raises_auc is False
