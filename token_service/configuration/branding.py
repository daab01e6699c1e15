"""Value rules of the branding settings (the operator's name, logo and colour on the pages).

Kept apart from settings.py so the settings loader only names three fields; the pages
package turns the validated values into what a page shows (token_service/pages/branding.py).
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

from token_service.configuration.values import is_loopback_host

DEFAULT_BRAND_NAME = "Sign-in service"
DEFAULT_ACCENT_COLOR = "#1f4e8c"

_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def check_brand_name(value: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise ValueError("the product name is empty; set it to the name people know this sign-in by, e.g. `Example Corp`")
    if len(name) > 60:
        raise ValueError(f"the product name has {len(name)} characters; keep it to 60 so it fits the page header")
    return name


def check_accent_color(value: str) -> str:
    if not _HEX_COLOUR.fullmatch(value):
        raise ValueError(f"{value!r} is not a colour in #rrggbb form; write it as six hex digits, e.g. #1f4e8c")
    return value.lower()


def check_logo_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an absolute https URL; give the full address of the image, e.g. https://example.com/logo.svg")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"{value!r} uses http on a non-loopback host, which browsers block on an https page and anyone on the path can swap; "
            "serve the logo over https"
        )
    if parts.username or parts.password:
        raise ValueError(f"{value!r} carries credentials; give a public image address without user:password@")
    return value


BrandName = Annotated[str, AfterValidator(check_brand_name)]
AccentColor = Annotated[str, AfterValidator(check_accent_color)]
LogoUrl = Annotated[str | None, AfterValidator(check_logo_url)]
