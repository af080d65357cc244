"""Pure bandit simulations: Thompson allocation with promotion versus a fixed equal split.

Visitors arrive in batches (one allocation period each): a batch is split over the arms by one
multinomial draw with the weights in force, and each arm's conversions are one binomial draw.
This is exactly what per-visitor assignment and conversion would give in distribution, at one
numpy call per batch. The allocation, the promotion rule and the final tests are the project's
own (:func:`abtest.promotion.bandit_step`, the service's decision on per-period data,
:func:`abtest.stats.frequentist.compare` with Holm's correction), so the benchmark measures the
code the service runs. Used by bench/bandit.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from abtest.allocation import DEFAULT_FLOOR, DEFAULT_MIN_UNITS, arm_totals
from abtest.promotion import GuardrailData, PromotionRule, bandit_step
from abtest.stats.frequentist import compare
from abtest.stats.multiplicity import adjust_comparisons
from abtest.stats.summary import SampleStats


@dataclass(frozen=True)
class Scenario:
    """True rates, how they drift, and how traffic is served.

    Attributes
    ----------
    rates : tuple of float
        True conversion rate per arm at the level 1 of the drift; arm ``control_index`` is
        control.
    visitors : int
        Horizon: visitors served in every run.
    batch : int
        Visitors per allocation period (weights are recomputed between batches).
    floor, min_units : float, int
        Thompson settings (see :func:`abtest.allocation.thompson_weights`).
    control_index : int
    trend : tuple of float
        Multiplier of every rate in the first and the last period, linear in between (the shop's
        conversion drifting, e.g. towards 双11): ``(0.6, 1.4)`` takes 5% from 3% to 7%.
    weekly_cycle : float
        Amplitude of a 7-period sine on top of the trend (0.2: ±20%).
    guardrail_rates : tuple of float or None
        True rate of one lower-is-better guardrail (e.g. complaints) per arm; None: no guardrail.
    """

    rates: tuple[float, ...]
    visitors: int = 100_000
    batch: int = 1_000
    floor: float = DEFAULT_FLOOR
    min_units: int = DEFAULT_MIN_UNITS
    control_index: int = 0
    trend: tuple[float, float] = (1.0, 1.0)
    weekly_cycle: float = 0.0
    guardrail_rates: tuple[float, ...] | None = None

    @property
    def periods(self) -> int:
        return -(-self.visitors // self.batch)

    def rates_at(self, period: int) -> np.ndarray:
        """Every arm's true rate in ``period``."""
        start, end = self.trend
        level = start + (end - start) * period / max(self.periods - 1, 1)
        cycle = 1 + self.weekly_cycle * np.sin(2 * np.pi * period / 7)
        return np.clip(np.asarray(self.rates) * level * cycle, 0.0, 1.0)

    @property
    def safe(self) -> tuple[int, ...]:
        """Arms whose guardrail rate is no worse than control's (all arms without one)."""
        if self.guardrail_rates is None:
            return tuple(range(len(self.rates)))
        control = self.guardrail_rates[self.control_index]
        return tuple(i for i, rate in enumerate(self.guardrail_rates) if rate <= control)

    @property
    def best(self) -> frozenset[int]:
        """Every safe arm with the top true rate among the safe arms: ties are all best."""
        top = max(self.rates[i] for i in self.safe)
        return frozenset(i for i in self.safe if self.rates[i] == top)

    @property
    def equal(self) -> bool:
        """True for an A/A scenario: nothing is better than anything else."""
        return len(set(self.rates)) == 1


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
        Expected conversions lost against always showing the best safe arm of each period.
    """

    units: tuple[int, ...]
    conversions: tuple[int, ...]
    winner: int | None
    decided_at: int | None
    regret: float


class _Traffic:
    """What has been served so far, per allocation period, and its regret."""

    def __init__(self, scenario: Scenario, rng: np.random.Generator) -> None:
        self.scenario, self.rng = scenario, rng
        self.primary: list[list[SampleStats]] = []
        self.guardrail: list[list[SampleStats]] = []
        self.served, self.regret = 0, 0.0

    def serve(self, weights: Sequence[float], new_period: bool) -> None:
        """One batch split by ``weights``, opening a new allocation period or extending the
        current one (as the service does when the weights did not move)."""
        scenario, t = self.scenario, self.served // self.scenario.batch
        visitors = min(scenario.batch, scenario.visitors - self.served)
        rates = scenario.rates_at(t)
        units = self.rng.multinomial(visitors, weights)
        rows = [_stats(units, self.rng.binomial(units, rates))]
        if scenario.guardrail_rates is not None:
            rows.append(_stats(units, self.rng.binomial(units, scenario.guardrail_rates)))
        for periods, row in zip((self.primary, self.guardrail), rows, strict=False):
            if new_period or not periods:
                periods.append(row)
            else:
                periods[-1] = [a + b for a, b in zip(periods[-1], row, strict=True)]
        self.served += visitors
        self.regret += float(units @ (rates[list(scenario.best)].max() - rates))

    def guardrails(self) -> tuple[GuardrailData, ...]:
        if self.scenario.guardrail_rates is None:
            return ()
        return (GuardrailData("complaint", "binary", False, tuple(map(tuple, self.guardrail))),)

    def result(self, winner: int | None, decided_at: int | None) -> RunResult:
        totals = arm_totals(self.primary)
        return RunResult(tuple(a.n for a in totals), tuple(int(a.sum) for a in totals),
                         winner, decided_at, self.regret)


def _stats(units: np.ndarray, conversions: np.ndarray) -> list[SampleStats]:
    return [SampleStats.binary(int(n), int(c)) for n, c in zip(units, conversions, strict=True)]


def simulate_thompson(
    scenario: Scenario, rule: PromotionRule, rng: np.random.Generator
) -> RunResult:
    """Thompson allocation every ``batch`` visitors through :func:`abtest.promotion.bandit_step`
    (the service's decision), checking ``rule`` at each reweighting.

    When the rule is met the promoted arm gets every remaining visitor of the horizon (as a
    promoted experiment serves its winner to new units).
    """
    k = len(scenario.rates)
    traffic = _Traffic(scenario, rng)
    weights: tuple[float, ...] = (1.0 / k,) * k
    reweighted = True
    while traffic.served < scenario.visitors:
        if traffic.primary:
            step = bandit_step(
                traffic.primary, "binary", floor=scenario.floor, min_units=scenario.min_units,
                rule=rule, control_index=scenario.control_index,
                guardrails=traffic.guardrails(), current_weights=weights, seed=rng)
            weights = step.allocation.weights
            reweighted = step.allocation.reweighted
            if step.decision is not None and step.decision.promote:
                return _promoted(traffic, step.decision.leader)
        traffic.serve(weights, new_period=reweighted)
    return traffic.result(None, None)


def _promoted(traffic: _Traffic, winner: int | None) -> RunResult:
    """Finish the horizon serving ``winner`` only."""
    decided_at = traffic.served
    only = np.eye(len(traffic.scenario.rates))[winner]
    while traffic.served < traffic.scenario.visitors:
        traffic.serve(only, new_period=False)
    return traffic.result(winner, decided_at)


def simulate_fixed_split(
    scenario: Scenario, rng: np.random.Generator, alpha: float = 0.05
) -> RunResult:
    """Equal split for the whole horizon, then every arm against control (z-test, Holm).

    The declared winner is the significantly-better arm with the highest observed rate; None
    when no arm beats control after Holm's correction (one-sided, ``alternative="larger"``).
    Equal weights throughout, so pooling the periods is unbiased whatever the drift.
    """
    k = len(scenario.rates)
    traffic = _Traffic(scenario, rng)
    while traffic.served < scenario.visitors:
        traffic.serve([1.0 / k] * k, new_period=False)
    stats = arm_totals(traffic.primary)
    control = scenario.control_index
    challengers = [i for i in range(k) if i != control]
    tests = adjust_comparisons(
        [compare(stats[i], stats[control], "binary", alpha, "larger") for i in challengers]
    )
    significant = [i for i, test in zip(challengers, tests, strict=True) if test.significant]
    winner = max(significant, key=lambda i: stats[i].mean) if significant else None
    return traffic.result(winner, scenario.visitors if winner is not None else None)
