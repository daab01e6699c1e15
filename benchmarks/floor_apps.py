"""The two reference apps `framework_floor` serves: each signs the same RS256 access token.

`bare` is a plain ASGI callable (the HTTP server's cost only); `litestar_route` is the
smallest Litestar app with one POST route doing the same (the framework's cost on top).
Neither authenticates, logs or adds headers: they are floors, not token services.
"""

from __future__ import annotations

import time

import msgspec
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry
from joserfc.util import json_b64encode, urlsafe_b64encode
from litestar import Litestar, Request, post
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Scope, Send

_KEY = RSAKey.generate_key(2048)
_ALG = JWSRegistry(algorithms=["RS256"]).get_alg("RS256")
_HEADER = json_b64encode({"alg": "RS256", "typ": "at+jwt", "kid": "k" * 43})
_ENCODER = msgspec.json.Encoder()


def token_body() -> bytes:
    now = int(time.time())
    claims = {"iss": "http://127.0.0.1", "sub": "c", "aud": "x", "exp": now + 300, "iat": now, "jti": "j" * 22, "client_id": "c", "scope": "notes:read"}
    signing_input = _HEADER + b"." + urlsafe_b64encode(_ENCODER.encode(claims))
    token = signing_input + b"." + urlsafe_b64encode(_ALG.sign(signing_input, _KEY))
    return b'{"access_token":"' + token + b'","token_type":"Bearer","expires_in":300}'


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": token_body(), "more_body": False})


@post("/token", status_code=200)
async def token(request: Request[object, object, object]) -> ASGIResponse:
    await request.body()
    return ASGIResponse(body=token_body(), media_type="application/json", headers={"cache-control": "no-store"})


litestar_route = Litestar([token], logging_config=None)
