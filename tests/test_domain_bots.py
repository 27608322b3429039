from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from domain.bots import (
    BOT_REASONS,
    HUMAN,
    BotVerdict,
    BurstClick,
    burst_client_key,
    burst_window_start,
    classify_request,
    find_scanner_bursts,
    is_crawler_user_agent,
    is_email_security_referrer,
)

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
EDGE_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
)
LINKEDIN_APP = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.29.4601"
)


def test_reasons_are_stable_strings() -> None:
    assert BOT_REASONS == (
        "crawler_user_agent",
        "head_request",
        "email_security_scanner",
        "scanner_burst",
    )
    assert "missing_user_agent" not in BOT_REASONS


def test_verdict_is_frozen() -> None:
    verdict = BotVerdict(is_bot=True, reason="head_request")
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.is_bot = False  # type: ignore[misc]
    assert BotVerdict(is_bot=False, reason=None) == HUMAN


# --- HEAD ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["HEAD", "head", " Head "])
def test_head_request_is_bot(method: str) -> None:
    verdict = classify_request(method=method, user_agent=CHROME, referrer=None)
    assert verdict == BotVerdict(is_bot=True, reason="head_request")


def test_head_wins_over_other_rules() -> None:
    verdict = classify_request(
        method="HEAD",
        user_agent="Googlebot/2.1",
        referrer="https://nam12.safelinks.protection.outlook.com/?url=x",
    )
    assert verdict == BotVerdict(is_bot=True, reason="head_request")


# --- user agents -----------------------------------------------------------------


@pytest.mark.parametrize(
    "user_agent",
    [
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "curl/8.4.0",
        "python-requests/2.31.0",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Twitterbot/1.0",
        "WhatsApp/2.23.20.0 A",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "SkypeUriPreview Preview/0.5",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/120.0.0.0 Safari/537.36",
        # our own extra patterns (crawlerdetect misses these)
        "http.rb/5.1.1 (Mastodon/4.1.2; +https://mastodon.social/)",
        "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
        "Slack-ImgProxy (+https://api.slack.com/robots)",
        "Mimecast URL scanner",
        "Proofpoint URL Defense",
    ],
)
def test_crawler_user_agents(user_agent: str) -> None:
    assert is_crawler_user_agent(user_agent) is True
    verdict = classify_request(method="GET", user_agent=user_agent, referrer=None)
    assert verdict == BotVerdict(is_bot=True, reason="crawler_user_agent")


@pytest.mark.parametrize("user_agent", [CHROME, SAFARI_IPHONE, FIREFOX, EDGE_MAC, LINKEDIN_APP])
def test_browsers_are_human(user_agent: str) -> None:
    assert is_crawler_user_agent(user_agent) is False
    verdict = classify_request(method="GET", user_agent=user_agent, referrer="https://gmail.com/")
    assert verdict == BotVerdict(is_bot=False, reason=None)


@pytest.mark.parametrize("user_agent", [None, "", "   "])
def test_missing_user_agent_is_not_a_bot(user_agent: str | None) -> None:
    verdict = classify_request(method="GET", user_agent=user_agent, referrer=None)
    assert verdict == BotVerdict(is_bot=False, reason=None)


def test_very_long_user_agent_is_cut_and_still_checked() -> None:
    assert is_crawler_user_agent("Googlebot/2.1 " + "x" * 100_000) is True
    assert is_crawler_user_agent(CHROME + " " + "x" * 100_000) is False


def test_user_agent_verdict_is_cached() -> None:
    from domain import bots

    agent = CHROME + " cache-probe"
    before = bots._crawler_verdict.cache_info().hits
    for _ in range(3):
        assert classify_request(method="GET", user_agent=agent, referrer=None) == HUMAN
    assert bots._crawler_verdict.cache_info().hits == before + 2


# --- email-security referrers ----------------------------------------------------


@pytest.mark.parametrize(
    "referrer",
    [
        "https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fx&data=1",
        "https://eur03.safelinks.protection.outlook.com/",
        "https://urldefense.proofpoint.com/v2/url?u=https-3A__x",
        "https://urldefense.com/v3/__https://x__;!!abc",
        "https://protect2.fireeye.com/v1/url?k=1",
        "https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fx",
        "https://protect-us.mimecast.com/s/abc",
        "https://url.uk.m.mimecastprotect.com/s/abc",
        "https://scanner.barracudanetworks.com/check",
        "https://secure-web.cisco.com/1abc/https%3A%2F%2Fx",
        "https://us-east-1.protection.sophos.com/?d=x",
    ],
)
def test_email_security_referrers(referrer: str) -> None:
    assert is_email_security_referrer(referrer) is True
    verdict = classify_request(method="GET", user_agent=CHROME, referrer=referrer)
    assert verdict == BotVerdict(is_bot=True, reason="email_security_scanner")


