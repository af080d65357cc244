"""Fuzzing the JSON API from its own OpenAPI document (schemathesis 4, in-process WSGI).

Every documented operation gets generated requests, valid and schema-violating, three times:
with an admin key, a storefront key and a bad key. No answer may be a 5xx, and every answer
must be documented: its status code, content type and body schema. Deterministic (hypothesis
``derandomize``) and bounded (``max_examples`` per operation and mode). On SQLite and on
PostgreSQL, the production database, where text, numbers and timestamps meet other limits.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
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

from tests.fixtures_db import issue_token

EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}
MIN_REQUESTS = 1000
CHECKS = {
    GenerationMode.POSITIVE: [not_a_server_error, status_code_conformance,
                              content_type_conformance, response_schema_conformance],
    # Schema-violating requests: must be refused with a documented 4xx, never crash.
    GenerationMode.NEGATIVE: [not_a_server_error, status_code_conformance,
                              content_type_conformance, response_schema_conformance],
}


def _fuzz(strategy: object, mode: GenerationMode, headers: dict[str, str],
          count: Callable[[], None]) -> None:
    @given(case=strategy)
    @settings(max_examples=EXAMPLES[mode], derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], print_blob=False,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        count()
        case.validate_response(response, checks=CHECKS[mode])

    run()


def _modes(operation: APIOperation) -> list[GenerationMode]:
    """Negative cases need something to break: a body or query parameters."""
    if len(operation.body) or len(operation.query):
        return list(EXAMPLES)
    return [GenerationMode.POSITIVE]


pytestmark = pytest.mark.slow


@pytest.mark.parametrize("key", ["admin", "storefront", "bad"])
def test_every_operation_answers_as_documented(app: Flask, key: str) -> None:
    token = issue_token(app, key) if key != "bad" else "abt_00000000_not-a-real-key"
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    requests = [0]

    def count() -> None:
        requests[0] += 1

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13
    for operation in operations:
        for mode in _modes(operation):
            _fuzz(operation.as_strategy(generation_mode=mode), mode, headers, count)
    assert requests[0] >= MIN_REQUESTS / 3  # three keys: over 1,000 requests in all
