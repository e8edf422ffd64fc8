"""Local identity as a function app sees it: the token endpoint and its secret, and the CA
bundle its clients trust (as App Service gives its apps `IDENTITY_ENDPOINT` and
`IDENTITY_HEADER`). The platform binds the endpoint's port and builds this."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ferry.identity.tls import TlsFiles
from ferry.identity.tokens import TokenIssuer

__all__ = ["CA_VARIABLES", "LocalIdentity"]

CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
"""Where the sync Azure clients (requests), the async ones and httpx, and curl look for
trusted CAs."""


@dataclass(frozen=True)
class LocalIdentity:
    issuer: TokenIssuer
    secret: str
    endpoint: str
    """The token endpoint's URL: what `IDENTITY_ENDPOINT` is set to."""
    tls: TlsFiles
    bundle: Path

    def environment(self) -> dict[str, str]:
        """The variables a client (a function app, a script after `ferry env`) needs."""
        variables = {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.secret}
        variables.update((name, str(self.bundle)) for name in CA_VARIABLES)
        return variables