@pytest.mark.parametrize(
    "referrer",
    [
        None,
        "",
        "https://mail.google.com/mail/u/0/",
        "https://outlook.office.com/mail/",
        "https://safelinks.protection.outlook.com.evil.io/",
        "https://example.com/?u=urldefense.proofpoint.com",
        "https://notmimecast.com/",
        "https://www.barracuda.com/products",
        "not a url",
    ],
)
def test_other_referrers_are_human(referrer: str | None) -> None:
    assert is_email_security_referrer(referrer) is False
    assert classify_request(method="GET", user_agent=CHROME, referrer=referrer) == HUMAN


def test_crawler_user_agent_wins_over_scanner_referrer() -> None:
    verdict = classify_request(
        method="GET",
        user_agent="curl/8.4.0",
        referrer="https://urldefense.com/v3/__https://x__",
    )
    assert verdict == BotVerdict(is_bot=True, reason="crawler_user_agent")


# --- scanner bursts --------------------------------------------------------------

T0 = datetime(2025, 3, 10, 9, 0, 0, tzinfo=UTC)


def click(
    click_id: str,
    tracking_id: str,
    seconds: float,
    *,
    application_id: str = "app-1",
    session_id: str | None = "sess-1",
    ip_address: str | None = "203.0.113.7",
    user_agent: str | None = CHROME,
) -> BurstClick:
    return BurstClick(
        click_id=click_id,
        application_id=application_id,
        tracking_id=tracking_id,
        clicked_at=T0 + timedelta(seconds=seconds),
        session_id=session_id,
        ip_address=ip_address,
        user_agent=user_agent,
    )


def test_three_links_within_three_seconds_by_one_session_are_all_flagged() -> None:
    clicks = [
        click("c1", "lt_linkedin", 0),
        click("c2", "lt_portfolio", 1.2),
        click("c3", "lt_calendly", 3),
    ]
    assert find_scanner_bursts(clicks) == {"c1", "c2", "c3"}


def test_same_pattern_by_ip_and_user_agent_without_session_is_flagged() -> None:
    clicks = [
        click("c1", "lt_linkedin", 0, session_id=None),
        click("c2", "lt_portfolio", 1, session_id=None),
        click("c3", "lt_calendly", 2, session_id=None),
    ]
    assert find_scanner_bursts(clicks) == {"c1", "c2", "c3"}


def test_same_ip_with_different_user_agents_is_two_clients() -> None:
    clicks = [
        click("c1", "lt_linkedin", 0, session_id=None, user_agent=CHROME),
        click("c2", "lt_portfolio", 1, session_id=None, user_agent=FIREFOX),
    ]
    assert find_scanner_bursts(clicks) == set()


def test_same_link_by_five_sessions_is_human() -> None:
    clicks = [
        click(f"c{i}", "lt_linkedin", i * 0.5, session_id=f"sess-{i}", ip_address="198.51.100.1")
        for i in range(5)
    ]
    assert find_scanner_bursts(clicks) == set()


def test_same_link_twice_by_one_client_is_not_a_burst() -> None:
    clicks = [click("c1", "lt_linkedin", 0), click("c2", "lt_linkedin", 0.5)]
    assert find_scanner_bursts(clicks) == set()


def test_two_links_sixty_seconds_apart_are_human() -> None:
    clicks = [click("c1", "lt_linkedin", 0), click("c2", "lt_portfolio", 60)]
    assert find_scanner_bursts(clicks) == set()


def test_links_of_two_applications_by_one_client_are_not_a_burst() -> None:
    clicks = [
        click("c1", "lt_a_linkedin", 0, application_id="app-1"),
        click("c2", "lt_b_portfolio", 0.8, application_id="app-2"),
    ]
    assert find_scanner_bursts(clicks) == set()


