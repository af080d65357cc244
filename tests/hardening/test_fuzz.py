"""Fuzzing the JSON API from its own OpenAPI document (schemathesis 4, in-process WSGI).

Every documented operation gets generated requests, valid and schema-violating, three times:
with an admin key, a storefront key and a bad key. A running experiment with stored units and
events (one value beyond every bound, as rows stored before the bound existed) is the ``key``
of every experiment route, so requests reach the analysis and the lifecycle instead of a 404.
No answer may be a 5xx, and every answer must be documented: its status code, content type and
body schema. Deterministic (hypothesis ``derandomize``) and bounded (``max_examples`` per
operation and mode). On SQLite and on PostgreSQL, the production database, where text,
numbers and timestamps meet other limits.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import schemathesis
import yaml
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from experiments.models import Event
from tests.fixtures_db import PLAYBOOKS, issue_token
from tests.web.test_results_api import T0, _seed

EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}
MIN_REQUESTS = 1000
# Valid and schema-violating requests alike: a documented status and body, never a 5xx.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
KEY = "urgency-close"


def _fuzz(strategy: object, mode: GenerationMode, headers: dict[str, str],
          record: Callable[[str, int], None]) -> None:
    @given(case=strategy)
    @settings(max_examples=EXAMPLES[mode], derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], print_blob=False,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        record(case.operation.label, response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()


def _modes(operation: APIOperation) -> list[GenerationMode]:
    """Negative cases need something to break: a body or query parameters."""
    if len(operation.body) or len(operation.query):
        return list(EXAMPLES)
    return [GenerationMode.POSITIVE]


def _running_experiment(app: Flask, admin: dict[str, str]) -> None:
    """The playbook started through the API, with seeded units and events."""
    client = app.test_client()
    definition = yaml.safe_load((PLAYBOOKS / f"{KEY}.yaml").read_text(encoding="utf-8"))
    assert client.post("/api/v1/experiments", json=definition, headers=admin).status_code == 201
    assert client.post(f"/api/v1/experiments/{KEY}/start", headers=admin).status_code == 200
    _seed(app, units=200)
    with app.extensions["abtest"].session_factory.begin() as session:
        session.add(Event(event_id="huge", unit_id="u0", name="revenue", value=1e160,
                          occurred_at=T0 + timedelta(days=1)))


def _order(operation: APIOperation) -> tuple[bool, str]:
    """Deletions last: once the experiment is gone every later request would be a 404."""
    return operation.method.lower() == "delete", operation.label


pytestmark = pytest.mark.slow


@pytest.mark.parametrize("key", ["admin", "storefront", "bad"])
def test_every_operation_answers_as_documented(app: Flask, key: str) -> None:
    token = issue_token(app, key) if key != "bad" else "abt_00000000_not-a-real-key"
    headers = {"Authorization": f"Bearer {token}"}
    _running_experiment(app, {"Authorization": f"Bearer {issue_token(app, 'admin')}"})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    statuses: dict[str, list[int]] = {}

    def record(label: str, status: int) -> None:
        statuses.setdefault(label, []).append(status)

    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    assert len(operations) >= 13
    for operation in operations:
        pinned = {"key": KEY} if "key" in operation.path_parameters else None
        for mode in _modes(operation):
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=pinned)
            _fuzz(strategy, mode, headers, record)
    assert sum(map(len, statuses.values())) >= MIN_REQUESTS / 3  # over 1,000 for three keys
    if key == "admin":  # the pinned experiment was reached: its analysis answered
        assert 200 in statuses["GET /api/v1/experiments/{key}/results"]
