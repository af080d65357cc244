"""The OpenAPI document is valid OpenAPI 3 and documents every API route; health is open."""
from __future__ import annotations

import re

from openapi_spec_validator import validate


def test_openapi_is_valid_and_complete(app, client) -> None:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.json
    validate(document)
    routes = {(re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == documented
    assert len(routes) >= 13
    schemas = document["components"]["schemas"]
    assert "ExperimentDefinition" in schemas and "EventIn" in schemas
    assign = document["paths"]["/api/v1/assign"]["post"]
    assert assign["security"] == [{"bearer": []}]
    assert assign["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "AssignRequest")


def test_health_checks_the_database_without_a_key(client) -> None:
    answer = client.get("/api/v1/health")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok", "database": "ok"}
