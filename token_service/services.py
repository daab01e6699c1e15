"""The token service's services, built once from the runtime and the settings.

`build_services` builds every narrow service, each receiving only what it uses; `app.py`
registers each field of `Services` as a Litestar dependency of the same name, so a
handler's signature says exactly what it touches (see README "Architecture").
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Litestar

from shared.dpop.resource import RequestAuthenticator
from token_service.backends import BackendHealth
from token_service.clients.authentication import ClientAuthenticator
from token_service.clients.documents import ClientDocuments
from token_service.clients.registry import ClientRegistry, config_clients
from token_service.clients.wiring import build_client_authenticator
from token_service.clock import Clock
from token_service.dpop.proofs import TokenRequestProofs, token_request_proofs
from token_service.endpoints.authorize_flow import AuthorizationFlow
from token_service.endpoints.discovery import discovery_document
from token_service.endpoints.login import login
from token_service.endpoints.token import Grants, TokenEndpointServices
from token_service.endpoints.userinfo import userinfo, userinfo_verifier
from token_service.grants.authorization_code import AuthorizationCodeGrant
from token_service.grants.client_credentials import ClientCredentialsGrant
from token_service.grants.codes import AuthorizationCodes
from token_service.grants.issuance import TokenMinter
from token_service.grants.refresh_token import RefreshTokenGrant
from token_service.keys.current import CurrentKeys
from token_service.login.connectors import build_connectors
from token_service.login.consents import ConsentRecords
from token_service.login.methods import PendingUpstreamLogins, SignInMethods
from token_service.login.sessions import BrowserSessions
from token_service.login.transactions import LoginTransactions
from token_service.observability.metrics import TokenServiceMetrics
from token_service.ratelimit import DocumentFetchLimits, LoginLimits, RateLimiter, RegistrationLimits, TokenLimits, limiter_storage
from token_service.registration.service import ClientRegistrar
from token_service.resources.registry import ResourceRegistry, config_resources
from token_service.resources.targets import ResourceTargets
from token_service.runtime import Runtime
from token_service.settings import TokenServiceSettings
from token_service.status import OwnStatusLists, PublishedStatusLists
from token_service.status.wiring import StatusParts, build_status, published_status_lists, revoke_client_tokens
from token_service.tokens.denylist import AccessTokenDenyList
from token_service.tokens.issued import IssuedTokens
from token_service.tokens.local_keys import SnapshotKeyResolver
from token_service.tokens.refresh import RefreshTokens
from token_service.tokens.signer import TokenSigner
from token_service.users.directory import UserDirectory


@dataclass(frozen=True)
class Services:
    """Every field is a Litestar dependency of the same name (a handler parameter `clients: ...`)."""

    clock: Clock
    clients: ClientRegistry
    resources: ResourceRegistry
    client_auth: ClientAuthenticator
    users: UserDirectory
    sign_in: SignInMethods
    codes: AuthorizationCodes
    refresh_tokens: RefreshTokens
    denylist: AccessTokenDenyList
    browser_sessions: BrowserSessions
    login_transactions: LoginTransactions
    pending_upstream_logins: PendingUpstreamLogins
    consents: ConsentRecords
    login_limits: LoginLimits
    token_limits: TokenLimits
    registrar: ClientRegistrar
    registration_limits: RegistrationLimits
    flow: AuthorizationFlow
    grants: Grants
    issued_tokens: IssuedTokens
    own_keys: SnapshotKeyResolver
    userinfo_verifier: RequestAuthenticator
    dpop_proofs: TokenRequestProofs
    current_keys: CurrentKeys
    backends: BackendHealth
    metrics: TokenServiceMetrics
    status_lists: PublishedStatusLists
    discovery_bytes: bytes
    jwks_max_age: int
    token_endpoint_services: TokenEndpointServices


def build_grants(
    settings: TokenServiceSettings,
    runtime: Runtime,
    *,
    users: UserDirectory,
    codes: AuthorizationCodes,
    refresh_tokens: RefreshTokens,
    denylist: AccessTokenDenyList,
    targets: ResourceTargets,
    status: StatusParts | None,
) -> Grants:
    """The token endpoint's grant types: adding one is a class with `__call__(client, params)` and a line here."""
    minter = TokenMinter.from_settings(TokenSigner(runtime.current_keys.current), settings, runtime.clock, status.indices if status else None)
    return {
        "authorization_code": AuthorizationCodeGrant(
            codes, users, refresh_tokens, denylist, minter, targets, runtime.clock, status.revocations if status else None
        ),
        "client_credentials": ClientCredentialsGrant(minter, targets),
        "refresh_token": RefreshTokenGrant(refresh_tokens, minter, targets),
    }


