"""Scopes in words a person understands, for the consent page.

The OpenID Connect scopes have built-in descriptions (OIDC Core §5.4, §11). Any other
scope is described by the `ScopeDescriber` the caller passes (registered resources will
carry descriptions of their own scopes); without one, the page shows the scope's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

BUILT_IN = {
    "openid": "Confirm who you are with your account's identifier",
    "profile": "See your name and basic profile details",
    "email": "See your email address and whether it is verified",
    "offline_access": "Keep access after you close it, until you revoke it or the access expires",
}


class ScopeDescriber(Protocol):
    """Describes a scope the built-in list does not know; `None` when it has no words either."""

    def __call__(self, scope: str) -> str | None: ...


@dataclass(frozen=True)
class ScopeLine:
    name: str
    text: str

    @property
    def described(self) -> bool:
        return self.text != self.name


def describe_scopes(scopes: Iterable[str], describer: ScopeDescriber | None = None) -> list[ScopeLine]:
    """The OpenID Connect scopes first, in the order a person reads them (who, name, e-mail,
    staying signed in), then the others by name."""
    order = list(BUILT_IN)
    lines = []
    for scope in sorted(scopes, key=lambda s: (order.index(s), "") if s in BUILT_IN else (len(order), s)):
        text = BUILT_IN.get(scope) or (describer(scope) if describer is not None else None) or scope
        lines.append(ScopeLine(scope, text))
    return lines
