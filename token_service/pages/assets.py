"""The template set and the one stylesheet, both bound to the operator's branding at start-up."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig

from token_service.http.routes import route_opt
from token_service.pages.branding import STYLESHEET_PATH, Branding

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
BASE_STYLESHEET = (HERE / "static" / "pages.css").read_text()


def page_templates(brand: Branding) -> TemplateConfig[JinjaTemplateEngine]:
    # StrictUndefined: a misspelt name fails the page tests instead of rendering as nothing.
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
    environment.globals["brand"] = brand
    environment.globals["stylesheet_url"] = brand.stylesheet_url(BASE_STYLESHEET)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def stylesheet_route(brand: Branding) -> HTTPRouteHandler:
    body = brand.stylesheet(BASE_STYLESHEET)

    # No backend behind it: pages shown during an outage keep their style.
    @get(STYLESHEET_PATH, include_in_schema=False, summary="Stylesheet of the sign-in pages", opt=route_opt(backends=()))
    async def stylesheet() -> Response[bytes]:
        # Pages link it with a version query, so a day of caching never serves an old brand.
        return Response(body, media_type="text/css; charset=utf-8", headers={"Cache-Control": "public, max-age=86400"})

    return stylesheet
