"""Local identity: the data folder's signing key, TLS files and CA bundle, and the token
endpoint's listener; served with `ferry start`, or alone (`ferry serve identity`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ferry.identity.bundle import write_bundle
from ferry.identity.endpoint import PATH, build_identity_app, new_secret
from ferry.identity.local import LocalIdentity
from ferry.identity.tls import ensure_certificates
from ferry.identity.tokens import TokenIssuer
from ferry.platform.serve import Served, run_served
from ferry.serving import Listener, bind
from ferry.settings import Settings

__all__ = ["ServedIdentity", "serve_identity", "start_identity"]


@dataclass(frozen=True)
class ServedIdentity:
    identity: LocalIdentity
    listener: Listener
    """The token endpoint's."""


def start_identity(settings: Settings) -> ServedIdentity:
    """Make (or load) the key, certificates and bundle; bind the token endpoint's port."""
    issuer = TokenIssuer(settings.data)
    tls = ensure_certificates(settings.data, settings.tls_names)
    bundle = write_bundle(tls.ca)
    secret = settings.identity_secret or new_secret()
    listener = Listener(
        build_identity_app(issuer, secret), bind(settings.host, settings.identity_port)
    )
    endpoint = f"{listener.url(settings.host)}{PATH}"
    return ServedIdentity(LocalIdentity(issuer, secret, endpoint, tls, bundle), listener)


def serve_identity(settings: Settings, announce: Callable[[str], None]) -> None:
    """The token endpoint alone (`ferry serve identity`): in a cluster, the one that function
    apps reach, signing with the key every replica shares. It needs no database."""
    started = start_identity(settings)
    identity = started.identity
    served = Served(
        [started.listener],
        {"identity": identity.endpoint},
        identity.endpoint,
        {"identity_header": identity.secret},
    )
    run_served(settings, served, announce)
