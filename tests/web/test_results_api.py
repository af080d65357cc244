"""GET /api/v1/experiments/<key>/results and `abtest results`: figures equal statsmodels/scipy
run on the rows the test stored (1e-9), errors are JSON, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from experiments.models import Assignment, Event, Experiment
from web.cli import main

T0 = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
URL = "/api/v1/experiments/urgency-close/results"


def _seed(app: Flask, seed: int = 3, units: int = 800) -> dict[str, dict[str, list[float]]]:
    """Store units and events; return each arm's unit values per metric, computed here."""
    rng = random.Random(seed)
    with app.extensions["abtest"].session_factory.begin() as session:
        experiment = session.query(Experiment).filter_by(key="urgency-close").one()
        arms = list(_arm_keys(app))
        values: dict[str, dict[str, list[float]]] = {
            m: {arm: [] for arm in arms} for m in ("conversion", "revenue", "complaint")
        }
        for i in range(units):
            arm, at = arms[i % len(arms)], T0 + timedelta(hours=rng.uniform(0, 48))
            channel = rng.choice(["chat", "qianniu", "app"])
            session.add(Assignment(experiment_id=experiment.id, unit_id=f"u{i}", arm=arm,
                                   weights_version=1, attributes={"channel": channel},
                                   assigned_at=at))
            converted = rng.random() < 0.10 + 0.02 * arms.index(arm) / len(arms)
            revenue = round(rng.uniform(20, 200), 2) if converted else 0.0
            complaint = rng.random() < 0.03
            values["conversion"][arm].append(float(converted))
            values["revenue"][arm].append(revenue)
            values["complaint"][arm].append(float(complaint))
            later = at + timedelta(minutes=30)
            if converted:
                session.add(Event(event_id=f"c{i}", unit_id=f"u{i}", name="conversion",
                                  experiment_id=experiment.id, occurred_at=later))
                session.add(Event(event_id=f"r{i}", unit_id=f"u{i}", name="revenue",
                                  value=revenue, occurred_at=later))
            if complaint:
                session.add(Event(event_id=f"k{i}", unit_id=f"u{i}", name="complaint",
                                  experiment_id=experiment.id, occurred_at=later))
            session.add(Event(event_id=f"early{i}", unit_id=f"u{i}", name="conversion",
                              occurred_at=at - timedelta(minutes=1)))
    return values


def _arm_keys(app: Flask) -> tuple[str, ...]:
    from experiments.definitions import design_of

    with app.extensions["abtest"].session_factory() as session:
        experiment = session.query(Experiment).filter_by(key="urgency-close").one()
        return design_of(experiment).arm_keys


@pytest.fixture
def seeded(app: Flask, started) -> dict[str, dict[str, list[float]]]:
    started("urgency-close")
    return _seed(app)


def _arm(document: dict[str, Any], metric: str, arm: str) -> dict[str, Any]:
    found = next(m for m in document["metrics"] if m["name"] == metric)
    return next(a for a in found["arms"] if a["arm"] == arm)


def test_figures_equal_statsmodels_and_scipy_on_the_stored_rows(
    client: FlaskClient, admin_headers: dict[str, str], seeded, app: Flask
) -> None:
    answer = client.get(URL, headers=admin_headers)
    assert answer.status_code == 200, answer.json
    document = json.loads(answer.get_data(as_text=True))  # strict JSON: no NaN tokens
    arms = _arm_keys(app)
    control = arms[0]
    assert document["control"] == control and document["decision_basis"] == "sequential"
    raw_p = []
    for metric in ("conversion", "revenue", "complaint"):
        c = np.array(seeded[metric][control])
        for arm in arms[1:]:
            t = np.array(seeded[metric][arm])
            figures = _arm(document, metric, arm)
            assert figures["units"] == len(t)
            assert figures["mean"] == pytest.approx(t.mean(), rel=1e-9, abs=1e-12)
            if metric == "revenue":
                p = sps.ttest_ind(t, c, equal_var=False).pvalue
            elif figures["test"] == "fisher-exact":
                table = [[t.sum(), len(t) - t.sum()], [c.sum(), len(c) - c.sum()]]
                p = sps.fisher_exact(table).pvalue
            else:
                p = proportions_ztest([t.sum(), c.sum()], [len(t), len(c)])[1]
            assert figures["p_value"] == pytest.approx(p, rel=1e-9)
            assert figures["lift"]["absolute"] == pytest.approx(t.mean() - c.mean(), abs=1e-12)
            raw_p.append((metric, arm, p))
    holm = multipletests([p for *_, p in raw_p], method="holm")[1]
    for (metric, arm, _), adjusted in zip(raw_p, holm, strict=True):
        assert _arm(document, metric, arm)["p_value_holm"] == pytest.approx(adjusted, rel=1e-9)
    observed = [len(seeded["conversion"][arm]) for arm in arms]
    srm_p = sps.chisquare(observed, [sum(observed) / len(arms)] * len(arms)).pvalue
    assert document["srm"]["p_value"] == pytest.approx(srm_p, rel=1e-9)


