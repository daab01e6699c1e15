"""A client's public keys (RFC 7517 JWK Set), as registered inline or served at its `jwks_uri`.

Only asymmetric signing keys are usable: a symmetric (`oct`) key or a key carrying
private members would mean the secret sits in our registry, which is the very thing
private_key_jwt exists to avoid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

ClientKey = RSAKey | ECKey | OKPKey

# RFC 9864 names Ed25519 as the fully-specified form of EdDSA; current libraries send it.
SIGNING_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA", "Ed25519")
_KEY_TYPE_OF_ALG = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC", "EdDSA": "OKP", "Ed25519": "OKP"}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_MIN_RSA_BITS = 2048


def key_label(entry: Mapping[str, Any], index: int) -> str:
    kid = entry.get("kid")
    return f"kid {str(kid)[:80]!r}" if isinstance(kid, str) else f"key #{index + 1}"


def key_problem(entry: Any, index: int) -> str | None:
    """Why this JWK cannot be a client's verification key, or None."""
    if not isinstance(entry, dict):
        return f"key #{index + 1} is not a JSON object"
    label = key_label(entry, index)
    private = [name for name in _PRIVATE_MEMBERS if name in entry]
    if entry.get("kty") == "oct":
        return f"{label} is a symmetric (oct) key; register the public half of an RSA, EC or Ed25519 key pair"
    if private:
        return (
            f"{label} contains the private member {private[0]!r}; register only the public key "
            "(the JWK Set printed by `token-service clients keygen`) and keep the private key with the client"
        )
    if entry.get("kty") not in ("RSA", "EC", "OKP"):
        return f"{label} has kty {entry.get('kty')!r}; use RSA, EC (P-256) or OKP (Ed25519)"
    if entry.get("use", "sig") != "sig":
        return f"{label} has use {entry.get('use')!r}; a client authentication key has use 'sig' (or none)"
    try:
        key = JWKRegistry.import_key(entry)
    except (JoseError, ValueError, TypeError) as exc:
        return f"{label} cannot be read: {exc}"
    if isinstance(key, RSAKey) and key.raw_value.key_size < _MIN_RSA_BITS:
        return f"{label} is an RSA key of {key.raw_value.key_size} bits; use at least {_MIN_RSA_BITS}"
    if isinstance(key, ECKey) and key.curve_name != "P-256":
        return f"{label} is on curve {key.curve_name}; ES256 needs P-256"
    if isinstance(key, OKPKey) and key.curve_name != "Ed25519":
        return f"{label} is on curve {key.curve_name}; use Ed25519"
    return None


def key_set_problems(document: Any) -> list[str]:
    """Every reason a JWK Set cannot be registered for a client (empty: it can)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        return ['it must be a JWK Set: a JSON object {"keys": [...]}']
    entries = document["keys"]
    if not entries:
        return ["it holds no keys; add the public key the client signs with"]
    problems = [p for i, entry in enumerate(entries) if (p := key_problem(entry, i)) is not None]
    kids = [str(e["kid"]) for e in entries if isinstance(e, dict) and isinstance(e.get("kid"), str)]
    duplicates = sorted({k for k in kids if kids.count(k) > 1})
    if duplicates:
        problems.append(f"kid {duplicates[0]!r} appears twice; give every key its own kid")
    return problems


@dataclass(frozen=True)
class ClientKeySet:
    source: str
    """Where the keys came from, for messages: "the client's registered jwks" or "the client's JWKS at URL"."""
    keys: Mapping[str, ClientKey]
    ignored: tuple[str, ...] = field(default=())
    """Why keys of the document were skipped (shown by `doctor` and in refusals)."""

    @classmethod
    def from_document(cls, document: Any, source: str) -> ClientKeySet:
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            return cls(source, {}, ('it is not a JWK Set: no "keys" list',))
        keys: dict[str, ClientKey] = {}
        ignored: list[str] = []
        for index, entry in enumerate(entries):
            problem = key_problem(entry, index)
            if problem is not None:
                ignored.append(problem)
                continue
            key = JWKRegistry.import_key(entry)
            assert isinstance(key, (RSAKey, ECKey, OKPKey))
            key.ensure_kid()  # RFC 7638 thumbprint when the client gave none
            assert key.kid is not None
            keys.setdefault(key.kid, key)
        return cls(source, keys, tuple(ignored))

    def select(self, kid: str | None) -> ClientKey | None:
        if kid is None:
            # Without a kid the choice is unambiguous only for a single-key set (OIDC Core §10.1).
            return next(iter(self.keys.values())) if len(self.keys) == 1 else None
        return self.keys.get(kid)

    def describe_kids(self) -> str:
        return ", ".join(repr(k) for k in self.keys) or "none"


class RegisteredKeySets:
    """Client key sets read from registered `jwks` documents, remembered by their content.

    Reading a JWK Set imports and checks every key in it (for an EC key: its point), which
    was a fifth of a private_key_jwt token request's CPU when done per request. A
    document is remembered by its canonical JSON, so a client whose keys are changed (RFC
    7592, `clients` commands) is read afresh on its next request; at most `limit` documents
    are kept.
    """

    def __init__(self, limit: int = 1024) -> None:
        self._limit = limit
        self._read: dict[bytes, ClientKeySet] = {}

    def of(self, document: Any, source: str) -> ClientKeySet:
        try:
            content = msgspec.json.encode(document, order="sorted") + source.encode()
        except (TypeError, msgspec.EncodeError):
            return ClientKeySet.from_document(document, source)  # not JSON: nothing to remember it by
        key_set = self._read.get(content)
        if key_set is None:
            if len(self._read) >= self._limit:
                self._read.clear()
            key_set = self._read[content] = ClientKeySet.from_document(document, source)
        return key_set


def key_matches_alg(key: ClientKey, alg: str) -> bool:
    return _KEY_TYPE_OF_ALG.get(alg) == key.key_type
