"""The redaction processor, the safety net behind every log line."""

from __future__ import annotations

from token_service.observability.redaction import REDACTED, redact_sensitive

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"


def test_sensitive_keys_are_masked_at_any_depth() -> None:
    event = redact_sensitive(
        None,
        "info",
        {"event": "x", "password": "hunter2", "client_secret": "s3", "headers": {"Authorization": "Basic abc", "accept": "*/*"}, "code": "c0de"},
    )
    assert event["password"] == REDACTED and event["client_secret"] == REDACTED and event["code"] == REDACTED
    assert event["headers"] == {"Authorization": REDACTED, "accept": "*/*"}


def test_jwt_shaped_values_are_masked_inside_any_string_but_dotted_names_are_kept() -> None:
    event = redact_sensitive(None, "info", {"event": f"verifying {JWT} now", "logger": "token_service.endpoints.login", "items": [JWT]})
    assert JWT not in str(event)
    assert event["event"] == "verifying [redacted-jwt] now"
    assert event["logger"] == "token_service.endpoints.login"
