from __future__ import annotations

import pytest

from domain.validation import (
    EMAIL_EVENT_TYPES,
    LINK_TYPES,
    STATUSES,
    ValidationError,
    validate_email,
    validate_email_event_type,
    validate_link_function,
    validate_link_type,
    validate_status,
    validate_text,
    validate_timezone,
    validate_url,
    validate_webhook_url,
)


def test_validation_error_carries_field_and_message() -> None:
    error = ValidationError("original_url", "original_url must be absolute.")
    assert isinstance(error, Exception)
    assert error.field == "original_url"
    assert error.message == "original_url must be absolute."
    assert str(error) == "original_url must be absolute."


def test_constants() -> None:
    assert STATUSES == ("applied", "interview", "offer", "rejected", "withdrawn")
    assert EMAIL_EVENT_TYPES == (
        "opened",
        "clicked",
        "bounced",
        "delivered",
        "unsubscribed",
        "spam_reported",
    )
    assert LINK_TYPES == ("profile", "job_posting", "application", "document", "external")


# --- URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://linkedin.com/in/steve-glen", "https://linkedin.com/in/steve-glen"),
        ("http://steveglen.com", "http://steveglen.com"),
        ("  https://calendly.com/steve-glen/30min \n", "https://calendly.com/steve-glen/30min"),
        ("HTTPS://Example.COM/Path?q=1#frag", "HTTPS://Example.COM/Path?q=1#frag"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://sub.domain.example.co.uk/a%20b", "https://sub.domain.example.co.uk/a%20b"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/"),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
        ("https://bücher.example/", "https://bücher.example/"),
        (
            "https://example.com/?next=javascript:alert(1)",
            "https://example.com/?next=javascript:alert(1)",
        ),
    ],
)
def test_validate_url_accepts(value: str, expected: str) -> None:
    assert validate_url(value, field="original_url") == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "original_url is empty"),
        ("   ", "original_url is empty"),
        ("javascript:alert(1)", "uses a javascript: URL"),
        ("JavaScript:alert(1)", "uses a javascript: URL"),
        ("  javascript:alert(document.cookie)", "uses a javascript: URL"),
        ("java\tscript:alert(1)", "control characters"),
        ("data:text/html;base64,PHNjcmlwdD4=", "uses a data: URL"),
        ("vbscript:msgbox(1)", "uses a vbscript: URL"),
        ("file:///etc/passwd", "uses a file: URL"),
        ("/relative/path", "must be an absolute URL"),
        ("example.com/page", "must be an absolute URL"),
        ("//example.com/page", "must be an absolute URL"),
        ("ftp://example.com/file", "must be an absolute URL"),
        ("mailto:someone@example.com", "must be an absolute URL"),
        ("https://user:pass@example.com/", "must not contain a user name or password"),
        ("https://user@example.com/", "must not contain a user name or password"),
        ("https://@example.com/", "must not contain a user name or password"),
        ("https://", "has no valid host name"),
        ("https:///path", "has no valid host name"),
        ("https:example.com", "has no valid host name"),
        ("https://-bad-.example/", "has no valid host name"),
        ("https://exa<mple.com/", "has no valid host name"),
        ("https://example.com:99999/", "is not a valid URL"),
        ("https://example.com:port/", "is not a valid URL"),
        ("http://[::1/", "is not a valid URL"),
        ("https://exa mple.com/", "spaces or control characters"),
        ("https://example.com/\x00", "spaces or control characters"),
        ("https://example.com/\r\nSet-Cookie:x", "spaces or control characters"),
        ("https://evil.com\\@good.com/", "contains a backslash"),
        ("https://example.com/" + "a" * 1000, "1020 characters long; URLs may be at most 1000"),
    ],
)
def test_validate_url_refuses(value: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_url(value, field="original_url")
    assert info.value.field == "original_url"
    assert fragment in info.value.message
    assert info.value.message.startswith("original_url ")


def test_validate_url_max_length_is_configurable() -> None:
    url = "https://example.com/" + "a" * 30
    assert validate_url(url, field="url", max_length=50) == url
    with pytest.raises(ValidationError) as info:
        validate_url(url, field="url", max_length=49)
    assert info.value.message == "url is 50 characters long; URLs may be at most 49."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://hooks.example.com/linkinsights", "https://hooks.example.com/linkinsights"),
        ("http://localhost:9000/hook", "http://localhost:9000/hook"),
        ("http://api.localhost/hook", "http://api.localhost/hook"),
        ("http://127.0.0.1:9000/hook", "http://127.0.0.1:9000/hook"),
        ("http://127.8.9.10/hook", "http://127.8.9.10/hook"),
        ("http://[::1]:9000/hook", "http://[::1]:9000/hook"),
    ],
)
def test_validate_webhook_url_accepts_private_targets_when_allowed(
    value: str, expected: str
) -> None:
    assert validate_webhook_url(value, allow_private=True) == expected


