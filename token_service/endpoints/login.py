"""Login pages and upstream callbacks: the person proves who they are, the service owns the user."""

from __future__ import annotations

import json
import logging
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from token_service.endpoints.authorize import PageError, load_transaction, posted_transaction_form
from token_service.http.client_address import client_ip
from token_service.login.connectors.base import UpstreamError
from token_service.login.pages import error_page, login_page
from token_service.login.transactions import LoginTransaction
from token_service.observability.access import note_request
from token_service.runtime import Runtime
from token_service.settings import UpstreamConfig
from token_service.users.names import username_key

log = logging.getLogger("token_service.login")

UPSTREAM_STATE_TTL = 600
LOGIN_FAILED = "Wrong username or password."
# Enough of a username for an operator to see which account is attacked, without a
# log line of attacker-chosen size.
LOGGED_USERNAME_LENGTH = 64


def upstream_choices(runtime: Runtime) -> list[tuple[str, str]]:
    return [(u.name, u.display_name or u.name) for u in runtime.settings.upstreams if u.kind != "password"]


def password_upstream(runtime: Runtime) -> UpstreamConfig | None:
    return next((u for u in runtime.settings.upstreams if u.kind == "password"), None)


def render_login(runtime: Runtime, tx: LoginTransaction, *, error: str | None = None, username: str = "") -> Response[str]:
    return login_page(
        tx_id=tx.id,
        csrf=tx.csrf,
        client_id=tx.request.client_id,
        upstreams=upstream_choices(runtime),
        password=password_upstream(runtime) is not None,
        error=error or tx.error,
        username=username,
    )


def count_login(http: Request[Any, Any, State], upstream: str, outcome: str) -> None:
    http.app.state.metrics.logins.labels(upstream, outcome).inc()
    note_request(upstream=upstream, login=outcome)


async def signed_in(runtime: Runtime, http: Request[Any, Any, State], tx: LoginTransaction, user_id: str, upstream: str) -> Response[Any]:
    count_login(http, upstream, "success")
    # A fresh session id at every login: a planted cookie never becomes authenticated (session fixation).
    await runtime.browser_sessions.end(http.cookies.get(runtime.browser_sessions.cookie_name))
    session_id = await runtime.browser_sessions.create(user_id, upstream)
    response: Response[Any] = Redirect(path=f"/authorize/continue?tx={tx.id}", status_code=303, headers={"Cache-Control": "no-store"})
    runtime.browser_sessions.set_cookie(response, session_id)
    return response


@get("/login", summary="Login page", include_in_schema=False)
async def login(request: Request[Any, Any, State], state: State, tx: FromQuery[str | None] = None) -> Response[Any]:
    runtime: Runtime = state.runtime
    runtime.backends.require()
    try:
        transaction = await load_transaction(runtime, request, tx)
    except PageError as exc:
        return error_page(exc.title, exc.message)
    return render_login(runtime, transaction)


@post("/login/password", summary="Password login", include_in_schema=False, status_code=303)
async def password_login(request: Request[Any, Any, State], state: State) -> Response[Any]:
    runtime: Runtime = state.runtime
    runtime.backends.require()
    try:
        form, transaction = await posted_transaction_form(runtime, request)
    except PageError as exc:
        return exc.page()
    upstream = password_upstream(runtime)
    if upstream is None:
        return error_page("Not available", "Password sign-in is not enabled.", status_code=404)
    username = form.get("username", "")[:200]
    password = form.get("password", "")[:1024]
    ip = client_ip(request)
    limited = await runtime.login_limits.check(ip, username)
    if limited is not None:
        log.warning("password login rate-limited", extra={"client_ip": ip, "username": username_key(username)[:LOGGED_USERNAME_LENGTH]})
        count_login(request, upstream.name, "rate_limited")
        await runtime.transactions.with_error(transaction, f"Too many attempts. Try again in {limited} seconds.")
        return Redirect(path=f"/login?tx={transaction.id}", status_code=303, headers={"Retry-After": str(limited)})
    user = await runtime.users.authenticate_password(username, password)
    if user is None:
        # Who tried which account: what an operator needs to see a guessing attack.
        log.info("password login failed", extra={"client_ip": ip, "username": username_key(username)[:LOGGED_USERNAME_LENGTH]})
        count_login(request, upstream.name, "failure")
        # The same answer for an unknown user and a wrong password.
        await runtime.transactions.with_error(transaction, LOGIN_FAILED)
        return Redirect(path=f"/login?tx={transaction.id}", status_code=303)
    await runtime.transactions.with_error(transaction, None)
    return await signed_in(runtime, request, transaction, user.id, upstream.name)


