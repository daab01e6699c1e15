"""The pages a person sees (login, consent, logout confirmation, signed out, errors).

One template set (templates/), one stylesheet (static/pages.css) served by the service
itself, the operator's branding from settings, and a CSP without script.
"""

from token_service.pages.assets import page_templates, stylesheet_route
from token_service.pages.branding import Branding
from token_service.pages.responses import (
    consent_page,
    login_page,
    logout_confirmation_page,
    render_error_page,
    signed_out_page,
)
from token_service.pages.scopes import ScopeDescriber, ScopeLine, describe_scopes

__all__ = [
    "Branding",
    "ScopeDescriber",
    "ScopeLine",
    "consent_page",
    "describe_scopes",
    "login_page",
    "logout_confirmation_page",
    "page_templates",
    "render_error_page",
    "signed_out_page",
    "stylesheet_route",
]
