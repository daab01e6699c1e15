"""The steps between an accepted authorization request and its code: login, consent, redirect.

Shared by /authorize, /authorize/continue and /consent (and the login endpoints, which
load the pending transaction). Built once by the composition root; the handlers name it.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response
from litestar.datastructures import State
from litestar.response import Redirect

from token_service.clients.models import Client
from token_service.clients.registry import ClientRegistry
from token_service.clock import Clock
from token_service.errors import ConsentRequired, LoginRequired, OAuthError, PageError
from token_service.grants.codes import AuthorizationCodes, CodeGrant
from token_service.http.client_address import client_ip
from token_service.http.forms import read_form
from token_service.login.consents import ConsentRecords
from token_service.login.methods import SignInMethods
from token_service.pages import ScopeDescriber, consent_page, describe_scopes
from token_service.login.sessions import BrowserSession
from token_service.login.transactions import AuthorizationRequest, LoginTransaction, LoginTransactions, csrf_matches
from token_service.ratelimit import LoginLimits
from token_service.resources.targets import ResourceTargets, TargetRules, split_resources
from token_service.users.directory import UserDirectory

# 302 answers the GET of /authorize (RFC 6749 §4.1.2); 303 follows a POSTed form.
RedirectCode = Literal[302, 303]
HttpRequest = Request[Any, Any, State]


def redirect_to(url: str, params: dict[str, str | None], *, status_code: RedirectCode = 302) -> Response[Any]:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if urlsplit(url).query else "?"
    # No parameters (e.g. a logout without state): the registered URI exactly, not "uri?".
    target = f"{url}{separator}{query}" if query else url
    return Redirect(path=target, status_code=status_code, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def load_transaction(transactions: LoginTransactions, http: HttpRequest, tx_id: str | None) -> LoginTransaction:
    tx = await transactions.load(tx_id, http.cookies.get(transactions.cookie_name))
    if tx is None:
        raise PageError(
            "Sign-in expired",
            "This sign-in was started in another browser or has expired. Go back to the application and start again.",
        )
    return tx


async def posted_transaction_form(transactions: LoginTransactions, http: HttpRequest) -> tuple[dict[str, str], LoginTransaction]:
    """A form POSTed during a login: parsed, its transaction loaded for this browser only,
    and its CSRF token checked. Raises PageError (or InvalidRequest, shown as a page too)."""
    form = await read_form(http)
    transaction = await load_transaction(transactions, http, form.get("tx"))
    if not csrf_matches(transaction, form.get("csrf")):
        raise PageError("Invalid request", "The form has expired or did not come from this site. Start again.", status_code=403)
    return form, transaction


class AuthorizationFlow:
    def __init__(
        self,
        *,
        issuer: str,
        clients: ClientRegistry,
        users: UserDirectory,
        codes: AuthorizationCodes,
        consents: ConsentRecords,
        transactions: LoginTransactions,
        sign_in: SignInMethods,
        login_limits: LoginLimits,
        targets: ResourceTargets,
        clock: Clock,
    ) -> None:
        self.targets = targets
        self._issuer = issuer
        self._clients = clients
        self._users = users
        self._codes = codes
        self._consents = consents
        self.transactions = transactions
        self._sign_in = sign_in
        self._login_limits = login_limits
        self._clock = clock

    def error_redirect(self, redirect_uri: str, error: OAuthError, state: str | None, *, status_code: RedirectCode = 302) -> Response[Any]:
        # RFC 9207: the `iss` parameter tells the client which server answered (mix-up defence).
        params = {"error": error.error, "error_description": error.description, "state": state, "iss": self._issuer}
        return redirect_to(redirect_uri, params, status_code=status_code)

    def needs_login(self, request: AuthorizationRequest, browser_session: BrowserSession | None, *, after_login_step: bool) -> bool:
        if browser_session is None:
            return True
        # A login completed during this very request satisfies prompt=login and any max_age.
        if after_login_step and browser_session.auth_time >= request.requested_at:
            return False
        prompts = set((request.prompt or "").split())
        if "login" in prompts:
            return True
        return request.max_age is not None and self._clock() - browser_session.auth_time > request.max_age

    async def issue_code_redirect(self, request: AuthorizationRequest, browser_session: BrowserSession, *, status_code: RedirectCode) -> Response[Any]:
        code = await self._codes.issue(
            CodeGrant(
                client_id=request.client_id,
                redirect_uri=request.redirect_uri,
                code_challenge=request.code_challenge,
                nonce=request.nonce,
                user_id=browser_session.user_id,
                scope=request.scope,
                resource=request.resource,
                auth_time=browser_session.auth_time,
                session_id_hash=browser_session.id_hash,
                dpop_jkt=request.dpop_jkt,
            )
        )
        return redirect_to(request.redirect_uri, {"code": code, "state": request.state, "iss": self._issuer}, status_code=status_code)

    async def proceed(
        self, http: HttpRequest, request: AuthorizationRequest, browser_session: BrowserSession | None, tx: LoginTransaction | None, *, status_code: RedirectCode
    ) -> Response[Any]:
        """Decide the next step: login, consent, or the code."""
        client = await self._clients.get(request.client_id)
        if client is None:
            raise PageError("Unknown application", "The application is no longer registered.")
        prompts = set((request.prompt or "").split())
        if self.needs_login(request, browser_session, after_login_step=tx is not None):
            if "none" in prompts:
                return self.error_redirect(request.redirect_uri, LoginRequired("the user is not signed in"), request.state, status_code=status_code)
            return await self.start_login(http, request, tx)
        assert browser_session is not None
        scopes = frozenset(request.scope.split())
        rules = await self.targets.rules()
        audiences = rules.consented_audiences(client, split_resources(request.resource), scopes)
        consented = await self._consents.covers(browser_session.user_id, client, scopes, audiences)
        # prompt=consent asks every time (OIDC Core §3.1.2.1), also right after a login in
        # this same transaction; only the POST of the consent page itself issues the code.
        if not consented or "consent" in prompts:
            if "none" in prompts:
                denied = ConsentRequired("the user has not approved this client")
                return self.error_redirect(request.redirect_uri, denied, request.state, status_code=status_code)
            if tx is None:
                tx = await self.new_transaction(http, request)
            user = await self._users.get(browser_session.user_id)
            shown_user = (user.username or user.email or user.id) if user else browser_session.user_id
            response = consent_page(
                tx_id=tx.id,
                csrf=tx.csrf,
                client_name=client_display_name(client),
                client_id=client.client_id,
                redirect_host=host_of(request.redirect_uri),
                apis=shown_apis(rules, audiences),
                scopes=describe_scopes(scopes, scope_describer(rules, audiences)),
                user=shown_user,
                self_registered=client.registered_by_others,
                # A metadata document client is the URL's host's word about itself (the draft's §6.3).
                described_by=host_of(client.client_id) if client.source == "metadata-document" else None,
            )
            return self.with_binding_cookie(http, response)
        if tx is not None:
            await self.transactions.finish(tx.id)
        return await self.issue_code_redirect(request, browser_session, status_code=status_code)

    def with_binding_cookie(self, http: HttpRequest, response: Response[Any]) -> Response[Any]:
        """Sets the browser-binding cookie when this request created it."""
        binding = getattr(http.state, "new_binding", None)
        if binding:
            self.transactions.set_binding_cookie(response, binding)
        return response

    async def new_transaction(self, http: HttpRequest, request: AuthorizationRequest) -> LoginTransaction:
        # Each pending sign-in holds store memory for TRANSACTION_TTL: anonymous clients get a budget.
        wait = await self._login_limits.check_start(client_ip(http))
        if wait is not None:
            message = f"Too many sign-ins were started from your network. Try again in {wait} seconds."
            raise PageError("Too many sign-in attempts", message, status_code=429, headers={"Retry-After": str(wait)})
        binding = http.cookies.get(self.transactions.cookie_name)
        if not binding or len(binding) > 100:
            binding = self.transactions.new_binding()
            http.state.new_binding = binding
        return await self.transactions.create(request, binding)

    async def start_login(self, http: HttpRequest, request: AuthorizationRequest, tx: LoginTransaction | None) -> Response[Any]:
        if tx is None:
            tx = await self.new_transaction(http, request)
        only = self._sign_in.only_redirect()
        # With a single non-password upstream there is nothing to choose: go straight to it.
        target = f"/login/{only}?tx={tx.id}" if only is not None else f"/login?tx={tx.id}"
        return self.with_binding_cookie(http, Redirect(path=target, status_code=303, headers={"Cache-Control": "no-store"}))


def host_of(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2]


def client_display_name(client: Client) -> str:
    # client_name (RFC 7591 §2) where the client model carries one; its id otherwise.
    name = getattr(client, "client_name", None)
    return name if isinstance(name, str) and name.strip() else client.client_id


def shown_apis(rules: TargetRules, audiences: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, identifier) of each API the tokens will be for; our own UserInfo is not one."""
    names = {resource.identifier: resource.display_name for resource in rules.registered(audiences)}
    return [(names.get(aud, aud), aud) for aud in audiences if aud != rules.userinfo_audience]


def scope_describer(rules: TargetRules, audiences: tuple[str, ...]) -> ScopeDescriber:
    """Words for the APIs' scopes, from the resources' registrations (the first that has some)."""
    words: dict[str, str] = {}
    for resource in rules.registered(audiences):
        for scope, text in resource.scopes.items():
            if text and scope not in words:
                words[scope] = text

    def describe(scope: str) -> str | None:
        return words.get(scope)

    return describe