def test_document_shape_names_every_method(
    client: FlaskClient, admin_headers: dict[str, str], seeded
) -> None:
    document = client.get(URL, headers=admin_headers).json
    for key in ("srm", "factorial", "guardrails", "power", "metrics", "multiple_comparisons"):
        assert key in document
    for section in ("srm", "factorial", "guardrails", "power", "segments"):
        assert document[section]["method"]
    arm = document["metrics"][0]["arms"][1]
    for field in ("units", "mean", "lift", "p_value", "p_value_sequential",
                  "chance_to_beat_control", "probability_best", "expected_loss"):
        assert field in arm
    assert set(arm["lift"]) >= {"absolute", "absolute_ci", "relative", "relative_ci"}
    assert "Holm and Benjamini-Hochberg across 7 arms x 3 metrics" in document["metrics"][0][
        "method"]
    assert document["factorial"]["factors"] == ["countdown", "stock_left", "loyal_price"]
    assert document["segments"]["attribute"] is None and document["segments"]["values"] == []
    assert "?segment=" in document["segments"]["method"]


def test_segment_and_alpha_parameters(
    client: FlaskClient, admin_headers: dict[str, str], seeded
) -> None:
    narrow = client.get(f"{URL}?segment=channel&alpha=0.2&top=2", headers=admin_headers).json
    wide = client.get(URL, headers=admin_headers).json
    assert narrow["alpha"] == 0.2
    arm = narrow["metrics"][1]["arms"][2]["lift"]["absolute_ci"]
    default = wide["metrics"][1]["arms"][2]["lift"]["absolute_ci"]
    assert arm[1] - arm[0] < default[1] - default[0]
    assert "'channel'" in narrow["segments"]["method"]
    values = [s["value"] for s in narrow["segments"]["values"]]
    assert len(values) == 3 and values[-1] == "(other)"
    assert sum(s["units"] for s in narrow["segments"]["values"]) == 800


def test_empty_experiment_is_a_no_data_document(
    client: FlaskClient, admin_headers: dict[str, str], started
) -> None:
    started("urgency-close")
    answer = client.get(URL, headers=admin_headers)
    assert answer.status_code == 200
    assert answer.json["status"] == "no_data"
    assert answer.json["metrics"][0]["arms"][1]["p_value"] is None


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/v1/experiments/nope/results", 404, "not_found"),
        (f"{URL}?alpha=2", 422, "invalid"),
        (f"{URL}?segment=bad-name", 422, "invalid"),
    ],
)
def test_errors_are_json(
    client: FlaskClient, admin_headers: dict[str, str], started, url: str, status: int, code: str
) -> None:
    started("urgency-close")
    answer = client.get(url, headers=admin_headers)
    assert answer.status_code == status
    assert answer.json["error"]["code"] == code


def test_results_need_an_admin_key(
    client: FlaskClient, storefront_headers: dict[str, str]
) -> None:
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=storefront_headers).status_code == 403


def test_openapi_documents_the_query_parameters(client: FlaskClient) -> None:
    operation = client.get("/api/v1/openapi.json").json["paths"][
        "/api/v1/experiments/{key}/results"]["get"]
    names = {p["name"]: p["in"] for p in operation["parameters"]}
    assert names == {"key": "path", "segment": "query", "alpha": "query", "top": "query"}


def test_cli_prints_the_tables(runner, seeded, app: Flask) -> None:
    answer = runner.invoke(main, ["results", "urgency-close", "--segment", "channel"])
    assert answer.exit_code == 0, answer.output
    for text in ("conversion (binary, primary)", "p (rel)", "P(best)", "SRM: p =",
                 "factorial (conversion)", "countdown[on]", "channel = ", _arm_keys(app)[1]):
        assert text in answer.output
    as_json = runner.invoke(main, ["results", "urgency-close", "--json"])
    assert json.loads(as_json.output)["experiment"] == "urgency-close"
    missing = runner.invoke(main, ["results", "nope"])
    assert missing.exit_code == 1 and "unknown experiment" in missing.output
