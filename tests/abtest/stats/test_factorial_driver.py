"""The verdict names the driver: simulated 2 x 2 x 2 data where only countdown moves conversion.

References are independent of our fit: an ordinary least squares fit (linear probability model,
heteroscedasticity-robust HC0 errors) of the same treatment-coded design on the expanded 0/1
rows, and statsmodels' ``Logit`` on those rows for the fitted rates.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import statsmodels.api as sm

from abtest import verdict as verdicts
from abtest.stats.analysis_types import as_json
from abtest.stats.factorial import average_effects, factorial_analysis, fitted_means, term_effects
from abtest.stats.summary import SampleStats

UNITS = ("countdown", "stock_left", "loyal_price")
BASE, EFFECT = 0.05, 0.015  # countdown adds 1.5 pp; the other two units nothing
CELLS = [dict(zip(UNITS, levels, strict=True))
         for levels in itertools.product(("off", "on"), repeat=3)]


def _simulate(n: int, seed: int) -> list[tuple[dict[str, str], SampleStats]]:
    rng = np.random.default_rng(seed)
    found = []
    for cell in CELLS:
        conversions = int(rng.binomial(n, BASE + EFFECT * (cell["countdown"] == "on")))
        found.append((cell, SampleStats(n, conversions, conversions)))
    return found


def _rows(cells: list[tuple[dict[str, str], SampleStats]]) -> tuple[np.ndarray, np.ndarray]:
    """Expanded 0/1 rows with intercept, the three dummies and their pairwise products."""
    designs, outcomes = [], []
    for cell, stats in cells:
        d = [float(cell[u] == "on") for u in UNITS]
        x = [1.0, *d, *(a * b for a, b in itertools.combinations(d, 2))]
        designs.append(np.tile(x, (stats.n, 1)))
        outcomes.append(np.r_[np.ones(int(stats.sum)), np.zeros(stats.n - int(stats.sum))])
    return np.vstack(designs), np.concatenate(outcomes)


def test_countdown_effect_in_pp_matches_ols_and_logit_and_covers_the_truth() -> None:
    cells = _simulate(40_000, seed=1301)
    fit = factorial_analysis(cells, "binary")
    effect = next(e for e in term_effects(fit) if e.term == "countdown[on]").effect
    x, y = _rows(cells)
    ols = sm.OLS(y, x).fit(cov_type="HC0")
    logit = sm.Logit(y, x).fit(disp=0)
    reference = logit.predict(np.array([[1, 1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0.0]]))
    assert effect.estimate == pytest.approx(reference[0] - reference[1], abs=1e-6)
    # Logit and linear models without the three-way term differ a little: not saturated.
    assert effect.estimate == pytest.approx(ols.params[1], abs=0.1 * ols.bse[1])
    assert effect.std_error == pytest.approx(ols.bse[1], rel=0.02)
    assert effect.p_value < 1e-4


def test_over_simulations_the_interval_covers_the_effect_and_null_terms_rarely_drive() -> None:
    """200 fresh data sets: coverage of the countdown interval within the binomial 99.9%
    bounds of 95%, and some null term named a driver (Holm) in at most 5% (+ slack)."""
    runs, covered, false_driver = 200, 0, 0
    for seed in range(200):
        effects = term_effects(factorial_analysis(_simulate(20_000, seed=20_000 + seed)))
        countdown = next(e for e in effects if e.term == "countdown[on]").effect
        covered += countdown.ci[0] < EFFECT < countdown.ci[1]
        false_driver += any(e.p_value_adjusted < 0.05 for e in effects
                            if e.term != "countdown[on]")
    assert 0.90 * runs <= covered <= 0.99 * runs
    assert false_driver <= 0.05 * runs + 3.1 * np.sqrt(0.05 * 0.95 * runs)


def test_decision_names_countdown_and_calls_the_null_units_and_their_arms_equivalent() -> None:
    cells = _simulate(150_000, seed=1306)
    fit = factorial_analysis(cells, "binary")
    arms = tuple(f"a{i}" for i in range(len(CELLS)))
    means, cov = fitted_means(fit, CELLS)
    figures = verdicts.FactorialFigures(
        UNITS, *(tuple(verdicts.Driver(e.term, e.units, e.effect.estimate, e.effect.ci,
                                       e.effect.p_value, e.p_value_adjusted) for e in found)
                 for found in (term_effects(fit), average_effects(fit, CELLS))),
        tuple(CELLS), tuple(means), tuple(map(tuple, cov)), float("inf"), 0.05)
    best = 4  # countdown on, the others off
    rows = tuple(verdicts.ArmFigures(arm, 150_000, s.mean, None if i == 0 else 0.3,
                                     None if i == 0 else (0.0 if cell["countdown"] == "on"
                                                          else 0.9),
                                     0.9 if i == best else 0.1 / 7)
                 for i, (arm, (cell, s)) in enumerate(zip(arms, cells, strict=True)))
    decision = verdicts.decide(verdicts.VerdictInput(rows, "a0", "binary", factorial=figures))
    assert decision.kind == "significant_winner" and decision.leader == "a4"
    assert [d.term for d in decision.drivers] == ["countdown[on]"]
    (driver,) = decision.drivers
    assert driver.ci[0] < EFFECT < driver.ci[1]
    assert set(decision.negligible_units) == {"stock_left", "loyal_price"}
    differs = {e.arm: e.differs_in for e in decision.equivalent_arms}
    assert differs == {"a5": ("loyal_price",), "a6": ("stock_left",),
                       "a7": ("stock_left", "loyal_price")}
    assert decision.ship == ("a4", "a5", "a6", "a7")
    assert verdicts.decision_of({"decision": as_json(decision)}) == decision  # as page, report
    for lang, words in (("en", ("driven by countdown: +1.", "equally good within ±5%: a4, a5")),
                        ("zh", ("起作用的是 countdown：+1.", "同样好（相差在 ±5% 以内）：a4、a5"))):
        assert all(w in verdicts.render(decision, lang) for w in words)


def test_average_effect_is_the_mean_of_cell_differences_on_a_saturated_model() -> None:
    """With every interaction in the model (2 x 2) the fitted means are the cell rates, so the
    averaged effect is the plain mean of the two differences and its variance the binomial one."""
    cells = [(c, s) for c, s in _simulate(20_000, seed=1303) if c["loyal_price"] == "off"]
    choices = [{u: c[u] for u in UNITS[:2]} for c, _ in cells]
    fit = factorial_analysis([(ch, s) for ch, (_, s) in zip(choices, cells, strict=True)])
    effect = next(e for e in average_effects(fit, choices) if e.term == "countdown[on]").effect
    rate = {(c["countdown"], c["stock_left"]): s.mean for c, s in cells}
    expected = np.mean([rate["on", v] - rate["off", v] for v in ("off", "on")])
    variance = sum(p * (1 - p) / 20_000 for p in rate.values()) / 4
    assert effect.estimate == pytest.approx(expected, abs=1e-9)
    assert effect.std_error == pytest.approx(np.sqrt(variance), rel=1e-6)


def test_numeric_effects_are_the_ols_coefficients_with_their_t_intervals() -> None:
    """Revenue-like data (the stratified path fits numeric means): on the identity link every
    term's effect is its coefficient, with the t interval of OLS on the rows."""
    rng = np.random.default_rng(1304)
    values = {tuple(c.values()): rng.normal(10 + 2 * (c["countdown"] == "on"), 4, 300)
              for c in CELLS}
    cells = [(c, SampleStats(len(v), float(v.sum()), float((v**2).sum())))
             for c, v in zip(CELLS, values.values(), strict=True)]
    effects = {e.term: e.effect for e in term_effects(factorial_analysis(cells, "numeric"))}
    x = np.vstack([np.tile([1.0, *d, *(a * b for a, b in itertools.combinations(d, 2))],
                           (300, 1))
                   for d in ([float(c[u] == "on") for u in UNITS] for c in CELLS)])
    ols = sm.OLS(np.concatenate(list(values.values())), x).fit()
    names = ["countdown[on]", "stock_left[on]", "loyal_price[on]",
             "countdown[on]:stock_left[on]", "countdown[on]:loyal_price[on]",
             "stock_left[on]:loyal_price[on]"]
    for i, name in enumerate(names, start=1):
        assert effects[name].estimate == pytest.approx(ols.params[i], rel=1e-9)
        assert effects[name].ci == pytest.approx(tuple(ols.conf_int()[i]), rel=1e-9)
        assert effects[name].p_value == pytest.approx(ols.pvalues[i], rel=1e-6, abs=1e-300)
