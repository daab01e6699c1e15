"""The RFC 6750 §3 challenge each rejection renders to."""

from __future__ import annotations

from shared import InsufficientScope, InvalidRequest, InvalidToken, MissingToken, www_authenticate


def test_invalid_token_challenge_carries_code_and_description() -> None:
    exc = InvalidToken("token expired 42 s ago", rule="expiry")

    assert www_authenticate(exc) == 'Bearer error="invalid_token", error_description="token expired 42 s ago"'
    assert exc.status_code == 401


def test_realm_comes_first() -> None:
    exc = InvalidToken("bad", rule="format")
    assert www_authenticate(exc, realm="notes") == 'Bearer realm="notes", error="invalid_token", error_description="bad"'


def test_insufficient_scope_challenge_names_the_needed_scope() -> None:
    exc = InsufficientScope(["notes:write", "notes:read"], granted_scopes=["notes:read"])

    assert exc.status_code == 403
    assert www_authenticate(exc) == (
        'Bearer error="insufficient_scope", '
        "error_description=\"the token lacks scope 'notes:write' (it has: notes:read)\", "
        'scope="notes:write notes:read"'
    )


def test_missing_token_challenge_names_invalid_token_and_what_to_send() -> None:
    # Our interface promises error="invalid_token" for "no or bad token" (RFC 6750 §3.1 allows it).
    expected = "error=\"invalid_token\", error_description=\"the request has no access token; send it as 'Authorization: Bearer <token>'\""
    assert www_authenticate(MissingToken()) == "Bearer " + expected
    assert www_authenticate(MissingToken(), realm="api") == 'Bearer realm="api", ' + expected
    assert MissingToken().status_code == 401


def test_invalid_request_is_a_400() -> None:
    exc = InvalidRequest("two credentials", rule="credentials")
    assert exc.status_code == 400
    assert www_authenticate(exc).startswith('Bearer error="invalid_request"')


def test_description_is_kept_to_the_characters_rfc_6750_allows() -> None:
    exc = InvalidToken('audience was "x\\y" — expected ü\r\nInjected: 1', rule="audience")

    header = www_authenticate(exc)

    assert header == "Bearer error=\"invalid_token\", error_description=\"audience was 'x/y' ? expected ???Injected: 1\""
    assert header.isascii()


def test_a_401_may_name_the_scopes_to_ask_for_and_where_the_metadata_is() -> None:
    metadata = "https://api.example/.well-known/oauth-protected-resource/mcp"
    missing = www_authenticate(MissingToken(), resource_metadata=metadata, scope="notes:read notes:write")
    weak = www_authenticate(InsufficientScope(["notes:write"]), resource_metadata=metadata, scope="notes:read notes:write")

    assert missing.endswith(f'scope="notes:read notes:write", resource_metadata="{metadata}"')
    # An insufficient_scope challenge names the scopes of the refused call, never the hint.
    assert weak.endswith(f'scope="notes:write", resource_metadata="{metadata}"')
