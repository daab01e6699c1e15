"""A real token service and real access tokens for the verifier benchmarks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from benchmarks.support import Server, token_service

AUDIENCE = "http://127.0.0.1:8001"


@contextmanager
def issuer_with_client() -> Iterator[tuple[Server, str, str]]:
    with token_service() as server:
        client = json.loads(server.cli("clients", "add", "--grant", "client_credentials", "--scope", "notes:read notes:write", "--audience", AUDIENCE))
        yield server, client["client_id"], client["client_secret"]


def fetch_token(server: Server, client_id: str, secret: str) -> str:
    response = httpx.post(f"{server.url}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    response.raise_for_status()
    return str(response.json()["access_token"])
