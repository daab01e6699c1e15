"""private_key_jwt: a client proves who it is with a JWT it signed (RFC 7523 §2.2 and §3,
RFC 7521 §4.2, OpenID Connect Core §9).

Every refusal says exactly which rule failed, because the person reading it is
usually debugging their own client's clock, audience or key rotation.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwk import OKPKey

from token_service.clients.key_cache import ClientJwksCache, KeyNotFound
from token_service.clients.key_set import SIGNING_ALGORITHMS, ClientKey, RegisteredKeySets, key_matches_alg
from token_service.clients.models import Client
from token_service.clock import Clock, system_clock
from token_service.outbound.fetcher import OutboundError
from token_service.store import EphemeralStore

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_BYTES = 8192
_EDDSA_NAMES = {"EdDSA", "Ed25519"}
# Bounded, but long enough for Authlib's default of one hour; single use (jti) is what
# stops replay, and the jti is remembered for exactly this long at most.
MAX_ASSERTION_LIFETIME = 3600

# EdDSA is accepted on purpose (the registered name most clients send); RFC 9864's
# deprecation notice would otherwise be raised on every such assertion.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)


class AssertionRefused(Exception):
    """The assertion fails a rule; `reason` is the error_description."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class UnverifiedAssertion:
    """The parts read before any key is chosen: who it claims to be and how it is signed."""

    token: str
    header: dict[str, Any]
    claims: dict[str, Any]

    @classmethod
    def parse(cls, token: str) -> UnverifiedAssertion:
        if len(token) > MAX_ASSERTION_BYTES:
            raise AssertionRefused(f"client_assertion is {len(token)} bytes; at most {MAX_ASSERTION_BYTES} are accepted")
        if token.count(".") != 2:
            raise AssertionRefused("client_assertion is not a compact JWS (three base64url parts separated by '.')")
        try:
            compact = jws.extract_compact(token.encode("ascii"))
            claims = json.loads(compact.payload)
        except (JoseError, ValueError, UnicodeError, RecursionError):
            raise AssertionRefused("client_assertion cannot be decoded: its header or payload is not base64url JSON") from None
        if not isinstance(claims, dict):
            raise AssertionRefused("client_assertion's payload is not a JSON object of claims")
        return cls(token, dict(compact.headers()), claims)

    @property
    def subject(self) -> str | None:
        value = self.claims.get("sub")
        return value if isinstance(value, str) else None


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return repr(text[:100] + ("..." if len(text) > 100 else ""))


