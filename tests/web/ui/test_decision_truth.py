"""Alerts and plans say the same as the tables, through the results API and the rendered page.

An experiment is stored with one arm that truly triples complaints and one that doubles them;
on SQLite and PostgreSQL, running (sequential headline) and stopped (fixed horizon): every
row's interval excludes 0 exactly when its p-value is below alpha, a guardrail alert appears
exactly for the rows that are significant on the harmful side and quotes their test and
p-value, and the verdict asks for the same days as the power line (never "the planned sample is
reached" beside more days; once stopped, no days at all).
"""
from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from experiments.models import Assignment, Event, Experiment
from tests.web.test_results_api import _arm_keys
from web.ui.reasons import shown

T0 = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
PAGE = "/experiments/urgency-close"
URL = "/api/v1/experiments/urgency-close/results"
COMPLAINTS = {1: 0.15, 2: 0.06}  # arm index: complaint rate; the others 3%


def _seed(app: Flask, units: int = 3200) -> None:
    rng = random.Random(13)
    arms = _arm_keys(app)
    with app.extensions["abtest"].session_factory.begin() as session:
        experiment = session.query(Experiment).filter_by(key="urgency-close").one()
        for i in range(units):
            arm, at = arms[i % len(arms)], T0 + timedelta(hours=rng.uniform(0, 72))
            session.add(Assignment(experiment_id=experiment.id, unit_id=f"u{i}", arm=arm,
                                   weights_version=1, attributes={}, assigned_at=at))
            later = at + timedelta(minutes=20)
            rates = {"conversion": 0.10, "complaint": COMPLAINTS.get(arms.index(arm), 0.03)}
            for name, rate in rates.items():
                if rng.random() < rate:
                    session.add(Event(event_id=f"{name}{i}", unit_id=f"u{i}", name=name,
                                      experiment_id=experiment.id, occurred_at=later))


def _excludes_zero(ci: list[float | None]) -> bool:
    return ci[0] is not None and (ci[0] > 0 or ci[1] < 0)


def _rows(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["name"], a["arm"]): a for m in document["metrics"] for a in m["arms"]
            if not a["is_control"]}


def _check_document(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row on one scale, every alert its row's; returns the harmed checks."""
    alpha = document["alpha"]
    for row in _rows(document).values():
        headline = row["headline"]
        assert headline["basis"] == document["decision_basis"]
        assert headline["significant"] is _excludes_zero(headline["ci"])
        if headline["p_value"] is None:  # revenue: nobody paid, so no test (and no alert)
            assert headline["ci"] == [None, None] and not headline["significant"]
            continue
        assert headline["significant"] is (headline["p_value"] < alpha)
        assert headline["ci"][0] > -1  # a rate cannot fall by more than 100%
    rows = _rows(document)
    for check in document["guardrails"]["checks"]:
        row = rows[(check["metric"], check["arm"])]["headline"]
        assert (check["p_value"], check["test"], check["ci"]) == (
            row["p_value"], row["test"], row["ci"])
        assert check["harmed"] is (row["ci"][0] > 0)  # complaints: higher is worse
    return [c for c in document["guardrails"]["checks"] if c["harmed"]]


def _results_section(page: str) -> str:
    return page[page.index('id="results"'):page.index('id="survey"')]


def _alerts(section: str) -> list[str]:
    return re.findall(r'<p class="alert alert-guardrail"[^>]*>(.*?)</p>', section, re.S)


@pytest.mark.parametrize("stop", [False, True])
def test_alerts_and_plans_say_what_the_tables_say(
    app: Flask, client: FlaskClient, editor: FlaskClient, admin_headers: dict[str, str],
    started, stop: bool
) -> None:
    started("urgency-close")
    _seed(app)
    if stop:
        assert client.post(f"/api/v1{PAGE}/stop", headers=admin_headers).status_code == 200
    document = client.get(URL, headers=admin_headers).json
    assert document["decision_basis"] == ("fixed_horizon" if stop else "sequential")
    harmed = _check_document(document)
    arms = _arm_keys(app)
    assert arms[1] in {c["arm"] for c in harmed}  # 15% vs 3% complaints: found by either test

    for lang, words in (("en", ("two-sided sequential test", "two-sided fixed-horizon test")),
                        ("zh", ("相对提升的双侧序贯检验", "相对提升的双侧固定样本检验"))):
        page = editor.get(PAGE, headers={"Accept-Language": lang}).get_data(as_text=True)
        section = _results_section(page)
        alerts = _alerts(section)
        assert len(alerts) == len(harmed)
        for alert, check in zip(alerts, harmed, strict=True):
            assert f"<code>{check['arm']}</code>" in alert
            assert f"p = {shown(check['p_value'])}" in alert
            assert words[stop] in alert and words[not stop] not in alert
        table = section[section.index('id="metric-complaint"'):]
        table = table[:table.index("</table>")]
        significant_cells = re.findall(r'<td class="p-value significant">([^<]*)</td>', table)
        assert len(significant_cells) == len(harmed)  # every significant complaint row is harm
        assert words[stop] in section[section.index('id="power"'):]

    english = _results_section(editor.get(PAGE, headers={"Accept-Language": "en"})
                               .get_data(as_text=True))
    days = document["power"]["days_needed"]
    asked = {int(n) for n in re.findall(r"(\d+) more days?", english)}
    asked |= {int(n) for n in re.findall(r"keep running ~(\d+) days", english)}
    if stop:  # an ended experiment gets no days, only how far it fell short of the plan
        assert days is None and not asked and "keep running" not in english
        short = document["power"]["reason_params"]["remaining"]
        assert f"ended {short} shoppers per arm short" in english
        assert "the experiment ended without the data to decide" in english
    elif days:
        assert asked == {days}, (asked, days)
        assert "planned sample is reached" not in english
    else:
        assert not asked


def test_the_sequential_plan_is_the_inflated_fixed_one(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], started
) -> None:
    started("urgency-close")
    _seed(app)
    power = client.get(URL, headers=admin_headers).json["power"]
    assert "confidence sequence" in power["test"] and "alpha/7" in power["test"]
    assert power["n_per_arm"] > power["n_per_arm_fixed"] > 0
    schema = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    assert "p_value_adjusted" in schema["HeadlineOut"]["properties"]
    assert "n_per_arm_fixed" in schema["PowerOut"]["properties"]
