"""`token-service dev` registers the example resource API and its MCP endpoint, so consent pages name them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from token_service.db.engine import create_engine, session_factory
from token_service.dev import MCP_URL, RESOURCE_API_URL, dev_settings, prepare_demo
from token_service.resources.registry import ResourceRegistry

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_dev_registers_the_notes_api_once_across_restarts(make_settings: Any) -> None:
    settings = dev_settings(make_settings())

    async def registered() -> list[dict[str, Any]]:
        engine = create_engine(settings)
        try:
            return [r.as_json() for r in await ResourceRegistry(session_factory(engine), {}).list()]
        finally:
            await engine.dispose()

    for _ in range(2):  # a second `dev` start finds it registered and keeps one entry
        asyncio.run(prepare_demo(settings))
        scopes = [{"name": "notes:read", "description": "Read your notes"}, {"name": "notes:write", "description": "Add notes for you"}]
        assert sorted(asyncio.run(registered()), key=lambda r: r["identifier"]) == [
            {"identifier": RESOURCE_API_URL, "name": "Notes API", "scopes": scopes, "source": "database"},
            # The MCP endpoint is a resource of its own (MCP clients ask for tokens for its exact URL).
            {"identifier": MCP_URL, "name": "Notes API (MCP)", "scopes": scopes, "source": "database"},
        ]
