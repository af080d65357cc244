"""Pure bandit simulations: Thompson allocation with promotion versus a fixed equal split.

Visitors arrive in batches (one allocation period each): a batch is split over the arms by one
multinomial draw with the weights in force, and each arm's conversions are one binomial draw.
This is exactly what per-visitor assignment and conversion would give in distribution, at one
numpy call per batch. The allocation, the promotion rule and the final tests are the project's
own (:func:`abtest.allocation.thompson_weights`, :func:`abtest.promotion.evaluate_promotion`,
:func:`abtest.stats.frequentist.compare` with Holm's correction), so the benchmark measures the
code the service runs. Used by bench/bandit.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from abtest.allocation import DEFAULT_FLOOR, DEFAULT_MIN_UNITS, thompson_weights
from abtest.promotion import PromotionRule, evaluate_promotion
from abtest.stats.frequentist import compare
from abtest.stats.multiplicity import adjust_comparisons
from abtest.stats.summary import SampleStats


@dataclass(frozen=True)
class Scenario:
    """True conversion rates and how traffic is served.

    Attributes
    ----------
    rates : tuple of float
        True conversion rate per arm; arm ``control_index`` is control.
    visitors : int
        Horizon: visitors served in every run.
    batch : int
        Visitors per allocation period (weights are recomputed between batches).
    floor, min_units : float, int
        Thompson settings (see :func:`abtest.allocation.thompson_weights`).
    control_index : int
    """

    rates: tuple[float, ...]
    visitors: int = 100_000
    batch: int = 1_000
    floor: float = DEFAULT_FLOOR
    min_units: int = DEFAULT_MIN_UNITS
    control_index: int = 0

    def regret(self, units: np.ndarray) -> float:
        """Expected conversions lost against always showing the best arm: ``Σ n_i (p* - p_i)``."""
        rates = np.asarray(self.rates)
        return float(units @ (rates.max() - rates))


@dataclass(frozen=True)
class RunResult:
    """One simulated run over the horizon.

    Attributes
    ----------
    units, conversions : tuple of int
        Visitors shown and conversions per arm over the whole horizon.
    winner : int or None
        Promoted (Thompson) or declared (fixed split) arm; None when nothing was.
    decided_at : int or None
        Visitors served when the winner was promoted (the horizon for the fixed split).
    regret : float
        Expected conversions lost against always showing the best arm.
    """

    units: tuple[int, ...]
    conversions: tuple[int, ...]
    winner: int | None
    decided_at: int | None
    regret: float


def _serve(
    scenario: Scenario, visitors: int, weights: Sequence[float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Units and conversions per arm for ``visitors`` split by ``weights``."""
    units = rng.multinomial(visitors, weights)
    return units, rng.binomial(units, scenario.rates)


def _stats(units: np.ndarray, conversions: np.ndarray) -> list[SampleStats]:
    return [SampleStats.binary(int(n), int(c)) for n, c in zip(units, conversions, strict=True)]


def simulate_thompson(
    scenario: Scenario, rule: PromotionRule, rng: np.random.Generator
) -> RunResult:
    """Thompson allocation every ``batch`` visitors, checking ``rule`` at each reweighting.

    When the rule is met the promoted arm gets every remaining visitor of the horizon (as a
    promoted experiment serves its winner to new units).
    """
    k = len(scenario.rates)
    units, conversions = np.zeros(k, dtype=np.int64), np.zeros(k, dtype=np.int64)
    weights: tuple[float, ...] = (1.0 / k,) * k
    served = 0
    while served < scenario.visitors:
        stats = _stats(units, conversions)
        result = thompson_weights(
            stats,
            floor=scenario.floor,
            min_units=scenario.min_units,
            seed=rng,
            current_weights=weights,
        )
        weights = result.weights
        if result.probability_best is not None:
            decision = evaluate_promotion(
                rule, stats, "binary", result.probability_best, scenario.control_index
            )
            if decision.promote:
                return _promoted(scenario, units, conversions, decision.leader, served, rng)
        batch = min(scenario.batch, scenario.visitors - served)
        new_units, new_conversions = _serve(scenario, batch, weights, rng)
        units, conversions, served = (
            units + new_units,
            conversions + new_conversions,
            served + batch,
        )
    return RunResult(_ints(units), _ints(conversions), None, None, scenario.regret(units))


def _promoted(
    scenario: Scenario,
    units: np.ndarray,
    conversions: np.ndarray,
    winner: int,
    served: int,
    rng: np.random.Generator,
) -> RunResult:
    """Finish the horizon serving ``winner`` only."""
    only = np.eye(len(scenario.rates))[winner]
    rest_units, rest_conversions = _serve(scenario, scenario.visitors - served, only, rng)
    units, conversions = units + rest_units, conversions + rest_conversions
    return RunResult(_ints(units), _ints(conversions), winner, served, scenario.regret(units))


def simulate_fixed_split(
    scenario: Scenario, rng: np.random.Generator, alpha: float = 0.05
) -> RunResult:
    """Equal split for the whole horizon, then every arm against control (z-test, Holm).

    The declared winner is the significantly-better arm with the highest observed rate; None
    when no arm beats control after Holm's correction (one-sided, ``alternative="larger"``).
    """
    k = len(scenario.rates)
    units, conversions = _serve(scenario, scenario.visitors, [1.0 / k] * k, rng)
    stats = _stats(units, conversions)
    control = scenario.control_index
    challengers = [i for i in range(k) if i != control]
    tests = adjust_comparisons(
        [compare(stats[i], stats[control], "binary", alpha, "larger") for i in challengers]
    )
    significant = [i for i, test in zip(challengers, tests, strict=True) if test.significant]
    winner = max(significant, key=lambda i: stats[i].mean) if significant else None
    decided = scenario.visitors if winner is not None else None
    return RunResult(_ints(units), _ints(conversions), winner, decided, scenario.regret(units))


def _ints(values: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in values)
