"""API helpers: create and start a playbook experiment through the admin API."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient


@pytest.fixture
def started(
    client: FlaskClient, admin_headers: dict[str, str], playbook: Callable[[str], dict[str, Any]]
) -> Callable[..., dict[str, Any]]:
    """POST a playbook (with changes) and start it; returns the experiment JSON."""

    def make(key: str = "urgency-close", **changes: Any) -> dict[str, Any]:
        definition = {**playbook(key), **changes}
        created = client.post("/api/v1/experiments", json=definition, headers=admin_headers)
        assert created.status_code == 201, created.json
        answer = client.post(f"/api/v1/experiments/{definition['key']}/start",
                             headers=admin_headers)
        assert answer.status_code == 200, answer.json
        return answer.json

    return make
