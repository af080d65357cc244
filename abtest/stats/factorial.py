"""Factorial analysis of script units: main effects and two-way interactions from cell totals.

A factorial experiment crosses units (``countdown × stock_left × loyal_price`` gives 8 cells); each
cell arrives as ``(choices, SampleStats)`` with ``choices = {unit: variant}``. The model uses
treatment (dummy) coding with each unit's reference level — its first level in order of
appearance, or the one given in ``reference`` (the "off" variant) — so a main effect is the
effect of a variant against the reference *while the other units are at their references*, and
an interaction ``a[x]:b[y]`` is how much the joint effect departs from the sum of the two.

* Binary metrics: logistic regression, statsmodels ``GLM(family=Binomial())`` with the response
  given as two columns ``[successes, failures]`` per cell. The binomial likelihood of a cell
  equals the product of its units' Bernoulli likelihoods up to a constant, so estimates and
  standard errors are those of the fit on the expanded 0/1 rows, from 8 rows instead of
  millions. (Proportions with ``var_weights=n`` give the same fit; the two-column form is
  statsmodels' documented way to pass binomial counts.)
* Numeric metrics: least squares of the cell means, weighted by ``n`` as frequency weights
  (Gaussian GLM, ``freq_weights``), with the scale fixed at the residual variance of the expanded
  rows: ``(Σ(n_c - 1)s_c² + Σ n_c (ȳ_c - ŷ_c)²) / (N - p)``; t-tests with ``N - p`` degrees of
  freedom. This reproduces OLS on the rows exactly.

Degenerate designs (no data, a cell without units, a unit with a single level, missing cells
that leave a term unidentifiable, no conversions, perfect separation) return a result whose
``status`` says why, never an exception or a warning.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import statsmodels.api as sm
from scipy import special
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationError

from abtest.stats.multiplicity import adjust_p_values
from abtest.stats.reasons import Problem, cell_keys, problem
from abtest.stats.summary import MetricKind, SampleStats

Cell = tuple[Mapping[str, str], SampleStats]
NAN = float("nan")
#: A fitted cell probability this close to 0 or 1 means the MLE ran off to infinity.
_SEPARATION_EPS = 1e-8
_SEPARATION = problem("perfect_separation", "perfect_separation",
                      "a combination of variants predicts the outcome exactly")


@dataclass(frozen=True)
class TermEstimate:
    """One model term.

    Attributes
    ----------
    term : str
        ``"Intercept"``, ``"unit[variant]"`` or ``"unit[variant]:other[variant]"``.
    estimate, std_error : float
        Coefficient (log-odds for binary, metric units for numeric) and its standard error.
    ci : tuple of float
        Wald (binary, normal) or t (numeric) confidence interval of the coefficient.
    p_value : float
        Two-sided test of coefficient = 0.
    odds_ratio, odds_ratio_ci : float, tuple of float
        ``exp`` of the estimate and of its CI (binary); NaN for numeric metrics.
    """

    term: str
    estimate: float
    std_error: float
    ci: tuple[float, float]
    p_value: float
    odds_ratio: float
    odds_ratio_ci: tuple[float, float]


@dataclass(frozen=True)
class FactorialResult:
    """Fit of :func:`factorial_analysis`; ``terms`` is empty when ``status != "ok"``."""

    kind: MetricKind
    factors: tuple[str, ...]
    reference_levels: tuple[tuple[str, str], ...]
    terms: tuple[TermEstimate, ...]
    n_units: int
    alpha: float
    status: str = "ok"
    reason: str = ""
    reason_code: str = ""
    reason_params: Mapping[str, Any] = field(default_factory=dict)
    #: Each term's ``(unit, variant)`` dummies, the coefficients' covariance and the residual
    #: degrees of freedom (inf: normal inference), for contrasts on the metric's own scale.
    term_parts: tuple[tuple[tuple[str, str], ...], ...] = ()
    covariance: tuple[tuple[float, ...], ...] = ()
    df_resid: float = math.inf

    def term(self, name: str) -> TermEstimate:
        """The estimate of the term called ``name``."""
        return next(t for t in self.terms if t.term == name)


@dataclass(frozen=True)
class Contrast:
    """A difference of fitted means on the metric's own scale (a proportion for binary
    metrics, so 0.012 is +1.2 percentage points), with its delta-method interval and test."""

    estimate: float
    std_error: float
    ci: tuple[float, float]
    p_value: float


@dataclass(frozen=True)
class TermEffect:
    """What one term changes in the metric's mean, as a :class:`Contrast` of fitted means:
    a main effect ``u[v]`` is ``m(u = v) - m(reference)``, an interaction ``a[x]:b[y]`` the
    difference in differences ``m(x, y) - m(x) - m(y) + m(reference)``, the other units at
    their reference levels (what the coefficient means, read as a difference of rates)."""

    term: str
    units: tuple[str, ...]
    effect: Contrast
    #: Holm-adjusted over the model's terms (:func:`term_effects`): a 2 x 2 x 2 design tests
    #: six, and one null term in four would look significant unadjusted.
    p_value_adjusted: float = NAN


def factorial_analysis(
    cells: Sequence[Cell],
    kind: MetricKind = "binary",
    reference: Mapping[str, str] | None = None,
    alpha: float = 0.05,
) -> FactorialResult:
    """Main effects and all two-way interactions of the units on the metric.

    Parameters
    ----------
    cells : sequence of (dict unit -> variant, SampleStats)
        One entry per cell of the design; every cell names the same units.
    kind : {"binary", "numeric"}
        Logistic regression (binary) or least squares (numeric).
    reference : mapping unit -> variant, optional
        Reference ("off") level per unit; default: the first level seen.
    alpha : float
        Confidence intervals have coverage ``1 - alpha``.

    References
    ----------
    .. [1] Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., sections 4.1-4.2 and 5.2
       (logistic regression for grouped binomial data, Wald inference).
    .. [2] Montgomery, D. C. (2017). *Design and Analysis of Experiments*, 9th ed., chapters 5-6
       (factorial designs, main effects and interactions).
    .. [3] statsmodels ``GLM`` documentation: the Binomial family accepts a two-column
       ``(successes, failures)`` response; ``freq_weights`` and a fixed ``scale`` in ``fit``.
    """
    if kind not in ("binary", "numeric"):
        raise ValueError(f"kind must be 'binary' or 'numeric', got {kind!r}")
    levels = _levels(cells, reference or {})
    refs = tuple((factor, values[0]) for factor, values in levels.items())
    empty = FactorialResult(kind, tuple(levels), refs, (), sum(s.n for _, s in cells), alpha)
    found = _design_problem(cells, levels, kind)
    if found is not None:
        return _with_status(empty, *found)
    names, parts, design = _design(cells, levels)
    if np.linalg.matrix_rank(design) < design.shape[1]:
        text = "missing cells leave some terms inestimable"
        return _with_status(empty, *problem("not_identifiable", "not_identifiable", text))
    fit = _fit_binary if kind == "binary" else _fit_numeric
    outcome = fit(cells, design)
    if isinstance(outcome, tuple):
        return _with_status(empty, *outcome)
    return FactorialResult(
        kind, tuple(levels), refs, _terms(names, outcome, kind, alpha), empty.n_units, alpha,
        term_parts=parts,
        covariance=tuple(map(tuple, np.asarray(outcome.cov_params(), dtype=float).tolist())),
        df_resid=float(outcome.df_resid) if kind == "numeric" else math.inf,
    )


def fitted_means(
    result: FactorialResult, choices: Sequence[Mapping[str, str]]
) -> tuple[np.ndarray, np.ndarray]:
    """The model's mean for each combination of variants and their covariance (delta method:
    the inverse link's derivative times the design row, for binary metrics).

    References
    ----------
    .. [1] Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., section 16.1 (delta
       method).
    """
    rows = np.array([[float(all(c[u] == v for u, v in parts)) for parts in result.term_parts]
                     for c in choices])
    params = np.array([t.estimate for t in result.terms])
    means = rows @ params
    jacobian = rows
    if result.kind == "binary":
        means = special.expit(means)
        jacobian = (means * (1 - means))[:, None] * rows
    return means, jacobian @ np.array(result.covariance) @ jacobian.T


def contrast(means: np.ndarray, covariance: np.ndarray, weights: Sequence[float],
             alpha: float, df: float = math.inf) -> Contrast:
    """``weights · means`` with its Wald interval and two-sided p-value (t with ``df`` degrees
    of freedom, normal when infinite), so ``p < alpha`` exactly when the interval excludes 0."""
    c = np.asarray(weights, dtype=float)
    estimate = float(c @ means)
    se = float(np.sqrt(max(c @ covariance @ c, 0.0)))
    if math.isinf(df):
        q, p = special.ndtri(1 - alpha / 2), 2 * special.ndtr(-abs(estimate) / se) if se else NAN
    else:
        q = special.stdtrit(df, 1 - alpha / 2)
        p = 2 * special.stdtr(df, -abs(estimate) / se) if se else NAN
    return Contrast(estimate, se, (estimate - q * se, estimate + q * se), float(p))


def average_effects(
    result: FactorialResult, choices: Sequence[Mapping[str, str]]
) -> tuple[TermEffect, ...]:
    """Each unit variant's effect averaged over the combinations of the other units among
    ``choices`` (the arms): the mean of ``m(u = v, rest) - m(u = reference, rest)``.

    Averaged over the design this is the classical factorial main effect (Montgomery ch. 5),
    estimated from every cell rather than the reference ones only, so it says with far fewer
    units whether a unit matters at all.
    """
    reference = dict(result.reference_levels)
    effects = []
    for term, parts in zip(result.terms, result.term_parts, strict=True):
        if len(parts) != 1:
            continue
        (unit, level), = parts
        rests = {tuple((u, v) for u, v in c.items() if u != unit) for c in choices}
        cells = [{**dict(rest), unit: value} for rest in sorted(rests)
                 for value in (level, reference[unit])]
        means, cov = fitted_means(result, cells)
        weights = [(1.0 if i % 2 == 0 else -1.0) / len(rests) for i in range(len(cells))]
        effects.append(TermEffect(term.term, (unit,),
                                  contrast(means, cov, weights, result.alpha, result.df_resid)))
    return tuple(effects)


def term_effects(result: FactorialResult) -> tuple[TermEffect, ...]:
    """Every non-intercept term's :class:`TermEffect` (empty when the fit has no terms)."""
    reference = dict(result.reference_levels)
    effects = []
    for term, parts in zip(result.terms, result.term_parts, strict=True):
        if not parts:
            continue
        subsets = [s for r in range(len(parts) + 1) for s in itertools.combinations(parts, r)]
        cells = [{**reference, **dict(s)} for s in subsets]
        signs = [(-1.0) ** (len(parts) - len(s)) for s in subsets]
        means, cov = fitted_means(result, cells)
        effects.append(TermEffect(term.term, tuple(u for u, _ in parts),
                                  contrast(means, cov, signs, result.alpha, result.df_resid)))
    adjusted = adjust_p_values([e.effect.p_value for e in effects], "holm")
    return tuple(replace(e, p_value_adjusted=p) for e, p in zip(effects, adjusted, strict=True))


