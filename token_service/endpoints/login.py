"""Login pages and upstream callbacks: the person proves who they are, the service owns the user."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from token_service.endpoints.authorize import PAGE_ROUTE
from token_service.endpoints.authorize_flow import load_transaction, posted_transaction_form
from token_service.errors import PageError
from token_service.http.client_address import client_ip
from token_service.http.injected import Injected
from token_service.login.connectors import UpstreamConnector, UpstreamError
from token_service.login.methods import PendingUpstreamLogins, SignInMethods
from token_service.pages import login_page
from token_service.clients.registry import ClientRegistry
from token_service.endpoints.authorize_flow import client_display_name
from token_service.login.sessions import BrowserSessions
from token_service.login.transactions import LoginTransaction, LoginTransactions
from token_service.observability.access import note_request
from token_service.ratelimit import LoginLimits
from token_service.users.directory import UserDirectory
from token_service.users.names import username_key
from token_service.users.models import User

log = logging.getLogger("token_service.login")

LOGIN_FAILED = "Wrong username or password."
HttpRequest = Request[Any, Any, State]
# Enough of a username for an operator to see which account is attacked, without a
# log line of attacker-chosen size.
LOGGED_USERNAME_LENGTH = 64


async def render_login(
    clients: ClientRegistry, sign_in: SignInMethods, tx: LoginTransaction, *, error: str | None = None, username: str = ""
) -> Response[Any]:
    client = await clients.get(tx.request.client_id)
    return login_page(
        tx_id=tx.id,
        csrf=tx.csrf,
        client_name=client_display_name(client) if client is not None else tx.request.client_id,
        upstreams=sign_in.choices(),
        password=sign_in.password() is not None,
        error=error or tx.error,
        username=username,
    )


def count_login(http: HttpRequest, upstream: str, outcome: str) -> None:
    http.app.state.metrics.logins.labels(upstream, outcome).inc()
    note_request(upstream=upstream, login=outcome)


async def signed_in(browser_sessions: BrowserSessions, http: HttpRequest, tx: LoginTransaction, user_id: str, upstream: str) -> Response[Any]:
    count_login(http, upstream, "success")
    # A fresh session id at every login: a planted cookie never becomes authenticated (session fixation).
    await browser_sessions.end(browser_sessions.cookie_of(http))
    session_id = await browser_sessions.create(user_id, upstream)
    response: Response[Any] = Redirect(path=f"/authorize/continue?tx={tx.id}", status_code=303, headers={"Cache-Control": "no-store"})
    browser_sessions.set_cookie(response, session_id)
    return response


def connector_named(sign_in: SignInMethods, name: str) -> UpstreamConnector:
    connector = sign_in.connector(name)
    if connector is None:
        raise PageError("Unknown sign-in method", "This sign-in method is not configured.", status_code=404)
    return connector


@get("/login", summary="Login page", include_in_schema=False, opt=PAGE_ROUTE)
async def login(
    request: HttpRequest,
    login_transactions: Injected[LoginTransactions],
    sign_in: Injected[SignInMethods],
    clients: Injected[ClientRegistry],
    tx: FromQuery[str | None] = None,
) -> Response[Any]:
    return await render_login(clients, sign_in, await load_transaction(login_transactions, request, tx))


@post("/login/password", summary="Password login", include_in_schema=False, status_code=303, opt=PAGE_ROUTE)
async def password_login(
    request: HttpRequest,
    login_transactions: Injected[LoginTransactions],
    sign_in: Injected[SignInMethods],
    login_limits: Injected[LoginLimits],
    users: Injected[UserDirectory],
    browser_sessions: Injected[BrowserSessions],
) -> Response[Any]:
    form, transaction = await posted_transaction_form(login_transactions, request)
    upstream = sign_in.password()
    if upstream is None:
        raise PageError("Not available", "Password sign-in is not enabled.", status_code=404)
    username = form.get("username", "")[:200]
    password = form.get("password", "")[:1024]
    ip = client_ip(request)
    limited = await login_limits.check(ip, username)
    if limited is not None:
        log.warning("password login rate-limited", extra={"client_ip": ip, "username": username_key(username)[:LOGGED_USERNAME_LENGTH]})
        count_login(request, upstream.name, "rate_limited")
        await login_transactions.with_error(transaction, f"Too many attempts. Try again in {limited} seconds.")
        return Redirect(path=f"/login?tx={transaction.id}", status_code=303, headers={"Retry-After": str(limited)})
    user = await users.authenticate_password(username, password)
    if user is None:
        # Who tried which account: what an operator needs to see a guessing attack.
        log.info("password login failed", extra={"client_ip": ip, "username": username_key(username)[:LOGGED_USERNAME_LENGTH]})
        count_login(request, upstream.name, "failure")
        # The same answer for an unknown user and a wrong password.
        await login_transactions.with_error(transaction, LOGIN_FAILED)
        return Redirect(path=f"/login?tx={transaction.id}", status_code=303)
    refuse_disabled(user)  # only after the right password: no answer tells which accounts exist
    await login_transactions.with_error(transaction, None)
    return await signed_in(browser_sessions, request, transaction, user.id, upstream.name)


def refuse_disabled(user: User) -> None:
    """`token-service users disable`: the person cannot sign in (and so gets no new tokens)."""
    if user.disabled:
        raise PageError("Account disabled", "This account is disabled. Ask the administrator of this service to enable it.", status_code=403)


@get("/login/{name:str}", summary="Start login at an upstream provider", include_in_schema=False, opt=PAGE_ROUTE)
async def upstream_login(
    request: HttpRequest,
    name: FromPath[str],
    login_transactions: Injected[LoginTransactions],
    sign_in: Injected[SignInMethods],
    login_limits: Injected[LoginLimits],
    pending_upstream_logins: Injected[PendingUpstreamLogins],
    tx: FromQuery[str | None] = None,
) -> Response[Any]:
    connector = connector_named(sign_in, name)
    wait = await login_limits.check_ip(client_ip(request))
    if wait is not None:
        raise PageError(
            "Too many sign-in attempts",
            f"Too many sign-in attempts from your network. Try again in {wait} seconds.",
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    transaction = await load_transaction(login_transactions, request, tx)
    try:
        url, saved = await connector.begin(sign_in.callback_url(name))
    except UpstreamError as exc:
        log.warning("upstream %s unavailable: %s", name, exc)
        raise PageError("Sign-in unavailable", f"{connector.display_name} cannot be reached right now. Try again later.", status_code=502) from None
    await pending_upstream_logins.remember(saved["state"], {"tx": transaction.id, "saved": saved, "upstream": name})
    return Redirect(path=url, status_code=303, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@get("/callback/{name:str}", summary="Return from an upstream provider", include_in_schema=False, opt=PAGE_ROUTE)
async def upstream_callback(
    request: HttpRequest,
    name: FromPath[str],
    login_transactions: Injected[LoginTransactions],
    sign_in: Injected[SignInMethods],
    pending_upstream_logins: Injected[PendingUpstreamLogins],
    users: Injected[UserDirectory],
    browser_sessions: Injected[BrowserSessions],
) -> Response[Any]:
    connector = connector_named(sign_in, name)
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    record = await pending_upstream_logins.take(params.get("state", ""))
    if record is None:
        raise PageError("Sign-in expired", "This sign-in is unknown or expired. Go back to the application and start again.")
    if record["upstream"] != name:
        raise PageError("Sign-in failed", "The response came back to the wrong sign-in method.")
    # The upstream state is bound to the browser through the transaction's binding cookie.
    transaction = await load_transaction(login_transactions, request, record["tx"])
    try:
        profile = await connector.complete(sign_in.callback_url(name), params, record["saved"])
    except UpstreamError as exc:
        log.info("upstream %s login failed: %s", name, exc)
        count_login(request, name, "failure")
        raise PageError("Sign-in failed", f"{connector.display_name} did not confirm who you are: {exc}") from None
    user = await users.login_with_identity(profile, sign_in.upstream(name))
    refuse_disabled(user)
    return await signed_in(browser_sessions, request, transaction, user.id, name)
