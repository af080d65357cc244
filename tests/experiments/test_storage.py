"""What the storage promises beyond the schema: API keys at rest, SQLite's journal mode."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from experiments.apikeys import authenticate, create_api_key
from experiments.db import make_engine


def test_api_keys_are_stored_hashed_and_still_authenticate(session: Session) -> None:
    """A leaked database must not hand out working tokens: no column holds the token or its
    secret part, only the sha256 of the token, and the token still opens the door."""
    _key, token = create_api_key(session, "storefront", "shop")
    session.commit()
    secret = token.rsplit("_", 1)[1]
    rows = session.execute(text("SELECT * FROM api_keys")).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    assert token not in stored and secret not in stored
    assert rows[0]["key_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert authenticate(session, token, "storefront").id == rows[0]["id"]


def test_default_database_is_a_sqlite_file_in_wal_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WAL lets the storefront's reads run beside a writer on the zero-setup database."""
    monkeypatch.delenv("ABTEST_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    engine = make_engine()
    try:
        with engine.connect() as connection:
            assert connection.dialect.name == "sqlite"
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()
    assert (tmp_path / "instance" / "abtest.db").exists()
