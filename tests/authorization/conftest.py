from __future__ import annotations

from tests.support.password_login import browser, setup

__all__ = ["browser", "setup"]
