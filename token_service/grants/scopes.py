"""Scope and audience resolution shared by every grant."""

from __future__ import annotations

from token_service.clients.models import Client
from token_service.errors import InvalidRequest, InvalidScope, InvalidTarget, echo


def parse_scope(value: str | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    # RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    tokens = value.split(" ")
    for token in tokens:
        if token and not all(c == "!" or "#" <= c <= "[" or "]" <= c <= "~" for c in token):
            raise InvalidScope("scope contains a character that RFC 6749 §3.3 does not allow")
    return frozenset(t for t in tokens if t)


def granted_scopes(client: Client, requested: frozenset[str]) -> frozenset[str]:
    if not requested:
        return client.scopes
    extra = requested - client.scopes
    if extra:
        raise InvalidScope(f"scope {echo(' '.join(sorted(extra)))} is not allowed for client {echo(client.client_id)}")
    return requested


def resolve_audience(client: Client, resource: str | None) -> str:
    if resource is not None:
        # RFC 8707 §2: an absolute URI without a fragment, and one the client may address.
        if "#" in resource or "://" not in resource:
            raise InvalidTarget(f"resource {echo(resource)} must be an absolute URI without a fragment (RFC 8707 §2)")
        if resource not in client.allowed_audiences():
            raise InvalidTarget(f"resource {echo(resource)} is not allowed for client {echo(client.client_id)}")
        return resource
    if client.audience is None:
        raise InvalidRequest(
            f"client {client.client_id!r} has no default audience; send the `resource` parameter (RFC 8707) "
            "or register the client with --audience"
        )
    return client.audience
