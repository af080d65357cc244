"""The bandit's goals of issue "Decision truth", by simulation through the decision the service
runs (:func:`abtest.promotion.bandit_step`) with the settings the urgency-close playbook ships:
drift without false winners, ties shipped, harmful arms never promoted. 200 runs per scenario
on seeds used neither for tuning nor by bench/bandit.py; the goals are bench/bandit.py's."""

from __future__ import annotations

import numpy as np
import pytest

from abtest.simulation import simulate_fixed_split, simulate_thompson
from bench.bandit import SCENARIOS, goals, run_many, scenario, shipped_settings, summary

RUNS = 200
FIRST_SEED = 7_000_000


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_shipped_bandit_meets_its_goal(name: str) -> None:
    allocation, rule = shipped_settings()
    case = scenario(allocation, **SCENARIOS[name])
    seed = FIRST_SEED + 10_000 * list(SCENARIOS).index(name)
    thompson = summary(case, run_many(lambda rng: simulate_thompson(case, rule, rng), seed, RUNS))
    fixed = summary(case, run_many(lambda rng: simulate_fixed_split(case, rng), seed + 5_000,
                                   RUNS)) if name == "tie" else {"regret": np.nan}
    missed = [text for text, met in goals(name, thompson, fixed) if not met]
    assert not missed, missed


def test_a_tie_counts_both_arms_as_best_and_the_guardrail_scenario_only_the_safe_one() -> None:
    allocation, _ = shipped_settings()
    assert scenario(allocation, **SCENARIOS["tie"]).best == frozenset({3, 7})
    assert scenario(allocation, **SCENARIOS["guardrail"]).best == frozenset({3})
    assert scenario(allocation, **SCENARIOS["aa"]).best == frozenset(range(8))
