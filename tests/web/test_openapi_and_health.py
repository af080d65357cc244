"""The OpenAPI document is valid OpenAPI 3 and documents every API route; health is open."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from openapi_spec_validator import validate

from tests.web.test_api_errors import check_error


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


def _schemas(client) -> dict:
    return client.get("/api/v1/openapi.json").json["components"]["schemas"]


def test_every_operation_documents_500_and_503(client) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for item in paths.values():
        for operation in item.values():
            assert {"500", "503"} <= set(operation["responses"]), operation["operationId"]


def test_the_allocation_discriminator_is_documented_and_required(
    client, admin_headers, playbook
) -> None:
    schemas = _schemas(client)
    allocation = schemas["ExperimentDefinition"]["properties"]["allocation"]
    assert allocation["discriminator"]["propertyName"] == "mode"
    assert set(allocation["discriminator"]["mapping"]) == {"fixed", "thompson"}
    for name in ("FixedAllocation", "ThompsonAllocation"):
        assert "mode" in schemas[name]["required"]
    definition = {**playbook("urgency-close"), "allocation": {}}
    answer = client.post("/api/v1/experiments", json=definition, headers=admin_headers)
    check_error(answer, 422, "invalid", "allocation")
    definition["allocation"] = {"mode": "fixed"}
    assert client.post("/api/v1/experiments", json=definition,
                       headers=admin_headers).status_code == 201


def _post_event(client, headers, event_id: str, **fields) -> int:
    event = {"event_id": event_id, "unit_id": "u1", "name": "conversion", **fields}
    return client.post("/api/v1/events", json={"events": [event]}, headers=headers).status_code


def test_event_bounds_in_the_document_are_the_ones_enforced(client, storefront_headers) -> None:
    properties = _schemas(client)["EventIn"]["properties"]
    value = next(s for s in properties["value"]["anyOf"] if s.get("type") == "number")
    time = next(s for s in properties["timestamp"]["anyOf"] if s.get("type") == "string")
    earliest = datetime.fromisoformat(time["formatMinimum"])
    latest = datetime.fromisoformat(time["formatExclusiveMaximum"])
    second = timedelta(seconds=1)
    cases = [("t1", {"timestamp": earliest.isoformat()}, 200),
             ("t2", {"timestamp": (earliest - second).isoformat()}, 422),
             ("t3", {"timestamp": (latest - second).isoformat()}, 200),
             ("t4", {"timestamp": latest.isoformat()}, 422),
             ("v1", {"value": value["maximum"] * 2}, 422),
             ("v2", {"value": False}, 422)]
    for event_id, fields, status in cases:
        assert _post_event(client, storefront_headers, event_id, **fields) == status, fields
