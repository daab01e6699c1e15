"""The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2) and its continuation after login/consent.

Until the client and redirect URI are known to be registered, errors are shown as a page
and never redirected (RFC 6749 §4.1.2.1): an unverified redirect URI is an open redirect.
"""

from __future__ import annotations

import time
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromQuery
from litestar.response import Redirect

from token_service.clients.models import Client
from token_service.db.models import ConsentRow
from token_service.errors import (
    ConsentRequired,
    InvalidRequest,
    LoginRequired,
    OAuthError,
    UnauthorizedClient,
    UnsupportedResponseType,
    AccessDenied,
    InvalidScope,
    RequestNotSupported,
    RequestUriNotSupported,
)
from token_service.grants.codes import CodeGrant
from token_service.grants.pkce import valid_challenge
from token_service.grants.scopes import parse_scope, resolve_audience
from token_service.http.forms import parse_params, read_form
from token_service.http.client_address import client_ip
from token_service.login.pages import consent_page, error_page
from token_service.login.request_bounds import oversized_echo
from token_service.login.sessions import BrowserSession
from token_service.login.transactions import TRANSACTION_TTL, AuthorizationRequest, LoginTransaction, csrf_matches
from token_service.runtime import Runtime

MAX_PARAM_LENGTH = 2048
# 302 answers the GET of /authorize (RFC 6749 §4.1.2); 303 follows a POSTed form.
RedirectCode = Literal[302, 303]


