"""New RSA signing keys, made by joserfc/cryptography (never by our own code)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from joserfc.jwk import RSAKey

from token_service.keys.sealing import seal

SIGNING_ALG = "RS256"


@dataclass(frozen=True)
class GeneratedKey:
    kid: str
    public_jwk: dict[str, Any]
    private_key_ciphertext: bytes


def public_jwk(key: RSAKey, kid: str) -> dict[str, Any]:
    # Only the public members, named explicitly, so a private member can never leak.
    members = key.as_dict(private=False)
    return {"kty": "RSA", "use": "sig", "alg": SIGNING_ALG, "kid": kid, "n": members["n"], "e": members["e"]}


def generate_signing_key(kek: bytes, key_size: int) -> GeneratedKey:
    key = RSAKey.generate_key(key_size, private=True)
    kid = key.thumbprint()  # RFC 7638
    pem = key.as_pem(private=True)
    return GeneratedKey(kid=kid, public_jwk=public_jwk(key, kid), private_key_ciphertext=seal(kek, pem, kid.encode()))
