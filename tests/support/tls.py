"""A throwaway certificate authority for tests that need real https on loopback.

MCP clients (and the client ID metadata document draft) only use https URLs as client
ids, so a test that serves such a document serves it over TLS with a certificate from
this CA, and makes the token service trust the CA the way a deployment adds its own CA
to the trust store (`trusting`).
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["LocalAuthority", "trusting"]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class LocalAuthority:
    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def create(cls, folder: Path, host: str = "localhost") -> LocalAuthority:
        """A CA, and a server certificate it signed for `host` and 127.0.0.1."""
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("token-service tests CA"))
            .issuer_name(_name("token-service tests CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
            )
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        authority = cls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
        authority.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        authority.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        authority.key_file.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        return authority


@contextmanager
def trusting(authority: LocalAuthority, monkeypatch: pytest.MonkeyPatch, folder: Path) -> Iterator[None]:
    """httpx clients created inside trust the public CAs plus `authority` (httpx reads
    `certifi.where()` when it builds a client's TLS context)."""
    bundle = folder / "trust-store.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + authority.ca_file.read_bytes())
    with monkeypatch.context() as patch:
        patch.setattr(certifi, "where", lambda: str(bundle))
        yield