def _levels(cells: Sequence[Cell], reference: Mapping[str, str]) -> dict[str, list[str]]:
    """Each unit's levels in order of appearance, its reference level first."""
    if not cells:
        return {}
    factors = list(cells[0][0])
    levels: dict[str, list[str]] = {factor: [] for factor in factors}
    for choices, _ in cells:
        if set(choices) != set(factors):
            raise ValueError(f"every cell must name the units {factors}, got {list(choices)}")
        for factor in factors:
            if choices[factor] not in levels[factor]:
                levels[factor].append(choices[factor])
    for factor, level in reference.items():
        if level not in levels.get(factor, []):
            raise ValueError(f"reference level {factor}={level!r} appears in no cell")
        levels[factor].remove(level)
        levels[factor].insert(0, level)
    return levels


def _design_problem(
    cells: Sequence[Cell], levels: Mapping[str, list[str]], kind: MetricKind
) -> Problem | None:
    if not cells or all(stats.n == 0 for _, stats in cells):
        return problem("no_data", "no_cell_units", "no cell has units yet")
    empty = cell_keys([choices for choices, stats in cells if stats.n == 0])
    if empty:
        text = f"cell(s) without units: {', '.join(empty)}"
        return problem("empty_cell", "empty_cells", text, cells=empty)
    single = [factor for factor, values in levels.items() if len(values) < 2]
    if single:
        text = f"unit(s) {', '.join(single)} have a single level: no effect to estimate"
        return problem("single_level", "single_level_units", text, units=single)
    if kind == "binary":
        successes = sum(stats.sum for _, stats in cells)
        if successes == 0 or successes == sum(stats.n for _, stats in cells):
            text = "every unit has the same outcome: nothing to model"
            return problem("zero_variance", "same_outcome", text)
    return None


