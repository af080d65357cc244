"""Every error path answers JSON ``{"error": {"code", "message", "field"?}}`` with a 4xx."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from experiments.models import Assignment, Event, Feedback

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


def post_raw(client, path: str, body: bytes, headers: dict[str, str]):
    return client.post(path, data=body, headers=headers, content_type="application/json")


def stored_rows(app, model) -> list:
    with app.extensions["abtest"].session_factory() as session:
        return list(session.scalars(select(model)))


def test_deeply_nested_json_is_a_400(client, storefront_headers) -> None:
    """json.loads raises RecursionError, not ValueError, on ~1,100 nested arrays."""
    body = b'{"unit_id": "u", "attributes": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    error = check_error(post_raw(client, ASSIGN, body, storefront_headers), 400, "bad_request")
    assert "nested" in error["message"]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(
    ("path", "template"),
    [
        (ASSIGN, '{"experiment": "urgency-close", "unit_id": "u", "attributes": {"x": %s}}'),
        ("/api/v1/events", '{"events": [{"event_id": "e", "unit_id": "u", "name": "revenue",'
                           ' "value": %s}]}'),
    ],
)
def test_non_standard_json_constants_are_malformed(
    app, client, storefront_headers, started, path, template, token
) -> None:
    started()
    body = (template % token).encode()
    error = check_error(post_raw(client, path, body, storefront_headers), 400, "bad_request")
    assert token.lstrip("-") in error["message"]
    assert stored_rows(app, Assignment) == stored_rows(app, Event) == []


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (ASSIGN, '{"experiment": "urgency-close", "unit_id": "u",'
                 ' "attributes": {"cart": {"total": [1, -1e999]}}}', "attributes.cart"),
        ("/api/v1/events", '{"events": [{"event_id": "e", "unit_id": "u", "name": "revenue",'
                           ' "value": 1e999}]}', "events.0.value"),
    ],
)
def test_numbers_too_large_for_a_float_name_the_field(
    app, client, storefront_headers, started, path, body, field
) -> None:
    """Python's json reads 1e999 as inf, which PostgreSQL's json type refuses."""
    started()
    error = check_error(post_raw(client, path, body.encode(), storefront_headers), 422,
                        "invalid", field)
    assert "finite" in error["message"]
    assert stored_rows(app, Assignment) == stored_rows(app, Event) == []


def test_non_finite_numbers_in_a_definition_name_the_field(client, admin_headers,
                                                           playbook) -> None:
    definition = playbook("urgency-close")
    definition["units"][1]["params"] = {"stock": 1e999}
    definition["targeting"] = {"hour": {"$gte": 1e999}}
    body = json.dumps(definition).replace("Infinity", "1e999").encode()
    answer = post_raw(client, "/api/v1/experiments", body, admin_headers)
    assert answer.status_code == 422, answer.json
    problems = {detail["field"]: detail["message"] for detail in answer.json["error"]["details"]}
    assert "finite" in problems["units.1.params.stock.float"]  # the parameter's number form
    assert "finite" in problems["targeting.hour"]
    assert client.get("/api/v1/experiments/urgency-close",
                      headers=admin_headers).status_code == 404


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-01:00",
                                       "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z"])
def test_event_timestamps_outside_the_plausible_range(app, client, storefront_headers,
                                                      timestamp) -> None:
    batch = {"events": [{"event_id": "e", "unit_id": "u", "name": "conversion",
                         "timestamp": timestamp}]}
    error = check_error(client.post("/api/v1/events", json=batch, headers=storefront_headers),
                        422, "invalid", "events.0.timestamp")
    assert "2000-01-01" in error["message"] and "2100-01-01" in error["message"]
    assert stored_rows(app, Event) == []


@pytest.mark.parametrize(
    ("path", "body", "field", "model"),
    [
        ("/api/v1/events", {"events": [{"event_id": "e1", "unit_id": "u", "name": "conversion"},
                                       {"event_id": "e2", "unit_id": "u", "name": "conversion",
                                        "experiment": "no-such-test"}]},
         "events.1.experiment", Event),
        ("/api/v1/feedback", {"event_id": "f1", "unit_id": "u", "experiment": "no-such-test",
                              "rating": 4, "helpful": True}, "experiment", Feedback),
    ],
)
def test_unknown_experiment_stores_nothing(app, client, storefront_headers, path, body, field,
                                           model) -> None:
    error = check_error(client.post(path, json=body, headers=storefront_headers),
                        404, "not_found", field)
    assert "no-such-test" in error["message"]
    assert stored_rows(app, model) == []
