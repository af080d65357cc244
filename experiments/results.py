"""Experiment results: sufficient statistics aggregated in SQL, analysed by abtest.stats.analysis.

The database does all row work (:mod:`experiments.aggregation`). The few group rows come back
as :class:`~abtest.stats.summary.SampleStats`; overall, per-period, per-day and per-segment
figures are sums of them (``SampleStats.__add__``).

When Thompson sampling has moved the weights (more than one allocation period with units), the
arm comparisons are post-stratified by period (:func:`abtest.stats.stratified.post_stratify`;
Miratrix, Sekhon & Yu 2013): pooling would credit the arm that got most traffic while the
conversion rate happened to be high (Simpson's paradox). A single period is analysed pooled, as
before. The document's ``estimator`` says which was used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from abtest import verdict as verdicts
from abtest.stats.analysis import analyze, srm_report
from abtest.stats.analysis_types import (
    DEFAULT_EQUIVALENCE_MARGIN,
    AllocationPeriod,
    AnalysisConfig,
    AnalysisInput,
    AnalysisResult,
    Group,
    MetricResult,
    MetricSpec,
    MetricStats,
    SegmentsReport,
    as_json,
)
from abtest.stats.stratified import StratifiedArms, post_stratify
from abtest.stats.summary import SampleStats
from experiments.aggregation import (
    DEFAULT_TOP_SEGMENTS,
    MISSING,
    OTHER,
    GroupStats,
    group_statistics,
    out_of_bound_events,
)
from experiments.definitions import Design, design_of, get_experiment
from experiments.errors import FieldIssue, InvalidInput
from experiments.models import Experiment, WeightsPeriod, utcnow
from experiments.schema import ExperimentDefinition
from variants import Catalogue

#: Statuses in which the experiment still collects data: sequential inference is the headline.
COLLECTING = ("draft", "running", "paused")
POOLED = "pooled (single allocation period)"
STRATIFIED = "post-stratified by allocation period (Miratrix, Sekhon & Yu 2013)"
ALPHA_RANGE = (0.001, 0.5)
"""Significance levels the analysis accepts: below 0.001 the sequential boundary and the
intervals run off the normal quantiles' float range; above 0.5 a two-sided test is
meaningless (and the one-sided guardrail test, at 2 alpha, has no quantile)."""


@dataclass(frozen=True)
class ExperimentResults:
    """An experiment's identity and analysis window with the analysis itself.

    ``estimator`` names how arm means were estimated: :data:`POOLED` or :data:`STRATIFIED`
    (with the periods used and the units left out). ``out_of_bound`` counts, per metric, the
    events left out for a |value| beyond what any metric may accept (rows stored before the
    bound existed; see :func:`~experiments.aggregation.out_of_bound_events`).
    """

    experiment: str
    name: str
    experiment_status: str
    window_end: datetime | None
    generated_at: datetime
    analysis: AnalysisResult
    estimator: str = POOLED
    out_of_bound: dict[str, int] = field(default_factory=dict)


def metric_specs(definition: ExperimentDefinition) -> tuple[MetricSpec, ...]:
    """The definition's metrics with their roles, primary first."""
    metrics = definition.metrics
    roles = [
        ("primary", [metrics.primary]),
        ("secondary", metrics.secondary),
        ("guardrail", metrics.guardrails),
    ]
    return tuple(
        MetricSpec(m.name, m.kind, role, m.higher_is_better)  # type: ignore[arg-type]
        for role, found in roles
        for m in found
    )


def analysis_input(
    design: Design,
    metrics: Sequence[MetricSpec],
    groups: Iterable[GroupStats],
    periods: dict[int, tuple[float, ...]],
    segment: str | None = None,
    top: int = DEFAULT_TOP_SEGMENTS,
) -> AnalysisInput:
    """Fold group rows into overall, per-period, per-day and per-segment statistics.

    ``periods`` maps each weights version to the weights in force then. Segments come largest
    first with ``"(other)"`` last.
    """
    names = [m.name for m in metrics]
    overall, by_day, by_segment = _Folder(design, names), {}, {}
    units_by_version: dict[int, list[int]] = {v: [0] * len(design.arm_keys) for v in periods}
    for group in groups:
        overall.add(group)
        by_day.setdefault(group.day, _Folder(design, names)).add(group)
        by_segment.setdefault(_label(group), _Folder(design, names)).add(group)
        units = units_by_version.setdefault(group.weights_version, [0] * len(design.arm_keys))
        units[design.index(group.arm)] += group.stats[0].n
    return AnalysisInput(
        overall=overall.stats(),
        periods=tuple(
            AllocationPeriod(v, periods[v], tuple(units)) for v, units in units_by_version.items()
        ),
        days=tuple(Group(day, folder.stats()) for day, folder in sorted(by_day.items())),
        segment_attribute=segment,
        segment_top=top,
        segments=_segments(by_segment) if segment is not None else (),
    )