def test_chain_is_maximal_and_whole_chain_is_flagged() -> None:
    # A, A again 5 s later, then B 5 s after that: one chain covering two links.
    clicks = [
        click("c1", "lt_linkedin", 0),
        click("c2", "lt_linkedin", 5),
        click("c3", "lt_portfolio", 10),
        click("c4", "lt_calendly", 70),  # a human visit a minute later
    ]
    assert find_scanner_bursts(clicks) == {"c1", "c2", "c3"}


def test_window_edge_is_inclusive() -> None:
    at_edge = [click("c1", "lt_linkedin", 0), click("c2", "lt_portfolio", 10)]
    past_edge = [click("c1", "lt_linkedin", 0), click("c2", "lt_portfolio", 10.001)]
    assert find_scanner_bursts(at_edge) == {"c1", "c2"}
    assert find_scanner_bursts(past_edge) == set()


def test_custom_window_and_min_links() -> None:
    clicks = [
        click("c1", "lt_linkedin", 0),
        click("c2", "lt_portfolio", 4),
        click("c3", "lt_calendly", 8),
    ]
    assert find_scanner_bursts(clicks, window=timedelta(seconds=3)) == set()
    assert find_scanner_bursts(clicks, min_links=3) == {"c1", "c2", "c3"}
    assert find_scanner_bursts(clicks[:2], min_links=3) == set()


def test_input_order_does_not_matter() -> None:
    clicks = [
        click("c3", "lt_calendly", 2),
        click("c1", "lt_linkedin", 0),
        click("c2", "lt_portfolio", 1),
    ]
    assert find_scanner_bursts(iter(clicks)) == {"c1", "c2", "c3"}


def test_clicks_without_session_or_ip_are_never_grouped() -> None:
    clicks = [
        click("c1", "lt_linkedin", 0, session_id=None, ip_address=None),
        click("c2", "lt_portfolio", 1, session_id=None, ip_address=None),
        click("c3", "lt_calendly", 2, session_id="", ip_address=""),
    ]
    assert find_scanner_bursts(clicks) == set()


def test_session_identifies_the_client_before_ip() -> None:
    # One office NAT address, two people with their own sessions.
    clicks = [
        click("c1", "lt_linkedin", 0, session_id="sess-a"),
        click("c2", "lt_portfolio", 1, session_id="sess-b"),
    ]
    assert find_scanner_bursts(clicks) == set()


def test_two_clients_bursting_independently() -> None:
    clicks = [
        click("a1", "lt_linkedin", 0, session_id="sess-a"),
        click("a2", "lt_portfolio", 1, session_id="sess-a"),
        click("b1", "lt_linkedin", 0.5, session_id="sess-b"),
        click("b2", "lt_linkedin", 1.5, session_id="sess-b"),
    ]
    assert find_scanner_bursts(clicks) == {"a1", "a2"}


def test_empty_input() -> None:
    assert find_scanner_bursts([]) == set()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_links": 1}, "min_links must be at least 2"),
        ({"window": timedelta(seconds=-1)}, "window must not be negative"),
    ],
)
def test_invalid_burst_parameters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        find_scanner_bursts([], **kwargs)  # type: ignore[arg-type]


def test_burst_client_key() -> None:
    assert burst_client_key(click("c1", "lt", 0)) == ("session", "sess-1", "")
    assert burst_client_key(click("c1", "lt", 0, session_id=None)) == (
        "ip",
        "203.0.113.7",
        CHROME,
    )
    assert burst_client_key(click("c1", "lt", 0, session_id=None, user_agent=None)) == (
        "ip",
        "203.0.113.7",
        "",
    )
    assert burst_client_key(click("c1", "lt", 0, session_id=None, ip_address=None)) is None


def test_burst_window_start_and_ingestion_use() -> None:
    now = T0 + timedelta(seconds=4)
    assert burst_window_start(now) == T0 - timedelta(seconds=6)
    assert burst_window_start(now, timedelta(seconds=30)) == T0 - timedelta(seconds=26)

    # What the redirect does: load the client's recent clicks on the application
    # since burst_window_start(now), add the new click, flag what comes back.
    history = [click("old", "lt_linkedin", -30), click("c1", "lt_linkedin", 2)]
    recent = [c for c in history if c.clicked_at >= burst_window_start(now)]
    new = click("c2", "lt_portfolio", 4)
    assert [c.click_id for c in recent] == ["c1"]
    assert find_scanner_bursts([*recent, new]) == {"c1", "c2"}
