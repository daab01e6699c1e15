"""How much of an authorization request we keep and send back.

`state` and `nonce` are the client's own values: we store them with the pending sign-in
and echo them in the redirect and the ID token, so their size is an attacker's lever on
our memory (every anonymous `/authorize` stores one) and on every redirect. They are
bounded in bytes of UTF-8, not characters: 2048 astral-plane characters were ~24 KB once
JSON-escaped. Real clients send a random value or a short signed blob, well inside these.
"""

from __future__ import annotations

MAX_ECHOED_BYTES = {"state": 1024, "nonce": 512}
# The largest pending sign-in we store; the bounds above, registered values (client_id,
# redirect_uri, scope, resource) and the fixed-size fields fit well inside it.
MAX_TRANSACTION_BYTES = 16 * 1024


def oversized_echo(params: dict[str, str]) -> str | None:
    """A message naming the first echoed parameter over its bound, or None."""
    for name, limit in MAX_ECHOED_BYTES.items():
        value = params.get(name)
        if value is not None and len(value.encode("utf-8", "surrogatepass")) > limit:
            return f"The {name} parameter is longer than {limit} bytes. The application that sent you here must send a shorter {name}."
    return None
