"""Building hostile JWTs byte by byte, where joserfc (rightly) refuses to.

Tokens here are signed with raw `cryptography` or `hmac` calls over exactly the
bytes given, so a test can sign duplicate JSON members, non-string kids, JWE-only
headers and the like with the issuer's real key: the verifier must then refuse
them for what they are, not merely because a signature fails.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import NameOID
from joserfc.jwk import RSAKey

from tests.support.fake_issuer import FakeIssuer, b64, default_claims

AUDIENCE = "http://127.0.0.1:8001"

_HMAC_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def segment(value: Any) -> str:
    """bytes as they are, str as raw JSON text (so it may be malformed or repeat a member), else JSON."""
    if isinstance(value, bytes):
        return b64(value)
    if isinstance(value, str):
        return b64(value.encode())
    return b64(json.dumps(value).encode())


def rs256(key: RSAKey, signing_input: str) -> str:
    private = key.private_key
    assert private is not None
    return b64(private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))  # type: ignore[union-attr]


def hmac_signature(alg: str, secret: bytes, signing_input: str) -> str:
    return b64(hmac.new(secret, signing_input.encode(), _HMAC_HASHES[alg]).digest())


def self_signed_certificate(key: RSAKey) -> str:
    """An x5c entry (base64 DER, RFC 7515 §4.1.6) for `key`, as an attacker would embed it."""
    private = key.private_key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())  # type: ignore[union-attr]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private, hashes.SHA256())  # type: ignore[arg-type]
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


@dataclass(frozen=True)
class Forge:
    """What an attacker knows: the issuer URL, its public key, a key of their own, their own server."""

    fake: FakeIssuer
    ours: RSAKey
    """The issuer's signing key (kid k1); its private half stands in for 'the issuer really signed this'."""
    stranger: RSAKey
    """The attacker's key, never published by the issuer."""
    attacker_url: str

    @property
    def issuer(self) -> str:
        return self.fake.issuer

    def claims(self, **overrides: Any) -> dict[str, Any]:
        claims = {**default_claims(self.fake, AUDIENCE), **overrides}
        return {k: v for k, v in claims.items() if v is not DROP}

    @staticmethod
    def header(**overrides: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"alg": "RS256", "typ": "at+jwt", "kid": "k1"}
        header.update(overrides)
        return {k: v for k, v in header.items() if v is not DROP}

    def signing_input(self, header: Any = None, claims: Any = None) -> str:
        return segment(self.header() if header is None else header) + "." + segment(self.claims() if claims is None else claims)

    def signed(self, header: Any = None, claims: Any = None, key: RSAKey | None = None) -> str:
        """RS256 over exactly these header and payload bytes, by default with the issuer's own key."""
        signing_input = self.signing_input(header, claims)
        return signing_input + "." + rs256(key or self.ours, signing_input)

    def with_signature(self, header: Any, signature: str, claims: Any = None) -> str:
        return self.signing_input(header, claims) + "." + signature

    def public_key_forms(self) -> dict[str, bytes]:
        """The issuer's public key in every form an HMAC key-confusion attack might feed a verifier."""
        return {
            "pem": self.ours.as_pem(private=False),
            "der": self.ours.as_der(private=False),
            "jwk-json": json.dumps(self.ours.as_dict(private=False)).encode(),
            "empty": b"",
        }


DROP = object()
"""Pass as a header or claim value to leave that member out."""