def _design(
    cells: Sequence[Cell], levels: Mapping[str, list[str]]
) -> tuple[list[str], tuple[tuple[tuple[str, str], ...], ...], np.ndarray]:
    """Treatment-coded design: intercept, main-effect dummies, pairwise dummy products; each
    term's name and its ``(unit, variant)`` dummies."""
    mains = [
        (f"{factor}[{level}]", factor, level)
        for factor, values in levels.items()
        for level in values[1:]
    ]
    pairs = [(a, b) for a, b in itertools.combinations(mains, 2) if a[1] != b[1]]
    names = ["Intercept"] + [m[0] for m in mains] + [f"{a[0]}:{b[0]}" for a, b in pairs]
    parts = ((), *(((m[1], m[2]),) for m in mains),
             *(((a[1], a[2]), (b[1], b[2])) for a, b in pairs))
    rows = []
    for choices, _ in cells:
        dummy = {name: float(choices[factor] == level) for name, factor, level in mains}
        rows.append(
            [1.0] + [dummy[m[0]] for m in mains] + [dummy[a[0]] * dummy[b[0]] for a, b in pairs]
        )
    return names, parts, np.array(rows)


def _fit_binary(cells: Sequence[Cell], design: np.ndarray):
    """Binomial GLM on ``[successes, failures]``; a (status, reason) pair when it cannot fit.

    Separation is read from the fit: a fitted cell probability within 1e-8 of 0 or 1 means the
    maximum-likelihood estimate is at infinity. statsmodels' ``PerfectSeparationWarning`` is not
    used: on grouped data it also fires for every saturated model (e.g. 2 × 2 with its
    interaction), where the fit reproduces the cell proportions exactly but the MLE is finite.
    """
    successes = np.array([stats.sum for _, stats in cells])
    failures = np.array([stats.n - stats.sum for _, stats in cells])
    model = sm.GLM(np.column_stack([successes, failures]), design, family=sm.families.Binomial())
    try:
        result, caught = _quiet_fit(model)
    except PerfectSeparationError:  # statsmodels < 0.14 raised instead of warning
        return _SEPARATION
    fitted = result.fittedvalues
    if not (_SEPARATION_EPS < fitted.min() and fitted.max() < 1 - _SEPARATION_EPS):
        return _SEPARATION
    if ConvergenceWarning in caught:
        return problem("not_converged", "not_converged", "the logistic regression did not converge")
    return result