def experiment_results(
    session: Session,
    key: str,
    *,
    segment: str | None = None,
    alpha: float = 0.05,
    top: int = DEFAULT_TOP_SEGMENTS,
    catalogue: Catalogue | None = None,
    until: datetime | None = None,
) -> ExperimentResults:
    """Analyse experiment ``key``: NotFound for an unknown key, "no data" when nobody is exposed.

    The window runs from each unit's exposure to the experiment's stop (open while it runs), or
    to ``until`` if earlier: units exposed later are left out, so a past week's report shows
    what was known at its end. While it collects data the headline is sequential (always valid
    under peeking); once stopped or promoted, fixed horizon.
    """
    low, high = ALPHA_RANGE
    if not low <= alpha <= high:
        raise InvalidInput([FieldIssue("alpha", f"alpha must be between {low:g} and {high:g},"
                                                f" got {alpha!r}")])
    experiment = get_experiment(session, key)
    design = design_of(experiment, catalogue)
    metrics = metric_specs(design.definition)
    config = _config(experiment, design, metrics, alpha)
    window_end = min((end for end in (experiment.stopped_at, until) if end), default=None)
    groups = group_statistics(
        session, experiment.id, metrics, segment=segment, top=top, until=window_end
    )
    data = analysis_input(design, metrics, groups, _periods(session, experiment), segment, top)
    analysis, estimator = analyze_by_period(config, data, design, groups)
    return ExperimentResults(
        experiment.key,
        experiment.name,
        experiment.status,
        window_end,
        utcnow(),
        analysis,
        estimator,
        out_of_bound_events(session, experiment.id, metrics, window_end),
    )


def period_statistics(design: Design, groups: Iterable[GroupStats]) -> list[MetricStats]:
    """Per weights version with units, each metric's statistics per arm (metric order of the
    groups' ``stats``, named by :func:`metric_specs`)."""
    names = [m.name for m in metric_specs(design.definition)]
    by_version: dict[int, _Folder] = {}
    for group in groups:
        by_version.setdefault(group.weights_version, _Folder(design, names)).add(group)
    return [by_version[version].stats() for version in sorted(by_version)]


def analyze_by_period(
    config: AnalysisConfig, data: AnalysisInput, design: Design, groups: Sequence[GroupStats]
) -> tuple[AnalysisResult, str]:
    """The analysis, post-stratified by allocation period when there is more than one.

    Within one period assignment is a fixed randomization, so each arm's period mean is
    unbiased for that period's units; weighting the period means by the period's share of all
    units puts every arm on the same mix of periods, so a conversion rate that drifts while the
    weights move cannot show up as a lift. The arm comparisons (fixed horizon, sequential,
    Bayesian, guardrails, factorial, power) then run on the moment-matched statistics of
    :func:`~abtest.stats.stratified.post_stratify` as numeric metrics (Welch's t-test and
    normal posteriors), because a binary test's ``p(1 - p)/n`` would ignore the
    stratification; each metric keeps its declared kind in the result. Each segment is
    stratified the same way within its own units (pooled where no period has 2 units in every
    arm of it). Units, the SRM check and daily figures stay as the database counted them.

    References
    ----------
    .. [1] Miratrix, L. W., Sekhon, J. S., Yu, B. (2013). "Adjusting treatment effect estimates
       by post-stratification in randomized experiments". J. R. Stat. Soc. B 75(2), 369-396.
    """
    periods = period_statistics(design, groups)
    primary = _stratify(config, periods)[1] if len(periods) > 1 else None
    if primary is None or primary.periods_used == 0:
        return analyze(config, data), POOLED
    numeric = replace(config, metrics=tuple(replace(m, kind="numeric") for m in config.metrics))
    segments = tuple(
        replace(segment, stats=_stratified_or_pooled(config, design, groups, segment))
        for segment in data.segments
    )
    found = analyze(numeric, replace(data, overall=_stratify(config, periods)[0],
                                     segments=segments))
    units = tuple(arm.n for arm in data.overall[config.metrics[0].name])
    result = replace(
        found,
        units=units,
        srm=srm_report(config, units, data.periods),
        segments=_declared_segments(config, data, found.segments),
        metrics=_declared_kinds(config, found.metrics),
    )
    estimator = (
        f"{STRATIFIED}: {primary.periods_used} of {len(periods)} periods, "
        f"{primary.units_left_out} units left out (periods where an arm has fewer than 2)"
    )
    return result, estimator


