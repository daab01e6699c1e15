"""docker-compose.yml and the Dockerfile, checked statically (no Docker engine on our machines)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from resource_api.settings import ResourceApiSettings
from resource_api.settings import ENV_PREFIX as API_PREFIX
from tests.deployment.compose import DOCKERFILE, ROOT, all_strings, final_stage_user, load_compose, variables_in
from token_service.settings import CONFIG_ENV, TokenServiceSettings
from token_service.settings import ENV_PREFIX as TS_PREFIX

REPLICAS = ("token-service-1", "token-service-2")
SERVICES = ("postgres", "redis", *REPLICAS, "proxy", "resource-api")
# Names whose values are credentials: they may only ever hold a ${...} reference.
SECRET_NAME = re.compile(r"(?i)(password|secret|encryption_key|kek|private|credential|api_key)")
SECRET_LOOKING_LITERAL = re.compile(r"(?i)(://[^/\s:@$]+:[^@\s$]+@|-----BEGIN|^[A-Za-z0-9_\-]{40,}={0,2}$)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def test_every_service_is_present_with_a_health_check(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(SERVICES) <= set(services), f"missing: {set(SERVICES) - set(services)}"
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no health check"


def test_no_secret_literal_in_the_compose_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert variables_in(str(value)) and not re.sub(r"\$\{[^}]*\}", "", str(value)).strip(), (
                    f"{name}: {key} must come from .env (${{...}}), not be written in the file"
                )
    for text in all_strings(compose):
        assert not SECRET_LOOKING_LITERAL.search(text), f"secret-looking literal in docker-compose.yml: {text!r}"


def test_replicas_read_secrets_from_the_git_ignored_env_file(compose: dict[str, Any]) -> None:
    for name in REPLICAS:
        assert compose["services"][name].get("env_file") in (".env", [".env"]), f"{name} does not use env_file .env"
    ignored = (ROOT / ".gitignore").read_text().split()
    assert ".env" in ignored
    assert (ROOT / "deploy" / "env.example").is_file()


def test_every_setting_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    # A misspelt variable is ignored silently by many services; ours stops, but only at
    # start-up inside a container. Catch it here instead.
    token_service = {f"{TS_PREFIX}{field.upper()}" for field in TokenServiceSettings.model_fields} | {CONFIG_ENV}
    resource_api = {f"{API_PREFIX}{field.upper()}" for field in ResourceApiSettings.model_fields}
    env_example = (ROOT / "deploy" / "env.example").read_text()
    named = set(re.findall(r"\b(?:TOKEN_SERVICE|RESOURCE_API)_[A-Z0-9_]+", "\n".join(all_strings(compose)) + env_example))
    assert named, "the compose file configures no setting at all?"
    unknown = {n for n in named if n.startswith(TS_PREFIX) and n not in token_service}
    unknown |= {n for n in named if n.startswith(API_PREFIX) and n not in resource_api}
    assert not unknown, f"not settings: {sorted(unknown)}"


def test_both_replicas_announce_the_same_public_issuer(compose: dict[str, Any]) -> None:
    issuers = {compose["services"][name]["environment"]["TOKEN_SERVICE_ISSUER"] for name in REPLICAS}
    assert len(issuers) == 1, issuers
    # The resource API must trust exactly that issuer, not a replica's internal address.
    assert compose["services"]["resource-api"]["environment"]["RESOURCE_API_ISSUER"] in issuers


def test_proxy_balances_over_both_replicas(compose: dict[str, Any]) -> None:
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    for name in REPLICAS:
        assert re.search(rf"server\s+{name}:8000\b", config), f"nginx.conf does not send traffic to {name}"


def test_dockerfile_runtime_stage_runs_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    user = final_stage_user(text)
    assert user is not None and user.split(":")[0] not in ("root", "0"), f"final stage runs as {user or 'root'}"
    assert re.search(r"(?m)^EXPOSE 8000$", text)
    assert re.search(r"(?m)^HEALTHCHECK .*", text) and "/healthz" in text
    assert "uv sync --frozen --no-dev" in text


def test_final_stage_user_sees_only_the_last_stage() -> None:
    assert final_stage_user("FROM a AS b\nUSER app\nFROM c\nRUN x\n") is None
    assert final_stage_user("FROM a AS b\nFROM c\nUSER 10001:10001\n") == "10001:10001"


def test_replicas_trust_forwarded_for_from_the_proxy_alone(compose: dict[str, Any]) -> None:
    import ipaddress

    from token_service.http.client_address import TrustedProxies

    everything = "\n".join(all_strings(compose))
    # uvicorn's own setting would trust whatever the client writes (left-most entry); it is
    # ignored by `serve` now, and must not suggest otherwise here.
    assert "FORWARDED_ALLOW_IPS" not in everything
    proxy_address = ipaddress.ip_address(compose["services"]["proxy"]["networks"]["default"]["ipv4_address"])
    subnet = ipaddress.ip_network(compose["networks"]["default"]["ipam"]["config"][0]["subnet"])
    assert proxy_address in subnet
    for name in REPLICAS:
        setting = compose["services"][name]["environment"]["TOKEN_SERVICE_TRUSTED_PROXIES"]
        trusted = TrustedProxies.parse(setting)
        assert trusted.trusts(proxy_address), f"{name} does not trust the proxy at {proxy_address}"
        # Only the proxy: another container on the network (the database, a compromised
        # API) must not be able to speak for clients.
        assert all(network.num_addresses == 1 for network in trusted.networks), f"{name} trusts a whole range: {setting}"


def test_metrics_are_not_reachable_through_the_proxy(compose: dict[str, Any]) -> None:
    config = "\n".join(line.split("#")[0] for line in (ROOT / "deploy" / "nginx.conf").read_text().splitlines())
    ports = {int(compose["services"][name]["environment"]["TOKEN_SERVICE_METRICS_PORT"]) for name in REPLICAS}
    assert len(ports) == 1 and 8000 not in ports
    (metrics_port,) = ports
    # nginx forwards to the replicas' main port only, and answers /metrics itself.
    forwarded = set(re.findall(r"server\s+[\w.-]+:(\d+)", config))
    assert forwarded == {"8000"}, forwarded
    assert str(metrics_port) not in config
    assert re.search(r"location\s*=\s*/metrics\s*\{\s*return 404;\s*\}", config)
    # Neither the replicas nor the proxy publish the metrics port to the host.
    for name, service in compose["services"].items():
        for mapping in service.get("ports", []):
            assert not str(mapping).endswith(f":{metrics_port}"), f"{name} publishes the metrics port"
    # The TOKEN_SERVICE_TRUSTED_PROXIES / METRICS_PORT values are real settings that parse.
    for name in REPLICAS:
        environment = compose["services"][name]["environment"]
        TokenServiceSettings(trusted_proxies=environment["TOKEN_SERVICE_TRUSTED_PROXIES"], metrics_port=environment["TOKEN_SERVICE_METRICS_PORT"])


def test_the_proxy_cuts_off_slow_clients() -> None:
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    for directive in ("client_header_timeout", "client_body_timeout"):
        match = re.search(rf"^\s*{directive}\s+(\d+)s;", config, re.MULTILINE)
        assert match and int(match.group(1)) <= 30, f"nginx.conf: {directive} missing or over 30 s"
