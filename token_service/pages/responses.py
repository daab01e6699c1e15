"""The pages a person sees, one function each; every one renders a template of the one set.

Every value is escaped by the template engine (autoescape); no page carries script, so
each works the same with JavaScript off, and each forbids framing (clickjacking).
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request
from litestar.enums import MediaType
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.response.base import ASGIResponse

from token_service.pages.branding import Branding
from token_service.pages.scopes import ScopeLine

PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}

GO_BACK = "Go back to the application you came from and start signing in again."
NEXT_STEPS = {
    429: "Wait for the time shown above, then try again.",
    502: "Wait a few minutes and try again, or choose another way to sign in.",
    503: "Wait a minute, then go back to the application you came from and try again.",
}


def branding_of(app: Litestar) -> Branding:
    engine = app.template_engine
    assert isinstance(engine, JinjaTemplateEngine), "the token service renders pages with its Jinja template set"
    brand = engine.engine.globals["brand"]
    assert isinstance(brand, Branding)
    return brand


class Page(Template):
    """A page of the template set; its CSP admits our stylesheet and the operator's logo, no script."""

    def to_asgi_response(self, app: Litestar | None, request: Request[Any, Any, Any], **kwargs: Any) -> ASGIResponse:
        self.headers["Content-Security-Policy"] = branding_of(request.app).content_security_policy
        return super().to_asgi_response(app, request, **kwargs)


def page(template: str, *, title: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any) -> Page:
    return Page(
        template_name=template,
        context={"title": title, **context},
        status_code=status_code,
        media_type=MediaType.HTML,
        headers={**PAGE_HEADERS, **(headers or {})},
    )


def render_error_page(
    title: str, message: str, *, next_step: str | None = None, status_code: int = 400, headers: dict[str, str] | None = None
) -> Page:
    """The one way an error reaches a person: what went wrong, then what to do about it."""
    step = next_step or NEXT_STEPS.get(status_code, GO_BACK)
    return page("error.html.j2", title=title, status_code=status_code, headers=headers, message=message, next_step=step)


def login_page(
    *, tx_id: str, csrf: str, client_name: str, upstreams: list[tuple[str, str]], password: bool, error: str | None, username: str = ""
) -> Page:
    return page(
        "login.html.j2",
        title="Sign in",
        tx_id=tx_id,
        csrf=csrf,
        client_name=client_name,
        upstreams=upstreams,
        password=password,
        error=error,
        username=username,
    )


def consent_page(
    *,
    tx_id: str,
    csrf: str,
    client_name: str,
    client_id: str,
    redirect_host: str,
    apis: list[tuple[str, str]],
    scopes: list[ScopeLine],
    user: str,
    self_registered: bool = False,
    described_by: str | None = None,
) -> Page:
    """`apis`: (name, identifier) of each API the application will call for the user."""
    return page(
        "consent.html.j2",
        title="Allow access?",
        tx_id=tx_id,
        csrf=csrf,
        client_name=client_name,
        client_id=client_id,
        redirect_host=redirect_host,
        apis=apis,
        scopes=scopes,
        user=user,
        self_registered=self_registered,
        described_by=described_by,
    )


def logout_confirmation_page(carried: dict[str, str], csrf: str) -> Page:
    return page("logout.html.j2", title="Sign out?", carried=carried, csrf=csrf)


def signed_out_page() -> Page:
    return page("signed_out.html.j2", title="Signed out")
