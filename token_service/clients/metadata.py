"""One model of client metadata (RFC 7591 §2 names plus ours), validated the same way
wherever a client comes from: the TOML `[[clients]]` table, `clients add`, and
dynamic registration.

Every rule violation is a `MetadataProblem` naming the field, the fix, and the RFC 7591
§3.2.2 error code it maps to (`invalid_redirect_uri` or `invalid_client_metadata`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from token_service.clients.key_set import key_set_problems
from token_service.clients.secrets import MIN_SECRET_LENGTH, is_valid_secret_hash
from token_service.outbound.addresses import is_loopback_host, url_problem

GrantType = Literal["client_credentials", "authorization_code", "refresh_token"]
AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
AUTH_METHODS: tuple[AuthMethod, ...] = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
SECRET_METHODS = frozenset({"client_secret_basic", "client_secret_post"})

# Schemes that run code or read local files in the browser or OS that follows them.
_DANGEROUS_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "about", "blob", "filesystem"})


@dataclass(frozen=True)
class MetadataProblem:
    field: str
    message: str
    code: Literal["invalid_redirect_uri", "invalid_client_metadata"] = "invalid_client_metadata"

    @property
    def text(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidClientMetadata(ValueError):
    """Raised inside validation; pydantic keeps it in the error's context (see `metadata_problems`)."""

    def __init__(self, problems: list[MetadataProblem]) -> None:
        super().__init__("\n  ".join(p.text for p in problems))
        self.problems = problems


