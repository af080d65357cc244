"""`abtest simulate`: known rates through the real services, summary printed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from experiments.simulate import SimulationReport, best_arms, format_report
from tests.experiments.conftest import stock_definition
from web.cli import main


def _playbook(tmp_path: Path, min_units: int) -> Path:
    definition = stock_definition(
        "sim-test",
        allocation={"mode": "thompson", "period_hours": 1, "floor": 0.05, "min_units": 100},
        promotion={"probability_best": 0.95, "min_units_per_arm": min_units},
    )
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    return path


def _simulate(tmp_path: Path, visitors: int, rates: str, min_units: int) -> str:
    result = CliRunner().invoke(main, [
        "simulate", str(_playbook(tmp_path, min_units)), "--visitors", str(visitors),
        "--true-rates", rates, "--seed", "3", "--allocate-every", "500",
        "--database-url", f"sqlite:///{tmp_path / 'sim.db'}",
    ])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_a_strong_effect_is_promoted_and_reported(tmp_path):
    output = _simulate(tmp_path, 3000, "0.02,0.2", 200)
    assert "promoted stock_left=on after" in output
    assert "(a true best arm)" in output
    assert "sim-test: 3,000 visitors, 6 allocation steps" in output
    steps = [line.split() for line in output.splitlines() if line.strip().endswith("promote")]
    assert len(steps) == 1  # the step table shows the allocation run that promoted
    regret = float(output.rsplit("regret vs always showing arm1: ", 1)[1].split()[0])
    assert 0 < regret < 0.18 * 3000 / 2  # less than an equal split would lose


@pytest.mark.slow
def test_equal_rates_promote_nothing(tmp_path):
    output = _simulate(tmp_path, 1500, "0.1,0.1", 200)
    assert "no arm promoted" in output


def test_rates_must_fit_the_arms(tmp_path):
    result = CliRunner().invoke(main, [
        "simulate", str(_playbook(tmp_path, 200)), "--visitors", "10", "--true-rates", "0.1",
        "--database-url", f"sqlite:///{tmp_path / 'sim.db'}",
    ])
    assert result.exit_code == 1
    assert "1 rates for 2 arms" in result.output


def test_a_promoted_arm_tied_for_the_top_rate_is_reported_as_a_true_best_arm():
    report = SimulationReport(
        experiment="tie", arms=("a", "b", "c"), true_rates=(0.05, 0.059, 0.059), steps=(),
        units=(100, 200, 300), conversions=(5, 12, 18), winner="b", promoted_after=400,
        regret=0.9)
    output = format_report(report)
    assert "promoted b after 400 visitors (a true best arm)" in output
    assert "regret vs always showing arm1 = arm2" in output
    assert best_arms(report) == (1, 2)
    wrong = format_report(SimulationReport(**{**report.__dict__, "winner": "a"}))
    assert "(NOT a best arm)" in wrong
