from __future__ import annotations

from typing import Any

import pytest

from tests.support.token_service import upgrade_database
from token_service.settings import TokenServiceSettings


@pytest.fixture
def settings(make_settings: Any) -> TokenServiceSettings:
    """A migrated database on the selected backend."""
    settings: TokenServiceSettings = make_settings()
    upgrade_database(settings)
    return settings
