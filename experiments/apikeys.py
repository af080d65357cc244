"""API keys: random tokens shown once, stored as sha256, looked up by a short prefix.

A token looks like ``abt_<prefix>_<secret>``; the prefix finds the row with one indexed query and
the hash comparison is constant-time. sha256 (not a slow password hash) suffices because the
secret has 256 bits of entropy.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from experiments.errors import Forbidden, NotFound, Unauthenticated
from experiments.models import ApiKey, utcnow

Scope = Literal["storefront", "admin"]
SCOPES: tuple[Scope, ...] = ("storefront", "admin")
_TOKEN_PREFIX = "abt"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_key(session: Session, scope: Scope, name: str = "") -> tuple[ApiKey, str]:
    """A new key and its token; the token is not stored and cannot be shown again."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    prefix = secrets.token_hex(4)
    token = f"{_TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(prefix=prefix, name=name, scope=scope, key_hash=_digest(token))
    session.add(key)
    session.flush()
    return key, token


def authenticate(session: Session, token: str | None, needed: Scope) -> ApiKey:
    """The key behind ``token`` if it may act in scope ``needed`` (admin covers storefront)."""
    parts = (token or "").split("_", 2)
    if len(parts) != 3 or parts[0] != _TOKEN_PREFIX:
        raise Unauthenticated("missing or malformed API key: send 'Authorization: Bearer <key>'")
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if key is None or key.revoked_at is not None or not hmac.compare_digest(
        key.key_hash, _digest(token or "")
    ):
        raise Unauthenticated("unknown or revoked API key")
    if needed == "admin" and key.scope != "admin":
        raise Forbidden(f"this endpoint needs an admin key; key {key.id} is {key.scope}")
    return key


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_api_key(session: Session, key_id: int) -> ApiKey:
    """Revoke key ``key_id`` (idempotent: revoking twice keeps the first time)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}", field="id")
    key.revoked_at = key.revoked_at or utcnow()
    session.flush()
    return key
