"""`doctor` checks of this machine's configuration: database, keys, store, clock.

Each failure here shows up elsewhere as a 401 nobody can explain (tokens signed by a
key no verifier has, a service that cannot decrypt its signer, login state lost
between two instances, tokens "issued in the future"), so each line names the fix.
"""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from token_service.db import migrate
from token_service.db.models import SigningKeyRow
from token_service.diagnostics.checks import Check, fail, ok, warn
from token_service.diagnostics.client_keys import client_key_checks
from token_service.diagnostics.durations import human_seconds
from token_service.diagnostics.local_database import (
    LocalDatabaseUnavailable,
    describe_database,
    embedded_file,
    local_engine,
    unavailable,
    without_credentials,
)
from token_service.keys.lifecycle import KeyTimings
from token_service.keys.sealing import KEK_FILE_NAME, KeyDecryptionError, load_kek, unseal
from token_service.settings import ConfigurationError, TokenServiceSettings
from token_service.store.choice import describe_store, store_for


async def _database_checks(settings: TokenServiceSettings) -> tuple[list[Check], bool]:
    """The database line(s), and whether the schema is current (later checks read it)."""
    where = describe_database(settings)
    upgrade = "`token-service db upgrade`" + (" (`serve` and `dev` also apply it on start)" if settings.is_embedded else "")
    try:
        async with local_engine(settings) as engine:
            current = await migrate.current_revision(engine)
    except LocalDatabaseUnavailable as exc:
        fix = "check TOKEN_SERVICE_DATA_DIR: the default ./.token-service is relative to the working directory"
        return [warn("database", str(exc), fix)], False
    except (OSError, SQLAlchemyError) as exc:
        fix = "check TOKEN_SERVICE_DATABASE_URL, that the server is running and that the database exists"
        return [fail("database", str(unavailable(exc, settings)), fix)], False
    head = migrate.head_revision()
    reached = ok("database", f"{where} is reachable")
    if current == head:
        return [reached, ok("schema", f"at the current revision {head}")], True
    found = "has no schema yet" if current is None else f"is at revision {current}"
    problem = f"{where} {found}; the code needs {head}"
    return [reached, (warn if settings.is_embedded else fail)("schema", problem, f"run {upgrade}")], False


def _kek_check(settings: TokenServiceSettings) -> tuple[Check, bytes | None]:
    try:
        kek = load_kek(settings, create=False)
    except ConfigurationError as exc:
        fix = "set TOKEN_SERVICE_KEY_ENCRYPTION_KEY (create one with `token-service keys new-kek`)"
        database = embedded_file(settings)
        if database is not None and not database.exists():
            # A fresh embedded set-up: the first start generates the key file with the database.
            return warn("key-encryption key", str(exc)), None
        return fail("key-encryption key", str(exc), fix), None
    source = "TOKEN_SERVICE_KEY_ENCRYPTION_KEY" if settings.key_encryption_key is not None else str(settings.data_dir / KEK_FILE_NAME)
    return ok("key-encryption key", f"present ({source})"), kek


async def _signing_key_checks(settings: TokenServiceSettings, kek: bytes | None) -> list[Check]:
    try:
        async with local_engine(settings) as engine:
            async with engine.connect() as connection:
                rows = (await connection.execute(select(SigningKeyRow.kid, SigningKeyRow.private_key_ciphertext).where(SigningKeyRow.state == "active"))).all()
    except (LocalDatabaseUnavailable, OSError, SQLAlchemyError) as exc:
        return [fail("signing key", f"cannot read the signing keys: {exc}")]
    if not rows:
        return [
            fail(
                "signing key",
                "no active signing key: the service cannot issue tokens",
                "start the service (it creates the first key), or run `token-service keys rotate --activate-now`",
            )
        ]
    kid, ciphertext = rows[0]
    checks = [ok("signing key", f"active key {kid}")]
    if kek is None:
        return [*checks, warn("key decryption", "not checked: no key-encryption key (see above)")]
    try:
        unseal(kek, ciphertext, kid.encode())
    except KeyDecryptionError:
        checks.append(
            fail(
                "key decryption",
                f"the key-encryption key cannot decrypt the active key {kid}: it is not the key the signing keys were sealed with",
                "set TOKEN_SERVICE_KEY_ENCRYPTION_KEY to the value the running instances use (every instance and the CLI need the same one)",
            )
        )
    else:
        checks.append(ok("key decryption", f"the key-encryption key decrypts active key {kid}"))
    return checks


