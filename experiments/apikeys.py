"""API keys: random tokens shown once, stored as sha256, looked up by a short prefix.

A token looks like ``abt_<prefix>_<secret>``; the prefix finds the row with one indexed query and
the hash comparison is constant-time. sha256 (not a slow password hash) suffices because the
secret has 256 bits of entropy.

Every storefront request authenticates, so each process keeps what it read about a key for
``KEY_CACHE_SECONDS``: the lookup was a third of a returning unit's /assign (bench/http.py).
The price is that revoking a key reaches the *other* processes only within that time (the
revoking process forgets the key at once).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from experiments.errors import Forbidden, NotFound, Unauthenticated
from experiments.models import ApiKey, utcnow

Scope = Literal["storefront", "admin"]
SCOPES: tuple[Scope, ...] = ("storefront", "admin")
_TOKEN_PREFIX = "abt"
KEY_CACHE_SECONDS = 1.0
"""Revoking a key must stop it on every worker within a second (issue 14); one indexed read a
second per key and process keeps almost all of the saving."""
_KEY_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class AuthenticatedKey:
    """What a request may know about the key it came with (a value, safe to cache)."""

    id: int
    prefix: str
    scope: str
    key_hash: str
    revoked: bool


# prefix -> (monotonic time read, key); only keys that exist are cached, so unknown prefixes
# sent by a scanner cannot fill it.
_key_cache: dict[str, tuple[float, AuthenticatedKey]] = {}


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


def authenticate(session: Session, token: str | None, needed: Scope) -> AuthenticatedKey:
    """The key behind ``token`` if it may act in scope ``needed`` (admin covers storefront)."""
    parts = (token or "").split("_", 2)
    if len(parts) != 3 or parts[0] != _TOKEN_PREFIX:
        raise Unauthenticated("missing or malformed API key: send 'Authorization: Bearer <key>'")
    key = _key_by_prefix(session, parts[1])
    if key is None or key.revoked or not hmac.compare_digest(key.key_hash, _digest(token or "")):
        raise Unauthenticated("unknown or revoked API key")
    if needed == "admin" and key.scope != "admin":
        raise Forbidden(f"this endpoint needs an admin key; key {key.id} is {key.scope}")
    return key


def _key_by_prefix(session: Session, prefix: str) -> AuthenticatedKey | None:
    """The key with ``prefix``, from this process's cache while it is fresh."""
    now = time.monotonic()
    cached = _key_cache.get(prefix)
    if cached is not None and now - cached[0] < KEY_CACHE_SECONDS:
        return cached[1]
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None:
        return None
    key = AuthenticatedKey(row.id, row.prefix, row.scope, row.key_hash, row.revoked_at is not None)
    if len(_key_cache) >= _KEY_CACHE_LIMIT:
        _key_cache.clear()
    _key_cache[prefix] = (now, key)
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
    _key_cache.pop(key.prefix, None)
    return key
