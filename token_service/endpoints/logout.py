"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): end the session, redirect only where registered.

Logout CSRF: a page on another site (or a sibling app on the same host, which is
same-site for SameSite=Lax) can send the browser here. §2 of the spec lets the OP
end the session without asking only when an `id_token_hint` it issued names the
signed-in user; otherwise it MUST ask. So a request without such a hint gets a
confirmation page, and only its POST, carrying a token bound to the session, ends it.
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from typing import Any

from joserfc import jws, jwt
from litestar import Request, Response, route
from litestar.datastructures import State

from token_service.clients.registry import ClientRegistry
from token_service.endpoints.authorize_flow import redirect_to
from token_service.errors import PageError
from token_service.http.forms import parse_params, read_form
from token_service.http.injected import Injected
from token_service.http.routes import route_opt
from token_service.pages import logout_confirmation_page, signed_out_page
from token_service.login.sessions import BrowserSessions
from token_service.tokens.local_keys import SnapshotKeyResolver
from token_service.tokens.refresh import RefreshTokens

# Carried from the confirmation page to its POST; anything else is dropped.
_CARRIED = ("client_id", "post_logout_redirect_uri", "state", "revoke_refresh_tokens")


async def verified_hint(resolver: SnapshotKeyResolver, clients: ClientRegistry, id_token_hint: str | None) -> dict[str, Any] | None:
    """The claims of an ID token we issued (expired ones are fine for a hint, forged ones are not).

    Only an ID token (RP-Initiated Logout §2/§4): our access tokens are signed with the same
    keys and every resource server holds some, so one that is `typ: at+jwt`, carries
    `client_id` (RFC 9068 §2.2) or is addressed to anything but a registered client is not a hint.
    """
    if not id_token_hint or len(id_token_hint) > 8192:
        return None
    try:
        header = jws.extract_compact(id_token_hint.encode()).headers()
        key = await resolver.get_key(header.get("kid"))
        token = jwt.decode(id_token_hint, key, algorithms=["RS256"])
    except Exception:  # any malformed or foreign hint is simply not a hint
        return None
    claims = dict(token.claims)
    typ = str(header.get("typ", "JWT")).lower()
    if typ in ("at+jwt", "application/at+jwt") or "client_id" in claims or claims.get("iss") != resolver.issuer:
        return None
    audience = claims.get("aud")
    if not isinstance(audience, str) or await clients.get(audience) is None:
        return None
    return claims


def logout_csrf(session_cookie: str) -> str:
    """A confirmation token only the holder of the session cookie can know.

    Derived from the cookie value, not from the stored hash of it, so a copy of the
    session store does not yield it either.
    """
    return hashlib.sha256(b"logout-confirmation\0" + session_cookie.encode()).hexdigest()


def confirmation_page(params: dict[str, str], csrf: str) -> Response[Any]:
    return logout_confirmation_page({name: params[name] for name in _CARRIED if params.get(name)}, csrf)


# The browser session lives in the store alone: with the database away a person can still
# sign out. The database is touched only to check a post-logout redirect against the
# client's registration or to revoke refresh tokens, and an outage there answers 503
# through the error registry (backends.is_backend_outage).
@route(
    "/logout",
    http_method=["GET", "POST"],
    summary="End session (RP-initiated logout)",
    opt=route_opt(errors="page", backends=("store",)),
)
async def logout(
    request: Request[Any, Any, State],
    browser_sessions: Injected[BrowserSessions],
    clients: Injected[ClientRegistry],
    refresh_tokens: Injected[RefreshTokens],
    own_keys: Injected[SnapshotKeyResolver],
) -> Response[Any]:
    params = await read_form(request) if request.method == "POST" else parse_params(request.url.query or "", "query string")
    hint = await verified_hint(own_keys, clients, params.get("id_token_hint"))
    hinted = hint.get("aud") if hint is not None and isinstance(hint.get("aud"), str) else None
    if params.get("client_id") and hinted and hinted != params["client_id"]:
        raise PageError("Invalid request", "client_id does not match the ID token hint.")
    client_id = params.get("client_id") or hinted
    target = params.get("post_logout_redirect_uri")
    if target:
        client = await clients.get(client_id) if client_id else None
        # Only an exactly registered URI of the identified client: anything else is an open redirect.
        if client is None or target not in client.post_logout_redirect_uris:
            raise PageError("Invalid redirect", "post_logout_redirect_uri is not registered for this application; you are not signed out.")
    cookie = browser_sessions.cookie_of(request)
    browser_session = await browser_sessions.load(cookie)
    if browser_session is not None and cookie is not None:
        hint_names_user = hint is not None and hint.get("sub") == browser_session.user_id
        confirmed = (
            request.method == "POST"
            and params.get("confirm") == "yes"
            and hmac.compare_digest(params.get("csrf", ""), logout_csrf(cookie))
        )
        if not (hint_names_user or confirmed):
            carried = {**params, "client_id": client_id} if client_id else params
            return confirmation_page(carried, logout_csrf(cookie))
        await browser_sessions.end(cookie)
        if params.get("revoke_refresh_tokens") == "true":
            await refresh_tokens.revoke_sessions_families(browser_session.id_hash)
    response: Response[Any] = redirect_to(target, {"state": params.get("state")}, status_code=303) if target else signed_out_page()
    browser_sessions.clear_cookie(response)
    return response
