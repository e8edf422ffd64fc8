"""A CA bundle for clients: the CAs they already trust, and Ferry's own, in one file.

Pointing `REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE` and `CURL_CA_BUNDLE` at it makes the sync and
async Azure clients, `openai` and curl trust Ferry without distrusting anything else. What
they already trust is the file those variables name (a system or corporate bundle), or else
certifi's public CAs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import certifi

from ferry.files import replace_file

__all__ = ["write_bundle"]

_NAMED_BY = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def _base(bundle: Path, environ: Mapping[str, str]) -> Path:
    for name in _NAMED_BY:
        named = environ.get(name)
        if named and Path(named).is_file() and Path(named).resolve() != bundle.resolve():
            return Path(named)
    return Path(certifi.where())


def write_bundle(ca: Path, environ: Mapping[str, str] | None = None) -> Path:
    """`<ca's folder>/bundle.pem`, rewritten when its content would change."""
    bundle = ca.parent / "bundle.pem"
    base = _base(bundle, os.environ if environ is None else environ)
    content = base.read_bytes().rstrip() + b"\n" + ca.read_bytes()
    try:
        if bundle.read_bytes() == content:
            return bundle
    except OSError:
        pass
    replace_file(bundle, content)
    return bundle
