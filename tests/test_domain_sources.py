from __future__ import annotations

import pytest

from domain.sources import (
    CLICK_SOURCES,
    UTM_MAX_LENGTH,
    detect_click_source,
    extract_utm,
    referrer_host,
)

DASHBOARD = ("app.linkinsights.test", "localhost:8000")


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        # direct: no referrer
        (None, "direct"),
        ("", "direct"),
        ("   ", "direct"),
        # email: web-mail hosts and their subdomains
        ("https://gmail.com", "email"),
        ("https://mail.google.com/mail/u/0/#inbox", "email"),
        ("https://googlemail.com/", "email"),
        ("https://outlook.com/", "email"),
        ("https://outlook.live.com/mail/0/inbox", "email"),
        ("https://outlook.office.com/mail/", "email"),
        ("https://outlook.office365.com/owa/", "email"),
        ("https://mail.yahoo.com/d/folders/1", "email"),
        ("https://uk.mail.yahoo.com/", "email"),
        ("https://MAIL.GOOGLE.COM/", "email"),
        ("https://gmail.com./", "email"),
        ("https://mail.google.com:443/mail", "email"),
        ("android-app://com.google.android.gm/", "email"),
        ("android-app://com.microsoft.office.outlook", "email"),
        ("gmail.com", "email"),
        # linkedin
        ("https://www.linkedin.com/feed/", "linkedin"),
        ("https://linkedin.com/in/someone", "linkedin"),
        ("https://uk.linkedin.com/jobs", "linkedin"),
        ("https://lnkd.in/abc123", "linkedin"),
        ("android-app://com.linkedin.android/", "linkedin"),
        # indeed and its country sites
        ("https://www.indeed.com/viewjob?jk=1", "indeed"),
        ("https://indeed.com/", "indeed"),
        ("https://uk.indeed.com/", "indeed"),
        ("https://ca.indeed.com/jobs", "indeed"),
        ("https://www.indeed.co.uk/", "indeed"),
        ("https://au.indeed.com/", "indeed"),
        ("https://de.indeed.com/", "indeed"),
        ("https://www.indeed.com.au/", "indeed"),
        # dashboard
        ("https://app.linkinsights.test/applications/1", "dashboard"),
        ("https://APP.linkinsights.test/", "dashboard"),
        ("http://localhost:8000/graphql", "dashboard"),
        # external: other hosts, lookalikes, path and query mentions, unparseable
        ("https://notgmail.com.evil.io", "external"),
        ("https://evil.io/?r=gmail.com", "external"),
        ("https://evil.io/mail.google.com/inbox", "external"),
        ("https://gmail.com.evil.io/", "external"),
        ("https://notgmail.com/", "external"),
        ("https://www.google.com/search?q=jobs", "external"),
        ("https://yahoo.com/", "external"),
        ("https://linkedin.com.evil.io/", "external"),
        ("https://notlinkedin.com/", "external"),
        ("https://indeed.com.evil.io/", "external"),
        ("https://myindeed.com/", "external"),
        ("https://evil.io/#indeed.com", "external"),
        ("https://app.linkinsights.test.evil.io/", "external"),
        ("https://example.com/", "external"),
        ("not a url", "external"),
        ("http://[::1", "external"),
        ("ftp://gmail.com/", "external"),
        ("javascript:alert(1)", "external"),
        ("android-app://com.example.reader/", "external"),
        ("https://gmail.com\x00/", "external"),
    ],
)
def test_detect_click_source_table(referrer: str | None, expected: str) -> None:
    assert detect_click_source(referrer, dashboard_hosts=DASHBOARD) == expected


def test_dashboard_needs_configured_hosts() -> None:
    assert detect_click_source("https://app.linkinsights.test/x") == "external"
    assert detect_click_source("http://localhost:8000/", dashboard_hosts=["localhost"]) == (
        "dashboard"
    )
    assert detect_click_source("http://localhost:9000/", dashboard_hosts=["localhost:8000"]) == (
        "external"
    )


def test_dashboard_host_takes_precedence_over_email_domain() -> None:
    assert (
        detect_click_source("https://mail.google.com/", dashboard_hosts=["mail.google.com"])
        == "dashboard"
    )


def test_sources_are_the_seed_table() -> None:
    assert CLICK_SOURCES == ("email", "linkedin", "indeed", "dashboard", "direct", "external")


@pytest.mark.parametrize(
    ("referrer", "host"),
    [
        ("https://Mail.Google.com:443/mail", "mail.google.com"),
        ("https://user:pw@example.com/", "example.com"),
        ("http://[::1]:8000/", "::1"),
        ("example.org/path", "example.org"),
        ("https://", None),
        ("mailto:someone@example.com", None),
        (None, None),
        ("no host here", None),
    ],
)
def test_referrer_host(referrer: str | None, host: str | None) -> None:
    assert referrer_host(referrer) == host


def test_extract_utm_keeps_only_utm_keys_trimmed() -> None:
    params = {
        "utm_source": "  linkedin ",
        "utm_medium": "email",
        "utm_campaign": "job_search",
        "utm_term": "python developer",
        "utm_content": "cta_button",
        "ref": "abc",
        "utm_id": "42",
        "gclid": "xyz",
    }
    assert extract_utm(params) == {
        "utm_source": "linkedin",
        "utm_medium": "email",
        "utm_campaign": "job_search",
        "utm_term": "python developer",
        "utm_content": "cta_button",
    }


def test_extract_utm_caps_length_and_drops_empty_values() -> None:
    result = extract_utm({"utm_campaign": "x" * 500, "utm_source": "   ", "utm_medium": ""})
    assert result == {"utm_campaign": "x" * UTM_MAX_LENGTH}
    assert UTM_MAX_LENGTH == 200


def test_extract_utm_removes_control_characters() -> None:
    assert extract_utm({"utm_source": "news\x00letter\n"}) == {"utm_source": "newsletter"}


def test_extract_utm_key_case() -> None:
    assert extract_utm({"UTM_Source": "Email"}) == {"utm_source": "Email"}
    assert extract_utm({"utm_source": "exact", "UTM_SOURCE": "upper"}) == {"utm_source": "exact"}
    assert extract_utm({"UTM_SOURCE": "upper", "utm_source": "exact"}) == {"utm_source": "exact"}


def test_extract_utm_empty() -> None:
    assert extract_utm({}) == {}
    assert extract_utm({"page": "2"}) == {}
