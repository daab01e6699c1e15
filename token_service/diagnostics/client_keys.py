"""`doctor`: every client that publishes its keys at a `jwks_uri` can be verified right now.

A client whose key set is unreachable or holds no usable key is refused at the token
endpoint with a reason only the token service sees; doctor says it before the client calls.
"""

from __future__ import annotations

import asyncio

from token_service.clients.key_set import ClientKeySet
from token_service.clients.models import Client
from token_service.clients.registry import ClientRegistry, config_clients
from token_service.clients.wiring import jwks_fetch_policy
from token_service.db.engine import session_factory
from token_service.diagnostics.checks import Check, fail, ok
from token_service.diagnostics.local_database import local_engine
from token_service.outbound import OutboundError, OutboundFetcher
from token_service.settings import TokenServiceSettings


async def _check(fetcher: OutboundFetcher, client: Client, settings: TokenServiceSettings) -> Check:
    assert client.jwks_uri is not None
    name = f"client {client.client_id} keys"
    try:
        document = await fetcher.fetch_json(client.jwks_uri, jwks_fetch_policy(allow_private_urls=settings.allow_private_urls))
    except OutboundError as exc:
        return fail(name, exc.reason, f"make {client.jwks_uri} serve the client's public JWK Set, or re-register the client")
    key_set = ClientKeySet.from_document(document.data, client.jwks_uri)
    if not key_set.keys:
        why = "; ".join(key_set.ignored) or "the set is empty"
        return fail(name, f"the JWKS at {client.jwks_uri} holds no usable key ({why})", "publish the public key the client signs with")
    return ok(name, f"the JWKS at {client.jwks_uri} holds {len(key_set.keys)} usable key(s): {key_set.describe_kids()}")


async def client_key_checks(settings: TokenServiceSettings) -> list[Check]:
    async with local_engine(settings) as engine:
        registry = ClientRegistry(session_factory(engine), config_clients(settings.clients))
        clients = [c for c in await registry.list() if c.jwks_uri is not None]
    if not clients:
        return []
    fetcher = OutboundFetcher()
    try:
        return list(await asyncio.gather(*(_check(fetcher, client, settings) for client in clients)))
    finally:
        await fetcher.aclose()
