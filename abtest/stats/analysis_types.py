"""The input and output values of :func:`abtest.stats.analysis.analyze`, as frozen dataclasses.

Kept apart from the orchestration so that callers that only build inputs or read results
(the results service, charts, reports, the verdict) depend on the values, not on the code that
computes them. Every float that is undefined is NaN here; ``as_json`` turns it into ``null``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from abtest.stats.factorial import TermEffect, TermEstimate
from abtest.stats.health import SRM_THRESHOLD
from abtest.stats.omnibus import OmnibusResult
from abtest.stats.sequential import DEFAULT_TUNING_PARAMETER
from abtest.stats.summary import MetricKind, SampleStats

#: Relative shortfall from the better of two means that still counts as equally good.
DEFAULT_EQUIVALENCE_MARGIN = 0.05

MetricRole = Literal["primary", "secondary", "guardrail"]
DecisionBasis = Literal["sequential", "fixed_horizon"]
#: Per metric name, one ``SampleStats`` per arm in :attr:`AnalysisConfig.arms` order.
MetricStats = Mapping[str, Sequence[SampleStats]]

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
    equivalence_margin : float
        The promotion rule's margin: the factorial section calls two arms (or a unit's
        variants) equally good when their difference lies within it, relative to the mean.
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
    equivalence_margin: float = DEFAULT_EQUIVALENCE_MARGIN


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
class Headline:
    """What one results row shows: the relative lift's interval and the p-value of that scale.

    Computed once for the document's ``decision_basis`` (the always-valid test of the log ratio
    while collecting data, its fixed-horizon Wald test once stopped) and read by the page, the
    report, the verdict and the guardrail alerts, so they cannot disagree. ``significant`` is
    ``p_value < alpha``, which holds exactly when ``ci`` excludes 0; ``p_value_adjusted`` is
    that p-value after ``adjustment`` for the several arms (what the verdict uses).
    """

    basis: DecisionBasis
    test: str
    p_value: float
    ci: tuple[float, float]
    significant: bool
    p_value_adjusted: float
    adjustment: str


@dataclass(frozen=True)
class ArmResult:
    """One arm on one metric; comparison fields are NaN (``null``) and ``lift`` None for control.

    ``p_value_holm`` / ``p_value_bh`` are adjusted over every (treatment arm, metric) pair.
    Each interval of ``lift`` has the p-value of its own scale, so that "the interval excludes 0
    exactly when p < alpha": ``p_value_sequential`` with ``absolute_ci_sequential``,
    ``p_value_relative`` with ``relative_ci`` (the Wald test of the log ratio),
    ``p_value_sequential_relative`` with ``relative_ci_sequential`` and ``p_value_absolute`` with
    ``absolute_ci`` (NaN where that is Newcombe's small-count interval). ``p_value`` is the test
    of the difference named by ``test``. ``headline`` is what the row shows.
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
    p_value_relative: float = math.nan
    p_value_sequential_relative: float = math.nan
    headline: Headline | None = None
    p_value_absolute: float = math.nan


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
    """One treatment arm on one guardrail metric, judged by the test of its results row.

    ``harmed`` is the row's :class:`Headline` significance in the harmful direction;
    ``p_value``, ``ci`` and ``test`` are that row's, so an alert never contradicts its table.
    """

    metric: str
    arm: str
    harmed: bool
    higher_is_better: bool
    p_value: float
    status: str
    reason: str
    reason_code: str = ""
    reason_params: Mapping[str, Any] = field(default_factory=dict)
    test: str = ""
    ci: tuple[float, float] = (math.nan, math.nan)


@dataclass(frozen=True)
class GuardrailsReport:
    """Every guardrail check; ``harmed`` when any arm is significantly worse on any guardrail."""

    method: str
    harmed: bool
    checks: tuple[GuardrailCheck, ...]


@dataclass(frozen=True)
class PowerReport:
    """Sample size for the planned lift on the primary metric and the days still needed.

    ``test`` names the test the plan is for, the one that decides (``decision_basis``):
    while collecting data ``n_per_arm`` is the sequential test's, ``n_per_arm_fixed`` the
    fixed-horizon plan it inflates; once stopped both are the fixed-horizon plan.
    """

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
    test: str = ""
    n_per_arm_fixed: int | None = None


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
    #: Each term's effect on the mean (:class:`TermEffect`) and each variant's averaged over
    #: the arms' other units (:func:`~abtest.stats.factorial.average_effects`); each arm's
    #: varying units, model mean and their covariance (``df_resid`` None: normal inference),
    #: so the verdict can compare any two arms on the model without refitting; the relative
    #: margin within which two means count as equally good (the promotion rule's).
    effects: tuple[TermEffect, ...] = ()
    average_effects: tuple[TermEffect, ...] = ()
    arm_choices: tuple[Mapping[str, str], ...] = ()
    fitted: tuple[float, ...] = ()
    fitted_covariance: tuple[tuple[float, ...], ...] = ()
    df_resid: float = math.inf
    equivalence_margin: float = DEFAULT_EQUIVALENCE_MARGIN


@dataclass(frozen=True)
class SegmentResult:
    """The per-metric analysis restricted to units whose attribute had this value."""

    value: str
    units: int
    metrics: tuple[MetricResult, ...]


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