def _timing_checks(settings: TokenServiceSettings) -> list[Check]:
    timings = KeyTimings.from_settings(settings)
    problems = timings.problems()
    if problems:
        return [fail("key timing", problem) for problem in problems]
    return [
        ok(
            "key timing",
            f"new keys are published {timings.prepublish} s before signing (JWKS max-age {timings.jwks_max_age} s + margin "
            f"{timings.publish_margin} s = {timings.cache_horizon} s); retired keys stay published {timings.retirement_window} s "
            f"(longest token lifetime {timings.longest_token_ttl} s + leeway {timings.leeway} s + {timings.cache_horizon} s)",
        )
    ]


async def _store_check(settings: TokenServiceSettings) -> Check:
    if settings.redis_url is None and settings.ephemeral_store == "memory":
        return warn(
            "store",
            "no Redis configured and TOKEN_SERVICE_EPHEMERAL_STORE=memory: login state, codes and sessions live in one "
            "process, so only ONE worker of ONE instance may run",
            "set TOKEN_SERVICE_REDIS_URL, or TOKEN_SERVICE_EPHEMERAL_STORE=file for several workers on this host",
        )
    if settings.redis_url is None:
        # Not opened here: opening would create the file, and diagnostics change nothing.
        return warn(
            "store",
            f"no Redis configured: the {describe_store(settings)} holds login state, codes and sessions, so every "
            "instance must run on this host",
            "set TOKEN_SERVICE_REDIS_URL before running instances on several hosts behind a load balancer",
        )
    where = describe_store(settings)
    store = store_for(settings)
    try:
        reachable = await store.ping()
    finally:
        await store.close()
    if not reachable:
        return fail("store", f"{where} is unreachable", "start Redis or fix TOKEN_SERVICE_REDIS_URL")
    return ok("store", f"{where} answers")


async def _clock_check(settings: TokenServiceSettings) -> Check:
    if not settings.uses_postgres:
        return ok("clock", "embedded SQLite shares this clock")
    try:
        async with local_engine(settings) as engine, engine.connect() as connection:
            before = time.time()
            server: datetime = (await connection.execute(text("SELECT CURRENT_TIMESTAMP"))).scalar_one()
            after = time.time()
    except (LocalDatabaseUnavailable, OSError, SQLAlchemyError) as exc:
        return warn("clock", f"not checked: cannot ask the database for its time ({type(exc).__name__})")
    # The server read its clock somewhere during the round trip; the midpoint bounds the error by half of it.
    skew = server.timestamp() - (before + after) / 2
    direction = "ahead of" if skew > 0 else "behind"
    message = f"the database server's clock is {human_seconds(skew)} {direction} this machine's (leeway {settings.leeway} s)"
    if abs(skew) > settings.leeway:
        return fail("clock", message, "synchronise the clocks (NTP): tokens would look expired or issued in the future")
    return ok("clock", message)


async def local_checks(settings: TokenServiceSettings) -> list[Check]:
    checks, schema_current = await _database_checks(settings)
    kek_check, kek = _kek_check(settings)
    checks.append(kek_check)
    if schema_current:
        checks += await _signing_key_checks(settings, kek)
        checks += await client_key_checks(settings)
    else:
        checks.append(warn("signing key", "not checked: the database schema is not usable (see above)"))
    checks += _timing_checks(settings)
    checks.append(await _store_check(settings))
    checks.append(await _clock_check(settings))
    return checks

