"""Checking one DPoP proof JWT (RFC 9449 §4.3): a pure function, no I/O.

Both sides use it: the token service for proofs at its token endpoint, resource
servers for proofs beside a DPoP-bound access token. What needs shared state (the
`jti` replay cache, server nonces) is the caller's: `check_proof` returns what the
caller needs to do it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from ..rules import is_numeric_date, strict_json
from .errors import InvalidDPoPProof
from .uri import normalize_htu

__all__ = ["DPOP_ALGORITHMS", "DPOP_TYP", "CheckedProof", "ProofPolicy", "access_token_hash", "check_proof"]

#: Asymmetric algorithms accepted for proofs, as discovery announces them.
DPOP_ALGORITHMS: tuple[str, ...] = ("ES256", "RS256", "PS256", "EdDSA")
DPOP_TYP = "dpop+jwt"

# Members that only a private (or symmetric) JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_KEY_TYPES: dict[str, type[ECKey] | type[RSAKey] | type[OKPKey]] = {"EC": ECKey, "RSA": RSAKey, "OKP": OKPKey}
_ALG_KEY_TYPE = {"ES256": "EC", "RS256": "RSA", "PS256": "RSA", "EdDSA": "OKP"}
# The members that define a public key (RFC 7638 §3.2): all a proof key is made of here;
# others (kid, use, key_ops, ext...) are ignored.
_KEY_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}
_MIN_RSA_BITS = 2048
_MAX_JTI = 256


@lru_cache(maxsize=1024)
def _imported(kty: str, members: tuple[tuple[str, str], ...]) -> tuple[ECKey | RSAKey | OKPKey, str, dict[str, Any]]:
    """A header key imported once per distinct key: a client signs many proofs with one key,
    and import plus thumbprint cost as much as the signature check itself."""
    key = _KEY_TYPES[kty].import_key(dict(members))
    return key, key.thumbprint(), dict(key.as_dict(private=False))


def access_token_hash(access_token: str) -> str:
    """The `ath` of a proof sent with `access_token` (RFC 9449 §4.2): base64url SHA-256."""
    digest = hashlib.sha256(access_token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _build_registry(algorithms: tuple[str, ...], max_bytes: int) -> jws.JWSRegistry:
    registry = jws.JWSRegistry(algorithms=list(algorithms), strict_check_header=False)
    # An RSA public key in the header makes it longer than joserfc's 512-byte default.
    registry.max_header_length = max_bytes
    return registry


@dataclass(frozen=True, slots=True)
class ProofPolicy:
    """What proofs a server accepts; fixed at start-up."""

    algorithms: tuple[str, ...] = DPOP_ALGORITHMS
    max_age: float = 300
    """Seconds a proof stays acceptable after its `iat`."""
    leeway: float = 5
    """Clock difference allowed with the client, both ways."""
    max_bytes: int = 8192
    registry: jws.JWSRegistry = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = set(self.algorithms) - set(DPOP_ALGORITHMS)
        if unknown or not self.algorithms:
            raise ValueError(f"DPoP algorithms must be among {', '.join(DPOP_ALGORITHMS)}, got {sorted(unknown) or 'none'}")
        if self.max_age <= 0 or self.leeway < 0:
            raise ValueError("max_age must be positive and leeway not negative")
        object.__setattr__(self, "registry", _build_registry(self.algorithms, self.max_bytes))

    @property
    def replay_window(self) -> float:
        """How long a `jti` must be remembered: as long as its proof could still pass."""
        return self.max_age + 2 * self.leeway


@dataclass(frozen=True, slots=True)
class CheckedProof:
    """A proof that passed every stateless check."""

    jkt: str
    """RFC 7638 SHA-256 thumbprint of the proof's public key: what `cnf.jkt` binds to."""
    jti: str
    iat: float
    nonce: str | None
    public_jwk: dict[str, Any]

    @property
    def replay_key(self) -> str:
        """Fixed-length key for the replay cache: one use per key and `jti`."""
        return hashlib.sha256(f"{self.jkt}.{self.jti}".encode()).hexdigest()


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_proof(values: Sequence[str], max_bytes: int) -> str:
    if not values:
        raise InvalidDPoPProof("the request has no DPoP header; send a DPoP proof JWT (RFC 9449 §4)")
    # A comma cannot occur in a JWT, so it means two headers joined by a client or proxy.
    if len(values) > 1 or "," in values[0]:
        raise InvalidDPoPProof("the request carries more than one DPoP proof; send exactly one DPoP header (RFC 9449 §4.3)")
    proof = values[0].strip()
    if len(proof) > max_bytes:
        raise InvalidDPoPProof(f"the DPoP proof is {len(proof)} bytes, more than the {max_bytes} accepted")
    if proof.count(".") != 2:
        raise InvalidDPoPProof("the DPoP header is not a JWT (expected three base64url parts separated by dots)")
    return proof


