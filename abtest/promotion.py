"""Winner promotion: is the leading arm of a Thompson experiment good enough to serve everyone?

A rule is a conjunction of clauses, each recorded with the number that met or missed it, so a
promotion decision can be audited later:

* ``probability_best``: the leader's posterior probability of being best (the same Monte Carlo
  figure Thompson sampling allocates by, :func:`abtest.allocation.thompson_weights`) reaches the
  threshold (Scott 2010, section 4, stops at 0.95).
* ``min_units``: every arm has at least ``min_units_per_arm`` units, so no arm is judged on a
  handful of visitors.
* ``sequential``: the leader beats the other arms pooled by the always-valid test of
  :func:`abtest.stats.sequential.sequential_compare` at level ``alpha / k``. Why: the rule is
  checked after every batch, and a posterior probability is not an error-controlled test under
  such repeated looks. The always-valid p-value survives any number of looks (Waudby-Smith et
  al. 2023; Johari et al. 2017). In an A/A experiment "arm i equals the rest" is true for every
  i, so the Bonferroni split over the ``k`` such hypotheses bounds the chance that anything is
  ever promoted by ``alpha``, whichever arm happens to lead. Pooling the rest (rather than
  testing against control) keeps the power: Thompson sampling starves control, the pool never.
* ``guardrail:<name>``: the leader is not significantly worse than control on the guardrail
  (:func:`abtest.stats.health.check_guardrail`, one-sided).

Pure: no database, no clock. Adaptive allocation makes the sequential test approximate (the
confidence sequence assumes i.i.d. units per arm; Thompson weights depend on past outcomes);
bench/bandit.py measures the resulting A/A error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from abtest.stats.health import check_guardrail
from abtest.stats.sequential import sequential_compare
from abtest.stats.summary import MetricKind, SampleStats


@dataclass(frozen=True)
class PromotionRule:
    """Thresholds of the promotion clauses.

    Attributes
    ----------
    probability_best : float
        The leader's ``P(best)`` must reach this.
    min_units_per_arm : int
        Every arm needs this many units.
    sequential_alpha : float or None
        Family level of the always-valid test of the leader (split over ``k - 1`` pairs);
        None leaves the clause out.
    tuning_parameter : float
        Total units of the two compared sides where the confidence sequence is tightest:
        20,000, because promotions come after tens of thousands of units (GrowthBook's 5,000
        default suits a two-arm test that stops earlier); bench/bandit.py runs with it.
    guardrail_alpha : float
        Level of each one-sided guardrail test.
    """

    probability_best: float = 0.95
    min_units_per_arm: int = 1000
    sequential_alpha: float | None = 0.05
    tuning_parameter: float = 20_000.0
    guardrail_alpha: float = 0.05


@dataclass(frozen=True)
class GuardrailData:
    """One guardrail metric's per-arm statistics (same arm order as the primary metric)."""

    name: str
    kind: MetricKind
    higher_is_better: bool
    arms: tuple[SampleStats, ...]


@dataclass(frozen=True)
class Clause:
    """One clause of the rule: met or not, the observed value, the threshold and why."""

    name: str
    met: bool
    value: float
    threshold: float
    detail: str


@dataclass(frozen=True)
class PromotionDecision:
    """The verdict for the current leader, with every clause that justified it."""

    promote: bool
    leader: int
    clauses: tuple[Clause, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        """The details of the clauses that are not met (empty when promoting)."""
        return tuple(clause.detail for clause in self.clauses if not clause.met)


def evaluate_promotion(
    rule: PromotionRule,
    arms: Sequence[SampleStats],
    kind: MetricKind,
    probability_best: Sequence[float],
    control_index: int = 0,
    guardrails: Sequence[GuardrailData] = (),
) -> PromotionDecision:
    """Check every clause of ``rule`` for the arm with the highest ``probability_best``.

    Parameters
    ----------
    rule : PromotionRule
    arms : sequence of SampleStats
        Primary-metric statistics per arm.
    kind : {"binary", "numeric"}
        Kind of the primary metric.
    probability_best : sequence of float
        ``P(arm is best)`` per arm, e.g. ``AllocationResult.probability_best``.
    control_index : int
    guardrails : sequence of GuardrailData

    References
    ----------
    .. [1] Scott, S. L. (2010). "A modern Bayesian look at the multi-armed bandit". Applied
       Stochastic Models in Business and Industry 26(6), 639-658, section 4.
    .. [2] Waudby-Smith, I. et al. (2023). "Time-uniform central limit theory and asymptotic
       confidence sequences". arXiv:2103.06476.
    .. [3] Johari, R. et al. (2017). "Peeking at A/B tests". KDD 2017, 1517-1525.
    """
    leader = int(np.argmax(probability_best))
    clauses = (
        _probability_clause(rule, probability_best[leader]),
        _units_clause(rule, arms),
        *_sequential_clauses(rule, arms, kind, leader),
        *(_guardrail_clause(rule, g, leader, control_index) for g in guardrails),
    )
    return PromotionDecision(all(c.met for c in clauses), leader, clauses)


def _probability_clause(rule: PromotionRule, leading: float) -> Clause:
    met = leading >= rule.probability_best
    detail = f"P(best) of the leader {leading:.3f} {'>=' if met else '<'} {rule.probability_best}"
    return Clause("probability_best", met, float(leading), rule.probability_best, detail)


def _units_clause(rule: PromotionRule, arms: Sequence[SampleStats]) -> Clause:
    fewest = min(arm.n for arm in arms)
    met = fewest >= rule.min_units_per_arm
    detail = f"smallest arm has {fewest} units {'>=' if met else '<'} {rule.min_units_per_arm}"
    return Clause("min_units", met, float(fewest), float(rule.min_units_per_arm), detail)


def _rest(arms: Sequence[SampleStats], leader: int) -> SampleStats:
    """Every arm but the leader, pooled."""
    others = [arm for i, arm in enumerate(arms) if i != leader]
    return sum(others[1:], others[0])


def _sequential_clauses(
    rule: PromotionRule, arms: Sequence[SampleStats], kind: MetricKind, leader: int
) -> tuple[Clause, ...]:
    if rule.sequential_alpha is None:
        return ()
    alpha = rule.sequential_alpha / len(arms)
    rest = _rest(arms, leader)
    result = sequential_compare(arms[leader], rest, kind, alpha, rule.tuning_parameter)
    better = result.absolute_lift > 0
    met = result.significant and better
    detail = (
        f"always-valid p of arm {leader} vs the other arms pooled = "
        f"{result.p_value_sequential:.3g} {'<' if result.significant else 'not <'} {alpha:.3g}"
        f" (lift {result.absolute_lift:+.4g}{'' if better else ', not better'})"
        + (f"; {result.reason}" if result.reason else "")
    )
    return (Clause("sequential", met, result.p_value_sequential, alpha, detail),)


def _guardrail_clause(
    rule: PromotionRule, guardrail: GuardrailData, leader: int, control_index: int
) -> Clause:
    name = f"guardrail:{guardrail.name}"
    if leader == control_index:
        return Clause(name, True, float("nan"), rule.guardrail_alpha, "the leader is control")
    result = check_guardrail(
        guardrail.arms[leader],
        guardrail.arms[control_index],
        guardrail.kind,
        guardrail.higher_is_better,
        rule.guardrail_alpha,
    )
    state = "significantly worse than control" if result.harmed else "not significantly worse"
    detail = f"{guardrail.name}: leader {state} (one-sided p = {result.p_value:.3g})"
    return Clause(name, not result.harmed, result.p_value, rule.guardrail_alpha, detail)
