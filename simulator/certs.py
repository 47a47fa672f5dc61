"""Development TLS material: a private CA and a server certificate it signs.

Every simulator listener speaks TLS 1.2+ by default (DESIGN §1, spec 00 §1), so
a fresh checkout needs a certificate that clients can verify without touching
the system trust store: ``kalshi-fixsim certs`` / ``make run`` call
``make_dev_certs`` and clients trust ``ca.pem`` only.

Files written to ``out_dir``::

    ca.pem       the dev CA certificate (give this to clients)
    ca.key       the CA private key (0600)
    server.pem   the server certificate followed by the CA certificate
    server.key   the server private key (0600)
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kalshi_fixsim.simulator.keys import atomic_write

__all__ = [
    "CertPaths",
    "client_ssl_context",
    "make_dev_certs",
    "server_ssl_context",
]

DEFAULT_HOSTS = ("localhost", "127.0.0.1")
# 825 days: the longest validity macOS/iOS accept for a TLS server certificate.
DEFAULT_DAYS = 825
# Tolerate a client clock a little behind ours (CI containers, VMs).
_BACKDATE = _dt.timedelta(hours=1)
# A CA the user brought may be RSA; ours is EC.
_SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class CertPaths:
    ca: Path
    ca_key: Path
    cert: Path
    key: Path

    @classmethod
    def in_dir(cls, out_dir: Path) -> "CertPaths":
        out_dir = Path(out_dir)
        return cls(
            ca=out_dir / "ca.pem",
            ca_key=out_dir / "ca.key",
            cert=out_dir / "server.pem",
            key=out_dir / "server.key",
        )

    def all_exist(self) -> bool:
        return all(p.is_file() for p in (self.ca, self.ca_key, self.cert, self.key))


class _CertAndKey(Protocol):
    # CertPaths, or config.TlsConfig: anything naming a cert chain and its key.
    cert: Path
    key: Path


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: fast to generate (tests make many), accepted by every TLS stack.
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san_entries(hosts: Iterable[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            # IP SANs must be IPAddress entries: clients never match an IP
            # against a DNSName entry.
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return entries


def _make_ca(now: _dt.datetime, days: int) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kalshi-fixsim"),
            x509.NameAttribute(NameOID.COMMON_NAME, "kalshi-fixsim dev CA"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _dt.timedelta(days=days))
        # path_length=0: this CA signs leaf certificates only.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_server(
    ca_key: _SigningKey,
    ca_cert: x509.Certificate,
    hosts: tuple[str, ...],
    now: _dt.datetime,
    days: int,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _new_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kalshi-fixsim"),
            x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
        ]
    )
    # AKI/SKI included because strict X.509 verification (OpenSSL 3 with
    # VERIFY_X509_STRICT, Python 3.13's default) requires them.
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_san_entries(hosts)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _load_ca(paths: CertPaths) -> tuple[_SigningKey, x509.Certificate] | None:
    """The existing CA, or None if there is none (ca.pem is written last).

    An existing but unusable CA raises instead of being replaced silently:
    clients may already trust it.
    """
    if not (paths.ca.is_file() and paths.ca_key.is_file()):
        return None
    try:
        cert = x509.load_pem_x509_certificate(paths.ca.read_bytes())
        key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
        usable = isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey))
        usable = usable and key.public_key() == cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        usable = False
    if not usable:
        raise ValueError(
            f"{paths.ca} / {paths.ca_key}: not a usable CA pair; pass overwrite=True to replace it"
        )
    return key, cert


def make_dev_certs(
    out_dir: Path,
    *,
    hosts: Iterable[str] = DEFAULT_HOSTS,
    days: int = DEFAULT_DAYS,
    overwrite: bool = False,
) -> CertPaths:
    """Create (or reuse) the dev CA and a server certificate for ``hosts``.

    Idempotent: when all four files exist and ``overwrite`` is false the
    existing paths are returned untouched, so ``make run`` can call it every
    time. When only the server pair is missing, the existing CA is reused so
    clients that already trust ``ca.pem`` keep working.
    """
    hosts = tuple(hosts)
    if not hosts:
        raise ValueError("hosts: need at least one host name or IP address")
    if days < 1:
        raise ValueError("days: must be at least 1")
    paths = CertPaths.in_dir(out_dir)
    if not overwrite and paths.all_exist():
        return paths

    now = _dt.datetime.now(_dt.timezone.utc)
    ca = None if overwrite else _load_ca(paths)
    if ca is None:
        ca_key, ca_cert = _make_ca(now, days)
        atomic_write(paths.ca_key, _key_pem(ca_key), 0o600)
        atomic_write(paths.ca, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    else:
        ca_key, ca_cert = ca

    key, cert = _make_server(ca_key, ca_cert, hosts, now, days)
    # Key before cert (and ca.key before ca.pem above): a certificate file
    # present means its key is complete.
    atomic_write(paths.key, _key_pem(key), 0o600)
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(
        serialization.Encoding.PEM
    )
    atomic_write(paths.cert, chain, 0o644)
    return paths


def server_ssl_context(paths: _CertAndKey) -> ssl.SSLContext:
    """Server-side context: TLS 1.2 minimum (spec 00 §1), our cert chain."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile=str(paths.cert), keyfile=str(paths.key))
    return ctx


def client_ssl_context(ca_file: Path | str) -> ssl.SSLContext:
    """Client-side context that trusts only ``ca_file`` and checks the host name."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED + check_hostname
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(ca_file))
    return ctx
