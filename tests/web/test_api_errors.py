"""Every error path answers JSON ``{"error": {"code", "message", "field"?}}`` with a 4xx."""
from __future__ import annotations

import pytest

ASSIGN = "/api/v1/assign"


def check_error(answer, status: int, code: str, field: str | None = None) -> dict:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.is_json
    error = answer.json["error"]
    assert error["code"] == code and error["message"]
    assert error.get("field") == field
    return error


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (b"{not json", 400, "bad_request", None),
        (b"\xff\xfe\x00", 400, "bad_request", None),
        (b"", 400, "bad_request", None),
        (b"[1, 2]", 400, "bad_request", None),
        (b'"text"', 400, "bad_request", None),
        (b'{"unit_id": 7, "experiment": "urgency-close"}', 422, "invalid", "unit_id"),
        (b'{"experiment": "urgency-close"}', 422, "invalid", "unit_id"),
        (b'{"unit_id": "u", "experiment": "urgency-close", "attributes": []}', 422, "invalid",
         "attributes"),
        (b'{"unit_id": "u", "experiment": "urgency-close", "extra": 1}', 422, "invalid", "extra"),
        (b'{"unit_id": "u", "experiment": "a", "experiments": ["b"]}', 422, "invalid", None),
        (b'{"unit_id": "u", "experiment": "missing"}', 404, "not_found", "experiment"),
    ],
)
def test_bad_assign_bodies(client, storefront_headers, body, status, code, field) -> None:
    answer = client.post(ASSIGN, data=body, headers=storefront_headers,
                         content_type="application/json")
    check_error(answer, status, code, field)


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthenticated"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "unauthenticated"),
        ({"Authorization": "Bearer abt_deadbeef_nope"}, 401, "unauthenticated"),
        ({"Authorization": "Bearer garbage"}, 401, "unauthenticated"),
    ],
)
def test_missing_or_invalid_keys(client, headers, status, code) -> None:
    check_error(client.post(ASSIGN, json={"unit_id": "u"}, headers=headers), status, code)


def test_revoked_key_and_storefront_scope(app, client, storefront_headers) -> None:
    check_error(client.get("/api/v1/experiments", headers=storefront_headers), 403, "forbidden")
    from experiments.apikeys import list_api_keys, revoke_api_key

    with app.extensions["abtest"].session_factory.begin() as session:
        revoke_api_key(session, list_api_keys(session)[-1].id)
    check_error(client.post(ASSIGN, json={"unit_id": "u"}, headers=storefront_headers),
                401, "unauthenticated")


def test_http_errors_are_json(client, storefront_headers) -> None:
    check_error(client.get("/api/v1/nowhere"), 404, "not_found")
    check_error(client.get("/nowhere"), 404, "not_found")
    method = check_error(client.get(ASSIGN), 405, "method_not_allowed")
    assert method["message"]
    big = b'{"unit_id": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    check_error(client.post(ASSIGN, data=big, headers=storefront_headers,
                            content_type="application/json"), 413, "request_entity_too_large")


def test_too_many_events(client, storefront_headers) -> None:
    events = [{"event_id": f"e{i}", "unit_id": "u", "name": "conversion"} for i in range(1001)]
    error = check_error(client.post("/api/v1/events", json={"events": events},
                                    headers=storefront_headers), 422, "invalid", "events")
    assert "1000" in error["message"]


def test_admin_errors(client, admin_headers, started, playbook) -> None:
    started("fab-order")
    check_error(client.get("/api/v1/experiments/missing", headers=admin_headers),
                404, "not_found", "experiment")
    check_error(client.post("/api/v1/experiments", json=playbook("fab-order"),
                            headers=admin_headers), 409, "conflict", "key")
    check_error(client.post("/api/v1/experiments/fab-order/start", headers=admin_headers),
                409, "illegal_transition", "status")
    check_error(client.post("/api/v1/experiments/fab-order/promote", json={"arm": "nope"},
                            headers=admin_headers), 422, "invalid", "arm")
    bad = {**playbook("urgency-close"),
           "units": [{"unit": "stock_left", "variants": ["off", "maybe"]}]}
    error = check_error(client.post("/api/v1/experiments", json=bad, headers=admin_headers),
                        422, "invalid", "units.0.variants.1")
    assert "unknown variant 'maybe' of unit 'stock_left'" in error["message"]
    overlap = {**playbook("sms-opener"), "layer": {"name": "x", "range": [0, 1]}}
    assert client.post("/api/v1/experiments", json=overlap,
                       headers=admin_headers).status_code == 201
    clash = {**playbook("fab-order"), "key": "fab-2", "layer": {"name": "x", "range": [0.5, 1]}}
    check_error(client.post("/api/v1/experiments", json=clash, headers=admin_headers),
                409, "layer_overlap", "layer.range")


def test_a_bug_answers_json_500(app, client) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("bug")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    check_error(client.get("/boom"), 500, "internal_error")
