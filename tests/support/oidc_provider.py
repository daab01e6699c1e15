"""A small OpenID Connect provider for tests of the upstream connector.

It plays the upstream's documented part honestly (discovery, JWKS, authorization with PKCE,
a token endpoint that authenticates the client and checks the verifier, userinfo) and can be
told to misbehave in one way at a time: other ID token claims or header, another signing
algorithm, another `iss` in the redirect back, another issuer in discovery.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from litestar import Litestar, Request, get, post
from litestar.response import Redirect, Response

from tests.support.live_server import free_port, live_server

DELETE = object()
"""Pass as a claim or header value to leave that member out of the ID token."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class OidcProvider:
    issuer: str
    client_id: str = "token-service"
    client_secret: str | None = "upstream-client-secret-" + "x" * 16
    person: dict[str, Any] = field(
        default_factory=lambda: {"sub": "alice-42", "name": "Alice Example", "email": "alice@example.com", "email_verified": True}
    )
    keys: list[RSAKey] = field(default_factory=lambda: [RSAKey.generate_key(2048, parameters={"kid": "k1"})])
    signing_key: RSAKey | None = None  # None: the first published key
    # Misbehaviour knobs, one per test.
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    id_token_header: dict[str, Any] = field(default_factory=dict)
    id_token_signing: str = "RS256"  # or "none", or "HS256" (keyed with the client secret)
    id_token_in_response: bool = True
    callback_iss: Any = None  # None: the real issuer; DELETE: leave `iss` out; a string: send that
    discovery_issuer: str | None = None
    iss_parameter_supported: bool = True
    userinfo_claims: dict[str, Any] | None = None
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    jwks_requests: int = 0

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.discovery_issuer or self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "authorization_response_iss_parameter_supported": self.iss_parameter_supported,
        }

    def mint_id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300, "nonce": nonce, **self.person}
        claims.update(self.id_token_claims)
        claims = {k: v for k, v in claims.items() if v is not DELETE}
        header = {"alg": self.id_token_signing, "typ": "JWT", **self.id_token_header}
        key = self.signing_key or self.keys[0]
        if self.id_token_signing == "RS256":
            header.setdefault("kid", key.kid)
        header = {k: v for k, v in header.items() if v is not DELETE}
        if self.id_token_signing == "none":
            # joserfc refuses to produce an unsecured JWS, so it is assembled by hand (RFC 7519 §6.1).
            return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."
        if self.id_token_signing == "HS256":
            assert self.client_secret
            return jwt.encode(header, claims, OctKey.import_key(self.client_secret), algorithms=["HS256"])
        return jwt.encode(header, claims, key, algorithms=[self.id_token_signing])

    def app(self) -> Litestar:
        provider = self

        @get("/.well-known/openid-configuration", sync_to_thread=False)
        def discovery() -> dict[str, Any]:
            return provider.metadata()

        @get("/jwks", sync_to_thread=False)
        def jwks() -> dict[str, Any]:
            provider.jwks_requests += 1
            return {"keys": [k.as_dict(private=False, use="sig") for k in provider.keys]}

        @get("/authorize", sync_to_thread=False)
        def authorize(request: Request[Any, Any, Any]) -> Response[Any]:
            q = dict(request.query_params)
            problems = []
            if q.get("client_id") != provider.client_id:
                problems.append("client_id")
            if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
                problems.append("response_type/scope")
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                problems.append("pkce")
            if problems or not q.get("redirect_uri"):
                return Response({"error": "invalid_request", "problems": problems}, status_code=400)
            code = secrets.token_urlsafe(16)
            provider.codes[code] = q
            back: dict[str, str] = {"code": code, "state": q.get("state", "")}
            if provider.callback_iss is not DELETE:
                back["iss"] = provider.callback_iss or provider.issuer
            return Redirect(f"{q['redirect_uri']}?{urlencode(back)}")

        @post("/token", status_code=200)
        async def token(request: Request[Any, Any, Any]) -> Response[Any]:
            form = dict(await request.form())
            provider.token_requests.append({**form, "authorization": request.headers.get("authorization", "")})
            if provider.client_secret is not None:
                expected = "Basic " + base64.b64encode(f"{provider.client_id}:{provider.client_secret}".encode()).decode()
                if request.headers.get("authorization") != expected:
                    return Response({"error": "invalid_client"}, status_code=401)
            elif form.get("client_id") != provider.client_id:
                return Response({"error": "invalid_client"}, status_code=401)
            pending = provider.codes.pop(form.get("code", ""), None)
            if pending is None or form.get("grant_type") != "authorization_code" or form.get("redirect_uri") != pending["redirect_uri"]:
                return Response({"error": "invalid_grant", "error_description": "unknown code or redirect_uri"}, status_code=400)
            challenge = b64url(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
            if challenge != pending["code_challenge"]:
                return Response({"error": "invalid_grant", "error_description": "PKCE verification failed"}, status_code=400)
            body: dict[str, Any] = {"access_token": "at-" + secrets.token_urlsafe(8), "token_type": "Bearer", "expires_in": 300}
            if provider.id_token_in_response:
                body["id_token"] = provider.mint_id_token(pending.get("nonce"))
            return Response(body, headers={"Cache-Control": "no-store"})

        @get("/userinfo", sync_to_thread=False)
        def userinfo(request: Request[Any, Any, Any]) -> Response[Any]:
            if not request.headers.get("authorization", "").startswith("Bearer at-"):
                return Response({"error": "invalid_token"}, status_code=401)
            return Response(provider.userinfo_claims if provider.userinfo_claims is not None else provider.person)

        return Litestar([discovery, jwks, authorize, token, userinfo])


@contextmanager
def running_oidc_provider(**fields: Any) -> Iterator[OidcProvider]:
    port = free_port()
    provider = OidcProvider(issuer=f"http://127.0.0.1:{port}", **fields)
    with live_server(provider.app(), port):
        yield provider