def _stratify(
    config: AnalysisConfig, periods: Sequence[MetricStats]
) -> tuple[MetricStats, StratifiedArms]:
    """Every metric post-stratified over ``periods``, and the primary metric's strata."""
    strata = {
        m.name: post_stratify([p[m.name] for p in periods], binary=m.kind == "binary")
        for m in config.metrics
    }
    return {name: s.arms for name, s in strata.items()}, strata[config.metrics[0].name]


def _stratified_or_pooled(
    config: AnalysisConfig, design: Design, groups: Sequence[GroupStats], segment: Group
) -> MetricStats:
    """One segment's statistics post-stratified by period, or pooled if no period is usable."""
    mine = [g for g in groups if _label(g) == segment.label]
    stratified, primary = _stratify(config, period_statistics(design, mine))
    return stratified if primary.periods_used else segment.stats


def _declared_kinds(
    config: AnalysisConfig, metrics: Sequence[MetricResult]
) -> tuple[MetricResult, ...]:
    """Results of the stratified (numeric) analysis under each metric's declared kind."""
    return tuple(
        replace(found, kind=declared.kind)
        for found, declared in zip(metrics, config.metrics, strict=True)
    )


def _declared_segments(
    config: AnalysisConfig, data: AnalysisInput, found: SegmentsReport
) -> SegmentsReport:
    """Stratified segment results with counted units, declared kinds and the method named."""
    if found.attribute is None:
        return found
    counted = {segment.label: segment for segment in data.segments}
    values = tuple(
        replace(value, units=sum(arm.n for arm in counted[value.value].stats[
            config.metrics[0].name]), metrics=_declared_kinds(config, value.metrics))
        for value in found.values
    )
    method = f"{found.method}; arm means post-stratified by allocation period within a segment"
    return replace(found, method=method, values=values)


def results_document(results: ExperimentResults) -> dict[str, Any]:
    """The JSON document of the results API (no NaN: undefined figures are null), with the
    verdict as its ``decision``: computed here once for the API, the page and the report."""
    document = {
        "experiment": results.experiment,
        "name": results.name,
        "experiment_status": results.experiment_status,
        "window": {"from": "each unit's exposure", "until": _iso(results.window_end)},
        "generated_at": _iso(results.generated_at),
        "estimator": results.estimator,
        **as_json(results.analysis),
    }
    for metric in document["metrics"]:
        metric["events_out_of_bound"] = results.out_of_bound.get(metric["name"], 0)
    document["decision"] = as_json(verdicts.verdict_of_results(document))
    return document


def _config(
    experiment: Experiment, design: Design, metrics: tuple[MetricSpec, ...], alpha: float
) -> AnalysisConfig:
    basis = "sequential" if experiment.status in COLLECTING else "fixed_horizon"
    return AnalysisConfig(
        arms=design.arm_keys,
        metrics=metrics,
        control=design.control,
        alpha=alpha,
        decision_basis=basis,
        weights=tuple(experiment.weights),
        arm_choices=design.arms,
        equivalence_margin=(promotion.equivalence_margin
                            if (promotion := design.definition.promotion)
                            else DEFAULT_EQUIVALENCE_MARGIN),
    )


def _periods(session: Session, experiment: Experiment) -> dict[int, tuple[float, ...]]:
    query = select(WeightsPeriod.version, WeightsPeriod.weights).where(
        WeightsPeriod.experiment_id == experiment.id
    )
    return {version: tuple(weights) for version, weights in session.execute(query)}


class _Folder:
    """Running per-metric, per-arm sums of group statistics."""

    def __init__(self, design: Design, names: Sequence[str]) -> None:
        self._design = design
        self._names = names
        empty = SampleStats(0, 0.0, 0.0)
        self._sums = {name: [empty] * len(design.arm_keys) for name in names}

    def add(self, group: GroupStats) -> None:
        i = self._design.index(group.arm)
        for name, stats in zip(self._names, group.stats, strict=True):
            self._sums[name][i] = self._sums[name][i] + stats

    def units(self) -> int:
        return sum(arm.n for arm in self._sums[self._names[0]])

    def stats(self) -> dict[str, tuple[SampleStats, ...]]:
        return {name: tuple(arms) for name, arms in self._sums.items()}


def _label(group: GroupStats) -> str:
    """The segment label of a group: its value, or :data:`MISSING` without the attribute."""
    return MISSING if group.segment is None else group.segment


def _segments(folders: dict[str, _Folder]) -> tuple[Group, ...]:
    """Largest segment first, ``"(other)"`` last."""
    order = sorted(folders, key=lambda label: (label == OTHER, -folders[label].units(), label))
    return tuple(Group(label, folders[label].stats()) for label in order)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
