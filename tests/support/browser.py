"""A scripted browser (httpx with a cookie jar) for the authorization code flow, plus PKCE helpers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from token_service.db.engine import create_engine, session_factory
from token_service.settings import TokenServiceSettings
from token_service.users.directory import UserDirectory


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def add_user(settings: TokenServiceSettings, username: str, password: str, email: str | None = None, name: str | None = None) -> str:
    async def run() -> str:
        engine = create_engine(settings)
        try:
            user = await UserDirectory.from_settings(session_factory(engine), settings).add_local_user(username, password, email=email, name=name)
            return user.id
        finally:
            await engine.dispose()

    return asyncio.run(run())


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


@dataclass
class AuthorizationResult:
    redirect: str
    params: dict[str, str]
    verifier: str
    nonce: str
    state: str


class Browser:
    """Follows redirects itself so a test can stop at the client's redirect URI."""

    def __init__(self) -> None:
        self.http = httpx.Client(follow_redirects=False, timeout=10)

    def close(self) -> None:
        self.http.close()

    def follow(self, response: httpx.Response, stop_prefix: str, limit: int = 10) -> httpx.Response | str:
        for _ in range(limit):
            if response.status_code not in (302, 303):
                return response
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(stop_prefix):
                return location
            response = self.http.get(location)
        raise AssertionError("too many redirects")

    def authorize(self, issuer: str, client_id: str, redirect_uri: str, *, scope: str = "openid profile email", extra: dict[str, str] | None = None) -> httpx.Response | str:
        verifier, challenge = pkce_pair()
        self.last_verifier = verifier
        self.last_nonce = secrets.token_urlsafe(12)
        self.last_state = secrets.token_urlsafe(12)
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": self.last_state,
            "nonce": self.last_nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **(extra or {}),
        }
        return self.follow(self.http.get(f"{issuer}/authorize?{urlencode(params)}"), redirect_uri)

    def submit_password(self, login_page: httpx.Response, username: str, password: str, stop_prefix: str) -> httpx.Response | str:
        fields = hidden_fields(login_page.text)
        response = self.http.post(str(login_page.url.join("/login/password")), data={**fields, "username": username, "password": password})
        return self.follow(response, stop_prefix)

    def consent(self, page: httpx.Response, decision: str, stop_prefix: str) -> httpx.Response | str:
        fields = hidden_fields(page.text)
        return self.follow(self.http.post(str(page.url.join("/consent")), data={**fields, "decision": decision}), stop_prefix)

    def login(self, issuer: str, client_id: str, redirect_uri: str, username: str, password: str, **kwargs: Any) -> AuthorizationResult:
        page = self.authorize(issuer, client_id, redirect_uri, **kwargs)
        assert isinstance(page, httpx.Response) and page.status_code == 200, page
        result = self.submit_password(page, username, password, redirect_uri)
        if isinstance(result, httpx.Response) and "/consent" in result.text:
            result = self.consent(result, "allow", redirect_uri)
        assert isinstance(result, str), getattr(result, "text", result)
        return AuthorizationResult(result, query_of(result), self.last_verifier, self.last_nonce, self.last_state)
