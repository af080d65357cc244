"""POST /experiments/<key>/allocate and /promote: on-demand allocation and manual promotion
recorded like the allocation service records them (snapshots, audit actor)."""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from experiments import audit
from experiments.allocation import snapshots
from experiments.definitions import get_experiment
from tests.experiments.conftest import stock_definition
from tests.experiments.test_allocation import THOMPSON, seed_arm
from tests.web.test_api_errors import check_error
from web.cli import main
from web.openapi import build_openapi

BASE = "/api/v1/experiments"


def _thompson(client: FlaskClient, headers: dict[str, str], **changes: Any) -> None:
    """Create and start the two-arm stock experiment with Thompson allocation."""
    definition = stock_definition(allocation=THOMPSON, **changes)
    assert client.post(BASE, json=definition, headers=headers).status_code == 201
    assert client.post(f"{BASE}/stock-test/start", headers=headers).status_code == 200


def _seed(app: Flask, arms: list[tuple[int, int]]) -> None:
    """(units, conversions) per arm in the current allocation period."""
    with app.extensions["abtest"].session_factory() as session:
        experiment = get_experiment(session, "stock-test")
        for arm, (units, conversions) in enumerate(arms):
            seed_arm(session, experiment, arm, units, conversions)


def _recorded(app: Flask) -> tuple[list[str], list[tuple[str, str]]]:
    """Snapshot actions, oldest first, and (actor, action) audit entries, newest first."""
    with app.extensions["abtest"].session_factory() as session:
        experiment = get_experiment(session, "stock-test")
        actions = [s.action for s in snapshots(session, "stock-test")]
        return actions, [(e.actor, e.action) for e in audit.entries(session, experiment)]


def _key_name(headers: dict[str, str]) -> str:
    """The audit log's actor for the API key in ``headers`` (token ``abt_<prefix>_<secret>``)."""
    return f"api key {headers['Authorization'].split('_')[1]}"


def test_allocate_reweights_now_and_answers_the_outcome(app, client, admin_headers) -> None:
    _thompson(client, admin_headers)
    _seed(app, [(300, 15), (300, 45)])
    answer = client.post(f"{BASE}/stock-test/allocate", headers=admin_headers)
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["experiment"], body["action"], body["weights_version"]) == (
        "stock-test", "reweight", 2)
    assert body["weights"][1] == 0.95  # P(best) ~ 1, capped by the 5% floor
    assert sum(body["probability_best"]) == 1.0 and body["probability_best"][1] > 0.99
    assert (body["reasons"], body["winner"]) == ([], None)
    assert client.get(f"{BASE}/stock-test", headers=admin_headers).json["weights"] == body[
        "weights"]
    assert _recorded(app)[0] == ["reweight"]


def test_allocate_holds_without_data_and_says_why(client, admin_headers) -> None:
    _thompson(client, admin_headers)
    body = client.post(f"{BASE}/stock-test/allocate", headers=admin_headers).json
    assert (body["action"], body["weights"], body["probability_best"]) == (
        "hold", [0.5, 0.5], None)
    assert "fewer than 100" in body["reasons"][0]


def test_allocate_promotes_by_the_rule_in_the_api_keys_name(app, client, admin_headers) -> None:
    _thompson(client, admin_headers,
              promotion={"probability_best": 0.95, "min_units_per_arm": 300})
    _seed(app, [(1500, 60), (1500, 150)])
    body = client.post(f"{BASE}/stock-test/allocate", headers=admin_headers).json
    assert (body["action"], body["winner"], body["weights"]) == (
        "promote", "stock_left=on", [0.0, 1.0])
    actions, entries = _recorded(app)
    assert actions == ["promote"]
    assert entries[0] == (_key_name(admin_headers), "promote")


def test_allocate_refuses_unknown_and_fixed_experiments(
    client, admin_headers, storefront_headers
) -> None:
    check_error(client.post(f"{BASE}/missing/allocate", headers=admin_headers), 404,
                "not_found", "experiment")
    definition = stock_definition()  # fixed allocation
    assert client.post(BASE, json=definition, headers=admin_headers).status_code == 201
    draft = check_error(client.post(f"{BASE}/stock-test/allocate", headers=admin_headers), 409,
                        "not_allocatable")
    assert "status draft" in draft["message"]
    client.post(f"{BASE}/stock-test/start", headers=admin_headers)
    check_error(client.post(f"{BASE}/stock-test/allocate", headers=admin_headers), 409,
                "not_allocatable")
    check_error(client.post(f"{BASE}/stock-test/allocate", headers=storefront_headers), 403,
                "forbidden")


def test_promote_over_the_api_is_a_recorded_manual_promotion(app, client, admin_headers) -> None:
    _thompson(client, admin_headers)
    _seed(app, [(200, 10), (200, 30)])
    answer = client.post(f"{BASE}/stock-test/promote", json={"arm": "stock_left=on"},
                         headers=admin_headers)
    assert answer.status_code == 200 and answer.json["winner"] == "stock_left=on"
    actions, entries = _recorded(app)
    assert actions == ["manual_promote"]
    assert entries[0] == (_key_name(admin_headers), "promote")


def test_allocate_is_documented_with_its_outcome_and_errors(app) -> None:
    operation = build_openapi(app)["paths"][f"{BASE}/{{key}}/allocate"]["post"]
    success = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert success["$ref"].endswith("/AllocationOut")
    conflict = operation["responses"]["409"]["content"]["application/json"]["schema"]
    assert conflict["$ref"].endswith("/ErrorOut")
    assert operation["security"] == [{"bearer": []}] and "409" in operation["summary"]


def test_cli_allocates_what_is_due_or_the_experiment_named(
    app, client, admin_headers, runner
) -> None:
    _thompson(client, admin_headers)
    _seed(app, [(300, 15), (300, 45)])
    due = runner.invoke(main, ["allocate"])  # the first period (period_hours) has just begun
    assert (due.exit_code, due.output.strip()) == (0, "no Thompson experiment is due")
    done = runner.invoke(main, ["allocate", "--experiment", "stock-test", "--seed", "1"])
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "stock-test: reweight v2 [0.050, 0.950]"
    again = runner.invoke(main, ["allocate"])
    assert (again.exit_code, again.output.strip()) == (0, "no Thompson experiment is due")
    assert _recorded(app)[0] == ["reweight"]
    unknown = runner.invoke(main, ["allocate", "--experiment", "missing"])
    assert unknown.exit_code != 0 and "--experiment:" in unknown.output
