"""The DPoP proof of a token request (RFC 9449 §5): checked, single use, nonce when asked.

The stateless checks are `shared.dpop.check_proof`, the same code resource servers
run; the `jti` is remembered in the service's store, so a proof replayed to another
instance behind the same Redis is refused too.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.dpop import InvalidDPoPProof as RejectedProof
from shared.dpop import ProofPolicy, check_proof
from token_service.clients.models import Client
from token_service.clock import Clock
from token_service.dpop.nonces import DPoPNonces
from token_service.errors import InvalidDPoPProof, UseDPoPNonce
from token_service.store import EphemeralStore


class StoreReplayCache:
    """The service's ephemeral store as a proof replay cache (shared across instances with Redis)."""

    def __init__(self, store: EphemeralStore) -> None:
        self._store = store

    async def first_use(self, key: str, ttl: float) -> bool:
        return await self._store.put_if_absent(f"dpop-jti:{key}", b"1", ttl)


class TokenRequestProofs:
    def __init__(
        self,
        store: EphemeralStore,
        *,
        token_url: str,
        policy: ProofPolicy,
        nonces: DPoPNonces | None,
        clock: Clock,
    ) -> None:
        self._replay = StoreReplayCache(store)
        self._token_url = token_url
        self.policy = policy
        self._nonces = nonces
        self._clock = clock

    async def key_of(self, values: Sequence[str], client: Client) -> str | None:
        """The thumbprint (`jkt`) of the request's proof key; None for a request without DPoP."""
        if not values:
            if client.dpop_bound_access_tokens:
                raise InvalidDPoPProof(
                    f"client {client.client_id!r} is registered with dpop_bound_access_tokens: every token request "
                    "needs a DPoP proof (RFC 9449 §5.2)"
                )
            return None
        try:
            # The token URL comes from the issuer, never from the request's Host header.
            proof = check_proof(values, method="POST", uri=self._token_url, policy=self.policy, now=self._clock())
        except RejectedProof as exc:
            raise InvalidDPoPProof(exc.reason) from None
        if self._nonces is not None and (proof.nonce is None or not await self._nonces.valid(proof.nonce)):
            what = "has no nonce" if proof.nonce is None else "has a nonce this server did not issue or that expired"
            raise UseDPoPNonce(
                f"the DPoP proof {what}; make a new proof with the nonce from the DPoP-Nonce header", nonce=await self._nonces.current()
            )
        if not await self._replay.first_use(proof.replay_key, self.policy.replay_window):
            raise InvalidDPoPProof("the DPoP proof was already used (its jti was seen before); make a new proof for every request")
        return proof.jkt


def token_request_proofs(store: EphemeralStore, *, token_url: str, max_age: int, leeway: int, nonce: bool, clock: Clock) -> TokenRequestProofs:
    """The token endpoint's proof checker from its settings (TOKEN_SERVICE_DPOP_*)."""
    return TokenRequestProofs(
        store,
        token_url=token_url,
        policy=ProofPolicy(max_age=max_age, leeway=leeway),
        nonces=DPoPNonces(store, max_age, clock=clock) if nonce else None,
        clock=clock,
    )
