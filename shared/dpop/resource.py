"""What a resource server does per request: Bearer or DPoP (RFC 9449 §7), one place.

`RequestAuthenticator.authenticate` takes the request's `Authorization` and `DPoP`
header values, its method and path, and returns the verified claims:

- `Authorization: DPoP <token>` needs a proof for this method and URL whose `ath`
  hashes the token and whose key is the one the token is bound to (`cnf.jkt`); each
  proof is used once.
- `Authorization: Bearer <token>` is refused for a DPoP-bound token (a copied token
  must not work without its key), and refused altogether with `require=True`.

The URL a proof must name is built from the configured external base URL and the
request path, never from the Host header, which the client controls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..bearer import credentials_from
from ..claims import AccessTokenClaims
from ..errors import InsufficientScope, InvalidToken, TokenRejected, _header_safe, www_authenticate
from ..verifier import AccessTokenVerifier
from .errors import InvalidDPoPProof
from .proof import ProofPolicy, check_proof
from .replay import MemoryReplayCache, ReplayCache
from .uri import normalize_htu, request_htu

__all__ = ["DPoPOptions", "RequestAuthenticator", "bound_key_of"]

_SCHEMES = ("Bearer", "DPoP")


@dataclass(frozen=True)
class DPoPOptions:
    """How an API treats DPoP; the defaults accept both schemes."""

    public_url: str | None = None
    """External base URL of the API (scheme, host, port, any path prefix a proxy adds);
    None: the origin of the verifier's audience."""
    require: bool = False
    """Refuse bearer tokens: every request needs a DPoP-bound token and its proof."""
    replay: ReplayCache | None = None
    """Where proof `jti`s are remembered; None: this process's memory (one instance only)."""
    policy: ProofPolicy = field(default_factory=ProofPolicy)


def bound_key_of(claims: Mapping[str, Any]) -> str | None:
    """The `cnf.jkt` a token is bound to (RFC 9449 §6.1), or None for a bearer token."""
    cnf = claims.get("cnf")
    if not isinstance(cnf, dict):
        return None
    jkt = cnf.get("jkt")
    return jkt if isinstance(jkt, str) else None


def _origin(url: str) -> str | None:
    if normalize_htu(url) is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class RequestAuthenticator:
    """Authenticates requests to one API with its verifier, under its DPoP options."""

    def __init__(self, verifier: AccessTokenVerifier, options: DPoPOptions | None = None, *, clock: Callable[[], float] = time.time) -> None:
        options = options or DPoPOptions()
        self.verifier = verifier
        self.policy = options.policy
        self.require_dpop = options.require
        self.public_url = options.public_url or _origin(verifier.policy.audience)
        if options.public_url is not None and normalize_htu(options.public_url) is None:
            raise ValueError(f"public_url {options.public_url!r} must be an http(s) URL")
        if self.require_dpop and self.public_url is None:
            raise ValueError("DPoP is required but the API's public URL is unknown (the audience is not a URL): set public_url")
        self.replay: ReplayCache = options.replay if options.replay is not None else MemoryReplayCache()
        self.schemes = ("DPoP",) if self.require_dpop else _SCHEMES
        self._clock = clock

    async def authenticate(
        self,
        *,
        authorization: Sequence[str],
        dpop: Sequence[str],
        method: str,
        path: str,
        token_in_query: bool = False,
    ) -> AccessTokenClaims:
        """The claims of the request's token, or TokenRejected (with `scheme` set) / KeySetUnavailable."""
        try:
            scheme, token = credentials_from(authorization, token_in_query=token_in_query, schemes=self.schemes)
        except TokenRejected as exc:
            if self.require_dpop and any(value.strip().lower().startswith("bearer ") for value in authorization):
                exc = InvalidToken(
                    "this API accepts only DPoP-bound access tokens: send 'Authorization: DPoP <token>' with a DPoP proof",
                    rule="dpop",
                )
                exc.scheme = "Bearer"
            raise exc from None
        try:
            if scheme == "Bearer":
                return await self._bearer(token)
            return await self._dpop(token, dpop, method, path)
        except TokenRejected as exc:
            exc.scheme = scheme
            raise

    async def _bearer(self, token: str) -> AccessTokenClaims:
        claims = await self.verifier.verify(token)
        if bound_key_of(claims.raw) is not None:
            # RFC 9449 §7.2: a copied bound token must be worthless without its key.
            raise InvalidToken(
                "the access token is DPoP-bound (cnf.jkt): send it as 'Authorization: DPoP <token>' "
                "with a DPoP proof signed by its key, not as Bearer",
                rule="dpop",
            )
        return claims

    async def _dpop(self, token: str, proofs: Sequence[str], method: str, path: str) -> AccessTokenClaims:
        if self.public_url is None:
            raise InvalidDPoPProof("this API cannot check DPoP proofs: its public URL is not configured")
        proof = check_proof(
            proofs, method=method, uri=request_htu(self.public_url, path), policy=self.policy, now=self._clock(), access_token=token
        )
        claims = await self.verifier.verify(token)
        bound = bound_key_of(claims.raw)
        if bound is None:
            raise InvalidToken("the access token is not DPoP-bound (no cnf.jkt); send it as 'Authorization: Bearer <token>'", rule="dpop")
        if bound != proof.jkt:
            raise InvalidToken(
                f"the DPoP proof is signed by key {proof.jkt}, but the token is bound to key {bound}", rule="dpop"
            )
        if not await self.replay.first_use(proof.replay_key, self.policy.replay_window):
            raise InvalidDPoPProof("the DPoP proof was already used (its jti was seen before); make a new proof for every request")
        return claims

    def challenge(
        self, exc: TokenRejected, realm: str | None = None, resource_metadata: str | None = None, scope: str | None = None
    ) -> str:
        """`WWW-Authenticate` for a rejection: the used scheme's challenge carries the error (RFC 9449 §7.1),
        the other accepted scheme is offered beside it (§7.2). Each names `resource_metadata` (RFC 9728 §5.1)
        when given, so a client finds the authorization server whichever scheme it uses; `scope`, when
        given, tells a client without a usable token which scopes to ask for (RFC 6750 §3)."""
        scheme = exc.scheme or ("DPoP" if self.require_dpop or isinstance(exc, InvalidDPoPProof) else "Bearer")
        realm_param = [f'realm="{_header_safe(realm)}"'] if realm is not None else []
        metadata_param = [f'resource_metadata="{_header_safe(resource_metadata)}"'] if resource_metadata is not None else []
        params = list(realm_param)
        if scheme == "DPoP" or self.require_dpop:
            params += [f'error="{exc.error}"', f'error_description="{_header_safe(exc.reason)}"']
            needed = exc.scope if isinstance(exc, InsufficientScope) else scope
            if needed:
                params.append(f'scope="{_header_safe(needed)}"')
        dpop = "DPoP " + ", ".join([*params, f'algs="{" ".join(self.policy.algorithms)}"', *metadata_param])
        if self.require_dpop:
            return dpop
        if scheme == "Bearer":
            return f"{www_authenticate(exc, realm, resource_metadata, scope)}, {dpop}"
        return "Bearer" + (" " + ", ".join([*realm_param, *metadata_param]) if realm_param or metadata_param else "") + f", {dpop}"

    def scheme_of(self, claims: AccessTokenClaims) -> str:
        """The scheme a request with these (accepted) claims used: bound tokens only pass as DPoP."""
        return "DPoP" if bound_key_of(claims.raw) is not None else "Bearer"