class ClientAssertionVerifier:
    def __init__(
        self,
        key_cache: ClientJwksCache,
        replay_store: EphemeralStore,
        *,
        issuer: str,
        token_endpoint: str,
        leeway: int,
        max_lifetime: int = MAX_ASSERTION_LIFETIME,
        clock: Clock = system_clock,
    ) -> None:
        self._key_cache = key_cache
        self._replay = replay_store
        self._issuer = issuer
        self._token_endpoint = token_endpoint
        self._leeway = leeway
        self._max_lifetime = max_lifetime
        self._clock = clock
        self._registered = RegisteredKeySets()

    async def verify(self, client: Client, assertion: UnverifiedAssertion) -> None:
        """Raises AssertionRefused naming the rule; returns only for a fresh, valid assertion of `client`."""
        alg = self._check_alg(assertion.header.get("alg"))
        key = await self._key(client, assertion.header.get("kid"))
        if not key_matches_alg(key, alg):
            raise AssertionRefused(f"client_assertion is signed with {alg}, but key {key.kid!r} is a {key.key_type} key")
        registered = key.get("alg")
        if registered is not None and registered != alg:
            if {registered, alg} != _EDDSA_NAMES:
                raise AssertionRefused(f"client_assertion is signed with {alg}, but key {key.kid!r} is registered for {registered}")
            # RFC 9864: Ed25519 is the fully-specified name of EdDSA on this key's curve; same
            # signature, so the key is used under the name the assertion gives.
            key = OKPKey.import_key({k: v for k, v in key.as_dict(private=False).items() if k != "alg"})
        try:
            jws.deserialize_compact(assertion.token, key, algorithms=[alg])
        except BadSignatureError:
            raise AssertionRefused(f"client_assertion's signature does not verify with key {key.kid!r} of {self._key_source(client)}") from None
        except JoseError as exc:
            raise AssertionRefused(f"client_assertion cannot be verified: {exc.description or type(exc).__name__}") from None
        expires_at = self._check_claims(client, assertion.claims)
        await self._check_replay(client, assertion.claims["jti"], expires_at)

    def _check_alg(self, alg: Any) -> str:
        if not isinstance(alg, str):
            raise AssertionRefused("client_assertion has no alg header")
        if alg not in SIGNING_ALGORITHMS:
            why = "an unsigned JWT" if alg.lower() == "none" else "a shared-secret MAC" if alg.upper().startswith("HS") else "not on the allow-list"
            raise AssertionRefused(
                f"client_assertion is signed with {alg[:20]}, which is refused ({why}); sign with one of {', '.join(SIGNING_ALGORITHMS)}"
            )
        return alg

    def _key_source(self, client: Client) -> str:
        return f"the client's JWKS at {client.jwks_uri}" if client.jwks_uri else "the client's registered jwks"

    async def _key(self, client: Client, kid: Any) -> ClientKey:
        if kid is not None and not isinstance(kid, str):
            raise AssertionRefused("client_assertion's kid header is not a string")
        if client.jwks_uri is not None:
            try:
                return await self._key_cache.key_for(client.jwks_uri, kid)
            except KeyNotFound as exc:
                raise AssertionRefused(exc.reason) from None
            except OutboundError as exc:
                raise AssertionRefused(f"the client's JWKS at {client.jwks_uri} is unavailable: {exc.reason}") from None
        key_set = self._registered.of(client.jwks or {}, "the client's registered jwks")
        key = key_set.select(kid)
        if key is None:
            if kid is None:
                raise AssertionRefused(f"client_assertion has no kid header and the client's registered jwks holds {len(key_set.keys)} keys; name the key with kid")
            raise AssertionRefused(f"kid {kid[:80]!r} is not in the client's registered jwks (kids there: {key_set.describe_kids()})")
        return key

    def _check_claims(self, client: Client, claims: dict[str, Any]) -> int:
        cid = client.client_id
        for name in ("iss", "sub"):
            # RFC 7523 §3: both are the client_id.
            if claims.get(name) != cid:
                raise AssertionRefused(f"{name} was {_shown(claims.get(name))}, expected the client_id {cid!r} (RFC 7523 §3)")
        audiences = claims.get("aud")
        audience_list = [audiences] if isinstance(audiences, str) else audiences if isinstance(audiences, list) else []
        if not any(a in (self._issuer, self._token_endpoint) for a in audience_list):
            raise AssertionRefused(
                f"aud was {_shown(audiences) if audiences is not None else 'missing'}, expected the issuer {self._issuer!r} "
                f"or the token endpoint {self._token_endpoint!r}"
            )
        now = self._clock()
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or isinstance(exp, bool):
            raise AssertionRefused("exp is required in client_assertion (a NumericDate in seconds)")
        if exp <= now - self._leeway:
            raise AssertionRefused(f"client_assertion expired {int(now - exp)} s ago (exp {int(exp)}, allowed clock skew {self._leeway} s)")
        if exp - now > self._max_lifetime + self._leeway:
            raise AssertionRefused(
                f"client_assertion's exp is {int(exp - now)} s ahead; at most {self._max_lifetime} s are accepted (make it short-lived)"
            )
        for name in ("iat", "nbf"):
            value = claims.get(name)
            if value is None:
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise AssertionRefused(f"{name} in client_assertion is not a NumericDate")
            if value > now + self._leeway:
                raise AssertionRefused(
                    f"client_assertion's {name} is {int(value - now)} s in the future (allowed clock skew {self._leeway} s); check the client's clock"
                )
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise AssertionRefused("jti is required in client_assertion, a unique value per assertion (RFC 7523 §3)")
        if len(jti) > 256:
            raise AssertionRefused("jti in client_assertion is longer than 256 characters")
        return int(exp)

    async def _check_replay(self, client: Client, jti: str, expires_at: int) -> None:
        # Remembered until the assertion could no longer pass the exp check, in the shared
        # store, so a replay is caught on every instance (RFC 7523 §3 item 7).
        ttl = max(1.0, expires_at + self._leeway - self._clock())
        digest = hashlib.sha256(f"{client.client_id}\x00{jti}".encode()).hexdigest()
        if not await self._replay.put_if_absent(f"assertion-jti:{digest}", b"1", ttl):
            raise AssertionRefused(f"jti {jti[:80]!r} was already used; every client_assertion needs a new jti")
