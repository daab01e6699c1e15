"""Where a kid that is missing from the JWKS stands in our own key lifecycle.

A kid absent from the JWKS means very different things: revoked on purpose, retired
after its tokens should have expired, active in the database but not yet served, or
not ours at all. The local database knows which, when `explain` runs next to it.
"""

from __future__ import annotations

from token_service.diagnostics.durations import utc_text
from token_service.diagnostics.local_database import LocalDatabaseUnavailable, describe_database, read_signing_keys
from token_service.keys.keyring import KeyInfo
from token_service.settings import TokenServiceSettings


def _when(moment: int | None) -> str:
    return utc_text(moment) if moment is not None else "an unknown time"


def describe_key_state(key: KeyInfo | None, kid: str, jwks_issuer: str, now: float) -> str:
    if key is None:
        return (
            f"kid {kid!r} is not in the JWKS of {jwks_issuer} and is unknown to this token service's database: the "
            "token comes from another issuer or another deployment (e.g. a dev instance with its own keys); get a "
            f"token from {jwks_issuer}"
        )
    if key.state == "revoked":
        return (
            f"kid {kid!r} is one of our keys and was revoked at {_when(key.revoked_at)}: every token it signed is "
            "rejected on purpose; get a new token"
        )
    if key.state == "retired" and key.removes_at is not None and key.removes_at <= now:
        return (
            f"kid {kid!r} is one of our keys, retired at {_when(key.retired_at)} and removed from the JWKS at "
            f"{_when(key.removes_at)}, after every token it signed should have expired: this token outlived its key; "
            "get a new token"
        )
    return (
        f"kid {kid!r} is {key.state} in this token service's database and should be published, but the JWKS of "
        f"{jwks_issuer} does not list it: the instance serving the JWKS uses another database or has not reloaded "
        "its keys yet (instances reload every few seconds)"
    )


async def local_key_state(settings: TokenServiceSettings, kid: str, jwks_issuer: str, now: float) -> str:
    try:
        keys = await read_signing_keys(settings)
    except LocalDatabaseUnavailable as exc:
        return (
            f"kid {kid!r} is not in the JWKS of {jwks_issuer}: a rotated or revoked key, or a token from another "
            f"issuer (the local database could not tell which: {exc})"
        )
    found = next((k for k in keys if k.kid == kid), None)
    sentence = describe_key_state(found, kid, jwks_issuer, now)
    return f"{sentence} [looked up in {describe_database(settings)}]"
