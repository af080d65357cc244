"""Experiment health: sample-ratio mismatch and guardrail metrics.

A sample-ratio mismatch (SRM) means assignment or tracking is broken, so every other figure of the
experiment is suspect; a harmed guardrail (e.g. complaint rate up) should stop a rollout even when
the goal metric wins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import chisquare

from abtest.stats.frequentist import ComparisonResult, compare
from abtest.stats.reasons import Problem, problem
from abtest.stats.summary import NAN, MetricKind, SampleStats

#: Conventional SRM alert level (Fabijan et al. 2019 recommend a strict threshold such as 0.001).
SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmResult:
    """Observed versus expected units per arm and the chi-square goodness-of-fit verdict."""

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
class GuardrailResult:
    """Whether the treatment is significantly worse on a guardrail metric (one-sided test)."""

    harmed: bool
    higher_is_better: bool
    p_value: float
    alpha: float
    comparison: ComparisonResult
    status: str
    reason: str
    reason_code: str = ""
    reason_params: Mapping[str, Any] = field(default_factory=dict)


def sample_ratio_mismatch(
    observed: Sequence[int], weights: Sequence[float], threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Chi-square goodness-of-fit of units per arm against the configured traffic weights.

    Parameters
    ----------
    observed : sequence of int
        Units assigned to each arm.
    weights : sequence of float
        Configured traffic weights, same order; normalised here, so ``[1, 1]`` means 50/50.
    threshold : float
        Alert when the p-value is below it (default 0.001).

    References
    ----------
    .. [1] Pearson, K. (1900). Philosophical Magazine 50(302), 157-175; scipy ``chisquare``.
    .. [2] Fabijan, A., Gupchup, J., Gupta, S., et al. (2019). "Diagnosing Sample Ratio Mismatch
       in Online Controlled Experiments". KDD 2019.
    """
    counts = np.asarray(observed, dtype=float)
    shares = np.asarray(weights, dtype=float)
    if counts.shape != shares.shape or (shares < 0).any() or shares.sum() <= 0:
        raise ValueError("weights must be non-negative, not all 0, one per arm")
    expected = counts.sum() * shares / shares.sum()
    base = (tuple(int(c) for c in counts), tuple(float(e) for e in expected))
    if counts.sum() > 0 and (counts[shares == 0] > 0).any():
        found = problem("ok", "srm_weight_zero", "units in an arm of weight 0")
        return SrmResult(*base, math.inf, 0.0, threshold, True, *found)
    unusable = _srm_problem(counts, shares)
    if unusable is not None:
        return SrmResult(*base, NAN, NAN, threshold, False, *unusable)
    live = shares > 0
    result = chisquare(counts[live], expected[live])
    p_value = float(result.pvalue)
    return SrmResult(
        *base,
        float(result.statistic),
        p_value,
        threshold,
        p_value < threshold,
        *_srm_reason(p_value, threshold),
    )


def check_guardrail(
    treatment: SampleStats,
    control: SampleStats,
    kind: MetricKind,
    higher_is_better: bool = False,
    alpha: float = 0.05,
) -> GuardrailResult:
    """Flag a guardrail metric when the treatment is significantly worse than control.

    A one-sided fixed-horizon test (:func:`abtest.stats.frequentist.compare`) at level ``alpha``:
    treatment larger when higher is worse (e.g. complaint rate), smaller when higher is better
    (e.g. average order value).
    """
    alternative = "smaller" if higher_is_better else "larger"
    comparison = compare(treatment, control, kind, alpha=alpha, alternative=alternative)
    harmed = comparison.significant
    why = (comparison.status, comparison.reason, "", {})
    if harmed:
        direction = "lower" if higher_is_better else "higher"
        text = f"treatment significantly {direction} than control"
        why = problem(comparison.status, f"guardrail_{direction}", text)
    return GuardrailResult(harmed, higher_is_better, comparison.p_value, alpha, comparison, *why)


def _srm_problem(counts: np.ndarray, shares: np.ndarray) -> Problem | None:
    if counts.sum() == 0:
        return problem("no_data", "srm_no_units", "no units assigned yet")
    if (shares > 0).sum() < 2:
        text = "only one arm receives traffic: the split cannot mismatch"
        return problem("single_arm", "srm_single_arm", text)
    return None


def _srm_reason(p_value: float, threshold: float) -> Problem:
    if p_value < threshold:
        text = f"sample ratio mismatch: p = {p_value:.3g} < {threshold}; check assignment/tracking"
        return problem("ok", "srm_mismatch", text, p_value=p_value, threshold=threshold)
    return "ok", "", "", {}