def build_services(settings: TokenServiceSettings, runtime: Runtime, metrics: TokenServiceMetrics) -> Services:
    clock, db_sessions, store = runtime.clock, runtime.db_sessions, runtime.store
    status_lists = published_status_lists(settings, runtime)
    status = build_status(settings, runtime, status_lists)
    revocations = status.revocations if status else None
    own_status = OwnStatusLists(status_lists)  # our own verifiers read our lists from memory
    limits_file = settings.ephemeral_store_file if settings.ephemeral_store == "file" else None
    limiter = RateLimiter(limiter_storage(settings.redis_url, settings.redis_prefix, file=limits_file))
    documents = ClientDocuments.for_settings(
        runtime.outbound, allow_private_urls=settings.allow_private_urls, clock=clock, fetch_limits=DocumentFetchLimits(limiter)
    )
    clients = ClientRegistry(
        db_sessions,
        config_clients(settings.clients),
        allow_private_urls=settings.allow_private_urls,
        clock=clock,
        documents=documents,
        unused_open_ttl=settings.open_registration_unused_ttl,
    )
    resources = ResourceRegistry(db_sessions, config_resources(settings.resources), clock=clock)
    targets = ResourceTargets(resources, userinfo_audience=settings.endpoint("/userinfo"))
    client_auth = build_client_authenticator(
        clients,
        runtime.outbound,
        store,
        issuer=settings.issuer,
        token_endpoint=settings.endpoint("/token"),
        leeway=settings.leeway,
        allow_private_urls=settings.allow_private_urls,
        clock=clock,
    )
    users = UserDirectory.from_settings(db_sessions, settings, clock=clock)
    codes = AuthorizationCodes(store, settings.authorization_code_ttl)
    refresh_tokens = RefreshTokens.from_settings(runtime.engine, db_sessions, settings, clock, revocations)
    denylist = AccessTokenDenyList(db_sessions, clock)
    login_transactions = LoginTransactions(store, https=settings.https)
    consents = ConsentRecords(db_sessions, clock)
    sign_in = SignInMethods(settings.upstreams, build_connectors(settings, runtime.http_client, clock), settings.issuer)
    login_limits = LoginLimits(
        limiter,
        per_ip=settings.login_rate_limit_ip,
        per_username=settings.login_rate_limit_username,
        per_start_ip=settings.login_start_rate_limit_ip,
    )
    own_keys = SnapshotKeyResolver(settings.issuer, runtime.current_keys.current)
    grants = build_grants(
        settings, runtime, users=users, codes=codes, refresh_tokens=refresh_tokens, denylist=denylist, targets=targets, status=status
    )
    dpop_proofs = token_request_proofs(
        store, token_url=settings.endpoint("/token"), max_age=settings.dpop_proof_max_age, leeway=settings.leeway, nonce=settings.dpop_nonce, clock=clock
    )
    token_limits = TokenLimits(limiter, per_client=settings.token_rate_limit)
    registrar = ClientRegistrar(
        clients,
        db_sessions,
        # Initial access tokens are our access tokens for the registration endpoint (RFC 7591 §3).
        userinfo_verifier(own_keys, audience=settings.endpoint("/register"), leeway=settings.leeway, store=store, dpop_policy=dpop_proofs.policy, clock=clock),
        denylist,
        registration_endpoint=settings.endpoint("/register"),
        open_registration=settings.open_registration,
        revoke_tokens=revoke_client_tokens(refresh_tokens, revocations),
    )
    return Services(
        clock=clock,
        clients=clients,
        resources=resources,
        client_auth=client_auth,
        users=users,
        sign_in=sign_in,
        codes=codes,
        refresh_tokens=refresh_tokens,
        denylist=denylist,
        browser_sessions=BrowserSessions(store, https=settings.https, ttl=settings.session_ttl, idle_ttl=settings.session_idle_ttl, clock=clock),
        login_transactions=login_transactions,
        pending_upstream_logins=PendingUpstreamLogins(store),
        consents=consents,
        login_limits=login_limits,
        token_limits=token_limits,
        registrar=registrar,
        registration_limits=RegistrationLimits(limiter, per_ip=settings.registration_rate_limit),
        flow=AuthorizationFlow(
            issuer=settings.issuer,
            clients=clients,
            users=users,
            codes=codes,
            consents=consents,
            transactions=login_transactions,
            sign_in=sign_in,
            login_limits=login_limits,
            targets=targets,
            clock=clock,
        ),
        grants=grants,
        issued_tokens=IssuedTokens(own_keys, refresh_tokens, denylist, leeway=settings.leeway, clock=clock, status=revocations, status_lists=own_status),
        own_keys=own_keys,
        userinfo_verifier=userinfo_verifier(
            own_keys, audience=settings.endpoint("/userinfo"), leeway=settings.leeway, store=store, dpop_policy=dpop_proofs.policy, clock=clock,
            status_lists=own_status,
        ),
        dpop_proofs=dpop_proofs,
        current_keys=runtime.current_keys,
        backends=runtime.backends,
        metrics=metrics,
        status_lists=status_lists,
        discovery_bytes=discovery_document(settings, sorted(grants)),
        jwks_max_age=settings.jwks_max_age,
        token_endpoint_services=TokenEndpointServices(
            client_auth, token_limits, grants, metrics, dpop_proofs, clients, status.indices if status else None
        ),
    )
