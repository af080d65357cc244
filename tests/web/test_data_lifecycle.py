"""Archive, delete and erase over the admin API and the CLI, on SQLite and PostgreSQL."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from experiments.models import Assignment, AuditEntry, Event, Feedback
from web.cli import main

CHAT = {"channel": "chat"}
Headers = dict[str, str]


def shopper(client: FlaskClient, headers: Headers, unit: str, *, converts: bool) -> None:
    """One shopper's whole visit: assignment, events (some outside the experiment), survey."""
    assert client.post("/api/v1/assign", headers=headers, json={
        "experiment": "urgency-close", "unit_id": unit, "attributes": CHAT}).status_code == 200
    events = [{"event_id": f"{unit}-pay", "unit_id": unit, "name": "payment"}]
    if converts:
        events += [{"event_id": f"{unit}-c", "unit_id": unit, "experiment": "urgency-close",
                    "name": "conversion"},
                   {"event_id": f"{unit}-r", "unit_id": unit, "experiment": "urgency-close",
                    "name": "revenue", "value": 89.0}]
    assert client.post("/api/v1/events", headers=headers,
                       json={"events": events}).status_code == 200
    assert client.post("/api/v1/feedback", headers=headers, json={
        "event_id": f"{unit}-f", "unit_id": unit, "experiment": "urgency-close", "rating": 5,
        "helpful": True, "comment": "倒计时让我下决心了"}).status_code == 200


def figures(client: FlaskClient, headers: Headers) -> dict[str, Any]:
    """The results document without the clock's fields."""
    answer = client.get("/api/v1/experiments/urgency-close/results", headers=headers)
    assert answer.status_code == 200, answer.json
    return {k: v for k, v in answer.json.items() if k not in ("generated_at", "window")}


def rows_of(app: Flask, unit: str) -> dict[str, int]:
    with app.extensions["abtest"].session_factory() as session:
        return {model.__tablename__: session.scalar(
            select(func.count()).select_from(model).where(model.unit_id == unit)) or 0
            for model in (Assignment, Event, Feedback)}


def erasures(app: Flask) -> list[tuple[str, dict[str, Any]]]:
    with app.extensions["abtest"].session_factory() as session:
        query = select(AuditEntry).where(AuditEntry.action == "erase").order_by(AuditEntry.id)
        return [(entry.actor, entry.detail) for entry in session.scalars(query)]


def test_erase_removes_one_shopper_and_leaves_the_others_results_unchanged(
    app: Flask, client: FlaskClient, admin_headers: Headers, storefront_headers: Headers,
    started: Callable[..., dict[str, Any]],
) -> None:
    started()
    for i in range(30):
        shopper(client, storefront_headers, f"u{i}", converts=i % 3 == 0)
    without = figures(client, admin_headers)
    shopper(client, storefront_headers, "victim", converts=True)
    assert figures(client, admin_headers) != without

    answer = client.delete("/api/v1/units/victim", headers=admin_headers)
    assert answer.status_code == 200, answer.json
    assert answer.json == {"removed": {"assignments": 1, "events": 3, "feedback": 1,
                                       "customer_segments": 0}}
    assert rows_of(app, "victim") == {"assignments": 0, "events": 0, "feedback": 0}
    assert figures(client, admin_headers) == without
    assert rows_of(app, "u0") == {"assignments": 1, "events": 3, "feedback": 1}

    again = client.delete("/api/v1/units/victim", headers=admin_headers)
    assert again.status_code == 200
    assert again.json == {"removed": dict.fromkeys(answer.json["removed"], 0)}
    [(actor, first), (_, second)] = erasures(app)
    assert actor.startswith("api key ") and first == answer.json
    assert second == again.json and "victim" not in repr(first) + repr(second)


@pytest.mark.parametrize(("unit", "why"), [
    ("x" * 201, "at most 200"),
    ("bad%00id", "NUL"),
])
def test_erase_refuses_a_unit_id_no_storefront_could_send(
    client: FlaskClient, admin_headers: Headers, unit: str, why: str,
) -> None:
    answer = client.delete(f"/api/v1/units/{unit}", headers=admin_headers)
    assert answer.status_code == 422
    assert answer.json["error"]["field"] == "unit_id" and why in answer.json["error"]["message"]


def test_only_admin_keys_archive_delete_or_erase(
    client: FlaskClient, storefront_headers: Headers, admin_headers: Headers,
    started: Callable[..., dict[str, Any]],
) -> None:
    started()
    client.post("/api/v1/experiments/urgency-close/stop", headers=admin_headers)
    calls = [("delete", "/api/v1/units/u1"), ("delete", "/api/v1/experiments/urgency-close"),
             ("post", "/api/v1/experiments/urgency-close/archive"),
             ("post", "/api/v1/experiments/urgency-close/unarchive")]
    for method, url in calls:
        assert getattr(client, method)(url, headers=storefront_headers).status_code == 403
        assert getattr(client, method)(url).status_code == 401
    assert client.get("/api/v1/experiments/urgency-close",
                      headers=admin_headers).json["archived_at"] is None


