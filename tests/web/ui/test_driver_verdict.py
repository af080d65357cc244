"""The verdict names the driver, through the service: API decision, page and weekly report.

urgency-close is stored with conversion 5% without the countdown and 25% with it, whatever the
other two units say; on SQLite and PostgreSQL the results document's ``decision`` validates
against its response model and the served OpenAPI document's schema, names countdown with the
factorial section's own effect (in pp, interval, p), and the page and the weekly report show
the same paragraph in Chinese and in English (the terminal's ``abtest results`` the English).
"""
from __future__ import annotations

import html
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator, validate

from experiments.models import Assignment, Event, Experiment
from experiments.reports import IsoWeek, build_weekly_report
from tests.web.test_results_api import _arm_keys
from variants.design import parse_arm_key
from web.api.results import DecisionOut
from web.cli import main

T0 = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
PAGE = "/experiments/urgency-close"
URL = "/api/v1/experiments/urgency-close/results"


def _seed(app: Flask, units: int = 4000) -> None:
    rng = random.Random(6)
    arms = _arm_keys(app)
    with app.extensions["abtest"].session_factory.begin() as session:
        experiment = session.query(Experiment).filter_by(key="urgency-close").one()
        for i in range(units):
            arm, at = arms[i % len(arms)], T0 + timedelta(hours=rng.uniform(0, 72))
            session.add(Assignment(experiment_id=experiment.id, unit_id=f"u{i}", arm=arm,
                                   weights_version=1, attributes={}, assigned_at=at))
            rate = 0.25 if parse_arm_key(arm)["countdown"] == "on" else 0.05
            if rng.random() < rate:
                session.add(Event(event_id=f"c{i}", unit_id=f"u{i}", name="conversion",
                                  experiment_id=experiment.id, occurred_at=at))


def _verdict(page: str) -> str:
    found = re.search(r'<p class="verdict" id="verdict"><strong>[^<]*</strong> (.*?)</p>',
                      page, re.S)
    assert found, "no verdict on the page"
    return html.unescape(found.group(1))


def test_decision_names_countdown_on_api_page_report_and_cli(
    app: Flask, client: FlaskClient, editor: FlaskClient, admin_headers: dict[str, str], started,
    runner: CliRunner
) -> None:
    started("urgency-close")
    _seed(app)
    document = client.get(URL, headers=admin_headers).json
    decision = DecisionOut.model_validate(document["decision"])
    openapi = client.get("/api/v1/openapi.json").json
    schema = {"$ref": "#/components/schemas/DecisionOut", "components": openapi["components"]}
    validate(document["decision"], schema, cls=OAS31Validator)
    with pytest.raises(ValidationError):  # the schema does constrain the drivers
        validate({**document["decision"], "drivers": [{"term": 1}]}, schema, cls=OAS31Validator)

    assert [d.term for d in decision.drivers] == ["countdown[on]"]
    (driver,) = decision.drivers
    effect = next(e for e in document["factorial"]["effects"] if e["term"] == "countdown[on]")
    assert (driver.effect, driver.ci, driver.p_value) == (
        effect["effect"]["estimate"], tuple(effect["effect"]["ci"]), effect["effect"]["p_value"])
    assert driver.ci[0] < 0.20 < driver.ci[1] and driver.p_value < 1e-6
    assert decision.equivalence_margin == 0.05  # the playbook's promotion rule
    assert "countdown" not in decision.negligible_units + decision.unclear_units

    with app.extensions["abtest"].session_factory() as session:
        for lang, words in (("en", "driven by countdown: +"), ("zh", "起作用的是 countdown：+")):
            page = editor.get(PAGE, headers={"Accept-Language": lang}).get_data(as_text=True)
            sentence = _verdict(page)
            assert f"{words}{driver.effect * 100:.2f}" in sentence
            report = build_weekly_report(session, IsoWeek.containing(datetime.now(UTC)),
                                         lang=lang)
            (part,) = report.experiments
            assert part.verdict == sentence
    printed = runner.invoke(main, ["results", "urgency-close"])
    assert printed.exit_code == 0, printed.output
    assert f"driven by countdown: +{driver.effect * 100:.2f} pp" in printed.output
