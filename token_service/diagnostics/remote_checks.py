"""`doctor` checks of a running deployment, seen over HTTP the way a resource API sees it.

For each `--issuer` URL: discovery answers and names exactly that issuer, the JWKS is
served as JSON with caching headers, and the current signer is in it (a real
client_credentials round trip verified by the shared verifier when a client is given).
Across URLs: every replica serves the same JWKS, since a replica with its own keys
issues tokens that verifiers holding another replica's JWKS reject.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from shared.discovery import metadata_urls, parse_json_object
from shared.errors import KeySetUnavailable
from token_service.diagnostics.checks import Check, fail, ok, warn
from token_service.diagnostics.explain import Expectation, explain_token
from token_service.diagnostics.spelling import spelling_difference
from token_service.diagnostics.unverified import read_unverified

_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_JSON_TYPES = ("application/json", "application/jwk-set+json")


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class ServedKeys:
    """What one URL serves as its JWKS, to compare replicas."""

    url: str
    body: bytes
    etag: str | None
    kids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Expected:
    """What the local configuration says this deployment should serve (None: unknown here)."""

    issuer: str | None = None
    jwks_max_age: int | None = None
    signer_kid: str | None = None
    leeway: float = 30


def _unreachable(what: str, url: str, exc: httpx.HTTPError) -> str:
    return f"cannot reach {what} {url} ({type(exc).__name__}: {exc})".replace(" ()", "")


async def _discovery(client: httpx.AsyncClient, url: str) -> tuple[Check, dict[str, Any] | None]:
    name = f"{url} discovery"
    response: httpx.Response | None = None
    for metadata_url in dict.fromkeys(metadata_urls(url)):
        try:
            response = await client.get(metadata_url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            return fail(name, _unreachable("the issuer at", metadata_url, exc), "check the URL and that the token service is running"), None
        if response.status_code != 404:
            break
    assert response is not None
    if response.status_code != 200:
        return fail(name, f"{response.request.url} answered HTTP {response.status_code}", "is this the token service's base URL?"), None
    try:
        metadata = parse_json_object(response, "the metadata document")
    except KeySetUnavailable as exc:
        return fail(name, exc.reason), None
    named = metadata.get("issuer")
    if named == url:
        return ok(name, f"reachable; names issuer {url} exactly"), metadata
    difference = spelling_difference(url, named) if isinstance(named, str) else None
    why = f" ({difference})" if difference else ""
    return (
        fail(
            name,
            f"discovery names issuer {named!r}, not {url!r}{why}: verifiers configured with {url} refuse its keys, "
            f"and tokens carry iss {named!r}",
            f"configure APIs (RESOURCE_API_ISSUER) and clients with exactly {named}, or set TOKEN_SERVICE_ISSUER={url} "
            "on the token service if that is the URL everyone uses",
        ),
        metadata,
    )


async def _jwks(client: httpx.AsyncClient, url: str, jwks_uri: Any, expected: Expected) -> tuple[list[Check], ServedKeys | None]:
    name = f"{url} jwks"
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
        return [fail(name, f"discovery has no usable jwks_uri (got {jwks_uri!r})")], None
    try:
        response = await client.get(jwks_uri)
    except httpx.HTTPError as exc:
        return [fail(name, _unreachable("the JWKS at", jwks_uri, exc), "the jwks_uri must be reachable from every API host")], None
    if response.status_code != 200:
        return [fail(name, f"{jwks_uri} answered HTTP {response.status_code}")], None
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in _JSON_TYPES:
        return [fail(name, f"{jwks_uri} is served as {content_type or 'no content type'}, not JSON", "a proxy may be rewriting it; serve it as application/json")], None
    try:
        document = parse_json_object(response, "the JWKS")
    except KeySetUnavailable as exc:
        return [fail(name, exc.reason)], None
    entries = document.get("keys")
    if not isinstance(entries, list) or not entries:
        return [fail(name, f"{jwks_uri} holds no keys", "start the service once so it creates its first signing key")], None
    kids = tuple(str(e.get("kid")) for e in entries if isinstance(e, dict))
    served = ServedKeys(url, response.content, response.headers.get("etag"), kids)
    return [ok(name, f"{jwks_uri} serves {len(kids)} key(s): {', '.join(kids)}"), _caching(url, response, expected)], served


def _caching(url: str, response: httpx.Response, expected: Expected) -> Check:
    name = f"{url} jwks caching"
    match = _MAX_AGE.search(response.headers.get("cache-control", ""))
    missing = [h for h, present in (("Cache-Control max-age", match), ("ETag", response.headers.get("etag"))) if not present]
    if missing:
        return warn(name, f"no {' and no '.join(missing)}: verifiers fall back to their own refresh period and cannot revalidate cheaply", "serve the JWKS from the token service directly, or make the proxy keep these headers")
    max_age = int(match.group(1)) if match else 0
    if expected.jwks_max_age is not None and max_age != expected.jwks_max_age:
        return warn(name, f"max-age is {max_age} s but TOKEN_SERVICE_JWKS_MAX_AGE here is {expected.jwks_max_age} s: that instance runs with other settings", "give every instance the same settings")
    return ok(name, f"max-age {max_age} s, ETag {response.headers.get('etag')}")


async def _sign_test(client: httpx.AsyncClient, url: str, metadata: dict[str, Any], credentials: ClientCredentials, expected: Expected) -> Check:
    name = f"{url} signer"
    token_endpoint = metadata.get("token_endpoint")
    if not isinstance(token_endpoint, str):
        return fail(name, "discovery names no token_endpoint")
    try:
        response = await client.post(
            token_endpoint,
            data={"grant_type": "client_credentials"},
            auth=(credentials.client_id, credentials.client_secret),
        )
    except httpx.HTTPError as exc:
        return fail(name, _unreachable("the token endpoint", token_endpoint, exc))
    body: dict[str, Any] = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    token = body.get("access_token")
    if response.status_code != 200 or not isinstance(token, str):
        error = f"{body.get('error')}: {body.get('error_description')}" if body.get("error") else f"HTTP {response.status_code}"
        return fail(name, f"client_credentials for {credentials.client_id!r} failed ({error})", "check the client id and secret (`token-service clients list`)")
    aud = (read_unverified(token).claims or {}).get("aud")
    audience = aud if isinstance(aud, str) else aud[0] if isinstance(aud, list) and aud else "(none)"
    # The audience is the token's own: this checks the signer, not which API the client may call.
    expectation = Expectation(url, "--issuer", str(audience), "the token's aud", (), expected.leeway)
    report = await explain_token(token, expectation, None)
    kid = (report.unverified.header or {}).get("kid")
    if report.evaluation.accepted:
        return ok(name, f"a client_credentials token for {credentials.client_id!r} is signed by {kid} and passes the shared verifier")
    first = report.first_failure
    detail = f"{first.rule}: {first.detail}" if first is not None else "rejected"
    return fail(name, f"a fresh token signed by {kid} does not verify ({detail})", report.hints[0] if report.hints else None)


def _signer_in_jwks(url: str, served: ServedKeys, expected: Expected) -> Check:
    name = f"{url} signer"
    if expected.signer_kid is None:
        return warn(name, "not checked: pass --client-id and --client-secret-stdin for a sign-test (or run doctor next to the database)")
    if expected.signer_kid in served.kids:
        return ok(name, f"the active key {expected.signer_kid} (local database) is in the JWKS")
    return fail(
        name,
        f"the active key {expected.signer_kid} in the local database is not in the JWKS: tokens it signs will be rejected",
        "check that this URL's instances use the same database; they reload keys every few seconds",
    )


async def issuer_checks(
    client: httpx.AsyncClient, url: str, expected: Expected, credentials: ClientCredentials | None
) -> tuple[list[Check], ServedKeys | None]:
    discovery, metadata = await _discovery(client, url)
    if metadata is None:
        return [discovery], None
    checks, served = await _jwks(client, url, metadata.get("jwks_uri"), expected)
    checks.insert(0, discovery)
    if credentials is not None:
        checks.append(await _sign_test(client, url, metadata, credentials, expected))
    elif served is not None:
        ours = expected.issuer is not None and metadata.get("issuer") == expected.issuer
        checks.append(_signer_in_jwks(url, served, expected if ours else Expected()))
    return checks, served


def replica_check(served: Sequence[ServedKeys]) -> Check | None:
    if len(served) < 2:
        return None
    reference = served[0]
    different = [s for s in served[1:] if s.body != reference.body or s.etag != reference.etag]
    if not different:
        return ok("replicas", f"all {len(served)} URLs serve the same JWKS (ETag {reference.etag})")
    listing = "; ".join(f"{s.url}: kids {', '.join(s.kids)} (ETag {s.etag})" for s in served)
    return fail(
        "replicas",
        f"the URLs serve different JWKS: {listing}; a token signed on one is rejected by verifiers that fetched another",
        "give every replica the same TOKEN_SERVICE_DATABASE_URL and TOKEN_SERVICE_KEY_ENCRYPTION_KEY "
        "(if a key was rotated seconds ago, run doctor again: instances reload keys every few seconds)",
    )


async def remote_checks(urls: Sequence[str], expected: Expected, credentials: ClientCredentials | None) -> list[Check]:
    checks: list[Check] = []
    served: list[ServedKeys] = []
    async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
        for url in urls:
            found, keys = await issuer_checks(client, url, expected, credentials)
            checks += found
            if keys is not None:
                served.append(keys)
    replicas = replica_check(served)
    return checks + ([replicas] if replicas is not None else [])
