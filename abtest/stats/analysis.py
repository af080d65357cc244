"""The full results of an experiment, from per-arm sufficient statistics only.

This module is orchestration: it computes nothing new. Given ``SampleStats`` per metric and arm
(for the whole experiment, per exposure-attribute segment, per exposure day and per allocation
period), it calls the tested stats modules and assembles one frozen result:

* fixed horizon: :func:`abtest.stats.frequentist.compare` per treatment arm and metric, the k-arm
  :func:`~abtest.stats.omnibus.omnibus_test`, and Holm and Benjamini–Hochberg adjustments
  over the family of all (treatment arm, metric) comparisons;
* sequential: :func:`abtest.stats.sequential.sequential_compare` (always-valid p-value and
  confidence sequences), the headline while the experiment runs;
* Bayesian: :func:`abtest.stats.bayesian.bayesian_compare` (exact, no sampling);
* factorial: :func:`abtest.stats.factorial.factorial_analysis` of the primary metric;
* health: :func:`abtest.stats.health.sample_ratio_mismatch` against the weights in force in each
  allocation period, guardrail alerts read from the guardrail metrics' result rows, and the
  power helpers (planned for the test that decides).

Every treatment row carries one :class:`~abtest.stats.analysis_types.Headline`: the relative
lift's interval and the p-value of that same scale for the ``decision_basis``. The page, the
report, the verdict and the guardrail alerts all read it, so none contradicts another.

The database does the aggregation (DESIGN.md, "Analysis never loads raw rows"); nothing here
sees a row. Every float that is undefined stays NaN in the dataclasses;
:func:`~abtest.stats.analysis_types.as_json` maps NaN and infinities to ``None`` because JSON
has neither.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from abtest.stats.analysis_types import (
    AllocationPeriod,
    AnalysisConfig,
    AnalysisInput,
    AnalysisResult,
    ArmResult,
    DayResult,
    FactorialReport,
    Group,
    GuardrailCheck,
    GuardrailsReport,
    Headline,
    Lift,
    MetricResult,
    MetricSpec,
    MetricStats,
    PowerReport,
    SegmentResult,
    SegmentsReport,
    SrmReport,
)
from abtest.stats.bayesian import BayesianComparison, bayesian_compare
from abtest.stats.factorial import (
    FactorialResult,
    average_effects,
    factorial_analysis,
    fitted_means,
    term_effects,
)
from abtest.stats.frequentist import RELATIVE_TEST, ComparisonResult, compare
from abtest.stats.health import sample_ratio_mismatch
from abtest.stats.multiplicity import adjust_comparisons, adjust_p_values
from abtest.stats.omnibus import omnibus_test
from abtest.stats.power import (
    DurationEstimate,
    SampleSizePlan,
    days_needed,
    minimum_detectable_effect,
    sample_size,
    sequential_sample_size,
)
from abtest.stats.reasons import Problem, problem
from abtest.stats.sequential import (
    RELATIVE_SEQUENTIAL_TEST,
    TEST_NAME,
    SequentialResult,
    sequential_compare,
    sequential_rho,
)
from abtest.stats.summary import NAN, NAN_PAIR, SampleStats

PowerOutcome = SampleSizePlan | DurationEstimate
INFLATED = "; the fixed-horizon plan inflated by the ratio of the boundaries"
#: A treatment's fixed comparison Holm- and BH-adjusted, and its Holm-adjusted relative p-value.
Adjusted = tuple[ComparisonResult, ComparisonResult, float]

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


#: The segments method when no breakdown was asked for.
NO_SEGMENT_METHOD = (
    "no breakdown asked: name an exposure attribute (API ?segment=, CLI --segment) to analyse "
    "each metric within its top values by units"
)


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
    metrics = analyze_metrics(config, data.overall)
    return AnalysisResult(
        status="no_data" if empty else "ok",
        reason="no units have been exposed yet" if empty else "",
        decision_basis=config.decision_basis,
        alpha=config.alpha,
        arms=config.arms,
        control=config.arms[config.control],
        units=units,
        multiple_comparisons=_family(config),
        metrics=metrics,
        srm=srm_report(config, units, data.periods),
        guardrails=guardrails_report(config, metrics),
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
    :func:`~abtest.stats.multiplicity.adjust_comparisons`).

    References
    ----------
    .. [1] Holm, S. (1979). Scand. J. Statist. 6(2), 65-70.
    .. [2] Benjamini, Y., Hochberg, Y. (1995). J. R. Stat. Soc. B 57(1), 289-300.
    """
    fixed = {m.name: _fixed(config, m, stats[m.name]) for m in config.metrics}
    flat = [result for m in config.metrics for result in fixed[m.name]]
    holm = iter(adjust_comparisons(flat, "holm"))
    bh = iter(adjust_comparisons(flat, "fdr_bh"))
    holm_relative = iter(adjust_p_values([r.p_value_relative for r in flat], "holm"))
    return tuple(
        _metric_result(config, m, stats[m.name],
                       [(next(holm), next(bh), next(holm_relative)) for _ in fixed[m.name]])
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


def guardrails_report(config: AnalysisConfig, metrics: Sequence[MetricResult]) -> GuardrailsReport:
    """Every treatment arm on every guardrail metric, judged by its own results row.

    An arm harms a guardrail when its row's :class:`Headline` is significant in the harmful
    direction: the alert uses, and names, the very test and p-value shown beside it (not a
    one-sided fixed test beside a two-sided sequential row, which flagged p = 0.419).
    """
    checks = [
        _guardrail_check(metric, arm, arm.headline)
        for metric in metrics
        if metric.role == "guardrail"
        for arm in metric.arms
        if arm.headline is not None
    ]
    basis = "sequential" if config.decision_basis == "sequential" else "fixed-horizon"
    method = (
        f"the guardrail row's own two-sided {basis} test of the relative lift at alpha = "
        f"{config.alpha}, significant in the harmful direction"
    )
    return GuardrailsReport(method, any(c.harmed for c in checks), tuple(checks))


def _guardrail_check(metric: MetricResult, arm: ArmResult, row: Headline) -> GuardrailCheck:
    """Harmed when the row's interval lies wholly on the harmful side of 0 (then p < alpha)."""
    harmed = row.ci[1] < 0 if metric.higher_is_better else row.ci[0] > 0
    why = (arm.status, arm.reason, "", {})
    if harmed:
        direction = "lower" if metric.higher_is_better else "higher"
        text = f"significantly {direction} than control ({row.test}, p = {row.p_value:.3g})"
        why = problem(arm.status, f"guardrail_{direction}", text, test=row.basis,
                      p_value=row.p_value)
    return GuardrailCheck(metric.name, arm.arm, harmed, metric.higher_is_better, row.p_value,
                          *why, test=row.test, ci=row.ci)


def power_report(config: AnalysisConfig, stats: MetricStats, days: Sequence[Group]) -> PowerReport:
    """Units per arm needed for the planned lift on the primary metric, and days to get there.

    Planned for the test that decides: while collecting data the always-valid sequential test
    at the verdict's Bonferroni level ``alpha / (k - 1)``
    (:func:`~abtest.stats.power.sequential_sample_size`, the fixed plan inflated by the ratio
    of the boundaries), once stopped the fixed-horizon test at ``alpha``. The baseline is the
    control arm's observed mean (and standard deviation for numeric metrics); daily traffic is
    the mean number of units exposed per observed day. A stopped experiment gets no more days:
    ``days_needed`` is then None and the reason says how many units it fell short.

    References
    ----------
    .. [1] Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed.
    .. [2] Waudby-Smith, I. et al. (2023). arXiv:2103.06476v7, Theorem 2.2.
    """
    primary = config.metrics[0]
    arms = stats[primary.name]
    control = arms[config.control]
    sd = math.sqrt(control.variance) if primary.kind == "numeric" else None
    sequential = config.decision_basis == "sequential"
    level = config.alpha / max(1, len(arms) - 1) if sequential else config.alpha
    common = {"sd": sd, "alpha": level, "power": config.power, "arms": len(arms)}
    fixed = sample_size(primary.kind, control.mean, config.minimum_effect, **common)
    plan = sequential_sample_size(
        primary.kind, control.mean, config.minimum_effect,
        rho=sequential_rho(config.alpha, config.tuning_parameter), **common,
    ) if sequential else fixed
    have = min(arm.n for arm in arms)
    daily = _daily_units(config, days)
    test = (f"two-sided {TEST_NAME} at alpha/{max(1, len(arms) - 1)} = {level:.4g}" if sequential
            else f"two-sided fixed-horizon test at alpha = {level:.4g}")
    method = (
        f"normal power for the {test}, Cohen's {'h' if primary.kind == 'binary' else 'd'}, "
        f"power = {config.power}, planned lift +{config.minimum_effect:.0%}"
        f"{INFLATED if sequential else ''}; days from the mean units per day so far"
    )
    base = (method, primary.name, control.mean, config.minimum_effect, plan.n_per_arm, have, daily)
    mde = minimum_detectable_effect(
        primary.kind, control.mean, have, sd=sd, alpha=config.alpha, power=config.power
    )
    extra = {"test": test, "n_per_arm_fixed": fixed.n_per_arm}
    if plan.n_per_arm is None:
        return PowerReport(*base, None, mde, *_why(plan), **extra)
    duration = days_needed(
        plan.n_per_arm, daily, arms=len(arms), observed_per_arm=tuple(a.n for a in arms)
    )
    if not sequential and duration.remaining_per_arm > 0:
        return PowerReport(*base, None, mde, *_ended_short(duration), **extra)
    return PowerReport(*base, duration.days, mde, *_why(duration), **extra)


def _ended_short(duration: DurationEstimate) -> Problem:
    """Once stopped no day can be added: say how far the data fell short of the plan instead."""
    remaining, n = duration.remaining_per_arm, duration.n_per_arm
    text = f"the experiment ended {remaining} units per arm short of the {n} planned"
    return problem("ok", "ended_short", text, remaining=remaining, n=n)


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
    report = _factorial(primary, result)
    if result is None or result.status != "ok":
        return replace(report, equivalence_margin=config.equivalence_margin)
    choices = tuple({unit: arm[unit] for unit in varying} for arm in config.arm_choices)
    means, covariance = fitted_means(result, choices)
    return replace(report, effects=term_effects(result),
                   average_effects=average_effects(result, choices), arm_choices=choices,
                   fitted=tuple(means.tolist()),
                   fitted_covariance=tuple(map(tuple, covariance.tolist())),
                   df_resid=result.df_resid, equivalence_margin=config.equivalence_margin)


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
    adjusted: list[Adjusted],
) -> MetricResult:
    bayes = bayesian_compare(
        _oriented(arms, metric),
        metric.kind,
        config.control,
        credibility=1 - config.alpha,
        with_lift=False,  # the rows show the fixed and sequential lift, never this one
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
        f"{_BAYES_MODELS[metric.kind]}, probability best by quadrature"
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
    adjusted: Adjusted | None,
    bayes: BayesianComparison,
) -> ArmResult:
    arm = arms[i]
    best, chance, loss, interval = _bayes_figures(bayes, i, metric)
    common = (config.arms[i], adjusted is None, arm.n, arm.mean, math.sqrt(arm.variance))
    if adjusted is None:
        nothing = (NAN, NAN, NAN, NAN, NAN)
        return ArmResult(*common, None, "none", *nothing, best, NAN, interval, "control", "")
    holm, bh, holm_relative = adjusted
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
        "; ".join(dict.fromkeys(r for r in (holm.reason, seq.reason) if r)),
        holm.p_value_relative,
        seq.p_value_sequential_relative,
        _headline(config, holm, seq, holm_relative),
        holm.p_value_absolute,
    )


def _headline(
    config: AnalysisConfig, fixed: ComparisonResult, seq: SequentialResult, holm_relative: float
) -> Headline:
    """The row's relative p-value and interval for the decision basis, with the adjustment the
    verdict applies: Bonferroni over the treatment arms for the always-valid p-value (the
    sequence has no step-down), Holm over arms x metrics for the fixed-horizon one."""
    if config.decision_basis == "sequential":
        arms = len(config.arms) - 1
        p, ci = seq.p_value_sequential_relative, seq.relative_ci
        test, adjusted = RELATIVE_SEQUENTIAL_TEST, min(1.0, p * arms)
        adjustment = f"Bonferroni over {arms} treatment arm(s)"
    else:
        p, ci, test = fixed.p_value_relative, fixed.relative_ci, RELATIVE_TEST[fixed.kind]
        adjusted, adjustment = holm_relative, "Holm over arms x metrics"
    return Headline(config.decision_basis, test, p, ci, bool(p < config.alpha), adjusted,
                    adjustment)


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
