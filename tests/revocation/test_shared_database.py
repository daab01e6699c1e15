"""Two instances of one deployment (same issuer, same database): a revocation at one holds at the other."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.revocation.conftest import Deployment, eventually, introspect, refresh, register_clients, revoke, sign_in, userinfo
from tests.support.browser import Browser
from tests.support.live_server import free_port
from tests.support.password_login import password_settings
from tests.support.token_service import running_token_service


@dataclass
class TwoInstances:
    first: Deployment
    second_url: str


@pytest.fixture
def two_instances(make_settings: Any) -> Iterator[TwoInstances]:
    first_settings = password_settings(make_settings)
    # Behind one load balancer both instances share the issuer; only their ports differ.
    # PostgreSQL: same URL and key-encryption key; SQLite: the same data directory.
    shared = (
        {"database_url": first_settings.database_url, "key_encryption_key": first_settings.key_encryption_key.get_secret_value()}
        if first_settings.uses_postgres and first_settings.key_encryption_key is not None
        else {"data_dir": first_settings.data_dir}
    )
    port = free_port()
    second_settings = make_settings(issuer=first_settings.issuer, port=port, upstreams=[{"name": "local", "kind": "password"}], **shared)
    with running_token_service(first_settings) as first, running_token_service(second_settings) as second:
        yield TwoInstances(register_clients(first), second.url)


def test_a_revoked_access_token_is_refused_by_the_other_instance(two_instances: TwoInstances, browser: Browser) -> None:
    first, second_url = two_instances.first, two_instances.second_url
    tokens = sign_in(first.url, browser, first.spa)
    assert userinfo(second_url, tokens["access_token"]).status_code == 200
    assert introspect(second_url, tokens["access_token"], first.resource_server).json()["active"] is True

    assert revoke(first.url, tokens["access_token"], client_id=first.spa).status_code == 200

    # The second instance reads the shared deny-list through a cache of a few seconds.
    assert eventually(lambda: userinfo(second_url, tokens["access_token"]).status_code == 401)
    assert eventually(lambda: introspect(second_url, tokens["access_token"], first.resource_server).json() == {"active": False})


def test_a_refresh_token_revoked_at_one_instance_fails_at_the_other(two_instances: TwoInstances, browser: Browser) -> None:
    first, second_url = two_instances.first, two_instances.second_url
    tokens = sign_in(first.url, browser, first.spa)
    assert revoke(second_url, tokens["refresh_token"], client_id=first.spa).status_code == 200
    response = refresh(first.url, tokens["refresh_token"], first.spa)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