def _fit_numeric(cells: Sequence[Cell], design: np.ndarray):
    """Frequency-weighted Gaussian GLM of cell means, scale = pooled residual variance of rows."""
    n = np.array([stats.n for _, stats in cells], dtype=float)
    means = np.array([stats.mean for _, stats in cells])
    within = sum((stats.n - 1) * stats.variance for _, stats in cells)
    model = sm.GLM(means, design, family=sm.families.Gaussian(), freq_weights=n)
    if model.df_resid <= 0:
        return problem("insufficient_data", "too_few_units", "fewer units than model terms")
    # A fixed scale: estimated from equal cell means it is 0, and statsmodels then raises on a
    # NaN first deviance. The first fit only gives the deviance, which it reports unscaled.
    first, _ = _quiet_fit(model, scale=1.0)
    scale = (within + first.deviance) / model.df_resid
    if scale <= np.finfo(float).eps * np.average(means**2, weights=n):  # 0 up to rounding
        text = "the model fits every unit exactly: the residual variance is 0"
        return problem("zero_variance", "exact_fit", text)
    return _quiet_fit(model, scale=scale, use_t=True)[0]


def _quiet_fit(model: sm.GLM, **options) -> tuple:
    """Fit, returning the result and the warning categories raised on the way.

    The warnings are judged by the caller rather than shown: a saturated design (as many cells
    as terms) makes statsmodels' inner least squares divide by zero residual degrees of freedom
    for a scale that the GLM does not use.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = model.fit(**options)
    return result, {w.category for w in caught}


def _terms(names: list[str], result, kind: MetricKind, alpha: float) -> tuple[TermEstimate, ...]:
    ci = np.asarray(result.conf_int(alpha))
    estimates = []
    for i, name in enumerate(names):
        low, high = float(ci[i, 0]), float(ci[i, 1])
        odds = (float(np.exp(result.params[i])), (float(np.exp(low)), float(np.exp(high))))
        estimates.append(
            TermEstimate(
                name,
                float(result.params[i]),
                float(result.bse[i]),
                (low, high),
                float(result.pvalues[i]),
                *(odds if kind == "binary" else (NAN, (NAN, NAN))),
            )
        )
    return tuple(estimates)


def _with_status(
    result: FactorialResult, status: str, reason: str, code: str, params: dict[str, Any]
) -> FactorialResult:
    return FactorialResult(
        result.kind,
        result.factors,
        result.reference_levels,
        (),
        result.n_units,
        result.alpha,
        status,
        reason,
        code,
        params,
    )