@pytest.mark.parametrize(
    "value",
    [
        "https://localhost:9000/hook",
        "https://api.localhost/hook",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://10.0.0.5/x",
        "https://192.168.1.1/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.100.100.200/",
        "https://[fd00:ec2::254]/",
        "https://[::ffff:127.0.0.1]/",
        "https://0.0.0.0/",
    ],
)
def test_validate_webhook_url_refuses_private_targets_by_default(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_webhook_url(value)
    assert "loopback, private or link-local" in info.value.message
    assert "WEBHOOK_ALLOW_PRIVATE_TARGETS" in info.value.message


def test_validate_webhook_url_accepts_a_public_target() -> None:
    assert validate_webhook_url("https://93.184.215.14/x") == "https://93.184.215.14/x"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("http://hooks.example.com/x", "must use https://"),
        ("http://8.8.8.8/x", "must use https://"),
        ("http://localhost.evil.io/x", "must use https://"),
        ("javascript:alert(1)", "uses a javascript: URL"),
        ("https://user:pw@hooks.example.com/", "must not contain a user name or password"),
    ],
)
def test_validate_webhook_url_refuses(value: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_webhook_url(value)
    assert info.value.field == "webhook_url"
    assert fragment in info.value.message


# --- link function and type -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("LinkedIn", "LinkedIn"),
        ("Calendly", "Calendly"),
        ("Portfolio", "Portfolio"),
        ("Company_Website", "Company_Website"),
        ("Apply_Now", "Apply_Now"),
        ("Job_Posting", "Job_Posting"),
        (" GitHub ", "GitHub"),
        ("X", "X"),
        ("A" + "b" * 49, "A" + "b" * 49),
    ],
)
def test_validate_link_function_accepts(value: str, expected: str) -> None:
    assert validate_link_function(value) == expected


@pytest.mark.parametrize(
    "value",
    ["", "1LinkedIn", "_private", "Linked In", "Linked-In", "Linked\nIn", "A" + "b" * 50, "Lïnk"],
)
def test_validate_link_function_refuses(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_link_function(value)
    assert info.value.field == "link_function"
    assert info.value.message.startswith("link_function must start with a letter")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("profile", "profile"),
        ("job_posting", "job_posting"),
        ("application", "application"),
        ("document", "document"),
        ("external", "external"),
        (" Profile ", "profile"),
    ],
)
def test_validate_link_type_accepts(value: str, expected: str) -> None:
    assert validate_link_type(value) == expected


def test_validate_link_type_refuses() -> None:
    with pytest.raises(ValidationError) as info:
        validate_link_type("website")
    assert info.value.field == "link_type"
    assert info.value.message == (
        "link_type must be one of profile, job_posting, application, document, external "
        "(got 'website')."
    )


def test_validate_status_and_event_type() -> None:
    assert validate_status("Interview") == "interview"
    assert validate_email_event_type("spam_reported") == "spam_reported"
    with pytest.raises(ValidationError) as info:
        validate_status("hired")
    assert info.value.field == "status"
    assert "applied, interview, offer, rejected, withdrawn" in info.value.message
    with pytest.raises(ValidationError) as info:
        validate_email_event_type("read")
    assert info.value.field == "event_type"


# --- timezone --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("UTC", "UTC"),
        ("Europe/Berlin", "Europe/Berlin"),
        ("America/New_York", "America/New_York"),
        (" america/new_york ", "America/New_York"),
        ("Asia/Kolkata", "Asia/Kolkata"),
    ],
)
def test_validate_timezone_accepts(value: str, expected: str) -> None:
    assert validate_timezone(value) == expected


@pytest.mark.parametrize("value", ["", "Mars/Olympus_Mons", "+02:00", "../etc/passwd", "EST5EDT/x"])
def test_validate_timezone_refuses(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_timezone(value)
    assert info.value.field == "timezone"
    assert info.value.message.startswith("timezone must be an IANA time-zone name")


# --- email -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("recruiter@example.com", "recruiter@example.com"),
        ("  Jane.Doe+jobs@Example.CO.UK ", "Jane.Doe+jobs@example.co.uk"),
        ("hr_team@mail.company-name.io", "hr_team@mail.company-name.io"),
        ("o'brien@example.org", "o'brien@example.org"),
    ],
)
def test_validate_email_accepts(value: str, expected: str) -> None:
    assert validate_email(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plainaddress",
        "@example.com",
        "user@",
        "user@localhost",
        "user@@example.com",
        "a@b@example.com",
        "user name@example.com",
        ".user@example.com",
        "user.@example.com",
        "us..er@example.com",
        "user@exa_mple.com",
        "user@-example.com",
        "user@example.c",
        "user@example.123",
        "user@example..com",
        "<script>@example.com",
        "a" * 65 + "@example.com",
        "user@" + "a" * 250 + ".com",
    ],
)
def test_validate_email_refuses(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_email(value)
    assert info.value.field == "email"
    assert info.value.message.startswith("email must be an email address like name@example.com")


def test_validate_email_custom_field() -> None:
    with pytest.raises(ValidationError) as info:
        validate_email("nope", field="contact_email")
    assert info.value.field == "contact_email"
    assert info.value.message == (
        "contact_email must be an email address like name@example.com (got 'nope')."
    )


# --- text ------------------------------------------------------------------------


def test_validate_text() -> None:
    assert validate_text("  Marketing Manager ", field="title", max_length=200) == (
        "Marketing Manager"
    )
    assert validate_text("line one\nline two\ttab", field="description", max_length=50) == (
        "line one\nline two\ttab"
    )
    assert validate_text(None, field="location", max_length=100) is None
    assert validate_text("   ", field="location", max_length=100) is None
    assert validate_text("x" * 10, field="name", max_length=10, required=True) == "x" * 10


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (None, {"required": True}, "title is required; give a non-empty value."),
        ("  ", {"required": True}, "title is required; give a non-empty value."),
        ("x" * 11, {}, "title is 11 characters long; shorten it to at most 10."),
        ("bad\x00", {}, "title contains control characters; remove them and try again."),
        ("esc\x1b[31m", {}, "title contains control characters; remove them and try again."),
    ],
)
def test_validate_text_refuses(value: str | None, kwargs: dict[str, bool], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_text(value, field="title", max_length=10, **kwargs)
    assert info.value.field == "title"
    assert info.value.message == message
