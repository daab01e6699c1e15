"""Which resource a token is for and which scopes it carries (RFC 8707 §2), for every grant.

- A client may ask for a resource named by its `audience` or `resources` registration, or
  for a registered resource that offers at least one scope the client may have. A client
  that registered itself (RFC 7591) or is a metadata document may name registered
  resources only: its own metadata is not an operator's word about an API.
- Scopes granted are those the client may have and the resource offers, plus the OpenID
  Connect scopes (they concern this service, not the API). A scope asked for explicitly
  that no requested resource offers is refused (`invalid_scope`); default scopes are
  narrowed silently.
- Without `resource`, the client's `audience` is the target; a client without one (a
  sign-in-only relying party) gets tokens for this service's UserInfo endpoint, and only
  OpenID Connect scopes.
- /authorize may name several resources; each access token is for one of them (the one
  the token request names, RFC 8707 §2.2), as node-oidc-provider does.

Resources travel through codes, transactions and refresh tokens as one space-separated
string: an absolute URI contains no white space (RFC 3986 §2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from token_service.clients.models import Client
from token_service.errors import InvalidRequest, InvalidScope, InvalidTarget, echo
from token_service.resources.model import OIDC_SCOPES, Resource, resource_uri_problem
from token_service.resources.registry import ResourceRegistry


def split_resources(value: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value.split())) if value else ()


def join_resources(resources: Sequence[str]) -> str | None:
    return " ".join(resources) if resources else None


def _names(scopes: Iterable[str]) -> str:
    return echo(" ".join(sorted(scopes)))


@dataclass(frozen=True)
class Target:
    """The audience of one access token and the scopes it carries."""

    audience: str
    scopes: frozenset[str]


class ResourceTargets:
    """Builds a `TargetRules` over the current resources (the registry's cached snapshot)."""

    def __init__(self, registry: ResourceRegistry, *, userinfo_audience: str) -> None:
        self._registry = registry
        self.userinfo_audience = userinfo_audience

    async def rules(self) -> TargetRules:
        return TargetRules(await self._registry.snapshot(), userinfo_audience=self.userinfo_audience)


class TargetRules:
    """The rules above over one snapshot of the resources; no I/O, so a refresh rotation can
    apply them while it holds its database connection."""

    def __init__(self, resources: Mapping[str, Resource], *, userinfo_audience: str) -> None:
        self._resources = resources
        self.userinfo_audience = userinfo_audience

    def registered(self, identifiers: Iterable[str]) -> list[Resource]:
        """The registered resources among `identifiers` (for the consent page)."""
        return [self._resources[i] for i in identifiers if i in self._resources]

    def _offered(self, client: Client, identifier: str) -> frozenset[str] | None:
        """The scopes `identifier` offers to `client` (None: any, an unregistered audience the
        client is registered for); raises InvalidTarget when the client may not use it."""
        if identifier == self.userinfo_audience:
            return frozenset()
        problem = resource_uri_problem(identifier)
        if problem is not None:
            raise InvalidTarget(f"resource {problem}")  # the problem quotes at most 200 characters of the value
        resource = self._resources.get(identifier)
        if identifier in client.allowed_audiences():
            if resource is not None:
                return resource.scope_names
            # An operator's word may name any API; a client that registered itself or describes
            # itself (RFC 7591, metadata documents) may name only the APIs operators registered.
            if client.registered_by_others:
                raise InvalidTarget(
                    f"resource {echo(identifier)} is not a registered API; a client that registered itself can only get tokens for "
                    "APIs an operator registered (`token-service resources add` or [[resources]])"
                )
            return None
        if resource is None:
            raise InvalidTarget(f"resource {echo(identifier)} is not an API this service issues tokens for")
        if not resource.scope_names & client.scopes:
            raise InvalidTarget(
                f"client {echo(client.client_id)} may not request tokens for resource {echo(identifier)}: it may have none of "
                f"the scopes that resource offers ({_names(resource.scope_names)})"
            )
        return resource.scope_names

    def _default(self, client: Client, scopes: frozenset[str], *, explicit: bool) -> str:
        if client.audience is not None:
            return client.audience
        api_scopes = scopes - OIDC_SCOPES
        if api_scopes and explicit:
            raise InvalidTarget(
                f"scope {_names(api_scopes)} is for an API, and client {echo(client.client_id)} has no default audience; "
                "send the `resource` parameter naming the API (RFC 8707) or register the client with --audience"
            )
        # A sign-in-only client: its access token is for our UserInfo endpoint.
        return self.userinfo_audience

    @staticmethod
    def _within(scopes: frozenset[str], offered: Sequence[frozenset[str] | None], targets: Sequence[str], *, explicit: bool) -> frozenset[str]:
        if any(o is None for o in offered):
            return scopes
        allowed = OIDC_SCOPES.union(*[o for o in offered if o is not None])
        outside = scopes - allowed
        if outside and explicit:
            raise InvalidScope(f"scope {_names(outside)} is not offered by resource {echo(', '.join(targets))}")
        return scopes - outside

    def authorize(self, client: Client, resources: Sequence[str], requested: frozenset[str]) -> frozenset[str]:
        """The scopes an authorization request for `resources` may be granted (/authorize)."""
        scopes = requested or client.scopes
        extra = scopes - client.scopes
        if extra:
            raise InvalidScope(f"scope {_names(extra)} is not allowed for this client")
        targets = list(resources) or [self._default(client, scopes, explicit=bool(requested))]
        offered = [self._offered(client, target) for target in targets]
        return self._within(scopes, offered, targets, explicit=bool(requested))

    def consented_audiences(self, client: Client, resources: Sequence[str], scopes: frozenset[str]) -> tuple[str, ...]:
        """What a consent for this request covers: its resources, or the default target."""
        return tuple(resources) or (self._default(client, scopes, explicit=False),)

    def for_token(self, client: Client, authorized: Sequence[str], asked: str | None, scopes: frozenset[str]) -> Target:
        """The target of an access token from a grant that authorized `authorized` (empty: the
        default) with `scopes`; `asked` is the token request's `resource` parameter."""
        requested = split_resources(asked)
        if len(requested) > 1:
            raise InvalidTarget("an access token is for one resource; send a single `resource` parameter (RFC 8707 §2.2)")
        if requested:
            target = requested[0]
            allowed = tuple(authorized) or (self._default(client, scopes, explicit=False),)
            if target not in allowed:
                raise InvalidTarget(f"resource {echo(target)} was not authorized for this grant; authorized: {echo(' '.join(allowed))}")
        elif len(authorized) > 1:
            raise InvalidTarget(
                f"several resources were authorized ({echo(' '.join(authorized))}); send `resource` naming the one this token is for (RFC 8707 §2.2)"
            )
        else:
            target = authorized[0] if authorized else self._default(client, scopes, explicit=False)
        # Checked again: the client's registration or the resource may have changed since.
        offered = self._offered(client, target)
        return Target(target, self._within(scopes, [offered], [target], explicit=False))

    def for_client(self, client: Client, asked: str | None, requested: frozenset[str]) -> Target:
        """The target of a client_credentials token (the client acts for itself)."""
        resources = split_resources(asked)
        if len(resources) > 1:
            raise InvalidTarget("an access token is for one resource; send a single `resource` parameter (RFC 8707 §2.2)")
        extra = requested - client.scopes
        if extra:
            raise InvalidScope(f"scope {_names(extra)} is not allowed for client {echo(client.client_id)}")
        scopes = requested or client.scopes
        if resources:
            target = resources[0]
        elif client.audience is not None:
            target = client.audience
        else:
            raise InvalidRequest(
                f"client {client.client_id!r} has no default audience; send the `resource` parameter (RFC 8707) "
                "or register the client with --audience"
            )
        offered = self._offered(client, target)
        return Target(target, self._within(scopes, [offered], [target], explicit=bool(requested)))
