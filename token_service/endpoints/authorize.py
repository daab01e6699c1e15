"""The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2) and its continuation after login/consent.

Until the client and redirect URI are known to be registered, errors are shown as a page
and never redirected (RFC 6749 §4.1.2.1): an unverified redirect URI is an open redirect.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromQuery

from token_service.clients.documents import ClientDocumentRefused
from token_service.clients.models import Client
from token_service.clients.registry import ClientRegistry
from token_service.clock import Clock, epoch_seconds
from token_service.endpoints.authorize_flow import AuthorizationFlow, load_transaction, posted_transaction_form
from token_service.errors import (
    AccessDenied,
    InvalidRequest,
    OAuthError,
    PageError,
    RequestNotSupported,
    RequestUriNotSupported,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from token_service.grants.pkce import valid_challenge
from token_service.grants.scopes import parse_scope
from token_service.http.forms import parse_params
from token_service.http.injected import Injected
from token_service.http.routes import route_opt
from token_service.login.consents import ConsentRecords
from token_service.login.request_bounds import oversized_echo
from token_service.login.sessions import BrowserSessions
from token_service.login.transactions import AuthorizationRequest
from token_service.resources.targets import TargetRules, join_resources, split_resources

MAX_PARAM_LENGTH = 2048
PAGE_ROUTE = route_opt(errors="page")


async def registered_client_and_redirect(clients: ClientRegistry, params: dict[str, str]) -> tuple[Client, str]:
    client_id = params.get("client_id")
    if not client_id:
        raise PageError("Invalid request", "The request has no client_id. The application that sent you here is misconfigured.")
    try:
        client = await clients.find(client_id[:MAX_PARAM_LENGTH])
    except ClientDocumentRefused as exc:
        raise PageError(
            "Application not usable",
            f"The application that sent you here identifies itself by a client metadata document, which cannot be used: {exc.reason}",
            next_step="Tell the people who run that application: their client metadata document must be fixed.",
        ) from None
    if client is None:
        raise PageError(
            "Unknown application",
            f"The application that sent you here (client ID “{client_id[:200]}”) is not registered with this service, so you cannot sign in to it here.",
            next_step="Go back to the application and try again. If you see this page again, tell the people who run that "
            "application: its sign-in settings name a client this service does not know.",
        )
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise PageError("Invalid request", "The request has no redirect_uri. The application that sent you here is misconfigured.")
    # Exact string match (RFC 9700 §4.1.3): no prefix, wildcard or normalisation.
    if redirect_uri not in client.redirect_uris:
        raise PageError(
            "Invalid redirect",
            "The redirect_uri is not registered for this application, so you were not sent back to it.",
            next_step="Go back to the application and try again. If you see this page again, tell the people who run that "
            "application that its redirect URI is not registered here.",
        )
    return client, redirect_uri


def validate_request(client: Client, redirect_uri: str, params: dict[str, str], rules: TargetRules, *, now: int) -> AuthorizationRequest:
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
    # RFC 8707: the resources (APIs) asked for, and the scopes the client may have there.
    resources = split_resources(params.get("resource"))
    scopes = rules.authorize(client, resources, parse_scope(params.get("scope")))
    prompt = params.get("prompt")
    prompts = set((prompt or "").split())
    if prompts - {"none", "login", "consent"} or ("none" in prompts and len(prompts) > 1):
        raise InvalidRequest("prompt must be none, login or consent (none alone)")
    dpop_jkt = params.get("dpop_jkt")
    if dpop_jkt is not None and not valid_challenge(dpop_jkt):
        # The same shape as an S256 challenge: base64url of a SHA-256 digest (RFC 7638 thumbprint).
        raise InvalidRequest("dpop_jkt must be the base64url SHA-256 JWK thumbprint of the DPoP key (43 characters, RFC 9449 §10)")
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
        resource=join_resources(resources),
        prompt=prompt,
        max_age=max_age,
        requested_at=now,
        dpop_jkt=dpop_jkt,
    )


@get("/authorize", summary="Authorization endpoint (RFC 6749 §3.1)", opt=PAGE_ROUTE)
async def authorize(
    request: Request[Any, Any, State], clients: Injected[ClientRegistry], browser_sessions: Injected[BrowserSessions], flow: Injected[AuthorizationFlow], clock: Injected[Clock]
) -> Response[Any]:
    # An unreadable query (InvalidRequest) is shown as a page: no redirect URI is trusted yet.
    params = parse_params(request.url.query or "", "query string")
    client, redirect_uri = await registered_client_and_redirect(clients, params)
    oversized = oversized_echo(params)
    if oversized is not None:
        # A page, not a redirect: the redirect would echo the oversized state.
        raise PageError("Invalid request", oversized)
    try:
        auth_request = validate_request(client, redirect_uri, params, await flow.targets.rules(), now=epoch_seconds(clock))
    except OAuthError as exc:
        return flow.error_redirect(redirect_uri, exc, params.get("state"))
    browser_session = await browser_sessions.of_request(request)
    return await flow.proceed(request, auth_request, browser_session, None, status_code=302)


@get("/authorize/continue", summary="Continue an authorization request after login", include_in_schema=False, opt=PAGE_ROUTE)
async def authorize_continue(
    request: Request[Any, Any, State], browser_sessions: Injected[BrowserSessions], flow: Injected[AuthorizationFlow], tx: FromQuery[str | None] = None
) -> Response[Any]:
    transaction = await load_transaction(flow.transactions, request, tx)
    browser_session = await browser_sessions.of_request(request)
    return await flow.proceed(request, transaction.request, browser_session, transaction, status_code=303)


@post("/consent", summary="Record the user's consent decision", include_in_schema=False, status_code=303, opt=PAGE_ROUTE)
async def consent(
    request: Request[Any, Any, State],
    browser_sessions: Injected[BrowserSessions],
    clients: Injected[ClientRegistry],
    consents: Injected[ConsentRecords],
    flow: Injected[AuthorizationFlow],
) -> Response[Any]:
    form, transaction = await posted_transaction_form(flow.transactions, request)
    browser_session = await browser_sessions.of_request(request)
    auth_request = transaction.request
    if browser_session is None:
        return await flow.proceed(request, auth_request, None, transaction, status_code=303)
    await flow.transactions.finish(transaction.id)
    if form.get("decision") != "allow":
        return flow.error_redirect(auth_request.redirect_uri, AccessDenied("the user denied the request"), auth_request.state, status_code=303)
    client = await clients.get(auth_request.client_id)
    if client is None:
        raise PageError("Unknown application", "The application is no longer registered.")
    scopes = frozenset(auth_request.scope.split())
    audiences = (await flow.targets.rules()).consented_audiences(client, split_resources(auth_request.resource), scopes)
    await consents.remember(browser_session.user_id, client, scopes, audiences)
    return await flow.issue_code_redirect(auth_request, browser_session, status_code=303)
