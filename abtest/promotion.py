"""Winner promotion: is the leading arm of a Thompson experiment good enough to serve everyone?

A rule is a conjunction of clauses, each recorded with the number that met or missed it, so a
promotion decision can be audited later:

* ``probability_best``: the probability that the leader is the best arm *or within
  ``equivalence_margin`` of it* reaches the threshold. This is Scott's (2015) "potential value
  remaining" criterion: with ``θ*`` the best arm's rate in a posterior draw, the leader's value
  remaining is ``(θ* - θ_leader) / θ_leader``, and the rule asks that its ``threshold``-quantile
  be at most the margin. A margin of 0 is plain ``P(best)`` (Scott 2010). Why a margin: in a
  factorial a unit without effect makes every winning combination come in pairs of equal arms;
  ``P(best)`` then splits between them and never reaches 0.9, so the bandit would never ship
  either. The leader is the arm with the highest such probability among the arms not held back
  by a guardrail.
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
* ``guardrails``: the leader is not an arm that :func:`guardrail_harm` finds worse than control
  by the always-valid test (the bandit looks at every period), per guardrail and arm at
  ``guardrail_alpha``; such an arm is held at the floor weight and can never be promoted.
* ``guardrail:<name>``: and at the moment of promotion, no sign of harm against the arms it
  would replace, pooled, even by the more sensitive one-sided fixed-horizon test, with a
  one-sided bound on how much worse it could be within ``guardrail_tolerance``.

Every comparison is on the period-stratified estimate
(:func:`abtest.stats.stratified.post_stratify`), as the results page shows it: within an
allocation period assignment is a fixed randomization, so comparing arms within periods is not
confounded by a conversion rate that drifts while the weights move.

Pure: no database, no clock. Adaptive allocation makes the sequential test approximate (the
confidence sequence assumes i.i.d. units per arm; Thompson weights depend on past outcomes);
bench/bandit.py measures the resulting A/A error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from abtest.allocation import (
    DEFAULT_DRAWS,
    AllocationResult,
    Periods,
    arm_totals,
    period_posteriors,
    thompson_weights,
)
from abtest.stats.frequentist import compare
from abtest.stats.health import check_guardrail
from abtest.stats.posteriors import Posterior, sample_posteriors
from abtest.stats.sequential import RELATIVE_SEQUENTIAL_TEST, sequential_compare
from abtest.stats.stratified import post_stratify
from abtest.stats.summary import MetricKind, SampleStats

#: Largest relative worsening of a guardrail against control tolerated (see PromotionRule).
GUARDRAIL_TOLERANCE = 0.5
#: Level of the one-sided bound a leader's guardrail must keep within tolerance at promotion:
#: 1%, not 5%, because the bound is looked at after every period and a harmful arm that
#: passes it once, on a few dozen complaints, is shipped to everyone (0.5% of simulated runs
#: at 5%).
NO_HARM_BOUND_ALPHA = 0.01
#: Level of each always-valid guardrail test (one per guardrail and arm).
GUARDRAIL_ALPHA = 0.05
#: Total units of the two compared sides where the confidence sequences are tightest: 20,000,
#: because promotions come after tens of thousands of units (GrowthBook's 5,000 default suits a
#: two-arm test that stops earlier); bench/bandit.py runs with it.
TUNING_PARAMETER = 20_000.0


@dataclass(frozen=True)
class PromotionRule:
    """Thresholds of the promotion clauses.

    Attributes
    ----------
    probability_best : float
        The leader's probability of being best or within ``equivalence_margin`` of it must
        reach this.
    min_units_per_arm : int
        Every arm needs this many units.
    equivalence_margin : float
        Relative shortfall from the best arm that still counts as "as good" (0.05: within 5% of
        the best arm's rate); 0 asks for plain ``P(best)``.
    sequential_alpha : float or None
        Family level of the always-valid test of the leader (split over the ``k`` arms);
        None leaves the clause out.
    tuning_parameter : float
        See :data:`TUNING_PARAMETER`.
    guardrail_alpha : float
        Level of each guardrail test.
    guardrail_tolerance : float
        Largest relative worsening of a guardrail against control that the leader's one-sided
        bound may show at promotion (0.5: complaints at most 1.5 times control's).
    draws : int
        Posterior draws behind the probability clause.
    """

    probability_best: float = 0.95
    min_units_per_arm: int = 1000
    equivalence_margin: float = 0.0
    sequential_alpha: float | None = 0.05
    tuning_parameter: float = TUNING_PARAMETER
    guardrail_alpha: float = GUARDRAIL_ALPHA
    guardrail_tolerance: float = GUARDRAIL_TOLERANCE
    draws: int = DEFAULT_DRAWS


@dataclass(frozen=True)
class GuardrailData:
    """One guardrail metric's per-period, per-arm statistics (arms in the primary's order)."""

    name: str
    kind: MetricKind
    higher_is_better: bool
    periods: Periods


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
    """The verdict for the current leader (None when every arm is held back), with every
    clause that justified it."""

    promote: bool
    leader: int | None
    clauses: tuple[Clause, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        """The details of the clauses that are not met (empty when promoting)."""
        return tuple(clause.detail for clause in self.clauses if not clause.met)


def guardrail_harm(
    guardrails: Sequence[GuardrailData], control_index: int = 0, alpha: float = GUARDRAIL_ALPHA
) -> dict[int, str]:
    """The arms that some guardrail finds worse than control, each with why.

    The test is the one of the guardrail's row on the results page, so the page's alert and
    the bandit's hold cannot disagree: the two-sided always-valid test of the relative lift
    (:func:`abtest.stats.sequential.sequential_compare`, default tuning) on the
    period-stratified arms, significant at ``alpha`` in the harmful direction. Always-valid
    because the bandit looks after every period; a fixed-horizon test would flag harmless arms
    by peeking.
    """
    harmed: dict[int, str] = {}
    for guardrail in guardrails:
        arms, kind = results_rows(guardrail.periods, guardrail.kind)
        for arm in (i for i in range(len(arms)) if i != control_index and i not in harmed):
            result = sequential_compare(arms[arm], arms[control_index], kind, alpha)
            p = result.p_value_sequential_relative
            worse = result.absolute_lift < 0 if guardrail.higher_is_better else (
                result.absolute_lift > 0)  # the relative lift is undefined at a control of 0
            if p < alpha and worse:
                direction = "lower" if guardrail.higher_is_better else "higher"
                low, high = result.relative_ci
                harmed[arm] = (
                    f"{guardrail.name} {direction} than control by the {RELATIVE_SEQUENTIAL_TEST}"
                    f" (p = {p:.3g} < {alpha}; relative change {low:+.0%} to {high:+.0%})")
    return harmed


def results_rows(periods: Periods, kind: MetricKind) -> tuple[tuple[SampleStats, ...], MetricKind]:
    """The arms as the results page analyses them: pooled under the declared kind while the
    weights never moved, else post-stratified by period (as numeric, see
    :mod:`abtest.stats.stratified`)."""
    if len(periods) == 1:
        return tuple(periods[0]), kind
    return post_stratify(periods).arms, "numeric"


def evaluate_promotion(
    rule: PromotionRule,
    periods: Periods,
    kind: MetricKind,
    posteriors: Sequence[Posterior],
    held_back: Mapping[int, str] | None = None,
    seed: int | np.random.Generator | None = None,
    guardrails: Sequence[GuardrailData] = (),
) -> PromotionDecision:
    """Check every clause of ``rule`` for the leading arm.

    Parameters
    ----------
    rule : PromotionRule
    periods : sequence of sequence of SampleStats
        Primary-metric statistics per allocation period and arm.
    kind : {"binary", "numeric"}
        Kind of the primary metric.
    posteriors : sequence of Posterior
        Each arm's posterior, e.g. ``AllocationResult.posteriors``.
    held_back : mapping of int to str
        Arms that may not be promoted (:func:`guardrail_harm`), with why.
    seed : int, numpy Generator or None
        Source of the posterior draws.
    guardrails : sequence of GuardrailData
        Checked for the leader by the ``guardrail:<name>`` clauses.

    References
    ----------
    .. [1] Scott, S. L. (2010). "A modern Bayesian look at the multi-armed bandit". Applied
       Stochastic Models in Business and Industry 26(6), 639-658, section 4.
    .. [2] Scott, S. L. (2015). "Multi-armed bandit experiments in the online service economy".
       Applied Stochastic Models in Business and Industry 31(1), 37-45 (potential value
       remaining).
    .. [3] Waudby-Smith, I. et al. (2023). "Time-uniform central limit theory and asymptotic
       confidence sequences". arXiv:2103.06476.
    .. [4] Johari, R. et al. (2017). "Peeking at A/B tests". KDD 2017, 1517-1525.
    """
    held_back = dict(held_back or {})
    allowed = [i for i in range(len(posteriors)) if i not in held_back]
    if not allowed:
        detail = "every arm is held back by a guardrail"
        return PromotionDecision(False, None, (Clause("guardrails", False, 0.0, 0.0, detail),))
    gates = {i: tuple(_no_harm_yet_clause(rule, g, i, _alternatives(periods, i, allowed))
                      for g in guardrails) for i in allowed}
    candidates = [i for i in allowed if all(c.met for c in gates[i])] or allowed
    held_back.update({i: "; ".join(c.detail for c in gates[i] if not c.met)
                      for i in allowed if i not in candidates})
    samples = sample_posteriors([posteriors[i] for i in candidates], rule.draws,
                                np.random.default_rng(seed))
    chances = probability_near_best(samples, rule.equivalence_margin)
    leader = candidates[int(np.argmax(chances))]
    clauses = (
        _probability_clause(rule, float(chances.max())),
        _units_clause(rule, periods),
        *_sequential_clauses(rule, periods, leader, allowed),
        *_guardrail_clauses({i: why for i, why in held_back.items() if i != leader}),
        *gates[leader],
    )
    return PromotionDecision(all(c.met for c in clauses), leader, clauses)


def probability_near_best(samples: np.ndarray, margin: float) -> np.ndarray:
    """Per arm, the share of posterior draws in which its value remaining
    ``(θ* - θ_i) / |θ_i|`` is at most ``margin`` (Scott 2015); ``margin = 0`` is ``P(best)``.
    """
    best = samples.max(axis=1, keepdims=True)
    return np.mean(best - samples <= margin * np.abs(samples), axis=0)


def _probability_clause(rule: PromotionRule, leading: float) -> Clause:
    met = leading >= rule.probability_best
    what = (f"P(leader within {rule.equivalence_margin:.0%} of the best)"
            if rule.equivalence_margin else "P(best) of the leader")
    detail = f"{what} {leading:.3f} {'>=' if met else '<'} {rule.probability_best}"
    return Clause("probability_best", met, leading, rule.probability_best, detail)


def _units_clause(rule: PromotionRule, periods: Periods) -> Clause:
    fewest = min(arm.n for arm in arm_totals(periods))
    met = fewest >= rule.min_units_per_arm
    detail = f"smallest arm has {fewest} units {'>=' if met else '<'} {rule.min_units_per_arm}"
    return Clause("min_units", met, float(fewest), float(rule.min_units_per_arm), detail)


def _sequential_clauses(
    rule: PromotionRule, periods: Periods, leader: int, allowed: Sequence[int]
) -> tuple[Clause, ...]:
    """The leader against the average of the other arms that could be shipped (all others when
    it is the only one): an arm held back by a guardrail is no alternative to beat."""
    if rule.sequential_alpha is None:
        return ()
    alpha = rule.sequential_alpha / max(len(allowed), 2)
    rest = _alternatives(periods, leader, allowed)
    arms = post_stratify(periods).arms
    result = sequential_compare(arms[leader], equal_mix([arms[i] for i in rest]), "numeric",
                                alpha, rule.tuning_parameter)
    better = result.absolute_lift > 0
    met = result.significant and better
    detail = (
        f"always-valid p of arm {leader} vs the average of the other arms = "
        f"{result.p_value_sequential:.3g} {'<' if result.significant else 'not <'} {alpha:.3g}"
        f" (lift {result.absolute_lift:+.4g}{'' if better else ', not better'})"
        + (f"; {result.reason}" if result.reason else "")
    )
    return (Clause("sequential", met, result.p_value_sequential, alpha, detail),)


def equal_mix(arms: Sequence[SampleStats]) -> SampleStats:
    """The unweighted average of the arms' means as one moment-matched sample (mean
    ``Σ m_i / r``, variance of the mean ``Σ Var(m_i) / r²``).

    Why not pool the units: Thompson sampling gives an arm tied with the leader as much traffic
    as the leader, so pooled it would dominate "the rest" and hide that the leader beats every
    other arm. Under the A/A null every arm's mean estimates the same rate, so the average is
    as valid a reference as the pool.
    """
    r = len(arms)
    n = sum(arm.n for arm in arms)
    mean = sum(arm.mean for arm in arms) / r
    variance_of_mean = sum(arm.variance / arm.n for arm in arms) / r**2
    total = mean * n
    return SampleStats(n, total, variance_of_mean * n * (n - 1) + total * total / n)


def _no_harm_yet_clause(
    rule: PromotionRule, guardrail: GuardrailData, leader: int, others: Sequence[int]
) -> Clause:
    """Before serving the leader to everyone, evidence that it does no harm against the scripts
    it would replace: the other arms that could be shipped, control among them, pooled. The
    one-sided fixed-horizon test (:func:`abtest.stats.health.check_guardrail`) on the stratified
    guardrail must not find it worse, and its one-sided bound on the relative change must stay
    within ``guardrail_tolerance`` (a handful of complaints proves nothing either way). Why
    pooled rather than control alone: Thompson sampling starves control, and a guardrail judged
    on a few dozen of its complaints blocks safe winners by chance; harm against control itself
    is what :func:`guardrail_harm` holds arms back for. A false flag here only delays a
    promotion by a period; a missed one ships a harmful script to every shopper."""
    name = f"guardrail:{guardrail.name}"
    treatment, baseline = post_stratify(_pairs(guardrail.periods, leader, others)).arms
    result = check_guardrail(treatment, baseline, "numeric", guardrail.higher_is_better,
                             rule.guardrail_alpha)
    towards = "larger" if guardrail.higher_is_better else "smaller"
    low, high = compare(treatment, baseline, "numeric", NO_HARM_BOUND_ALPHA,
                        towards).relative_ci
    bound = -low if guardrail.higher_is_better else high
    unproven = not bound <= rule.guardrail_tolerance
    state = ("worse than the other arms" if result.harmed else
             "not shown within tolerance" if unproven else "not worse")
    detail = (f"{guardrail.name}: leader {state} by the one-sided z-test against the other arms"
              f" pooled (p = {result.p_value:.3g}; change at most {bound:+.0%} at level"
              f" {NO_HARM_BOUND_ALPHA}, tolerance {rule.guardrail_tolerance:+.0%})")
    return Clause(name, not result.harmed and not unproven, bound, rule.guardrail_tolerance,
                  detail)


def _alternatives(periods: Periods, leader: int, allowed: Sequence[int]) -> list[int]:
    """The arms the leader would replace: the other shippable ones, else all the others."""
    return [i for i in allowed if i != leader] or [
        i for i in range(len(periods[0])) if i != leader]


def _pairs(periods: Periods, arm: int, others: Sequence[int]) -> list[list[SampleStats]]:
    """Per period, ``arm`` beside ``others`` pooled."""
    return [[period[arm], sum((period[i] for i in others[1:]), period[others[0]])]
            for period in periods]


def _guardrail_clauses(held_back: Mapping[int, str]) -> tuple[Clause, ...]:
    """The leader is never held back; the clause records which arms were, and why."""
    if not held_back:
        return ()
    detail = "; ".join(f"arm {arm} held back: {why}" for arm, why in sorted(held_back.items()))
    return (Clause("guardrails", True, float(len(held_back)), 0.0, detail),)


def _within_tolerance(
    guardrails: Sequence[GuardrailData], control_index: int, tolerance: float
) -> Callable[[int, np.random.Generator], np.ndarray] | None:
    """Per joint draw of every guardrail's posteriors, the arms whose guardrail is within
    ``tolerance`` (relative) of the typical arm's in that draw, the median over arms; control
    always is. Why the median and not control: Thompson sampling starves control, whose wide
    posterior would let a harmful arm pass in most draws for weeks, while the median of eight
    arms is tight and moved by a few harmful arms no more than by one. (When most arms are
    harmful the median is too; the always-valid hold against control still catches them.)
    None without a guardrail whose posteriors can be formed."""
    formed = [(g, period_posteriors(g.periods, g.kind)) for g in guardrails]
    usable = [(g, posteriors) for g, posteriors in formed if not isinstance(posteriors, str)]
    if not usable:
        return None

    def feasible(draws: int, rng: np.random.Generator) -> np.ndarray:
        ok = np.ones((draws, len(usable[0][1])), dtype=bool)
        for guardrail, posteriors in usable:
            values = sample_posteriors(posteriors, draws, rng)
            typical = np.median(values, axis=1, keepdims=True)
            ok &= (values >= typical * (1 - tolerance)) if guardrail.higher_is_better else (
                values <= typical * (1 + tolerance))
        ok[:, control_index] = True
        return ok

    return feasible


@dataclass(frozen=True)
class BanditStep:
    """One allocation run: the new weights, the arms held back by a guardrail, the verdict."""

    allocation: AllocationResult
    held_back: dict[int, str]
    decision: PromotionDecision | None


def bandit_step(
    periods: Periods,
    kind: MetricKind,
    *,
    floor: float,
    min_units: int,
    rule: PromotionRule | None,
    control_index: int = 0,
    guardrails: Sequence[GuardrailData] = (),
    current_weights: Sequence[float] | None = None,
    seed: int | np.random.Generator | None = None,
) -> BanditStep:
    """Guardrail check, Thompson weights and promotion verdict, in that order: the one
    decision the allocation service and the simulations both run.

    Guardrails act twice in the weights: an arm :func:`guardrail_harm` finds worse than control
    is held at the floor, and before any test can say so, an arm counts as best only in the
    posterior draws where its guardrail is within ``guardrail_tolerance`` of the typical arm's
    (Thompson sampling under a constraint), so a probably harmful arm loses traffic to the best
    safe one early instead of after the test.

    The guardrail check is redone on all the data at every run, not remembered: an arm flagged
    by chance early (seven arms are each tested against control) is released when the evidence
    no longer holds, while a truly harmful arm's evidence only grows.
    """
    rng = np.random.default_rng(seed)
    alpha = rule.guardrail_alpha if rule is not None else GUARDRAIL_ALPHA
    harmed = guardrail_harm(guardrails, control_index, alpha)
    tolerance = rule.guardrail_tolerance if rule is not None else GUARDRAIL_TOLERANCE
    allocation = thompson_weights(
        periods, kind, floor, min_units, seed=rng, current_weights=current_weights,
        held_at_floor=harmed, feasible=_within_tolerance(guardrails, control_index, tolerance))
    decision = None
    if rule is not None and allocation.posteriors is not None:
        decision = evaluate_promotion(rule, periods, kind, allocation.posteriors, harmed, rng,
                                      guardrails)
    return BanditStep(allocation, harmed, decision)
