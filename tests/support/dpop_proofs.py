"""Hand-made DPoP proofs, for tests that need one a correct client would never send."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, OctKey

from shared.dpop import DPoPKey, access_token_hash

__all__ = ["forged_proof", "proof_claims"]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def proof_claims(method: str, url: str, *, access_token: str | None = None, **extra: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {"jti": secrets.token_urlsafe(12), "htm": method, "htu": url, "iat": int(time.time())}
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def forged_proof(
    kind: str, method: str, url: str, *, key: DPoPKey | None = None, access_token: str | None = None
) -> str:
    """A bad proof of one kind: "alg_none", "hs256", "private_jwk"."""
    claims = proof_claims(method, url, access_token=access_token)
    if kind == "alg_none":
        public = (key or DPoPKey.generate()).public_jwk
        return f"{_b64({'typ': 'dpop+jwt', 'alg': 'none', 'jwk': public})}.{_b64(claims)}."
    if kind == "hs256":
        secret = OctKey.generate_key(256)
        header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": secret.as_dict(private=True)}
        return jws.serialize_compact(header, json.dumps(claims).encode(), secret, algorithms=["HS256"])
    if kind == "private_jwk":
        private = ECKey.generate_key("P-256")
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": private.as_dict(private=True)}
        return jws.serialize_compact(header, json.dumps(claims).encode(), private, algorithms=["ES256"])
    raise ValueError(kind)