class PageError(Exception):
    def __init__(self, title: str, message: str, *, status_code: int = 400, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.title = title
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after

    def page(self) -> Response[str]:
        page = error_page(self.title, self.message, status_code=self.status_code)
        if self.retry_after is not None:
            page.headers["Retry-After"] = str(self.retry_after)
        return page


def redirect_to(url: str, params: dict[str, str | None], *, status_code: RedirectCode = 302) -> Response[Any]:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if urlsplit(url).query else "?"
    # No parameters (e.g. a logout without state): the registered URI exactly, not "uri?".
    target = f"{url}{separator}{query}" if query else url
    return Redirect(path=target, status_code=status_code, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def error_redirect(runtime: Runtime, redirect_uri: str, error: OAuthError, state: str | None, *, status_code: RedirectCode = 302) -> Response[Any]:
    # RFC 9207: the `iss` parameter tells the client which server answered (mix-up defence).
    params = {"error": error.error, "error_description": error.description, "state": state, "iss": runtime.settings.issuer}
    return redirect_to(redirect_uri, params, status_code=status_code)


async def registered_client_and_redirect(runtime: Runtime, params: dict[str, str]) -> tuple[Client, str]:
    client_id = params.get("client_id")
    if not client_id:
        raise PageError("Invalid request", "The request has no client_id. The application that sent you here is misconfigured.")
    client = await runtime.clients.get(client_id[:MAX_PARAM_LENGTH])
    if client is None:
        raise PageError("Unknown application", "The application that sent you here is not registered with this service.")
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise PageError("Invalid request", "The request has no redirect_uri. The application that sent you here is misconfigured.")
    # Exact string match (RFC 9700 §4.1.3): no prefix, wildcard or normalisation.
    if redirect_uri not in client.redirect_uris:
        raise PageError("Invalid redirect", "The redirect_uri is not registered for this application, so you were not sent back to it.")
    return client, redirect_uri


def validate_request(client: Client, redirect_uri: str, params: dict[str, str]) -> AuthorizationRequest:
    for name, value in params.items():
        if len(value) > MAX_PARAM_LENGTH:
            raise InvalidRequest(f"parameter {name!r} is longer than {MAX_PARAM_LENGTH} characters")
    if "request" in params:
        raise RequestNotSupported("request objects are not supported; send the parameters in the query string")
    if "request_uri" in params:
        raise RequestUriNotSupported("request_uri is not supported; send the parameters in the query string")
    response_type = params.get("response_type")
    if response_type != "code":
        raise UnsupportedResponseType("only response_type=code is supported")
    if "authorization_code" not in client.grant_types:
        raise UnauthorizedClient(f"client {client.client_id!r} is not registered for the authorization code flow")
    response_mode = params.get("response_mode")
    if response_mode not in (None, "query"):
        raise InvalidRequest("only response_mode=query is supported")
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if not challenge:
        raise InvalidRequest("code_challenge is required: PKCE with S256 is mandatory for every client (RFC 9700 §2.1.1)")
    if method != "S256":
        raise InvalidRequest("code_challenge_method must be S256 (`plain` and a missing method are not accepted)")
    if not valid_challenge(challenge):
        raise InvalidRequest("code_challenge must be the base64url SHA-256 of the verifier (43 characters)")
    requested = parse_scope(params.get("scope"))
    scopes = requested or client.scopes
    extra = scopes - client.scopes
    if extra:
        raise InvalidScope(f"scope {' '.join(sorted(extra))!r} is not allowed for this client")
    resource = params.get("resource")
    resolve_audience(client, resource)
    prompt = params.get("prompt")
    prompts = set((prompt or "").split())
    if prompts - {"none", "login", "consent"} or ("none" in prompts and len(prompts) > 1):
        raise InvalidRequest("prompt must be none, login or consent (none alone)")
    max_age_text = params.get("max_age")
    max_age = None
    if max_age_text is not None:
        if not max_age_text.isdigit() or len(max_age_text) > 9:
            raise InvalidRequest("max_age must be a non-negative number of seconds")
        max_age = int(max_age_text)
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=" ".join(sorted(scopes)),
        state=params.get("state"),
        nonce=params.get("nonce"),
        code_challenge=challenge,
        resource=resource,
        prompt=prompt,
        max_age=max_age,
        requested_at=int(time.time()),
    )


def needs_login(request: AuthorizationRequest, session: BrowserSession | None, *, after_login_step: bool) -> bool:
    if session is None:
        return True
    # A login completed during this very request satisfies prompt=login and any max_age.
    if after_login_step and session.auth_time >= request.requested_at:
        return False
    prompts = set((request.prompt or "").split())
    if "login" in prompts:
        return True
    return request.max_age is not None and time.time() - session.auth_time > request.max_age


async def has_consent(runtime: Runtime, user_id: str, client: Client, scopes: frozenset[str]) -> bool:
    if client.first_party:
        return True
    async with runtime.sessions() as session:
        row = await session.get(ConsentRow, (user_id, client.client_id))
    return row is not None and scopes <= set(row.scope.split())


async def issue_code_redirect(runtime: Runtime, request: AuthorizationRequest, session: BrowserSession, *, status_code: RedirectCode) -> Response[Any]:
    code = await runtime.codes.issue(
        CodeGrant(
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
            nonce=request.nonce,
            user_id=session.user_id,
            scope=request.scope,
            resource=request.resource,
            auth_time=session.auth_time,
            session_id_hash=session.id_hash,
        )
    )
    return redirect_to(request.redirect_uri, {"code": code, "state": request.state, "iss": runtime.settings.issuer}, status_code=status_code)


async def proceed(
    runtime: Runtime, http: Request[Any, Any, State], request: AuthorizationRequest, session: BrowserSession | None, tx: LoginTransaction | None, *, status_code: RedirectCode
) -> Response[Any]:
    """Decide the next step: login, consent, or the code."""
    client = await runtime.clients.get(request.client_id)
    if client is None:
        return error_page("Unknown application", "The application is no longer registered.")
    prompts = set((request.prompt or "").split())
    if needs_login(request, session, after_login_step=tx is not None):
        if "none" in prompts:
            return error_redirect(runtime, request.redirect_uri, LoginRequired("the user is not signed in"), request.state, status_code=status_code)
        return await start_login(runtime, http, request, tx)
    assert session is not None
    scopes = frozenset(request.scope.split())
    consented = await has_consent(runtime, session.user_id, client, scopes)
    if not consented or ("consent" in prompts and not client.first_party and tx is None):
        if "none" in prompts:
            return error_redirect(runtime, request.redirect_uri, ConsentRequired("the user has not approved this client"), request.state, status_code=status_code)
        if tx is None:
            tx = await new_transaction(runtime, http, request)
        user = await runtime.users.get(session.user_id)
        response = consent_page(tx_id=tx.id, csrf=tx.csrf, client_id=client.client_id, scopes=sorted(scopes), user=(user.username or user.email or user.id) if user else session.user_id)
        return with_binding_cookie(runtime, http, response)
    if tx is not None:
        await runtime.transactions.finish(tx.id)
    return await issue_code_redirect(runtime, request, session, status_code=status_code)


def binding_of(runtime: Runtime, http: Request[Any, Any, State]) -> str | None:
    return http.cookies.get(runtime.transactions.cookie_name)


def with_binding_cookie(runtime: Runtime, http: Request[Any, Any, State], response: Response[Any]) -> Response[Any]:
    """Sets the browser-binding cookie when this request created it."""
    binding = getattr(http.state, "new_binding", None)
    if binding:
        response.set_cookie(
            runtime.transactions.cookie_name,
            binding,
            path="/",
            httponly=True,
            samesite="lax",
            secure=runtime.settings.https,
            max_age=TRANSACTION_TTL,
        )
    return response


async def new_transaction(runtime: Runtime, http: Request[Any, Any, State], request: AuthorizationRequest) -> LoginTransaction:
    # Each pending sign-in holds store memory for TRANSACTION_TTL: anonymous clients get a budget.
    wait = await runtime.login_limits.check_start(client_ip(http))
    if wait is not None:
        message = f"Too many sign-ins were started from your network. Try again in {wait} seconds."
        raise PageError("Too many sign-in attempts", message, status_code=429, retry_after=wait)
    binding = binding_of(runtime, http)
    if not binding or len(binding) > 100:
        binding = runtime.transactions.new_binding()
        http.state.new_binding = binding
    return await runtime.transactions.create(request, binding)


async def start_login(runtime: Runtime, http: Request[Any, Any, State], request: AuthorizationRequest, tx: LoginTransaction | None) -> Response[Any]:
    if tx is None:
        tx = await new_transaction(runtime, http, request)
    redirect_upstreams = [u for u in runtime.settings.upstreams if u.kind != "password"]
    # With a single non-password upstream there is nothing to choose: go straight to it.
    if len(runtime.settings.upstreams) == 1 and len(redirect_upstreams) == 1:
        target = f"/login/{redirect_upstreams[0].name}?tx={tx.id}"
    else:
        target = f"/login?tx={tx.id}"
    return with_binding_cookie(runtime, http, Redirect(path=target, status_code=303, headers={"Cache-Control": "no-store"}))


@get("/authorize", summary="Authorization endpoint (RFC 6749 §3.1)")
async def authorize(request: Request[Any, Any, State], state: State) -> Response[Any]:
    runtime: Runtime = state.runtime
    runtime.backends.require()
    try:
        params = parse_params(request.url.query or "", "query string")
    except OAuthError as exc:
        return error_page("Invalid request", exc.description)
    try:
        client, redirect_uri = await registered_client_and_redirect(runtime, params)
    except PageError as exc:
        return error_page(exc.title, exc.message)
    oversized = oversized_echo(params)
    if oversized is not None:
        # A page, not a redirect: the redirect would echo the oversized state.
        return error_page("Invalid request", oversized)
    try:
        auth_request = validate_request(client, redirect_uri, params)
    except OAuthError as exc:
        return error_redirect(runtime, redirect_uri, exc, params.get("state"))
    session = await runtime.browser_sessions.load(request.cookies.get(runtime.browser_sessions.cookie_name))
    try:
        return await proceed(runtime, request, auth_request, session, None, status_code=302)
    except PageError as exc:
        return exc.page()


async def load_transaction(runtime: Runtime, http: Request[Any, Any, State], tx_id: str | None) -> LoginTransaction:
    tx = await runtime.transactions.load(tx_id, binding_of(runtime, http))
    if tx is None:
        raise PageError(
            "Sign-in expired",
            "This sign-in was started in another browser or has expired. Go back to the application and start again.",
        )
    return tx


async def posted_transaction_form(runtime: Runtime, http: Request[Any, Any, State]) -> tuple[dict[str, str], LoginTransaction]:
    """A form POSTed during a login: parsed, its transaction loaded for this browser only,
    and its CSRF token checked. Raises PageError."""
    try:
        form = await read_form(http)
    except OAuthError as exc:
        raise PageError("Invalid request", exc.description) from None
    transaction = await load_transaction(runtime, http, form.get("tx"))
    if not csrf_matches(transaction, form.get("csrf")):
        raise PageError("Invalid request", "The form has expired or did not come from this site. Start again.", status_code=403)
    return form, transaction


@get("/authorize/continue", summary="Continue an authorization request after login", include_in_schema=False)
async def authorize_continue(request: Request[Any, Any, State], state: State, tx: FromQuery[str | None] = None) -> Response[Any]:
    runtime: Runtime = state.runtime
    runtime.backends.require()
    try:
        transaction = await load_transaction(runtime, request, tx)
    except PageError as exc:
        return error_page(exc.title, exc.message)
    session = await runtime.browser_sessions.load(request.cookies.get(runtime.browser_sessions.cookie_name))
    return await proceed(runtime, request, transaction.request, session, transaction, status_code=303)


@post("/consent", summary="Record the user's consent decision", include_in_schema=False, status_code=303)
async def consent(request: Request[Any, Any, State], state: State) -> Response[Any]:
    runtime: Runtime = state.runtime
    runtime.backends.require()
    try:
        form, transaction = await posted_transaction_form(runtime, request)
    except PageError as exc:
        return exc.page()
    session = await runtime.browser_sessions.load(request.cookies.get(runtime.browser_sessions.cookie_name))
    auth_request = transaction.request
    if session is None:
        return await proceed(runtime, request, auth_request, None, transaction, status_code=303)
    await runtime.transactions.finish(transaction.id)
    if form.get("decision") != "allow":
        return error_redirect(runtime, auth_request.redirect_uri, AccessDenied("the user denied the request"), auth_request.state, status_code=303)
    await remember_consent(runtime, session.user_id, auth_request.client_id, frozenset(auth_request.scope.split()))
    return await issue_code_redirect(runtime, auth_request, session, status_code=303)


async def remember_consent(runtime: Runtime, user_id: str, client_id: str, scopes: frozenset[str]) -> None:
    async with runtime.sessions() as session, session.begin():
        row = await session.get(ConsentRow, (user_id, client_id), with_for_update=True)
        if row is None:
            session.add(ConsentRow(user_id=user_id, client_id=client_id, scope=" ".join(sorted(scopes)), granted_at=int(time.time())))
        else:
            row.scope = " ".join(sorted(scopes | set(row.scope.split())))
            row.granted_at = int(time.time())

