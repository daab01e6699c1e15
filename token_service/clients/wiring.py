"""Builds client authentication from the few values it needs (the composition root calls this)."""

from __future__ import annotations

from dataclasses import replace

from token_service.clients.assertion import ClientAssertionVerifier
from token_service.clients.authentication import ClientAuthenticator
from token_service.clients.key_cache import ClientJwksCache
from token_service.clients.registry import ClientRegistry
from token_service.clock import Clock
from token_service.outbound import FetchPolicy, OutboundFetcher
from token_service.store import EphemeralStore

# A JWK Set of a few keys is a few KB; 64 KB leaves room for rotation without inviting abuse.
JWKS_POLICY = FetchPolicy(max_bytes=64 * 1024, timeout=5.0, accept="application/jwk-set+json, application/json", what="the client's JWKS")


def jwks_fetch_policy(*, allow_private_urls: bool) -> FetchPolicy:
    return replace(JWKS_POLICY, allow_private=allow_private_urls)


def build_client_authenticator(
    registry: ClientRegistry,
    fetcher: OutboundFetcher,
    replay_store: EphemeralStore,
    *,
    issuer: str,
    token_endpoint: str,
    leeway: int,
    allow_private_urls: bool,
    clock: Clock,
) -> ClientAuthenticator:
    key_cache = ClientJwksCache(fetcher, jwks_fetch_policy(allow_private_urls=allow_private_urls))
    verifier = ClientAssertionVerifier(key_cache, replay_store, issuer=issuer, token_endpoint=token_endpoint, leeway=leeway, clock=clock)
    return ClientAuthenticator(registry, verifier)
