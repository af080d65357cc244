"""abtest.stats.analysis: every figure against scipy/statsmodels run on the raw rows behind the
sufficient statistics, or against closed forms written out here."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats as sps
from scipy.special import betaln
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.oneway import anova_oneway
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest
from statsmodels.stats.proportion import test_proportions_2indep as statsmodels_ratio_test

from abtest.stats.analysis import analyze, expected_units
from abtest.stats.analysis_types import (
    AllocationPeriod,
    AnalysisConfig,
    AnalysisInput,
    Group,
    MetricSpec,
    as_json,
)
from abtest.stats.summary import SampleStats

ARMS = ("cd=off|sl=off", "cd=on|sl=off", "cd=off|sl=on", "cd=on|sl=on")
CHOICES = tuple(dict(part.split("=") for part in arm.split("|")) for arm in ARMS)
METRICS = (
    MetricSpec("conversion", "binary"),
    MetricSpec("revenue", "numeric", "secondary"),
    MetricSpec("complaint", "binary", "guardrail", higher_is_better=False),
)


def _raw(seed: int, n: int = 600) -> dict[str, list[np.ndarray]]:
    """Unit-level rows per metric and arm (the test's ground truth)."""
    rng = np.random.default_rng(seed)
    rates, complaints = (0.10, 0.13, 0.09, 0.16), (0.02, 0.02, 0.06, 0.03)
    return {
        "conversion": [rng.binomial(1, p, n).astype(float) for p in rates],
        "revenue": [rng.gamma(2.0, 40.0 + 5 * i, n) * rng.binomial(1, 0.2, n) for i in range(4)],
        "complaint": [rng.binomial(1, p, n).astype(float) for p in complaints],
    }


def _stats(raw: dict[str, list[np.ndarray]]) -> dict[str, list[SampleStats]]:
    return {
        name: [SampleStats(len(x), float(x.sum()), float((x * x).sum())) for x in arms]
        for name, arms in raw.items()
    }


def _config(**changes) -> AnalysisConfig:
    return AnalysisConfig(ARMS, METRICS, **{"arm_choices": CHOICES, **changes})


@pytest.fixture(scope="module")
def raw() -> dict[str, list[np.ndarray]]:
    return _raw(7)


@pytest.fixture(scope="module")
def result(raw):
    return analyze(_config(), AnalysisInput(_stats(raw)))


def _arm(result, metric: str, i: int):
    return next(m for m in result.metrics if m.name == metric).arms[i]


def test_fixed_horizon_figures_equal_scipy_and_statsmodels_on_rows(result, raw) -> None:
    control = raw["revenue"][0]
    for i in (1, 2, 3):
        conversion = _arm(result, "conversion", i)
        counts = [raw["conversion"][i].sum(), raw["conversion"][0].sum()]
        _, p = proportions_ztest(counts, [600, 600])
        assert conversion.test == "z-test (pooled)"
        assert conversion.p_value == pytest.approx(p, rel=1e-9)
        revenue = _arm(result, "revenue", i)
        welch = sps.ttest_ind(raw["revenue"][i], control, equal_var=False)
        assert revenue.p_value == pytest.approx(welch.pvalue, rel=1e-9)
        ci = welch.confidence_interval(0.95)
        assert revenue.lift.absolute_ci == pytest.approx((ci.low, ci.high), rel=1e-9)
        assert revenue.mean == pytest.approx(raw["revenue"][i].mean(), rel=1e-12)
        assert revenue.std_dev == pytest.approx(raw["revenue"][i].std(ddof=1), rel=1e-9)


def test_holm_and_bh_adjust_over_every_arm_and_metric(result) -> None:
    pairs = [(m.name, i) for m in METRICS for i in (1, 2, 3)]
    raw_p = [_arm(result, name, i).p_value for name, i in pairs]
    holm = multipletests(raw_p, method="holm")[1]
    bh = multipletests(raw_p, method="fdr_bh")[1]
    for (name, i), h, b in zip(pairs, holm, bh, strict=True):
        assert _arm(result, name, i).p_value_holm == pytest.approx(h, rel=1e-12)
        assert _arm(result, name, i).p_value_bh == pytest.approx(b, rel=1e-12)
    assert "3 arm(s) x 3 metric(s) = 9 comparisons" in result.multiple_comparisons
    assert "across 3 arms x 3 metrics" in result.metrics[0].method


def test_omnibus_equals_chi_square_and_welch_anova_on_rows(result, raw) -> None:
    table = [[x.sum(), len(x) - x.sum()] for x in raw["conversion"]]
    chi2 = sps.chi2_contingency(table, correction=False)
    assert result.metrics[0].omnibus.p_value == pytest.approx(chi2.pvalue, rel=1e-9)
    welch = anova_oneway(raw["revenue"], use_var="unequal")
    assert result.metrics[1].omnibus.p_value == pytest.approx(welch.pvalue, rel=1e-9)


def test_sequential_p_value_is_the_mixture_closed_form(result, raw) -> None:
    """p = min(1, sqrt(N rho^2 + 1) exp(-rho^2 N d^2 / (2 v (N rho^2 + 1)))), N = n_t + n_c."""
    t, c = raw["conversion"][3], raw["conversion"][0]
    d = t.mean() - c.mean()
    v = t.mean() * (1 - t.mean()) / len(t) + c.mean() * (1 - c.mean()) / len(c)
    n, alpha = len(t) + len(c), 0.05
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / 5000
    p = min(1.0, math.sqrt(n * rho2 + 1) * math.exp(-rho2 * n * d * d / (2 * v * (n * rho2 + 1))))
    assert _arm(result, "conversion", 3).p_value_sequential == pytest.approx(p, rel=1e-9)


def _miller(a_t: float, b_t: float, a_c: float, b_c: float) -> float:
    """Evan Miller's closed form of P(p_t > p_c) for Beta posteriors (integer a_t)."""
    i = np.arange(int(a_t))
    terms = betaln(a_c + i, b_c + b_t) - np.log(b_t + i) - betaln(1 + i, b_t) - betaln(a_c, b_c)
    return float(np.exp(terms).sum())


def test_chance_to_beat_control_follows_the_metric_direction(result, raw) -> None:
    for i in (1, 2, 3):
        s_t, s_c = raw["conversion"][i].sum(), raw["conversion"][0].sum()
        up = _miller(1 + s_t, 601 - s_t, 1 + s_c, 601 - s_c)
        assert _arm(result, "conversion", i).chance_to_beat_control == pytest.approx(up, abs=1e-7)
        k_t, k_c = raw["complaint"][i].sum(), raw["complaint"][0].sum()
        fewer = 1 - _miller(1 + k_t, 601 - k_t, 1 + k_c, 601 - k_c)
        assert _arm(result, "complaint", i).chance_to_beat_control == pytest.approx(fewer, abs=1e-7)


def test_bayesian_figures_are_reproducible_and_coherent(result, raw) -> None:
    again = analyze(_config(), AnalysisInput(_stats(raw)))
    assert as_json(again.metrics) == as_json(result.metrics)
    for metric in result.metrics:
        assert sum(arm.probability_best for arm in metric.arms) == pytest.approx(1.0)
    complaint = _arm(result, "complaint", 2)
    rate = raw["complaint"][2].mean()
    low, high = complaint.credible_interval
    assert low < rate < high
    assert (low, high) == pytest.approx(
        sps.beta(1 + 600 * rate, 1 + 600 * (1 - rate)).interval(0.95)
    )


def test_factorial_equals_logistic_regression_on_rows(result, raw) -> None:
    frame = pd.concat(pd.DataFrame({**CHOICES[i], "y": raw["conversion"][i]}) for i in range(4))
    formula = "y ~ C(cd, Treatment('off')) * C(sl, Treatment('off'))"
    rows = smf.glm(formula, data=frame, family=sm.families.Binomial()).fit()
    factorial = result.factorial
    assert factorial.status == "ok" and factorial.metric == "conversion"
    assert [t.term for t in factorial.terms] == ["Intercept", "cd[on]", "sl[on]", "cd[on]:sl[on]"]
    np.testing.assert_allclose([t.estimate for t in factorial.terms], rows.params, atol=1e-6)
    np.testing.assert_allclose([t.p_value for t in factorial.terms], rows.pvalues, atol=1e-6)


def test_constant_units_are_left_out_of_the_factorial_model(raw) -> None:
    choices = tuple({**c, "tone": "warm"} for c in CHOICES)
    factorial = analyze(_config(arm_choices=choices), AnalysisInput(_stats(raw))).factorial
    assert factorial.factors == ("cd", "sl")


def _mixture_p(estimate: float, variance: float, n: int, alpha: float = 0.05) -> float:
    """Waudby-Smith et al. (2023) eq. (155), rho from eq. (161) at 5000 units."""
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / 5000
    return min(1.0, math.sqrt(n * rho2 + 1) * math.exp(
        -rho2 * n * estimate**2 / (2 * variance * (n * rho2 + 1))))


@pytest.mark.parametrize("basis", ["sequential", "fixed_horizon"])
def test_guardrail_alert_is_the_guardrail_rows_own_test(raw, basis) -> None:
    """The alert's p-value is the two-sided relative p shown in the complaint table's row."""
    found = analyze(_config(decision_basis=basis), AnalysisInput(_stats(raw)))
    checks = {c.arm: c for c in found.guardrails.checks}
    rows = {a.arm: a for a in next(m for m in found.metrics if m.name == "complaint").arms}
    for i in (1, 2, 3):
        counts = (raw["complaint"][i].sum(), 600, raw["complaint"][0].sum(), 600)
        ratio = statsmodels_ratio_test(*counts, method="log-adjusted", compare="ratio")
        estimate = ratio.statistic * math.sqrt(ratio.variance)
        expected = (_mixture_p(estimate, ratio.variance, 1200) if basis == "sequential"
                    else ratio.pvalue)
        check = checks[ARMS[i]]
        assert check.p_value == pytest.approx(expected, rel=1e-9)
        assert check.p_value == rows[ARMS[i]].headline.p_value
        assert check.harmed is bool(expected < 0.05 and estimate > 0)
        assert check.test == rows[ARMS[i]].headline.test
    if basis == "fixed_horizon":  # 6% vs 2% complaints: only the fixed test is sure yet
        assert checks[ARMS[2]].harmed and "p = " in checks[ARMS[2]].reason
    assert found.guardrails.harmed is any(c.harmed for c in checks.values())


def test_srm_expects_the_traffic_weighted_mix_of_period_weights(raw) -> None:
    periods = (
        AllocationPeriod(1, (0.25,) * 4, (300, 310, 290, 300)),
        AllocationPeriod(2, (4.0, 2.0, 2.0, 2.0), (420, 180, 190, 210)),
    )
    expected = [1200 * 0.25 + 1000 * w for w in (0.4, 0.2, 0.2, 0.2)]
    assert expected_units(periods) == pytest.approx(expected, rel=1e-12)
    stats = {name: [SampleStats(720, 0.0, 0.0)] * 4 for name in ("conversion",)}
    observed = [720, 490, 480, 510]
    stats["conversion"] = [SampleStats(n, 0.0, 0.0) for n in observed]
    config = AnalysisConfig(ARMS, (METRICS[0],))
    srm = analyze(config, AnalysisInput(stats, periods=periods)).srm
    assert srm.p_value == pytest.approx(sps.chisquare(observed, expected).pvalue, rel=1e-9)
    assert srm.periods == 2


def test_power_plans_with_statsmodels_and_counts_days_from_daily_traffic(result, raw) -> None:
    power = result.power
    baseline = raw["conversion"][0].mean()
    h = proportion_effectsize(baseline * 1.05, baseline)
    n = math.ceil(NormalIndPower().solve_power(abs(h), alpha=0.05, power=0.8))
    stopped = analyze(_config(decision_basis="fixed_horizon"), AnalysisInput(_stats(raw)))
    assert stopped.power.n_per_arm == stopped.power.n_per_arm_fixed == n
    fixed_at_bonferroni = NormalIndPower().solve_power(abs(h), alpha=0.05 / 3, power=0.8)
    assert power.n_per_arm_fixed == math.ceil(fixed_at_bonferroni)
    assert power.n_per_arm > power.n_per_arm_fixed and "sequence" in power.test
    days = (
        Group("2026-11-01", _stats({k: [x[:300] for x in v] for k, v in raw.items()})),
        Group("2026-11-02", _stats({k: [x[300:] for x in v] for k, v in raw.items()})),
    )
    timed = analyze(_config(), AnalysisInput(_stats(raw), days=days)).power
    assert timed.daily_units == 1200
    assert timed.days_needed == math.ceil((timed.n_per_arm - 600) / (1200 / 4))
    assert f"needs about {timed.days_needed} more days" == timed.reason
    ended = analyze(_config(decision_basis="fixed_horizon"),
                    AnalysisInput(_stats(raw), days=days)).power
    assert ended.days_needed is None and ended.reason_code == "ended_short"
    assert ended.reason_params == {"remaining": n - 600, "n": n}


def test_segments_repeat_the_analysis_within_each_value(raw) -> None:
    first = {k: [x[:250] for x in v] for k, v in raw.items()}
    rest = {k: [x[250:] for x in v] for k, v in raw.items()}
    data = AnalysisInput(
        _stats(raw),
        segment_attribute="channel",
        segment_top=1,
        segments=(Group("chat", _stats(first)), Group("(other)", _stats(rest))),
    )
    segments = analyze(_config(), data).segments
    assert segments.attribute == "channel" and "'channel'" in segments.method
    assert [(s.value, s.units) for s in segments.values] == [("chat", 1000), ("(other)", 1400)]
    chat = segments.values[0].metrics[1].arms[1]
    welch = sps.ttest_ind(first["revenue"][1], first["revenue"][0], equal_var=False)
    assert chat.p_value == pytest.approx(welch.pvalue, rel=1e-9)


def test_fisher_exact_when_expected_counts_are_small() -> None:
    stats = {"conversion": [SampleStats.binary(40, 1), SampleStats.binary(40, 7)]}
    config = AnalysisConfig(ARMS[:2], (METRICS[0],))
    arm = analyze(config, AnalysisInput(stats)).metrics[0].arms[1]
    assert arm.test == "fisher-exact"
    assert arm.p_value == pytest.approx(sps.fisher_exact([[7, 33], [1, 39]]).pvalue, rel=1e-12)


def test_no_units_gives_a_no_data_document_without_nan() -> None:
    empty = {m.name: [SampleStats(0, 0.0, 0.0)] * 4 for m in METRICS}
    result = analyze(_config(), AnalysisInput(empty))
    document = as_json(result)
    json.dumps(document, allow_nan=False)
    assert document["status"] == "no_data"
    assert document["srm"]["status"] == "no_data"
    assert document["factorial"]["status"] == "no_data"
    arm = document["metrics"][0]["arms"][1]
    assert arm["units"] == 0 and arm["p_value"] is None and arm["status"] == "no_data"


def test_as_json_maps_nan_and_infinities_to_null() -> None:
    assert as_json({"a": (math.nan, math.inf, -math.inf, 1.5)}) == {"a": [None, None, None, 1.5]}


def test_inconsistent_input_is_refused() -> None:
    with pytest.raises(ValueError, match="one SampleStats per arm"):
        analyze(_config(), AnalysisInput({m.name: [SampleStats(1, 0, 0)] for m in METRICS}))