def redirect_uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be a redirect URI (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §2.1), or None."""
    shown = repr(uri[:200])
    try:
        parts = urlsplit(uri)
    except ValueError:
        return f"{shown} is not a valid URI"
    scheme = parts.scheme.lower()
    if not scheme:
        return f"{shown} is not absolute; give the full URL, e.g. https://app.example.com/callback (RFC 6749 §3.1.2)"
    if scheme in _DANGEROUS_SCHEMES:
        return f"{shown} uses the {scheme}: scheme, which is refused; use an https URL (RFC 9700 §2.1)"
    if parts.fragment or uri.endswith("#"):
        return f"{shown} has a fragment; remove the part from '#' on (RFC 6749 §3.1.2)"
    if scheme in ("http", "https"):
        if not parts.hostname:
            return f"{shown} has no host"
        if scheme == "http" and not is_loopback_host(parts.hostname):
            return (
                f"{shown} uses http on a non-loopback host; use https, or http://127.0.0.1:PORT/... "
                "for native apps and local development (RFC 8252 §7.3)"
            )
        return None
    if "." not in scheme:
        # RFC 8252 §7.1: private-use schemes are reverse domain names the app controls.
        return (
            f"{shown} uses the scheme {scheme + ':'!r}; a native app's private-use scheme must be a reverse "
            "domain name it owns, e.g. com.example.app:/callback (RFC 8252 §7.1)"
        )
    return None


class ClientMetadata(BaseModel):
    """A client's registration. Unset `token_endpoint_auth_method` and `response_types`
    are derived (secret -> client_secret_basic, keys -> private_key_jwt, public -> none)."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
    client_secret: SecretStr | None = None
    client_secret_hash: str | None = None
    token_endpoint_auth_method: AuthMethod | None = None
    grant_types: list[GrantType] = Field(default_factory=lambda: list[GrantType](["client_credentials"]))
    response_types: list[str] | None = None
    redirect_uris: list[str] = Field(default_factory=list)
    post_logout_redirect_uris: list[str] = Field(default_factory=list)
    scope: str = ""
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    client_name: str | None = Field(None, max_length=200)
    audience: str | None = None
    resources: list[str] = Field(default_factory=list)
    public: bool | None = None
    first_party: bool = False
    dpop_bound_access_tokens: bool = False

    @field_validator("jwks", mode="before")
    @classmethod
    def _jwks_text(cls, value: Any) -> Any:
        # TOML and the CLI give the key set as JSON text; registration gives an object.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except (ValueError, RecursionError):
                raise InvalidClientMetadata(
                    [MetadataProblem("jwks", 'is not valid JSON; give a JWK Set such as {"keys": [{"kty": "EC", ...}]}')]
                ) from None
        return value

    @model_validator(mode="after")
    def _rules(self) -> ClientMetadata:
        self._derive()
        problems = self.problems()
        if problems:
            raise InvalidClientMetadata(problems)
        return self

    def _derive(self) -> None:
        if self.token_endpoint_auth_method is None:
            if self.public:
                self.token_endpoint_auth_method = "none"
            elif self.jwks is not None or self.jwks_uri is not None:
                self.token_endpoint_auth_method = "private_key_jwt"
            else:
                self.token_endpoint_auth_method = "client_secret_basic"
        if self.public is None:
            self.public = self.token_endpoint_auth_method == "none"
        if self.response_types is None:
            self.response_types = ["code"] if "authorization_code" in self.grant_types else []
        self.scope = " ".join(self.scope.split())

    @property
    def auth_method(self) -> AuthMethod:
        assert self.token_endpoint_auth_method is not None  # set by _derive
        return self.token_endpoint_auth_method

    def problems(self) -> list[MetadataProblem]:
        problems: list[MetadataProblem] = []
        for name in ("redirect_uris", "post_logout_redirect_uris"):
            for uri in getattr(self, name):
                reason = redirect_uri_problem(uri)
                if reason is not None:
                    problems.append(MetadataProblem(name, reason, "invalid_redirect_uri"))
        problems += self._auth_problems()
        problems += self._grant_problems()
        return problems

    def _auth_problems(self) -> list[MetadataProblem]:
        method = self.auth_method
        has_secret = self.client_secret is not None or self.client_secret_hash is not None
        has_keys = self.jwks is not None or self.jwks_uri is not None
        out: list[MetadataProblem] = []
        if self.public and method != "none":
            out.append(MetadataProblem(
                "token_endpoint_auth_method",
                f"a public client authenticates with 'none', not {method!r}; remove `public = true` or the method",
            ))
        if method == "none" and has_secret:
            out.append(MetadataProblem("client_secret", "a public client has no secret; remove client_secret / client_secret_hash"))
        if method != "private_key_jwt" and has_keys:
            out.append(MetadataProblem(
                "jwks" if self.jwks is not None else "jwks_uri",
                f"keys are used only with token_endpoint_auth_method 'private_key_jwt' (this client uses {method!r})",
            ))
        if method in SECRET_METHODS and not has_secret:
            out.append(MetadataProblem(
                "client_secret",
                f"{method} needs client_secret or client_secret_hash; or authenticate with a key "
                "(token_endpoint_auth_method = 'private_key_jwt' with jwks_uri or jwks)",
            ))
        if method == "private_key_jwt":
            if has_secret:
                out.append(MetadataProblem("client_secret", "a private_key_jwt client has no secret; remove client_secret / client_secret_hash"))
            if (self.jwks is None) == (self.jwks_uri is None):
                out.append(MetadataProblem(
                    "jwks_uri",
                    "private_key_jwt needs exactly one of jwks_uri (where the client publishes its keys) or jwks (the public keys inline)",
                ))
        if self.jwks is not None:
            out += [MetadataProblem("jwks", p) for p in key_set_problems(self.jwks)]
        if self.jwks_uri is not None:
            # The address rules depend on TOKEN_SERVICE_ALLOW_PRIVATE_URLS: see jwks_uri_problem.
            reason = url_problem(self.jwks_uri, allow_private=True)
            if reason is not None:
                out.append(MetadataProblem("jwks_uri", reason))
        if self.client_secret is not None and len(self.client_secret.get_secret_value()) < MIN_SECRET_LENGTH:
            out.append(MetadataProblem("client_secret", f"must be at least {MIN_SECRET_LENGTH} characters"))
        if self.client_secret_hash is not None and not is_valid_secret_hash(self.client_secret_hash):
            out.append(MetadataProblem(
                "client_secret_hash",
                "must look like 'sha256$<64 hex digits>' (as printed by `token-service clients hash-secret`)",
            ))
        return out

    def _grant_problems(self) -> list[MetadataProblem]:
        out: list[MetadataProblem] = []
        grants = set(self.grant_types)
        responses = list(self.response_types or [])
        if not grants:
            out.append(MetadataProblem("grant_types", "is empty; give at least one of client_credentials, authorization_code, refresh_token"))
        if self.public and "client_credentials" in grants:
            out.append(MetadataProblem(
                "grant_types",
                "a public client cannot use client_credentials (it has nothing to authenticate with); "
                "remove it, or register a confidential client (private_key_jwt)",
            ))
        for response_type in responses:
            if response_type != "code":
                out.append(MetadataProblem("response_types", f"{response_type!r} is not supported; only 'code' (with PKCE)"))
        # RFC 7591 §2.1: grant types and response types must agree.
        if "code" in responses and "authorization_code" not in grants:
            out.append(MetadataProblem("grant_types", "response type 'code' needs grant type authorization_code; add it or drop 'code'"))
        if "authorization_code" in grants and "code" not in responses:
            out.append(MetadataProblem("response_types", "grant type authorization_code needs response type 'code'"))
        if "authorization_code" in grants and not self.redirect_uris:
            out.append(MetadataProblem(
                "redirect_uris", "authorization_code needs at least one redirect URI", "invalid_redirect_uri"
            ))
        return out

    def jwks_uri_problem(self, *, allow_private: bool) -> MetadataProblem | None:
        """The rule that depends on TOKEN_SERVICE_ALLOW_PRIVATE_URLS (checked at registration and start-up)."""
        if self.jwks_uri is None:
            return None
        reason = url_problem(self.jwks_uri, allow_private=allow_private)
        return MetadataProblem("jwks_uri", reason) if reason is not None else None


def metadata_problems(error: ValidationError) -> list[MetadataProblem]:
    """The problems of a failed `ClientMetadata` validation, each with field and RFC 7591 code."""
    out: list[MetadataProblem] = []
    for item in error.errors():
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, InvalidClientMetadata):
            out += cause.problems
            continue
        field = ".".join(str(p) for p in item["loc"]) or "metadata"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "is not a client metadata field"
        top = str(item["loc"][0]) if item["loc"] else ""
        code: Literal["invalid_redirect_uri", "invalid_client_metadata"] = (
            "invalid_redirect_uri" if top in ("redirect_uris", "post_logout_redirect_uris") else "invalid_client_metadata"
        )
        out.append(MetadataProblem(field, message, code))
    return out
