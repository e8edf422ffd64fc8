"""Who may call the queue service: SharedKey, SAS, and a seam for bearer tokens."""

from __future__ import annotations

from ferry.queues.auth.accounts import DEV_ACCOUNT, DEV_KEY, Account, Accounts
from ferry.queues.auth.authenticator import Authenticator, Grant, TokenVerifier

__all__ = [
    "DEV_ACCOUNT",
    "DEV_KEY",
    "Account",
    "Accounts",
    "Authenticator",
    "Grant",
    "TokenVerifier",
]
