"""The few HTML pages a person sees: login, consent, errors, signed out.

Every value is escaped; every page forbids framing (clickjacking) and carries no script.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Response

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.4rem}form{margin:1rem 0}label{display:block;margin:.5rem 0 .2rem}"
    "input{width:100%;padding:.45rem;box-sizing:border-box}button,.button{display:inline-block;margin-top:.8rem;"
    "padding:.5rem 1rem;border:1px solid #335;border-radius:4px;background:#335;color:#fff;text-decoration:none;cursor:pointer}"
    ".secondary{background:#fff;color:#335}.error{color:#a00;background:#fee;padding:.5rem;border-radius:4px}"
    "ul{padding:0;list-style:none}li{margin:.4rem 0}"
)


def page(title: str, body: str, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[str]:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return Response(content=html, status_code=status_code, media_type="text/html; charset=utf-8", headers={**PAGE_HEADERS, **(headers or {})})


def error_page(title: str, message: str, *, status_code: int = 400, headers: dict[str, str] | None = None) -> Response[str]:
    """The one renderer of error pages; only the error registry (http/errors.py) calls it."""
    return page(title, f'<p class="error">{escape(message)}</p>', status_code=status_code, headers=headers)


def login_page(*, tx_id: str, csrf: str, client_id: str, upstreams: list[tuple[str, str]], password: bool, error: str | None, username: str = "") -> Response[str]:
    parts = [f"<p>Sign in to continue to <strong>{escape(client_id)}</strong>.</p>"]
    if error:
        parts.append(f'<p class="error" role="alert">{escape(error)}</p>')
    if upstreams:
        items = "".join(
            f'<li><a class="button secondary" href="/login/{escape(name)}?tx={escape(tx_id)}">Continue with {escape(label)}</a></li>'
            for name, label in upstreams
        )
        parts.append(f"<ul>{items}</ul>")
    if password:
        parts.append(
            f'<form method="post" action="/login/password">'
            f'<input type="hidden" name="tx" value="{escape(tx_id)}"><input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<label for="username">Username</label><input id="username" name="username" autocomplete="username" value="{escape(username)}" required>'
            f'<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>'
            f'<button type="submit">Sign in</button></form>'
        )
    return page("Sign in", "".join(parts))


def consent_page(*, tx_id: str, csrf: str, client_id: str, scopes: list[str], audience: str, user: Any) -> Response[str]:
    items = "".join(f"<li>{escape(s)}</li>" for s in scopes) or "<li>(no additional access)</li>"
    body = (
        f"<p>Signed in as <strong>{escape(str(user))}</strong>.</p>"
        f"<p><strong>{escape(client_id)}</strong> asks for:</p><ul>{items}</ul>"
        f'<p>for the service at <strong class="audience">{escape(audience)}</strong></p>'
        f'<form method="post" action="/consent"><input type="hidden" name="tx" value="{escape(tx_id)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<button name="decision" value="allow" type="submit">Allow</button> '
        f'<button class="secondary" name="decision" value="deny" type="submit">Deny</button></form>'
    )
    return page("Allow access?", body)


def signed_out_page() -> Response[str]:
    return page("Signed out", "<p>You are signed out. You can close this window.</p>")