def callback_url(runtime: Runtime, name: str) -> str:
    return runtime.settings.endpoint(f"/callback/{name}")


@get("/login/{name:str}", summary="Start login at an upstream provider", include_in_schema=False)
async def upstream_login(request: Request[Any, Any, State], state: State, name: FromPath[str], tx: FromQuery[str | None] = None) -> Response[Any]:
    runtime: Runtime = state.runtime
    runtime.backends.require()
    connector = runtime.connectors.get(name)
    if connector is None:
        return error_page("Unknown sign-in method", "This sign-in method is not configured.", status_code=404)
    wait = await runtime.login_limits.check_ip(client_ip(request))
    if wait is not None:
        limited = error_page("Too many sign-in attempts", f"Too many sign-in attempts from your network. Try again in {wait} seconds.", status_code=429)
        limited.headers["Retry-After"] = str(wait)
        return limited
    try:
        transaction = await load_transaction(runtime, request, tx)
        url, saved = await connector.begin(callback_url(runtime, name))
    except PageError as exc:
        return error_page(exc.title, exc.message)
    except UpstreamError as exc:
        log.warning("upstream %s unavailable: %s", name, exc)
        return error_page("Sign-in unavailable", f"{connector.display_name} cannot be reached right now. Try again later.", status_code=502)
    record = {"tx": transaction.id, "saved": saved, "upstream": name}
    await runtime.store.put(f"upstream:{saved['state']}", json.dumps(record).encode(), UPSTREAM_STATE_TTL)
    return Redirect(path=url, status_code=303, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@get("/callback/{name:str}", summary="Return from an upstream provider", include_in_schema=False)
async def upstream_callback(request: Request[Any, Any, State], state: State, name: FromPath[str]) -> Response[Any]:
    runtime: Runtime = state.runtime
    runtime.backends.require()
    connector = runtime.connectors.get(name)
    if connector is None:
        return error_page("Unknown sign-in method", "This sign-in method is not configured.", status_code=404)
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    upstream_state = params.get("state", "")
    raw = await runtime.store.consume(f"upstream:{upstream_state[:200]}") if upstream_state else None
    if raw is None:
        return error_page("Sign-in expired", "This sign-in is unknown or expired. Go back to the application and start again.")
    record = json.loads(raw)
    if record["upstream"] != name:
        return error_page("Sign-in failed", "The response came back to the wrong sign-in method.")
    try:
        # The upstream state is bound to the browser through the transaction's binding cookie.
        transaction = await load_transaction(runtime, request, record["tx"])
    except PageError as exc:
        return error_page(exc.title, exc.message)
    try:
        profile = await connector.complete(callback_url(runtime, name), params, record["saved"])
    except UpstreamError as exc:
        log.info("upstream %s login failed: %s", name, exc)
        count_login(request, name, "failure")
        return error_page("Sign-in failed", f"{connector.display_name} did not confirm who you are: {exc}", status_code=400)
    upstream = next(u for u in runtime.settings.upstreams if u.name == name)
    user = await runtime.users.login_with_identity(profile, upstream)
    return await signed_in(runtime, request, transaction, user.id, name)

