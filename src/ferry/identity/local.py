"""Local identity as `ferry start` serves it: the token issuer, the token endpoint's
listener and secret, the TLS files and the CA bundle, and the environment a function app
gets from them (as App Service gives its apps `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ferry.identity.bundle import write_bundle
from ferry.identity.endpoint import PATH, build_identity_app, new_secret
from ferry.identity.tls import TlsFiles, ensure_certificates
from ferry.identity.tokens import TokenIssuer
from ferry.instance import Instance
from ferry.serving import Listener, bind, run_until_stopped
from ferry.settings import Settings

__all__ = ["CA_VARIABLES", "LocalIdentity", "serve_identity", "start_identity"]

CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
"""Where the sync Azure clients (requests), the async ones and httpx, and curl look for
trusted CAs."""


@dataclass(frozen=True)
class LocalIdentity:
    issuer: TokenIssuer
    secret: str
    listener: Listener
    endpoint: str
    """The token endpoint's URL: what `IDENTITY_ENDPOINT` is set to."""
    tls: TlsFiles
    bundle: Path

    def environment(self) -> dict[str, str]:
        """The variables a client (a function app, a script after `ferry env`) needs."""
        variables = {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.secret}
        variables.update((name, str(self.bundle)) for name in CA_VARIABLES)
        return variables


def start_identity(settings: Settings) -> LocalIdentity:
    """Make (or load) the key, certificates and bundle; bind the token endpoint's port."""
    issuer = TokenIssuer(settings.data)
    tls = ensure_certificates(settings.data, settings.tls_names)
    bundle = write_bundle(tls.ca)
    secret = settings.identity_secret or new_secret()
    listener = Listener(
        build_identity_app(issuer, secret), bind(settings.host, settings.identity_port)
    )
    endpoint = f"{listener.url(settings.host)}{PATH}"
    return LocalIdentity(issuer, secret, listener, endpoint, tls, bundle)


def serve_identity(settings: Settings, announce: Callable[[str], None]) -> None:
    """The token endpoint alone (`ferry serve identity`): in a cluster, the one that function
    apps reach, signing with the key every replica shares."""
    identity = start_identity(settings)
    pid = os.getpid()
    Instance(pid, {"identity": identity.endpoint}, {"identity_header": identity.secret}).write(
        settings.data
    )
    try:
        announce(identity.endpoint)
        run_until_stopped([identity.listener])
    finally:
        Instance.remove(settings.data, pid)
