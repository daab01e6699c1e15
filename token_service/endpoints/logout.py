"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): end the session, redirect only where registered."""

from __future__ import annotations

from typing import Any

from joserfc import jws, jwt
from litestar import Request, Response, route
from litestar.datastructures import State

from token_service.endpoints.authorize import redirect_to
from token_service.errors import OAuthError
from token_service.http.forms import parse_params, read_form
from token_service.login.pages import error_page, signed_out_page
from token_service.runtime import Runtime
from token_service.tokens.local_keys import SnapshotKeyResolver


async def hinted_client_id(runtime: Runtime, id_token_hint: str | None) -> str | None:
    """The `aud` of an ID token we issued (expired ones are fine for a hint, forged ones are not)."""
    if not id_token_hint or len(id_token_hint) > 8192:
        return None
    resolver = SnapshotKeyResolver(runtime.settings.issuer, runtime.current_snapshot)
    try:
        header = jws.extract_compact(id_token_hint.encode()).headers()
        key = await resolver.get_key(header.get("kid"))
        token = jwt.decode(id_token_hint, key, algorithms=["RS256"])
    except Exception:  # any malformed or foreign hint is simply not a hint
        return None
    aud = token.claims.get("aud")
    if token.claims.get("iss") != runtime.settings.issuer:
        return None
    return aud if isinstance(aud, str) else None


@route("/logout", http_method=["GET", "POST"], summary="End session (RP-initiated logout)")
async def logout(request: Request[Any, Any, State], state: State) -> Response[Any]:
    runtime: Runtime = state.runtime
    try:
        params = await read_form(request) if request.method == "POST" else parse_params(request.url.query or "", "query string")
    except OAuthError as exc:
        return error_page("Invalid request", exc.description)
    hinted = await hinted_client_id(runtime, params.get("id_token_hint"))
    if params.get("client_id") and hinted and hinted != params["client_id"]:
        return error_page("Invalid request", "client_id does not match the ID token hint.")
    client_id = params.get("client_id") or hinted
    target = params.get("post_logout_redirect_uri")
    if target:
        client = await runtime.clients.get(client_id) if client_id else None
        # Only an exactly registered URI of the identified client: anything else is an open redirect.
        if client is None or target not in client.post_logout_redirect_uris:
            return error_page("Invalid redirect", "post_logout_redirect_uri is not registered for this application; you are not signed out.")
    session = await runtime.browser_sessions.end(request.cookies.get(runtime.browser_sessions.cookie_name))
    if session is not None and params.get("revoke_refresh_tokens") == "true":
        await runtime.refresh_tokens.revoke_sessions_families(session.id_hash)
    response: Response[Any] = redirect_to(target, {"state": params.get("state")}, status_code=303) if target else signed_out_page()
    runtime.browser_sessions.clear_cookie(response)
    return response
