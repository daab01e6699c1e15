"""The operator's brand as the pages show it: name, logo, and an accent colour people can read.

WCAG 2.2 §1.4.3 asks for 4.5:1 between text and its background. The accent colours link
text on white and is the background of white button text, so a colour under 4.5:1
against white is darkened (same hue) until it reaches it, instead of refusing to start
over a colour an operator picked from their style guide.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger("token_service.pages")

MINIMUM_CONTRAST = 4.5
WHITE = (255, 255, 255)
STYLESHEET_PATH = "/pages/style.css"

RGB = tuple[int, int, int]


def parse_hex(colour: str) -> RGB:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def to_hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def relative_luminance(rgb: RGB) -> float:
    """WCAG 2.2 definition of relative luminance (sRGB, linearised)."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: RGB, b: RGB) -> float:
    light, dark = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def readable_on_white(colour: str) -> str:
    """`colour` if it has 4.5:1 against white, else the lightest darker shade of it that does."""
    rgb = parse_hex(colour)
    step = 0
    while contrast_ratio(rgb, WHITE) < MINIMUM_CONTRAST:
        step += 1
        # Scaling towards black keeps the hue; 2 % steps find the lightest passing shade.
        factor = 1 - step * 0.02
        rgb = parse_hex(colour)
        rgb = (round(rgb[0] * factor), round(rgb[1] * factor), round(rgb[2] * factor))
    return to_hex(rgb)


@dataclass(frozen=True)
class Branding:
    name: str
    logo_url: str | None
    accent: str  # the colour the pages use, always readable on white
    requested_accent: str

    @classmethod
    def of(cls, *, name: str, logo_url: str | None, accent_color: str) -> Branding:
        accent = readable_on_white(accent_color)
        if accent != accent_color:
            log.warning(
                "brand accent colour %s has %.1f:1 contrast on white (4.5:1 needed for text); the pages use %s instead",
                accent_color,
                contrast_ratio(parse_hex(accent_color), WHITE),
                accent,
            )
        return cls(name=name, logo_url=logo_url, accent=accent, requested_accent=accent_color)

    @property
    def logo_origin(self) -> str | None:
        if self.logo_url is None:
            return None
        parts = urlsplit(self.logo_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def content_security_policy(self) -> str:
        """No script at all; style only from our own stylesheet; images from us and the logo's origin."""
        images = " ".join(["'self'", *([self.logo_origin] if self.logo_origin else [])])
        return f"default-src 'none'; style-src 'self'; img-src {images}; frame-ancestors 'none'; base-uri 'none'"

    def stylesheet(self, base: str) -> bytes:
        return f":root{{--accent:{self.accent}}}\n{base}".encode()

    def stylesheet_url(self, base: str) -> str:
        # The version query changes with the sheet, so a long browser cache never shows an old colour.
        version = hashlib.sha256(self.stylesheet(base)).hexdigest()[:12]
        return f"{STYLESHEET_PATH}?v={version}"
