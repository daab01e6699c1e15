"""Login with GitHub's OAuth 2.0 web application flow (docs.github.com, "Authorizing OAuth apps").

GitHub is not an OpenID Connect provider for people: there is no ID token, so who signed
in comes from the REST API with the access token.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from token_service.login.connectors.base import display_name
from token_service.login.connectors.errors import StateMismatchError, UpstreamUnavailableError
from token_service.login.connectors.callback import check_callback
from token_service.login.connectors.fetch import get_json
from token_service.login.connectors.oauth_client import authorization_url, exchange_code, oauth_client
from token_service.settings import UpstreamConfig
from token_service.users.models import UpstreamProfile

AUTHORIZE_URL = "https://github.com/login/oauth/authorize"
TOKEN_URL = "https://github.com/login/oauth/access_token"
API_URL = "https://api.github.com"
# `read:user` for the profile, `user:email` for /user/emails (private addresses included).
DEFAULT_SCOPES = ("read:user", "user:email")
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GitHubConnector:
    kind = "github"

    def __init__(self, upstream: UpstreamConfig, http: httpx.AsyncClient) -> None:
        assert upstream.client_id and upstream.client_secret, "UpstreamConfig validation requires both for kind github"
        self.name = upstream.name
        self.display_name = display_name(upstream, "GitHub")
        self._upstream = upstream
        self._http = http
        self._authorize_url = upstream.authorize_url or AUTHORIZE_URL
        self._token_url = upstream.token_url or TOKEN_URL
        self._api_url = (upstream.api_url or API_URL).rstrip("/")
        # The settings' default scopes are OpenID Connect ones, which GitHub does not know.
        scopes = upstream.scopes if "scopes" in upstream.model_fields_set else DEFAULT_SCOPES
        self._scope = " ".join(scopes)

    def _client(self) -> AbstractAsyncContextManager[Any]:
        assert self._upstream.client_id and self._upstream.client_secret
        return oauth_client(
            self._http,
            client_id=self._upstream.client_id,
            client_secret=self._upstream.client_secret.get_secret_value(),
            # GitHub documents client_id and client_secret as form parameters of the token request.
            auth_method="client_secret_post",
            scope=self._scope,
        )

    async def begin(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        async with self._client() as client:
            url, saved = authorization_url(client, self._authorize_url, redirect_uri)
        return url, {**saved, "upstream": self.name}

    async def complete(self, redirect_uri: str, params: dict[str, str], saved: dict[str, Any]) -> UpstreamProfile:
        # GitHub sends no `iss` today; one that names anything but a configured issuer is a mix-up.
        code = check_callback(self.name, params, saved, issuer=self._upstream.issuer, iss_required=False)
        verifier = saved.get("code_verifier")
        if not isinstance(verifier, str):
            raise StateMismatchError(self.name, "the saved login state lacks the PKCE verifier")
        async with self._client() as client:
            token = await exchange_code(client, self.name, self._token_url, code=code, redirect_uri=redirect_uri, code_verifier=verifier)
        headers = {**API_HEADERS, "Authorization": f"Bearer {token['access_token']}"}
        user = await get_json(self._http, self.name, f"{self._api_url}/user", "GitHub user API", headers=headers)
        if not isinstance(user, dict) or not isinstance(user.get("id"), int) or isinstance(user.get("id"), bool):
            raise UpstreamUnavailableError(self.name, "GET /user did not return a user with a numeric id")
        emails = await get_json(
            self._http,
            self.name,
            f"{self._api_url}/user/emails",
            "GitHub e-mail API",
            headers=headers,
            # Without the user:email scope (or the e-mail permission) GitHub refuses; the login still works, without e-mail.
            absent_statuses=(403, 404),
        )
        email = primary_verified_email(emails)
        login = user.get("login")
        return UpstreamProfile(
            upstream=self.name,
            # The numeric id: a login name can be renamed and later taken by someone else.
            subject=str(user["id"]),
            name=user.get("name") if isinstance(user.get("name"), str) and user.get("name") else None,
            email=email,
            email_verified=email is not None,
            preferred_username=login if isinstance(login, str) and login else None,
        )


def primary_verified_email(emails: object) -> str | None:
    """The address GitHub marks both primary and verified; any other address is not vouched for."""
    if not isinstance(emails, list):
        return None
    for entry in emails:
        if isinstance(entry, dict) and entry.get("primary") is True and entry.get("verified") is True:
            address = entry.get("email")
            if isinstance(address, str) and address:
                return address
    return None