def _decode_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        value = strict_json(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise InvalidDPoPProof(f"the DPoP proof {what} is not valid base64url JSON (or repeats a member)") from None
    if not isinstance(value, dict):
        raise InvalidDPoPProof(f"the DPoP proof {what} is not a JSON object")
    return value


def _check_header(header: dict[str, Any], policy: ProofPolicy) -> tuple[str, ECKey | RSAKey | OKPKey, str, dict[str, Any]]:
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() != DPOP_TYP:
        raise InvalidDPoPProof(f"the DPoP proof typ is {_shown(typ)}, expected 'dpop+jwt'")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in policy.algorithms:
        why = ""
        if alg == "none":
            why = "; an unsigned proof proves nothing"
        elif isinstance(alg, str) and alg.upper().startswith("HS"):
            why = "; a symmetric algorithm cannot prove possession of a public key"
        raise InvalidDPoPProof(f"the DPoP proof alg {_shown(alg)} is not accepted (accepted: {', '.join(policy.algorithms)}){why}")
    if "crit" in header:
        raise InvalidDPoPProof("the DPoP proof lists critical header extensions, which are not supported")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise InvalidDPoPProof("the DPoP proof header has no jwk: it must carry the public key that signed it")
    private = sorted(_PRIVATE_MEMBERS & jwk.keys())
    if private:
        # Never echo the values: they are a private key the client just leaked.
        raise InvalidDPoPProof(
            f"the DPoP proof jwk holds private key members ({', '.join(private)}); put only the public key in the header "
            "and treat this key as compromised"
        )
    kty = jwk.get("kty")
    if kty != _ALG_KEY_TYPE[alg]:
        raise InvalidDPoPProof(f"the DPoP proof jwk has kty {_shown(kty)}, but alg {alg} needs a {_ALG_KEY_TYPE[alg]} key")
    members = tuple((name, jwk.get(name)) for name in _KEY_MEMBERS[kty])
    if not all(isinstance(value, str) for _, value in members):
        raise InvalidDPoPProof(f"the DPoP proof jwk is not a valid {kty} public key: it needs {', '.join(_KEY_MEMBERS[kty])} as strings")
    try:
        key, jkt, public_jwk = _imported(kty, members)
    except (JoseError, ValueError, TypeError, KeyError):
        raise InvalidDPoPProof("the DPoP proof jwk is not a valid public key") from None
    if isinstance(key, RSAKey) and key.raw_value.key_size < _MIN_RSA_BITS:
        raise InvalidDPoPProof(f"the DPoP proof's RSA key has {key.raw_value.key_size} bits; at least {_MIN_RSA_BITS} are needed")
    if isinstance(key, OKPKey) and jwk.get("crv") != "Ed25519":
        raise InvalidDPoPProof(f"the DPoP proof jwk curve {_shown(jwk.get('crv'))} is not accepted for EdDSA (Ed25519 is)")
    return alg, key, jkt, public_jwk


def check_proof(
    values: Sequence[str],
    *,
    method: str,
    uri: str,
    policy: ProofPolicy,
    now: float,
    access_token: str | None = None,
) -> CheckedProof:
    """The checked proof among the request's `DPoP` header values, or InvalidDPoPProof.

    `uri` is the request's URI as the server knows it (never taken from the proof);
    `access_token`, when the proof accompanies one, must be what `ath` hashes.
    """
    proof = _one_proof(values, policy.max_bytes)
    header_segment, payload_segment, _ = proof.split(".")
    header = _decode_segment(header_segment, "header")
    alg, key, jkt, public_jwk = _check_header(header, policy)
    try:
        jws.deserialize_compact(proof, key, algorithms=[alg], registry=policy.registry)
    except JoseError as exc:
        if exc.error == "bad_signature":
            raise InvalidDPoPProof("the DPoP proof signature does not match the key in its jwk header") from None
        raise InvalidDPoPProof(f"the DPoP proof could not be verified: {exc.description or exc.error}") from None
    claims = _decode_segment(payload_segment, "payload")
    jti, htm, htu, iat = claims.get("jti"), claims.get("htm"), claims.get("htu"), claims.get("iat")
    missing = [name for name, value in (("jti", jti), ("htm", htm), ("htu", htu), ("iat", iat)) if value is None]
    if missing:
        raise InvalidDPoPProof(f"the DPoP proof lacks {', '.join(missing)} (RFC 9449 §4.2)")
    if not isinstance(jti, str) or not jti or len(jti) > _MAX_JTI:
        raise InvalidDPoPProof(f"the DPoP proof jti must be a non-empty string of at most {_MAX_JTI} characters")
    if htm != method:
        raise InvalidDPoPProof(f"the DPoP proof is for method {_shown(htm)}, but this request is {method}")
    expected = normalize_htu(uri)
    if not isinstance(htu, str) or normalize_htu(htu) != expected or expected is None:
        raise InvalidDPoPProof(f"the DPoP proof is for URL {_shown(htu)}, but this request is to {expected}")
    if not is_numeric_date(iat):
        raise InvalidDPoPProof(f"the DPoP proof iat must be a NumericDate, got {_shown(iat)}")
    issued_at = float(iat)  # type: ignore[arg-type]  # is_numeric_date made it a finite number
    age = now - issued_at
    if age > policy.max_age + policy.leeway:
        raise InvalidDPoPProof(f"the DPoP proof was made {age:.0f} s ago; proofs are accepted for {policy.max_age:.0f} s, make a new one per request")
    if -age > policy.leeway:
        raise InvalidDPoPProof(f"the DPoP proof iat is {-age:.0f} s in the future; check the client's clock")
    if access_token is not None:
        ath = claims.get("ath")
        if ath is None:
            raise InvalidDPoPProof("the DPoP proof has no ath; a proof sent with an access token must carry its hash (RFC 9449 §4.2)")
        if not isinstance(ath, str) or not hmac.compare_digest(ath.encode(), access_token_hash(access_token).encode()):
            raise InvalidDPoPProof("the DPoP proof ath does not match the access token sent with it")
    nonce = claims.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise InvalidDPoPProof("the DPoP proof nonce must be a string")
    return CheckedProof(jkt=jkt, jti=jti, iat=issued_at, nonce=nonce, public_jwk=dict(public_jwk))
