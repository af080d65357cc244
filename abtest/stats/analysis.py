"""The full results of an experiment, from per-arm sufficient statistics only.

This module is orchestration: it computes nothing new. Given ``SampleStats`` per metric and arm
(for the whole experiment, per exposure-attribute segment, per exposure day and per allocation
period), it calls the tested stats modules and assembles one frozen result:

* fixed horizon: :func:`abtest.stats.frequentist.compare` per treatment arm and metric, the k-arm
  :func:`~abtest.stats.frequentist.omnibus_test`, and Holm and Benjamini–Hochberg adjustments
  over the family of all (treatment arm, metric) comparisons;
* sequential: :func:`abtest.stats.sequential.sequential_compare` (always-valid p-value and
  confidence sequences), the headline while the experiment runs;
* Bayesian: :func:`abtest.stats.bayesian.bayesian_compare` with a fixed seed;
* factorial: :func:`abtest.stats.factorial.factorial_analysis` of the primary metric;
* health: :func:`abtest.stats.health.sample_ratio_mismatch` against the weights in force in each
  allocation period, :func:`~abtest.stats.health.check_guardrail`, and the power helpers.

The database does the aggregation (DESIGN.md, "Analysis never loads raw rows"); nothing here
sees a row. Every float that is undefined stays NaN in the dataclasses; :func:`as_json` maps NaN
and infinities to ``None`` because JSON has neither.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from abtest.stats.bayesian import BayesianComparison, bayesian_compare
from abtest.stats.factorial import FactorialResult, TermEstimate, factorial_analysis
from abtest.stats.frequentist import (
    NAN,
    NAN_PAIR,
    ComparisonResult,
    MetricKind,
    OmnibusResult,
    adjust_comparisons,
    compare,
    omnibus_test,
)
from abtest.stats.health import SRM_THRESHOLD, check_guardrail, sample_ratio_mismatch
from abtest.stats.power import (
    DurationEstimate,
    SampleSizePlan,
    days_needed,
    minimum_detectable_effect,
    sample_size,
)
from abtest.stats.reasons import problem
from abtest.stats.sequential import (
    DEFAULT_TUNING_PARAMETER,
    TEST_NAME,
    SequentialResult,
    sequential_compare,
)
from abtest.stats.summary import SampleStats

MetricRole = Literal["primary", "secondary", "guardrail"]
DecisionBasis = Literal["sequential", "fixed_horizon"]
#: Per metric name, one ``SampleStats`` per arm in :attr:`AnalysisConfig.arms` order.
MetricStats = Mapping[str, Sequence[SampleStats]]
PowerOutcome = SampleSizePlan | DurationEstimate

_FIXED_TESTS = {
    "binary": "two-proportion z-test (pooled), Fisher's exact test when an expected count < 5",
    "numeric": "Welch's t-test",
}
_FACTORIAL_MODELS = {
    "binary": "logistic regression (binomial GLM on arm totals), Wald intervals",
    "numeric": "least squares on arm means with frequency weights, t intervals",
}
_BAYES_MODELS = {
    "binary": "Beta-Binomial posteriors, Beta(1, 1) prior",
    "numeric": "normal posteriors N(mean, s^2/n), flat prior",
}


@dataclass(frozen=True)
class MetricSpec:
    """A metric as defined in the experiment: events ``name`` give a rate or a mean."""

    name: str
    kind: MetricKind
    role: MetricRole = "primary"
    higher_is_better: bool = True


@dataclass(frozen=True)
class AnalysisConfig:
    """What the analysis needs beyond the numbers.

    Attributes
    ----------
    arms : tuple of str
        Arm keys; every per-arm sequence follows this order.
    metrics : tuple of MetricSpec
        Primary first (the factorial and power sections use it).
    control : int
        Index of the control arm.
    alpha : float
        Level of every test and ``1 - alpha`` coverage of every interval.
    decision_basis : {"sequential", "fixed_horizon"}
        Which p-value and interval are the headline: sequential while the experiment runs
        (peeking is allowed), fixed horizon once it has stopped.
    weights : tuple of float, optional
        Configured weights, for the SRM check when no allocation periods are given.
    arm_choices : tuple of mapping, optional
        Each arm's ``{unit: variant}``, for the factorial model (empty: no factorial section).
    minimum_effect : float
        Relative lift the power section plans for (0.05 = +5%).
    draws : int
        Monte Carlo draws per arm behind ``probability_best`` and the binary lift's interval.
        The standard error of a probability, ``sqrt(p(1-p)/draws)``, is at most 0.0035 at
        20,000 (0.0028 at the verdict's 0.8 threshold); an interval end moves by about
        ``2.7 sd/sqrt(draws)`` = 0.02 posterior sd. 100,000 draws would cut those errors by
        ``sqrt(5)`` and nearly double the whole analysis' time (Beta sampling dominates it).
    seed : int
        Seed of those draws: the figures are reproducible.
    """

    arms: tuple[str, ...]
    metrics: tuple[MetricSpec, ...]
    control: int = 0
    alpha: float = 0.05
    decision_basis: DecisionBasis = "sequential"
    weights: tuple[float, ...] | None = None
    arm_choices: tuple[Mapping[str, str], ...] = ()
    tuning_parameter: float = DEFAULT_TUNING_PARAMETER
    minimum_effect: float = 0.05
    power: float = 0.8
    srm_threshold: float = SRM_THRESHOLD
    draws: int = 20_000
    seed: int = 20_261_123


@dataclass(frozen=True)
class AllocationPeriod:
    """Units per arm assigned while ``weights`` were in force (one weights version)."""

    version: int
    weights: tuple[float, ...]
    units: tuple[int, ...]


@dataclass(frozen=True)
class Group:
    """Sufficient statistics of one group of units: a segment value or an exposure day."""

    label: str
    stats: MetricStats


@dataclass(frozen=True)
class AnalysisInput:
    """Everything aggregated by the database for one analysis."""

    overall: MetricStats
    periods: tuple[AllocationPeriod, ...] = ()
    days: tuple[Group, ...] = ()
    segment_attribute: str | None = None
    segment_top: int = 0
    segments: tuple[Group, ...] = ()


@dataclass(frozen=True)
class Lift:
    """Treatment minus control: fixed-horizon CIs and sequential confidence-sequence bounds."""

    absolute: float
    absolute_ci: tuple[float, float]
    relative: float
    relative_ci: tuple[float, float]
    absolute_ci_sequential: tuple[float, float]
    relative_ci_sequential: tuple[float, float]


@dataclass(frozen=True)
class ArmResult:
    """One arm on one metric; comparison fields are NaN (``null``) and ``lift`` None for control.

    ``p_value_holm`` / ``p_value_bh`` are adjusted over every (treatment arm, metric) pair.
    ``chance_to_beat_control``, ``probability_best`` and ``expected_loss`` read "better" in the
    metric's direction (lower is better when ``higher_is_better`` is false).
    """

    arm: str
    is_control: bool
    units: int
    mean: float
    std_dev: float
    lift: Lift | None
    test: str
    p_value: float
    p_value_holm: float
    p_value_bh: float
    p_value_sequential: float
    chance_to_beat_control: float
    probability_best: float
    expected_loss: float
    credible_interval: tuple[float, float]
    status: str
    reason: str


@dataclass(frozen=True)
class MetricResult:
    """All arms on one metric, the k-arm omnibus test, and the methods used."""

    name: str
    kind: MetricKind
    role: MetricRole
    higher_is_better: bool
    method: str
    omnibus: OmnibusResult
    arms: tuple[ArmResult, ...]


@dataclass(frozen=True)
class SrmReport:
    """Sample-ratio check against the weights of every allocation period."""

    method: str
    periods: int
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    statistic: float
    p_value: float
    threshold: float
    mismatch: bool
    status: str
    reason: str
    reason_code: str = ""
    reason_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GuardrailCheck:
    """One treatment arm on one guardrail metric."""

    metric: str
    arm: str
    harmed: bool
    higher_is_better: bool
    p_value: float
    status: str
    reason: str
    reason_code: str = ""
    reason_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GuardrailsReport:
    """Every guardrail check; ``harmed`` when any arm is significantly worse on any guardrail."""

    method: str
    harmed: bool
    checks: tuple[GuardrailCheck, ...]


@dataclass(frozen=True)
class PowerReport:
    """Sample size for the planned lift on the primary metric and the days still needed."""

    method: str
    metric: str
    baseline_mean: float
    minimum_effect: float
    n_per_arm: int | None
    units_per_arm: int
    daily_units: float
    days_needed: int | None
    detectable_effect_now: float
    status: str
    reason: str
    reason_code: str = ""
    reason_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FactorialReport:
    """Main effects and two-way interactions of the script units on the primary metric."""

    method: str
    metric: str
    factors: tuple[str, ...]
    reference_levels: tuple[tuple[str, str], ...]
    terms: tuple[TermEstimate, ...]
    n_units: int
    status: str
    reason: str
    reason_code: str = ""
    reason_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SegmentResult:
    """The per-metric analysis restricted to units whose attribute had this value."""

    value: str
    units: int
    metrics: tuple[MetricResult, ...]


#: The segments method when no breakdown was asked for.
NO_SEGMENT_METHOD = (
    "no breakdown asked: name an exposure attribute (API ?segment=, CLI --segment) to analyse "
    "each metric within its top values by units"
)


@dataclass(frozen=True)
class SegmentsReport:
    """Per-segment results of one exposure attribute (``attribute`` None: none was asked)."""

    attribute: str | None
    method: str
    values: tuple[SegmentResult, ...]


@dataclass(frozen=True)
class DayResult:
    """Units exposed on one UTC day per arm, and each metric's mean per arm for them."""

    day: str
    units: tuple[int, ...]
    means: Mapping[str, tuple[float, ...]]


@dataclass(frozen=True)
class AnalysisResult:
    """The whole results document of one experiment (before JSON conversion)."""

    status: str
    reason: str
    decision_basis: DecisionBasis
    alpha: float
    arms: tuple[str, ...]
    control: str
    units: tuple[int, ...]
    multiple_comparisons: str
    metrics: tuple[MetricResult, ...]
    srm: SrmReport
    guardrails: GuardrailsReport
    power: PowerReport
    factorial: FactorialReport | None
    segments: SegmentsReport
    daily: tuple[DayResult, ...]
    reason_code: str = ""
    reason_params: Mapping[str, Any] = field(default_factory=dict)


def analyze(config: AnalysisConfig, data: AnalysisInput) -> AnalysisResult:
    """Run every section of the analysis on the aggregated statistics.

    An experiment without units gives ``status="no_data"`` and sections that say why, never an
    exception (DESIGN.md, "Degenerate data ... gives a result that says why").

    Parameters
    ----------
    config : AnalysisConfig
    data : AnalysisInput
        Statistics per metric and arm overall, per allocation period, per day and per segment.

    References
    ----------
    .. [1] Kohavi, R., Tang, D., Xu, Y. (2020). *Trustworthy Online Controlled Experiments*.
       Cambridge University Press: chapters 17 (multiple testing), 21 (SRM and guardrails).
    """
    _check_config(config, data.overall)
    units = _units(config, data.overall)
    empty = sum(units) == 0
    return AnalysisResult(
        status="no_data" if empty else "ok",
        reason="no units have been exposed yet" if empty else "",
        decision_basis=config.decision_basis,
        alpha=config.alpha,
        arms=config.arms,
        control=config.arms[config.control],
        units=units,
        multiple_comparisons=_family(config),
        metrics=analyze_metrics(config, data.overall),
        srm=srm_report(config, units, data.periods),
        guardrails=guardrails_report(config, data.overall),
        power=power_report(config, data.overall, data.days),
        factorial=factorial_report(config, data.overall),
        segments=segments_report(config, data),
        daily=tuple(_day(config, day) for day in data.days),
        reason_code="no_units_exposed" if empty else "",
    )


def analyze_metrics(config: AnalysisConfig, stats: MetricStats) -> tuple[MetricResult, ...]:
    """Fixed-horizon, sequential and Bayesian results of every metric and arm.

    Holm and Benjamini–Hochberg adjust over all ``(k - 1) x m`` treatment-versus-control
    comparisons together (statsmodels ``multipletests`` via
    :func:`~abtest.stats.frequentist.adjust_comparisons`).

    References
    ----------
    .. [1] Holm, S. (1979). Scand. J. Statist. 6(2), 65-70.
    .. [2] Benjamini, Y., Hochberg, Y. (1995). J. R. Stat. Soc. B 57(1), 289-300.
    """
    fixed = {m.name: _fixed(config, m, stats[m.name]) for m in config.metrics}
    flat = [result for m in config.metrics for result in fixed[m.name]]
    holm = iter(adjust_comparisons(flat, "holm"))
    bh = iter(adjust_comparisons(flat, "fdr_bh"))
    return tuple(
        _metric_result(config, m, stats[m.name], [(next(holm), next(bh)) for _ in fixed[m.name]])
        for m in config.metrics
    )


def expected_units(periods: Sequence[AllocationPeriod]) -> tuple[float, ...]:
    """Expected units per arm ``sum_p N_p w_p / sum(w_p)`` over allocation periods.

    With Thompson sampling the weights change per period, so the split to check against is the
    traffic-weighted mix of each period's weights, not the current weights.
    """
    arms = len(periods[0].weights)
    totals = [0.0] * arms
    for period in periods:
        share = sum(period.units) / sum(period.weights)
        for i, weight in enumerate(period.weights):
            totals[i] += share * weight
    return tuple(totals)


def srm_report(
    config: AnalysisConfig, units: Sequence[int], periods: Sequence[AllocationPeriod]
) -> SrmReport:
    """Chi-square goodness of fit of units per arm against the expected split.

    The expected counts come from :func:`expected_units` (fixed allocation: the weights).
    Pooling periods makes the test slightly conservative when weights moved: the sum of
    per-period multinomials varies less than one multinomial with the mixed shares.

    References
    ----------
    .. [1] Fabijan, A. et al. (2019). "Diagnosing Sample Ratio Mismatch in Online Controlled
       Experiments". KDD 2019.
    """
    live = [p for p in periods if sum(p.units) > 0]
    weights = expected_units(live) if live else (config.weights or (1.0,) * len(config.arms))
    result = sample_ratio_mismatch(units, weights, config.srm_threshold)
    method = (
        "Pearson chi-square goodness of fit of units per arm; expected = sum over "
        f"{len(live)} allocation period(s) of units x weights; alert below p = "
        f"{config.srm_threshold:g}"
    )
    return SrmReport(method, len(live), **vars(result))


def guardrails_report(config: AnalysisConfig, stats: MetricStats) -> GuardrailsReport:
    """One-sided fixed-horizon test of every treatment arm on every guardrail metric."""
    checks = []
    for metric in (m for m in config.metrics if m.role == "guardrail"):
        arms = stats[metric.name]
        for i in _treatments(config):
            result = check_guardrail(
                arms[i], arms[config.control], metric.kind, metric.higher_is_better, config.alpha
            )
            checks.append(
                GuardrailCheck(
                    metric.name,
                    config.arms[i],
                    result.harmed,
                    metric.higher_is_better,
                    result.p_value,
                    result.status,
                    result.reason,
                    result.reason_code,
                    result.reason_params,
                )
            )
    method = f"one-sided fixed-horizon test per arm (worse than control) at alpha = {config.alpha}"
    return GuardrailsReport(method, any(c.harmed for c in checks), tuple(checks))


def power_report(config: AnalysisConfig, stats: MetricStats, days: Sequence[Group]) -> PowerReport:
    """Units per arm needed for the planned lift on the primary metric, and days to get there.

    The baseline is the control arm's observed mean (and standard deviation for numeric
    metrics); daily traffic is the mean number of units exposed per observed day.

    References
    ----------
    .. [1] Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed.
    """
    primary = config.metrics[0]
    arms = stats[primary.name]
    control = arms[config.control]
    sd = math.sqrt(control.variance) if primary.kind == "numeric" else None
    plan = sample_size(
        primary.kind,
        control.mean,
        config.minimum_effect,
        sd=sd,
        alpha=config.alpha,
        power=config.power,
        arms=len(arms),
    )
    have = min(arm.n for arm in arms)
    daily = _daily_units(config, days)
    method = (
        f"normal power, Cohen's {'h' if primary.kind == 'binary' else 'd'}, two-sided alpha = "
        f"{config.alpha}, power = {config.power}, planned lift +{config.minimum_effect:.0%}; "
        "days from the mean units per day so far"
    )
    base = (method, primary.name, control.mean, config.minimum_effect, plan.n_per_arm, have, daily)
    mde = minimum_detectable_effect(
        primary.kind, control.mean, have, sd=sd, alpha=config.alpha, power=config.power
    )
    if plan.n_per_arm is None:
        return PowerReport(*base, None, mde, *_why(plan))
    duration = days_needed(
        plan.n_per_arm, daily, arms=len(arms), observed_per_arm=tuple(a.n for a in arms)
    )
    return PowerReport(*base, duration.days, mde, *_why(duration))


def factorial_report(config: AnalysisConfig, stats: MetricStats) -> FactorialReport | None:
    """Factorial model of the primary metric on the script units, control levels as reference.

    Units whose variant is the same in every arm carry no contrast and are left out of the
    model. None when the arms' choices are not given.
    """
    if not config.arm_choices:
        return None
    primary = config.metrics[0]
    varying = _varying_units(config.arm_choices)
    cells = [
        ({unit: choices[unit] for unit in varying}, arm)
        for choices, arm in zip(config.arm_choices, stats[primary.name], strict=True)
    ]
    reference = {unit: config.arm_choices[config.control][unit] for unit in varying}
    result = factorial_analysis(cells, primary.kind, reference, config.alpha) if varying else None
    return _factorial(primary, result)


def segments_report(config: AnalysisConfig, data: AnalysisInput) -> SegmentsReport:
    """The per-metric analysis within each segment of the exposure attribute asked for.

    Without one the report is empty and its method says how to ask: segments multiply the
    analysis, so they are computed on request only.
    """
    if data.segment_attribute is None:
        return SegmentsReport(None, NO_SEGMENT_METHOD, ())
    method = (
        f"each metric analysed as above within each value of exposure attribute "
        f"{data.segment_attribute!r} (top {data.segment_top} values by units, the rest as "
        "'(other)'); Holm/BH adjust within a segment, not across segments"
    )
    values = tuple(
        SegmentResult(
            group.label, sum(_units(config, group.stats)), analyze_metrics(config, group.stats)
        )
        for group in data.segments
    )
    return SegmentsReport(data.segment_attribute, method, values)


def as_json(value: Any) -> Any:
    """Plain JSON types: dataclasses to dicts, tuples to lists, NaN and infinities to None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): as_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _check_config(config: AnalysisConfig, stats: MetricStats) -> None:
    if not 0 <= config.control < len(config.arms):
        raise ValueError(f"control {config.control} outside 0..{len(config.arms) - 1}")
    if not config.metrics:
        raise ValueError("an analysis needs at least one metric")
    for metric in config.metrics:
        if len(stats[metric.name]) != len(config.arms):
            raise ValueError(f"metric {metric.name!r}: one SampleStats per arm expected")


def _units(config: AnalysisConfig, stats: MetricStats) -> tuple[int, ...]:
    return tuple(arm.n for arm in stats[config.metrics[0].name])


def _treatments(config: AnalysisConfig) -> list[int]:
    return [i for i in range(len(config.arms)) if i != config.control]


def _family(config: AnalysisConfig) -> str:
    k, m = len(config.arms) - 1, len(config.metrics)
    return (
        f"Holm (family-wise error) and Benjamini-Hochberg (false discovery rate) over {k} arm(s) "
        f"x {m} metric(s) = {k * m} comparisons with control: p_value_holm, p_value_bh"
    )


def _fixed(
    config: AnalysisConfig, metric: MetricSpec, arms: Sequence[SampleStats]
) -> list[ComparisonResult]:
    control = arms[config.control]
    return [compare(arms[i], control, metric.kind, config.alpha) for i in _treatments(config)]


def _metric_result(
    config: AnalysisConfig,
    metric: MetricSpec,
    arms: Sequence[SampleStats],
    adjusted: list[tuple[ComparisonResult, ComparisonResult]],
) -> MetricResult:
    bayes = bayesian_compare(
        _oriented(arms, metric),
        metric.kind,
        config.control,
        draws=config.draws,
        seed=config.seed,
        credibility=1 - config.alpha,
    )
    by_arm = dict(zip(_treatments(config), adjusted, strict=True))
    results = tuple(
        _arm_result(config, metric, arms, i, by_arm.get(i), bayes) for i in range(len(arms))
    )
    omnibus = omnibus_test(arms, metric.kind, config.alpha)
    return MetricResult(
        metric.name,
        metric.kind,
        metric.role,
        metric.higher_is_better,
        _method(config, metric),
        omnibus,
        results,
    )


def _method(config: AnalysisConfig, metric: MetricSpec) -> str:
    k, m = len(config.arms) - 1, len(config.metrics)
    return (
        f"{_FIXED_TESTS[metric.kind]}; Holm and Benjamini-Hochberg across {k} arms x {m} metrics;"
        f" sequential: {TEST_NAME}, tuning {config.tuning_parameter:g} units; Bayesian: "
        f"{_BAYES_MODELS[metric.kind]}, {config.draws} draws, seed {config.seed}"
    )


def _oriented(arms: Sequence[SampleStats], metric: MetricSpec) -> list[SampleStats]:
    """Statistics on a scale where higher is better: rates become ``1 - p``, means ``-x``.

    Lets "chance to beat control", "probability best" and "expected loss" mean better in the
    metric's direction with the unchanged Bayesian code.
    """
    if metric.higher_is_better:
        return list(arms)
    if metric.kind == "binary":
        return [SampleStats.binary(a.n, int(round(a.n - a.sum))) for a in arms]
    return [SampleStats(a.n, -a.sum, a.sum_squares) for a in arms]


def _arm_result(
    config: AnalysisConfig,
    metric: MetricSpec,
    arms: Sequence[SampleStats],
    i: int,
    adjusted: tuple[ComparisonResult, ComparisonResult] | None,
    bayes: BayesianComparison,
) -> ArmResult:
    arm = arms[i]
    best, chance, loss, interval = _bayes_figures(bayes, i, metric)
    common = (config.arms[i], adjusted is None, arm.n, arm.mean, math.sqrt(arm.variance))
    if adjusted is None:
        nothing = (NAN, NAN, NAN, NAN, NAN)
        return ArmResult(*common, None, "none", *nothing, best, NAN, interval, "control", "")
    holm, bh = adjusted
    seq = sequential_compare(
        arm, arms[config.control], metric.kind, config.alpha, config.tuning_parameter
    )
    return ArmResult(
        *common,
        _lift(holm, seq),
        holm.test,
        holm.p_value,
        _adjusted(holm),
        _adjusted(bh),
        seq.p_value_sequential,
        chance,
        best,
        loss,
        interval,
        holm.status,
        "; ".join(r for r in (holm.reason, seq.reason) if r),
    )


def _adjusted(result: ComparisonResult) -> float:
    return NAN if result.p_value_adjusted is None else result.p_value_adjusted


def _lift(fixed: ComparisonResult, seq: SequentialResult) -> Lift:
    return Lift(
        fixed.absolute_lift,
        fixed.absolute_ci,
        fixed.relative_lift,
        fixed.relative_ci,
        seq.absolute_ci,
        seq.relative_ci,
    )


def _bayes_figures(
    bayes: BayesianComparison, i: int, metric: MetricSpec
) -> tuple[float, float, float, tuple[float, float]]:
    """(probability best, chance to beat control, expected loss, credible interval of the mean),
    mapped back from the oriented scale of :func:`_oriented`."""
    if bayes.status != "ok":
        return NAN, NAN, NAN, NAN_PAIR
    arm = bayes.arms[i]
    low, high = arm.credible_interval
    if not metric.higher_is_better:
        low, high = (1 - high, 1 - low) if metric.kind == "binary" else (-high, -low)
    return arm.probability_best, arm.chance_to_beat_control, arm.expected_loss, (low, high)


def _varying_units(choices: Sequence[Mapping[str, str]]) -> list[str]:
    return [unit for unit in choices[0] if len({arm[unit] for arm in choices}) > 1]


def _factorial(metric: MetricSpec, result: FactorialResult | None) -> FactorialReport:
    method = (
        f"{_FACTORIAL_MODELS[metric.kind]}; treatment coding with the control's variants as "
        "reference; main effects and two-way interactions"
    )
    if result is None:
        why = problem("single_level", "no_unit_varies",
                      "every arm uses the same variants: no unit varies")
        return FactorialReport(method, metric.name, (), (), (), 0, *why)
    return FactorialReport(
        method,
        metric.name,
        result.factors,
        result.reference_levels,
        result.terms,
        result.n_units,
        *_why(result),
    )


def _why(result: PowerOutcome | FactorialResult) -> tuple[str, str, str, Mapping[str, Any]]:
    """A result's status, reason, reason code and parameters, to pass on to a report."""
    return result.status, result.reason, result.reason_code, result.reason_params


def _daily_units(config: AnalysisConfig, days: Sequence[Group]) -> float:
    totals = [sum(_units(config, day.stats)) for day in days]
    return sum(totals) / len(totals) if totals else 0.0


def _day(config: AnalysisConfig, day: Group) -> DayResult:
    means = {m.name: tuple(arm.mean for arm in day.stats[m.name]) for m in config.metrics}
    return DayResult(day.label, _units(config, day.stats), means)
