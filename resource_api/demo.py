"""The demo single-page app at `/`: static files, the config it starts from, and its CSP.

The page is plain HTML and JavaScript from `static/` (no build step, no CDN); it learns
the issuer and its client id from `/demo-config.json`, so the same files work against
any token service this API trusts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litestar import Response, Router, get
from litestar.static_files import create_static_files_router

from resource_api.settings import ResourceApiSettings
from shared.litestar import EXCLUDE_FROM_AUTH

__all__ = ["STATIC_DIR", "content_security_policy", "demo_routes"]

STATIC_DIR = Path(__file__).parent / "static"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(issuer: str) -> str:
    """Scripts only from this origin, network calls only here and to the issuer, never framed.

    Navigations to the issuer (authorize, logout) are top-level and need no directive;
    `form-action 'none'` holds because the note form is submitted by script.
    """
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"connect-src 'self' {origin_of(issuer)}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def _page_headers(settings: ResourceApiSettings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings.issuer),
        "X-Content-Type-Options": "nosniff",
        # The callback URL carries the authorization code until the script removes it.
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def demo_routes(settings: ResourceApiSettings) -> list[Any]:
    headers = _page_headers(settings)
    # api_url: the base URL DPoP proofs to this API must name (RESOURCE_API_PUBLIC_URL).
    config = {"issuer": settings.issuer, "client_id": settings.demo_client_id, "api_url": settings.dpop_public_url}

    @get("/", opt={EXCLUDE_FROM_AUTH: True}, include_in_schema=False, sync_to_thread=False)
    def index() -> Response[bytes]:
        # Read per request: the file is small, and editing it needs no restart.
        body = (STATIC_DIR / "index.html").read_bytes()
        return Response(body, media_type="text/html; charset=utf-8", headers=headers)

    @get("/demo-config.json", opt={EXCLUDE_FROM_AUTH: True}, include_in_schema=False, sync_to_thread=False)
    def demo_config() -> Response[dict[str, str]]:
        return Response(config, headers={"Cache-Control": "no-store"})

    async def add_headers(response: Any) -> Any:
        response.headers.update(headers)
        return response

    static: Router = create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        opt={EXCLUDE_FROM_AUTH: True},
        after_request=add_headers,
    )
    return [index, demo_config, static]
