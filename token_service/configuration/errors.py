"""The one error start-up stops on."""

from __future__ import annotations

__all__ = ["ConfigurationError"]


class ConfigurationError(Exception):
    """Start-up cannot continue; the message names the setting and the fix (exit 2)."""
