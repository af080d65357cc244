"""A revoked API key stops working on every process within a second, on both backends."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from experiments import apikeys
from experiments.errors import Unauthenticated
from experiments.models import ApiKey, utcnow


def test_revocation_by_another_process_reaches_this_one_within_a_second(
    session, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, token = apikeys.create_api_key(session, "storefront", "shop")
    session.commit()
    clock = [1000.0]
    monkeypatch.setattr(apikeys.time, "monotonic", lambda: clock[0])
    assert apikeys.authenticate(session, token, "storefront").id == key.id  # now cached here
    # Another worker revokes it: its own cache is cleared, this process's is not.
    session.execute(update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=utcnow()))
    session.commit()
    clock[0] += 1.0
    with pytest.raises(Unauthenticated, match="revoked"):
        apikeys.authenticate(session, token, "storefront")


def test_revoking_here_takes_effect_at_once(session) -> None:
    key, token = apikeys.create_api_key(session, "admin", "ops")
    apikeys.authenticate(session, token, "admin")
    apikeys.revoke_api_key(session, key.id)
    with pytest.raises(Unauthenticated):
        apikeys.authenticate(session, token, "admin")