def test_running_experiment_cannot_be_archived_or_deleted(
    client: FlaskClient, admin_headers: Headers, storefront_headers: Headers,
    started: Callable[..., dict[str, Any]],
) -> None:
    started()
    shopper(client, storefront_headers, "u1", converts=True)
    for answer in (client.delete("/api/v1/experiments/urgency-close", headers=admin_headers),
                   client.post("/api/v1/experiments/urgency-close/archive",
                               headers=admin_headers)):
        assert answer.status_code == 409
        error = answer.json["error"]
        assert (error["code"], error["field"]) == ("experiment_serving", "status")
        assert "it is running" in error["message"] and "stop it first" in error["message"]
    found = client.get("/api/v1/experiments/urgency-close", headers=admin_headers).json
    assert (found["status"], found["archived_at"]) == ("running", None)
    assert figures(client, admin_headers)["units"] != [0] * 8


def test_archive_hides_then_delete_removes(
    app: Flask, client: FlaskClient, admin_headers: Headers, storefront_headers: Headers,
    started: Callable[..., dict[str, Any]], playbook: Callable[[str], dict[str, Any]],
) -> None:
    started()
    shopper(client, storefront_headers, "u1", converts=True)
    client.post("/api/v1/experiments", json=playbook("fab-order"), headers=admin_headers)
    client.post("/api/v1/experiments/urgency-close/stop", headers=admin_headers)
    archived = client.post("/api/v1/experiments/urgency-close/archive", headers=admin_headers)
    assert archived.status_code == 200 and archived.json["archived_at"] is not None

    def listed(query: str = "") -> list[str]:
        answer = client.get(f"/api/v1/experiments{query}", headers=admin_headers)
        assert answer.status_code == 200, answer.json
        return [e["key"] for e in answer.json["experiments"]]

    assert listed() == ["fab-order"]
    assert listed("?archived=true") == ["fab-order", "urgency-close"]
    bad = client.get("/api/v1/experiments?archived=maybe", headers=admin_headers)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "archived"
    assert client.get("/api/v1/experiments/urgency-close", headers=admin_headers).status_code \
        == 200
    moved = client.post("/api/v1/experiments/urgency-close/promote", headers=admin_headers,
                        json={"arm": archived.json["arms"][1]["key"]})
    assert moved.status_code == 409 and moved.json["error"]["code"] == "experiment_archived"

    deleted = client.delete("/api/v1/experiments/urgency-close", headers=admin_headers)
    assert deleted.status_code == 200, deleted.json
    removed = deleted.json["removed"]
    assert (removed["assignments"], removed["events"], removed["feedback"]) == (1, 2, 1)
    assert removed["audit_entries"] == 4  # create, start, stop, archive
    assert rows_of(app, "u1") == {"assignments": 0, "events": 1, "feedback": 0}  # payment
    assert client.get("/api/v1/experiments/urgency-close",
                      headers=admin_headers).status_code == 404
    assert client.delete("/api/v1/experiments/urgency-close",
                         headers=admin_headers).status_code == 404
    assert listed("?archived=true") == ["fab-order"]


def test_openapi_documents_the_removals(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    paths = document["paths"]
    erase = paths["/api/v1/units/{unit_id}"]["delete"]
    assert erase["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RemovedOut"}
    assert "removed" in document["components"]["schemas"]["RemovedOut"]["properties"]
    assert "Idempotent" in erase["summary"] and erase["security"] == [{"bearer": []}]
    assert "409" in paths["/api/v1/experiments/{key}"]["delete"]["responses"]
    assert {"archived"} <= {p["name"] for p in paths["/api/v1/experiments"]["get"]["parameters"]}


def test_cli_erase(runner: CliRunner, client: FlaskClient, storefront_headers: Headers,
                   started: Callable[..., dict[str, Any]], app: Flask) -> None:
    started()
    shopper(client, storefront_headers, "u1", converts=False)
    result = runner.invoke(main, ["erase", "--unit-id", "u1"])
    assert result.exit_code == 0, result.output
    assert "erased unit: assignments 1, events 1, feedback 1, customer_segments 0" \
        in result.stdout
    assert rows_of(app, "u1") == {"assignments": 0, "events": 0, "feedback": 0}
    again = runner.invoke(main, ["erase", "--unit-id", "u1"])
    assert again.exit_code == 0 and "0 rows" in again.stdout
    assert [actor for actor, _ in erasures(app)] == ["system", "system"]


@pytest.mark.parametrize(("args", "why"), [
    (["erase", "--unit-id", ""], "at least 1 character"),
    (["erase", "--unit-id", "a\x00b"], "NUL"),
    (["erase", "--unit-id", "x" * 201], "at most 200"),
])
def test_cli_erase_names_the_field_of_bad_input(
    runner: CliRunner, app: Flask, args: list[str], why: str,
) -> None:
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert "--unit-id" in result.stderr and why in result.stderr
    assert erasures(app) == []


def test_cli_erase_needs_the_unit_id(runner: CliRunner) -> None:
    result = runner.invoke(main, ["erase"])
    assert result.exit_code == 2 and "--unit-id" in result.stderr
