"""Point an in-process `token-service` command at a test instance's settings."""

from __future__ import annotations

import os

import pytest

from token_service.settings import TokenServiceSettings


def use_settings_environment(monkeypatch: pytest.MonkeyPatch, settings: TokenServiceSettings) -> None:
    """Sets exactly the TOKEN_SERVICE_* variables that reach `settings`' database and key-encryption key."""
    for name in list(os.environ):
        if name.startswith("TOKEN_SERVICE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TOKEN_SERVICE_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("TOKEN_SERVICE_DATABASE_URL", settings.database_url)
    if settings.key_encryption_key:
        monkeypatch.setenv("TOKEN_SERVICE_KEY_ENCRYPTION_KEY", settings.key_encryption_key.get_secret_value())
