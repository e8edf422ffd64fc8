"""`ferry env` and `ferry trust`: point clients at the running instance and its CA."""

from __future__ import annotations

from typing import Annotated

import typer

from ferry.cli.options import ConfigOption, DataOption
from ferry.settings import Settings

__all__ = ["env", "trust"]

FormatOption = Annotated[
    str,
    typer.Option("--format", help="sh, fish, powershell, dotenv or json.", show_default=True),
]


def env(
    data: DataOption = None,
    form: FormatOption = "sh",
    project: Annotated[
        str, typer.Option("--project", help="The project in the endpoints.")
    ] = "default",
    config: ConfigOption = None,
) -> None:
    """Print the variables a client needs for the running instance: `eval "$(ferry env)"`."""
    from ferry.errors import ConfigError
    from ferry.identity.clientenv import FORMATS, client_environment, render

    if form not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {form!r}")
    settings = Settings.load(config, data=data)
    print(render(client_environment(settings.data, project), form))


def trust(data: DataOption = None, config: ConfigOption = None) -> None:
    """Say how to make this system trust Ferry's local CA (it changes nothing itself)."""
    from ferry.identity.tls import ensure_certificates

    settings = Settings.load(config, data=data)
    ca = ensure_certificates(settings.data, settings.tls_names).ca.resolve()
    print(f"Ferry's local CA: {ca}")
    print(
        "\nEither point clients at a bundle of the usual CAs and Ferry's (no system change):\n"
        '    eval "$(ferry env)"\n'
        "\nor add the CA to this system's store (needs an administrator; undo by removing it):\n"
        f"    Debian/Ubuntu:  sudo cp {ca} /usr/local/share/ca-certificates/ferry-local.crt"
        " && sudo update-ca-certificates\n"
        f"    Fedora/RHEL:    sudo cp {ca} /etc/pki/ca-trust/source/anchors/ferry-local.pem"
        " && sudo update-ca-trust\n"
        "    macOS:          sudo security add-trusted-cert -d -r trustRoot"
        f" -k /Library/Keychains/System.keychain {ca}\n"
        f"    Windows:        certutil -addstore -f Root {ca}\n"
        "\nPython's certifi-based clients (requests, httpx) ignore the system store: they need"
        " REQUESTS_CA_BUNDLE / SSL_CERT_FILE, which `ferry env` sets."
    )


def token(
    resource: Annotated[
        str,
        typer.Option(
            "--resource", help="https://ai.azure.com (agents) or https://storage.azure.com."
        ),
    ] = "https://ai.azure.com",
    data: DataOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Token, expiry and resource.")] = False,
    config: ConfigOption = None,
) -> None:
    """Print a bearer token signed with the data folder's key, for clients that have no
    managed-identity endpoint to ask (a deployment's scripts, `curl`): valid 24 hours."""
    import json

    from ferry.identity.tokens import TokenIssuer

    settings = Settings.load(config, data=data)
    issued = TokenIssuer(settings.data).issue(resource)
    if as_json:
        print(
            json.dumps(
                {
                    "access_token": issued.value,
                    "expires_on": issued.expires_on,
                    "resource": issued.resource,
                }
            )
        )
    else:
        print(issued.value)
