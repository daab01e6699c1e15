"""Encryption of private keys at rest: AES-256-GCM under the key-encryption key (KEK).

The KEK never enters the database: on the embedded default it is a file (mode 0600)
beside the database; elsewhere it comes from TOKEN_SERVICE_KEY_ENCRYPTION_KEY.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from token_service.settings import ConfigurationError, TokenServiceSettings, decode_kek

KEK_FILE_NAME = "key-encryption-key"
_NONCE_BYTES = 12


class KeyDecryptionError(Exception):
    """The stored private key cannot be decrypted with the configured KEK."""


def new_kek_text() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def load_kek(settings: TokenServiceSettings, *, create: bool = True) -> bytes:
    if settings.key_encryption_key is not None:
        return decode_kek(settings.key_encryption_key.get_secret_value())
    path = settings.data_dir / KEK_FILE_NAME
    if path.exists():
        return _read_kek_file(path)
    if not create:
        raise ConfigurationError(
            f"TOKEN_SERVICE_KEY_ENCRYPTION_KEY: not set and no key file at {path}; "
            "set the variable or start the service once to generate the file"
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = new_kek_text()
    # O_EXCL: two processes starting at once must not overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_kek_file(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    return decode_kek(text)


def _read_kek_file(path: Path) -> bytes:
    try:
        return decode_kek(path.read_text())
    except OSError as exc:
        raise ConfigurationError(f"key-encryption key file {path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise ConfigurationError(f"key-encryption key file {path}: {exc}") from None


def seal(kek: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, plaintext, associated_data)


def unseal(kek: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    try:
        return AESGCM(kek).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], associated_data)
    except (InvalidTag, ValueError):
        raise KeyDecryptionError(
            "a stored signing key cannot be decrypted: the key-encryption key differs from the one it was sealed with "
            "(check TOKEN_SERVICE_KEY_ENCRYPTION_KEY or the key file in the data directory)"
        ) from None
