"""abtest.stats.factorial against the fit on expanded rows, closed forms and simulation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats as sps

from abtest.stats.factorial import factorial_analysis
from abtest.stats.summary import SampleStats

UNITS = ("countdown", "stock_left", "loyal_price")
LEVELS = {"countdown": ("off", "on"), "stock_left": ("off", "low"), "loyal_price": ("off", "vip")}
#: The same model written as a formula: treatment coding, "off" reference, all two-way terms.
FORMULA = "y ~ (" + " + ".join(f"C({u}, Treatment('off'))" for u in UNITS) + ")**2"


def _combos() -> list[dict[str, str]]:
    return [dict(zip(UNITS, values, strict=True)) for values in itertools.product(*LEVELS.values())]


def _logit_p(choices: dict[str, str], effects: dict[str, float], base: float = -2.5) -> float:
    on = {u: choices[u] != "off" for u in UNITS}
    eta = base + sum(effects.get(u, 0.0) for u in UNITS if on[u])
    eta += effects.get("countdown:stock_left", 0.0) * (on["countdown"] and on["stock_left"])
    return 1 / (1 + math.exp(-eta))


def _binary_cells(rng, n, effects):
    return [
        (choices, SampleStats.binary(n, int(rng.binomial(n, _logit_p(choices, effects)))))
        for choices in _combos()
    ]


def _rows(cells) -> pd.DataFrame:
    """Expand binary cells to one 0/1 row per unit."""
    frames = [
        pd.DataFrame({**choices, "y": np.r_[np.ones(int(s.sum)), np.zeros(s.n - int(s.sum))]})
        for choices, s in cells
    ]
    return pd.concat(frames, ignore_index=True)


def test_aggregated_fit_equals_fit_on_expanded_rows():
    rng = np.random.default_rng(10)
    cells = _binary_cells(rng, 300, {"countdown": 0.3, "stock_left": -0.2, "loyal_price": 0.1})
    result = factorial_analysis(cells)
    rows = smf.glm(FORMULA, data=_rows(cells), family=sm.families.Binomial()).fit()
    assert result.status == "ok"
    assert len(result.terms) == len(rows.params) == 7
    np.testing.assert_allclose([t.estimate for t in result.terms], rows.params, atol=1e-6)
    np.testing.assert_allclose([t.std_error for t in result.terms], rows.bse, atol=1e-6)
    np.testing.assert_allclose([t.p_value for t in result.terms], rows.pvalues, atol=1e-6)
    np.testing.assert_allclose([t.ci for t in result.terms], rows.conf_int(), atol=1e-6)
    term = result.term("countdown[on]")
    assert term.odds_ratio == pytest.approx(math.exp(term.estimate))


def test_numeric_fit_equals_ols_on_expanded_rows():
    rng = np.random.default_rng(11)
    frames = []
    for i, choices in enumerate(_combos()):
        n = 40 + 5 * i
        values = rng.gamma(2.0, 10.0 + 3 * (choices["countdown"] == "on"), size=n)
        frames.append(pd.DataFrame({**choices, "y": values}))
    rows = pd.concat(frames, ignore_index=True)
    cells = [
        (f.iloc[0][list(UNITS)].to_dict(), SampleStats(len(f), f.y.sum(), (f.y**2).sum()))
        for f in frames
    ]
    result = factorial_analysis(cells, "numeric", alpha=0.1)
    ols = smf.ols(FORMULA, data=rows).fit()
    np.testing.assert_allclose([t.estimate for t in result.terms], ols.params, rtol=1e-9)
    np.testing.assert_allclose([t.std_error for t in result.terms], ols.bse, rtol=1e-9)
    np.testing.assert_allclose([t.p_value for t in result.terms], ols.pvalues, rtol=1e-7)
    np.testing.assert_allclose([t.ci for t in result.terms], ols.conf_int(0.1), rtol=1e-9)
    assert math.isnan(result.terms[1].odds_ratio)


def test_one_factor_effect_is_the_log_odds_ratio_with_woolf_se():
    """Two cells: the coefficient is log(ad/bc), its SE sqrt(1/a + 1/b + 1/c + 1/d) (Woolf 1955)."""
    a, b, c, d = 60, 940, 85, 915  # successes/failures for off, then on
    cells = [
        ({"countdown": "off"}, SampleStats.binary(a + b, a)),
        ({"countdown": "on"}, SampleStats.binary(c + d, c)),
    ]
    term = factorial_analysis(cells).term("countdown[on]")
    assert term.estimate == pytest.approx(math.log(c * b / (a * d)), rel=1e-9)
    assert term.std_error == pytest.approx(math.sqrt(1 / a + 1 / b + 1 / c + 1 / d), rel=1e-6)
    flipped = factorial_analysis(cells, reference={"countdown": "on"}).term("countdown[off]")
    assert flipped.estimate == pytest.approx(-term.estimate, rel=1e-9)


def test_known_interaction_is_recovered():
    rng = np.random.default_rng(12)
    effects = {"countdown": 0.2, "stock_left": 0.1, "countdown:stock_left": 0.4}
    result = factorial_analysis(_binary_cells(rng, 20_000, effects))
    interaction = result.term("countdown[on]:stock_left[low]")
    assert interaction.estimate > 0
    assert interaction.p_value < 0.001
    assert interaction.ci[0] < 0.4 < interaction.ci[1]


@pytest.mark.slow
def test_no_effect_false_positive_rate_is_nominal():
    """300 A/A factorial experiments: each term's 5% test rejects about 15 times.

    Bounds: binomial(300, 0.05) at z = 3.29 (PlanOut's randomization tests), i.e. 15 ± 12.4;
    the pooled p-values of all six effects pass a Kolmogorov-Smirnov test for uniformity.
    """
    rng = np.random.default_rng(13)
    sims = 300
    p_values = np.array(
        [
            [t.p_value for t in factorial_analysis(_binary_cells(rng, 2000, {})).terms[1:]]
            for _ in range(sims)
        ]
    )
    half_width = 3.29 * math.sqrt(sims * 0.05 * 0.95)
    rejections = (p_values < 0.05).sum(axis=0)
    assert np.all(np.abs(rejections - sims * 0.05) <= half_width)
    assert sps.kstest(p_values.ravel(), "uniform").pvalue > 0.001


def _cells(*specs):
    return [(dict(zip(UNITS[:2], levels, strict=True)), s) for levels, s in specs]


@pytest.mark.parametrize(
    ("cells", "status"),
    [
        ([], "no_data"),
        (
            _cells(
                (("off", "off"), SampleStats.binary(0, 0)), (("on", "on"), SampleStats.binary(0, 0))
            ),
            "no_data",
        ),
        (
            _cells(
                (("off", "off"), SampleStats.binary(100, 5)),
                (("on", "off"), SampleStats.binary(0, 0)),
                (("off", "low"), SampleStats.binary(100, 7)),
                (("on", "low"), SampleStats.binary(100, 9)),
            ),
            "empty_cell",
        ),
        (
            _cells(
                (("off", "off"), SampleStats.binary(100, 5)),
                (("on", "off"), SampleStats.binary(100, 8)),
            ),
            "single_level",
        ),
        (
            _cells(
                (("off", "off"), SampleStats.binary(100, 5)),
                (("on", "off"), SampleStats.binary(100, 8)),
                (("off", "low"), SampleStats.binary(100, 7)),
            ),
            "not_identifiable",
        ),
        (
            _cells(
                (("off", "off"), SampleStats.binary(100, 0)),
                (("on", "off"), SampleStats.binary(100, 0)),
                (("off", "low"), SampleStats.binary(100, 0)),
                (("on", "low"), SampleStats.binary(100, 0)),
            ),
            "zero_variance",
        ),
        (
            _cells(
                (("off", "off"), SampleStats.binary(100, 5)),
                (("on", "off"), SampleStats.binary(100, 8)),
                (("off", "low"), SampleStats.binary(100, 7)),
                (("on", "low"), SampleStats.binary(100, 0)),
            ),
            "perfect_separation",
        ),
    ],
)
def test_degenerate_designs_say_why(cells, status):
    result = factorial_analysis(cells)
    assert result.status == status
    assert result.reason
    assert result.terms == ()


def test_numeric_zero_residual_variance_says_why():
    cells = _cells(
        *[
            ((a, b), SampleStats(10, 10.0 * v, 10.0 * v * v))
            for (a, b), v in zip(
                itertools.product(("off", "on"), ("off", "low")), (1.0, 2.0, 3.0, 4.0), strict=True
            )
        ]
    )
    assert factorial_analysis(cells, "numeric").status == "zero_variance"


@pytest.mark.parametrize(("value", "variance"), [(0.0, 0.0), (2.5, 0.0), (2.5, 1.5)])
def test_numeric_equal_cell_means_fit_or_say_why(value, variance):
    """Equal cell means (no revenue yet; a null result) made statsmodels raise on its first
    fit: with within-cell variance every term is 0, without it there is nothing to model."""
    cells = _cells(*[
        ((a, b), SampleStats(n, n * value, (n - 1) * variance + n * value**2))
        for n, (a, b) in zip((10, 11, 12, 13), itertools.product(("off", "on"), ("off", "low")),
                             strict=True)
    ])
    result = factorial_analysis(cells, "numeric")
    if variance == 0.0:
        assert (result.status, result.terms) == ("zero_variance", ())
        return
    assert result.status == "ok"
    assert [t.estimate for t in result.terms] == pytest.approx([value, 0, 0, 0], abs=1e-12)
    assert all(t.std_error > 0 and t.p_value == pytest.approx(1.0) for t in result.terms[1:])


def test_inconsistent_cells_and_bad_arguments_raise():
    with pytest.raises(ValueError):
        factorial_analysis(
            [({"a": "x"}, SampleStats.binary(10, 1)), ({"b": "y"}, SampleStats.binary(10, 2))]
        )
    with pytest.raises(ValueError):
        factorial_analysis(_binary_cells(np.random.default_rng(1), 50, {}), kind="ratio")
    with pytest.raises(ValueError):
        factorial_analysis(
            _binary_cells(np.random.default_rng(1), 50, {}), reference={"countdown": "maybe"}
        )
