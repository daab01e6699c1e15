"""Which keys of a published JWK Set may verify access tokens, imported once each."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from ..errors import KeySetUnavailable

__all__ = ["KeySet", "import_key_set"]

logger = logging.getLogger("shared.jwks")

_PRIVATE_RSA_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})
_MIN_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class KeySet:
    keys: Mapping[str, RSAKey]
    material: Mapping[str, tuple[tuple[str, Any], ...]]
    """Per kid, the public JWK members the key was imported from, to reuse it unchanged."""


def import_key_set(document: dict[str, Any], *, issuer: str, jwks_uri: str | None, previous: KeySet | None) -> KeySet:
    """The usable RSA signing keys of a JWKS document; keys unchanged since `previous` are reused."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise KeySetUnavailable(f"the JWKS at {jwks_uri} has no 'keys' list")
    keys: dict[str, RSAKey] = {}
    material: dict[str, tuple[tuple[str, Any], ...]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not _is_usable_signing_key(entry, issuer):
            continue
        public_members = tuple(sorted((k, v) for k, v in entry.items() if isinstance(v, (str, int, float, bool))))
        kid = entry.get("kid")
        if isinstance(kid, str) and kid in keys:
            logger.warning("JWKS of %s lists kid %r twice; using the first", issuer, kid)
            continue
        # Import each key once: reuse the object while its published members are unchanged.
        if previous is not None and isinstance(kid, str) and previous.material.get(kid) == public_members:
            key = previous.keys[kid]
        else:
            try:
                key = RSAKey.import_key(entry)
            except (JoseError, ValueError, TypeError) as exc:
                logger.warning("ignoring an unreadable key in the JWKS of %s: %s", issuer, exc)
                continue
            if key.raw_value.key_size < _MIN_RSA_BITS:
                logger.warning("ignoring kid %r of %s: RSA keys under %d bits", kid, issuer, _MIN_RSA_BITS)
                continue
            key.ensure_kid()  # RFC 7638 thumbprint when the issuer gave none
        assert key.kid is not None
        keys[key.kid] = key
        material[key.kid] = public_members
    if not keys:
        logger.warning("the JWKS of %s holds no usable RSA signing key", issuer)
    return KeySet(keys=keys, material=material)


def _is_usable_signing_key(entry: dict[str, Any], issuer: str) -> bool:
    if entry.get("kty") != "RSA":
        return False
    if entry.get("use", "sig") != "sig":
        return False
    key_ops = entry.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return False
    if _PRIVATE_RSA_MEMBERS & entry.keys():
        # A published private key is compromised by definition; never trust it.
        logger.warning("ignoring kid %r of %s: the JWKS publishes private key members", entry.get("kid"), issuer)
        return False
    return True
