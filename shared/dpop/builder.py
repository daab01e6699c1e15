"""Making DPoP proofs as a client (RFC 9449 §4.2): for `TokenClient`, scripts and tests."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey

from .proof import DPOP_ALGORITHMS, DPOP_TYP, access_token_hash
from .uri import normalize_htu

__all__ = ["DPoPKey"]

_PrivateKey = ECKey | RSAKey | OKPKey


class DPoPKey:
    """A client's proof-of-possession key pair; `proof(...)` signs one proof per request."""

    def __init__(self, key: _PrivateKey, alg: str, *, clock: Callable[[], float] = time.time) -> None:
        if alg not in DPOP_ALGORITHMS:
            raise ValueError(f"alg must be one of {', '.join(DPOP_ALGORITHMS)}")
        if not key.is_private:
            raise ValueError("a DPoP key must be a private key: proofs are signed with it")
        self._key = key
        self.alg = alg
        self._clock = clock
        self._registry = jws.JWSRegistry(algorithms=[alg])
        self.public_jwk: dict[str, Any] = dict(key.as_dict(private=False))
        self.jkt: str = key.thumbprint()
        """RFC 7638 thumbprint: what tokens bound to this key carry as `cnf.jkt`, and `dpop_jkt` at /authorize."""

    @classmethod
    def generate(cls, alg: str = "ES256") -> DPoPKey:
        key: _PrivateKey
        if alg == "ES256":
            key = ECKey.generate_key("P-256")
        elif alg == "EdDSA":
            key = OKPKey.generate_key("Ed25519")
        elif alg in ("RS256", "PS256"):
            key = RSAKey.generate_key(2048)
        else:
            raise ValueError(f"alg must be one of {', '.join(DPOP_ALGORITHMS)}")
        return cls(key, alg)

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
    ) -> str:
        """A fresh proof for one request: `htu` is `url` without query and fragment."""
        htu = normalize_htu(url)
        if htu is None:
            raise ValueError(f"{url!r} is not an http(s) URL")
        claims: dict[str, Any] = {
            "jti": jti or secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": htu,
            "iat": int(self._clock() if iat is None else iat),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        header = {"typ": DPOP_TYP, "alg": self.alg, "jwk": self.public_jwk}
        payload = json.dumps(claims, separators=(",", ":")).encode()
        return jws.serialize_compact(header, payload, self._key, registry=self._registry)
