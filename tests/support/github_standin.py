"""A local stand-in for GitHub's OAuth web flow and the two REST endpoints a login reads.

Shapes follow GitHub's documentation: the authorize redirect (`code` and `state`, or
`error=access_denied`), the access-token exchange answering JSON when asked with
`Accept: application/json` (errors with HTTP 200 and an `error` member, as GitHub does),
`GET /user` and `GET /user/emails`. PKCE (S256) is checked when a challenge was sent.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from litestar import Litestar, Request, get, post
from litestar.response import Redirect, Response

from tests.support.live_server import free_port, live_server


@dataclass
class GitHubStandIn:
    url: str
    client_id: str = "Iv1.0123456789abcdef"
    client_secret: str = "github-client-secret-0123456789abcdef"
    user: dict[str, Any] = field(
        default_factory=lambda: {"login": "octocat", "id": 583231, "name": "The Octocat", "email": None, "type": "User"}
    )
    emails: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"email": "octocat@github.com", "primary": True, "verified": True, "visibility": "public"},
            {"email": "octo@work.example", "primary": False, "verified": True, "visibility": None},
        ]
    )
    deny: bool = False
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def authorize_url(self) -> str:
        return f"{self.url}/login/oauth/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.url}/login/oauth/access_token"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v3"  # GitHub Enterprise Server's layout; api.github.com has no prefix

    def app(self) -> Litestar:
        standin = self

        @get("/login/oauth/authorize", sync_to_thread=False)
        def authorize(request: Request[Any, Any, Any]) -> Response[Any]:
            q = dict(request.query_params)
            if q.get("client_id") != standin.client_id or not q.get("redirect_uri"):
                return Response("unknown client or redirect_uri", status_code=400)
            if standin.deny:
                back = {
                    "error": "access_denied",
                    "error_description": "The user has denied your application access.",
                    "error_uri": "https://docs.github.com/apps/troubleshooting-authorization-request-errors/#access-denied",
                    "state": q.get("state", ""),
                }
                return Redirect(f"{q['redirect_uri']}?{urlencode(back)}")
            code = secrets.token_hex(10)
            standin.codes[code] = q
            return Redirect(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}")

        @post("/login/oauth/access_token", status_code=200)
        async def access_token(request: Request[Any, Any, Any]) -> Response[Any]:
            form = dict(await request.form())
            standin.token_requests.append({**form, "accept": request.headers.get("accept", "")})
            if "application/json" not in request.headers.get("accept", ""):
                return Response("access_token=refused&error=this_stand_in_only_speaks_json", media_type="application/x-www-form-urlencoded")
            if form.get("client_id") != standin.client_id or form.get("client_secret") != standin.client_secret:
                return Response({"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect."})
            pending = standin.codes.pop(form.get("code", ""), None)
            if pending is None or form.get("redirect_uri") != pending["redirect_uri"]:
                return Response({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
            if "code_challenge" in pending:
                challenge = base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
                if challenge != pending["code_challenge"]:
                    return Response({"error": "bad_verification_code", "error_description": "PKCE verification failed."})
            token = "gho_" + secrets.token_hex(18)
            standin.tokens.add(token)
            return Response({"access_token": token, "token_type": "bearer", "scope": pending.get("scope", "")})

        def authorized(request: Request[Any, Any, Any]) -> bool:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            return scheme.lower() in ("bearer", "token") and token in standin.tokens

        @get("/api/v3/user", sync_to_thread=False)
        def user(request: Request[Any, Any, Any]) -> Response[Any]:
            if not authorized(request):
                return Response({"message": "Requires authentication"}, status_code=401)
            return Response(standin.user)

        @get("/api/v3/user/emails", sync_to_thread=False)
        def emails(request: Request[Any, Any, Any]) -> Response[Any]:
            if not authorized(request):
                return Response({"message": "Requires authentication"}, status_code=401)
            return Response(standin.emails)

        return Litestar([authorize, access_token, user, emails])


@contextmanager
def running_github(**fields: Any) -> Iterator[GitHubStandIn]:
    port = free_port()
    standin = GitHubStandIn(url=f"http://127.0.0.1:{port}", **fields)
    with live_server(standin.app(), port):
        yield standin
