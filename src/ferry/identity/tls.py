"""Ferry's local certificate authority and server certificate, kept in the data folder.

On first start Ferry makes a CA (10 years) and a server certificate signed by it (1 year) for
`localhost`, `127.0.0.1`, `::1` and any extra names; later starts reuse them, and a server
certificate that lacks a requested name or is about to expire is reissued from the same CA, so
a client that trusts the CA once keeps trusting Ferry.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ferry.errors import ConfigError
from ferry.files import replace_file

__all__ = ["TlsFiles", "ensure_certificates"]

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")
_RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    """The CA certificate clients should trust (PEM)."""
    certificate: Path
    key: Path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _alt_names(names: Iterable[str]) -> list[x509.GeneralName]:
    result: list[x509.GeneralName] = []
    for name in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def _make_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ferry (local)"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Ferry local CA {os.urandom(4).hex()}"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    replace_file(folder / "ca.key", _key_pem(key), private=True)
    replace_file(folder / "ca.pem", certificate.public_bytes(serialization.Encoding.PEM))
    return certificate, key


def _load_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        certificate = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ConfigError(
            f"the local CA in {folder} cannot be read ({exc}); delete ca.pem and ca.key there "
            "to make a new one (clients will have to trust the new CA)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{folder / 'ca.key'} is not the key Ferry made")
    return certificate, key


def _server_is_current(path: Path, names: set[str]) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return False
    if certificate.not_valid_after_utc - dt.datetime.now(dt.UTC) < _RENEW_BEFORE:
        return False
    try:
        present = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    have = {str(n.value) for n in present.value}
    return names <= have


def ensure_certificates(data: Path, extra_names: Iterable[str] = ()) -> TlsFiles:
    """The CA and a current server certificate for the default and extra names."""
    folder = data / "tls"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {folder}: {exc.strerror or exc}") from None
    names = list(dict.fromkeys([*DEFAULT_NAMES, *extra_names]))
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    loaded = _load_ca(folder)
    if loaded is not None and _server_is_current(files.certificate, set(names)):
        return files
    ca_certificate, ca_key = loaded or _make_ca(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(_alt_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    replace_file(files.key, _key_pem(key), private=True)
    replace_file(files.certificate, certificate.public_bytes(serialization.Encoding.PEM))
    return files
