"""A service calling another API with its own key: no client secret anywhere."""

from __future__ import annotations

from typing import Any

import httpx

from shared import TokenClient


async def list_reports(issuer: str, client_id: str, key_file: str, reports_api: str) -> Any:
    # The key file is the private JWK written by `token-service clients keygen --out key_file`.
    # Tokens are cached per (scope, resource) and renewed ahead of expiry.
    tokens = TokenClient(issuer, client_id, private_key=key_file, scope="reports:read", resource=reports_api)
    async with tokens, httpx.AsyncClient(auth=tokens) as http:
        response = await http.get(f"{reports_api}/reports")
        response.raise_for_status()
        return response.json()
