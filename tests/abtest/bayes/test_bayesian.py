"""abtest.stats.bayesian against closed forms, scipy, quadrature and GrowthBook gbstats 0.8.0."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from abtest.stats.bayesian import EffectPrior, bayesian_compare, gaussian_effect, normal_risk
from abtest.stats.beta_exact import MAX_SUM_TERMS, beta_chance_and_loss
from abtest.stats.frequentist import compare
from abtest.stats.posteriors import BetaPosterior, BetaPrior, arm_posterior
from abtest.stats.summary import SampleStats
from tests.abtest.bayes.references import (
    miller_prob_b_beats_a,
    quad_probability_best,
    scipy_posterior,
    stucchio_loss,
)

GBSTATS = json.loads(
    (Path(__file__).parent / "reference" / "gbstats_0_8_0.json").read_text(encoding="utf-8")
)
GB_PRIORS = {name: EffectPrior(**fields) for name, fields in GBSTATS["priors"].items()}

BINARY_PAIRS = [((1000, 100), (1000, 120)), ((40, 3), (35, 9)), ((5000, 260), (5100, 240))]


def _mc_sigma(p: float, draws: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-4) / draws)


@pytest.mark.parametrize(("control", "treatment"), BINARY_PAIRS)
def test_chance_to_beat_control_matches_evan_miller(control, treatment):
    result = bayesian_compare(
        [SampleStats.binary(*control), SampleStats.binary(*treatment)], "binary"
    )
    a_a, b_a = 1 + control[1], 1 + control[0] - control[1]
    a_b, b_b = 1 + treatment[1], 1 + treatment[0] - treatment[1]
    expected = miller_prob_b_beats_a(a_a, b_a, a_b, b_b)
    assert result.arms[1].chance_to_beat_control == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("control", "treatment"), BINARY_PAIRS)
def test_expected_loss_matches_stucchio(control, treatment):
    arms = [SampleStats.binary(*control), SampleStats.binary(*treatment)]
    arm = bayesian_compare(arms, "binary").arms[1]
    a_a, b_a = 1 + control[1], 1 + control[0] - control[1]
    a_b, b_b = 1 + treatment[1], 1 + treatment[0] - treatment[1]
    assert arm.expected_loss_control == pytest.approx(stucchio_loss(a_a, b_a, a_b, b_b), abs=1e-10)
    assert arm.expected_loss == pytest.approx(stucchio_loss(a_b, b_b, a_a, b_a), abs=1e-10)


#: (control, treatment) Beta parameters whose smallest is, in turn, α_c, β_c, α_t and β_t (each of
#: Miller's four sums), then all above MAX_SUM_TERMS (quadrature).
WHOLE_PARAMETERS = [
    ((3, 400), (60, 900)),
    ((500, 4), (300, 40)),
    ((90, 700), (2, 1200)),
    ((2000, 900), (1500, 6)),
    ((3 * MAX_SUM_TERMS, 20 * MAX_SUM_TERMS), (3 * MAX_SUM_TERMS + 300, 20 * MAX_SUM_TERMS)),
]


@pytest.mark.parametrize(("control", "treatment"), WHOLE_PARAMETERS)
def test_beta_chance_and_loss_every_method_matches_miller_and_stucchio(control, treatment):
    chance, loss = beta_chance_and_loss(BetaPosterior(*treatment), BetaPosterior(*control))
    assert chance == pytest.approx(miller_prob_b_beats_a(*control, *treatment), abs=1e-9)
    assert loss == pytest.approx(stucchio_loss(*control, *treatment), abs=1e-10)


def _integral_over_control(treatment: BetaPosterior, control: BetaPosterior) -> tuple[float, float]:
    """``P(p_t > p_c)`` and ``E[max(0, p_t - p_c)]`` integrated over the *control* density.

    ``P(p_t > y) = S_t(y)`` and ``E[max(0, p_t - y)] = μ_t S_t⁺(y) - y S_t(y)`` with ``S_t⁺`` the
    survival function of ``Beta(α_t + 1, β_t)``: the mirror image of the implementation's
    integrals over the treatment density.
    """
    c, t = scipy_posterior(control), scipy_posterior(treatment)
    t_plus = sps.beta(treatment.alpha + 1, treatment.beta)
    mean_t = t.mean()
    edges = {"points": [c.ppf(0.05), c.ppf(0.95)], "limit": 200, "epsabs": 1e-13}
    chance = integrate.quad(lambda y: c.pdf(y) * t.sf(y), 0, 1, **edges)[0]
    loss = integrate.quad(lambda y: c.pdf(y) * (mean_t * t_plus.sf(y) - y * t.sf(y)), 0, 1, **edges)
    return chance, loss[0]


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        ((0.5, 0.5), (0.5, 0.5)),
        ((30.5, 970.5), (45.5, 955.5)),
        ((0.5, 3000.5), (2.5, 2000.5)),
        ((20.5, 80.0), (26.5, 74.0)),  # whole betas: Miller's sums over β
    ],
)
def test_beta_chance_and_loss_fractional_parameters_match_quadrature(control, treatment):
    pair = BetaPosterior(*treatment), BetaPosterior(*control)
    assert beta_chance_and_loss(*pair) == pytest.approx(_integral_over_control(*pair), abs=1e-9)


def test_beta_prior_is_configurable_and_intervals_are_beta_quantiles():
    arms = [SampleStats.binary(200, 30), SampleStats.binary(180, 41)]
    result = bayesian_compare(arms, "binary", prior=BetaPrior(2.0, 5.0), credibility=0.9)
    for arm, stats in zip(result.arms, arms, strict=True):
        a, b = 2.0 + stats.sum, 5.0 + stats.n - stats.sum
        assert arm.posterior_mean == pytest.approx(a / (a + b), rel=1e-12)
        assert arm.credible_interval == pytest.approx(sps.beta.ppf([0.05, 0.95], a, b), rel=1e-10)
    expected = miller_prob_b_beats_a(32.0, 175.0, 43.0, 144.0)
    assert result.arms[1].chance_to_beat_control == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        ((800, 80), (820, 98)),
        ((40, 3), (2_000_000, 150_000)),
        ((5, 1), (7, 4)),
        ((300, 0), (290, 2)),
    ],
)
def test_binary_relative_lift_matches_ratio_of_betas(control, treatment):
    """E[p_t/p_c] = mu_t (a_c + b_c - 1)/(a_c - 1); the interval's ends are the ratio's quantiles.

    The ratio CDF is ``P(p_t/p_c <= r) = ∫ f_c(x) F_t(r x) dx``, here by scipy's adaptive quad
    (split at the treatment's quantiles over r), and the ends are also checked against 2e6 draws.
    """
    arms = [SampleStats.binary(*control), SampleStats.binary(*treatment)]
    arm = bayesian_compare(arms, "binary").arms[1]
    a_c, b_c = 1.0 + control[1], 1.0 + control[0] - control[1]
    a_t, b_t = 1.0 + treatment[1], 1.0 + treatment[0] - treatment[1]
    if a_c > 1:
        exact_mean = a_t / (a_t + b_t) * (a_c + b_c - 1) / (a_c - 1) - 1
        assert arm.relative_lift == pytest.approx(exact_mean, rel=1e-12)
    else:  # no control conversion: E[1/p_c] diverges
        assert math.isnan(arm.relative_lift)

    def ratio_cdf(r: float) -> float:
        integrand = lambda y: sps.beta.pdf(y / r, a_c, b_c) / r * sps.beta.sf(y, a_t, b_t)  # noqa: E731
        points = sps.beta.ppf([1e-9, 0.5, 1 - 1e-9], a_t, b_t)
        return 1 - integrate.quad(integrand, 0, r, points=points[points < r], limit=400)[0]

    low, high = arm.relative_lift_interval
    for bound, tail in ((low, 0.025), (high, 0.975)):
        assert ratio_cdf(1 + bound) == pytest.approx(tail, abs=1e-8)
    rng = np.random.default_rng(11)
    draws = 2_000_000
    ratio = rng.beta(a_t, b_t, draws) / rng.beta(a_c, b_c, draws) - 1
    for bound, tail in ((low, 0.025), (high, 0.975)):
        assert np.mean(ratio <= bound) == pytest.approx(tail, abs=4 * _mc_sigma(tail, draws))


def test_numeric_matches_normal_closed_form():
    control, treatment = SampleStats(400, 2000.0, 16000.0), SampleStats(380, 2050.0, 17500.0)
    result = bayesian_compare([control, treatment], "numeric", credibility=0.8)
    for arm, stats in zip(result.arms, (control, treatment), strict=True):
        sd = math.sqrt(stats.variance / stats.n)
        assert arm.posterior_mean == pytest.approx(stats.mean)
        assert arm.credible_interval == pytest.approx(
            sps.norm.ppf([0.1, 0.9], stats.mean, sd), rel=1e-12
        )
    diff = treatment.mean - control.mean
    sd_diff = math.sqrt(treatment.variance / treatment.n + control.variance / control.n)
    assert result.arms[1].chance_to_beat_control == pytest.approx(
        sps.norm.cdf(diff / sd_diff), rel=1e-12
    )
    # E[max(0, c - t)] = P(t < c) * |E[t - c | t - c < 0]|, scipy's truncated normal
    below = sps.truncnorm(-np.inf, (0 - diff) / sd_diff, loc=diff, scale=sd_diff)
    expected_loss = sps.norm.cdf(-diff / sd_diff) * -below.mean()
    assert result.arms[1].expected_loss == pytest.approx(expected_loss, rel=1e-9)


@pytest.mark.parametrize(("mean", "sd"), [(0.3, 1.0), (-2.0, 0.5), (1e-3, 2e-3)])
def test_normal_risk_matches_truncated_normal(mean, sd):
    above = sps.truncnorm((0 - mean) / sd, np.inf, loc=mean, scale=sd).mean()
    below = sps.truncnorm(-np.inf, (0 - mean) / sd, loc=mean, scale=sd).mean()
    positive, negative = normal_risk(mean, sd)
    assert positive == pytest.approx(sps.norm.sf(0, mean, sd) * above, rel=1e-9)
    assert negative == pytest.approx(-sps.norm.cdf(0, mean, sd) * below, rel=1e-9)


@pytest.mark.parametrize(
    ("kind", "arms"),
    [
        (
            "binary",
            [
                SampleStats.binary(500, 50),
                SampleStats.binary(480, 56),
                SampleStats.binary(510, 47),
                SampleStats.binary(30, 4),
            ],
        ),
        (
            "numeric",
            [
                SampleStats(300, 1500.0, 12000.0),
                SampleStats(280, 1450.0, 11000.0),
                SampleStats(290, 1530.0, 12600.0),
            ],
        ),
    ],
)
def test_probability_best_matches_adaptive_quadrature(kind, arms):
    """Our fixed Gauss-Legendre rule against scipy's adaptive quad of the same integral."""
    result = bayesian_compare(arms, kind)
    exact = np.array([arm.probability_best for arm in result.arms])
    reference = quad_probability_best([scipy_posterior(arm_posterior(a, kind)) for a in arms])
    assert reference.sum() == pytest.approx(1.0, abs=1e-6)
    assert exact.sum() == pytest.approx(1.0, abs=1e-9)
    assert exact == pytest.approx(reference, abs=1e-7)


def test_deterministic_and_two_arm_consistency():
    arms = [SampleStats.binary(300, 30), SampleStats.binary(300, 39)]
    first = bayesian_compare(arms, "binary")
    assert first == bayesian_compare(arms, "binary")
    chance = first.arms[1].chance_to_beat_control  # Evan Miller's exact sum
    assert first.arms[1].probability_best == pytest.approx(chance, abs=1e-9)


def test_control_fields_are_nan_and_control_index_is_honoured():
    arms = [SampleStats.binary(300, 45), SampleStats.binary(300, 30)]
    result = bayesian_compare(arms, "binary", control_index=1)
    assert math.isnan(result.arms[1].chance_to_beat_control)
    assert math.isnan(result.arms[1].relative_lift)
    expected = miller_prob_b_beats_a(31.0, 271.0, 46.0, 256.0)
    assert result.arms[0].chance_to_beat_control == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("kind", "arms", "status"),
    [
        ("binary", [SampleStats.binary(100, 5)], "single_arm"),
        ("binary", [], "single_arm"),
        ("binary", [SampleStats.binary(0, 0), SampleStats.binary(0, 0)], "no_data"),
        ("numeric", [SampleStats(1, 3.0, 9.0), SampleStats(50, 10.0, 30.0)], "insufficient_data"),
        ("numeric", [SampleStats(50, 0.0, 0.0), SampleStats(50, 10.0, 30.0)], "zero_variance"),
    ],
)
def test_degenerate_inputs_say_why(kind, arms, status):
    result = bayesian_compare(arms, kind)
    assert result.status == status
    assert result.reason
    assert result.arms == ()


def test_binary_arm_without_traffic_keeps_the_prior():
    result = bayesian_compare([SampleStats.binary(200, 20), SampleStats.binary(0, 0)], "binary")
    assert result.status == "ok"
    assert result.arms[1].posterior_mean == pytest.approx(0.5)


def test_numeric_zero_control_mean_gives_nan_lift_not_an_error():
    arms = [SampleStats(50, 0.0, 40.0), SampleStats(50, 10.0, 30.0)]
    arm = bayesian_compare(arms, "numeric").arms[1]
    assert math.isnan(arm.relative_lift)
    assert 0 < arm.chance_to_beat_control < 1
    effect = gaussian_effect(arms[1], arms[0], "numeric")
    assert effect.status == "zero_baseline"


def test_invalid_arguments_raise():
    arms = [SampleStats.binary(10, 1), SampleStats.binary(10, 2)]
    with pytest.raises(ValueError):
        bayesian_compare(arms, "binary", control_index=2)
    with pytest.raises(ValueError):
        bayesian_compare(arms, "ratio")
    with pytest.raises(ValueError):
        bayesian_compare([SampleStats.binary(10, 11), arms[0]], "binary")


# --- GrowthBook gbstats 0.8.0 agreement --------------------------------------------------------


def _stats(case: dict, side: str) -> SampleStats:
    n, total, squares = case[side]
    return SampleStats(int(n), total, squares)


def _gb_case_id(case: dict) -> str:
    return f"{case['kind']}-{case['control'][0]}-{case['treatment'][0]}"


@pytest.fixture(params=GBSTATS["cases"], ids=_gb_case_id)
def gb_case(request) -> dict:
    return request.param


#: Binary arms are compared with exact Beta posteriors (gbstats: a normal approximation) and
#: ``compare`` tests them with a pooled z-test or Fisher (gbstats: a t-test with p(1-p)
#: variances): only the numeric cases run the same method on both sides.
@pytest.fixture(params=[c for c in GBSTATS["cases"] if c["kind"] == "numeric"], ids=_gb_case_id)
def gb_numeric_case(request) -> dict:
    return request.param


@pytest.mark.parametrize("scale", ["relative", "absolute"])
@pytest.mark.parametrize("prior", ["flat", "proper"])
def test_gaussian_effect_matches_gbstats(gb_case, scale, prior):
    reference = gb_case[f"bayes_{scale}_{prior}"]
    effect = gaussian_effect(
        _stats(gb_case, "treatment"),
        _stats(gb_case, "control"),
        gb_case["kind"],
        scale,
        GB_PRIORS[prior],
    )
    tol = {"rel": 1e-6, "abs": 1e-9}
    assert effect.chance_to_win == pytest.approx(reference["chance_to_win"], **tol)
    assert effect.expected == pytest.approx(reference["expected"], **tol)
    assert effect.std == pytest.approx(reference["uplift"]["stddev"], **tol)
    assert effect.credible_interval == pytest.approx(reference["ci"], **tol)
    assert [effect.risk_control, effect.risk_treatment] == pytest.approx(reference["risk"], **tol)


@pytest.mark.parametrize("prior", ["flat", "proper"])
def test_numeric_compare_is_gbstats_effect_model(gb_numeric_case, prior):
    gb_case = gb_numeric_case
    arms = [_stats(gb_case, "control"), _stats(gb_case, "treatment")]
    result = bayesian_compare(arms, "numeric", effect_prior=GB_PRIORS[prior])
    arm = result.arms[1]
    absolute, relative = gb_case[f"bayes_absolute_{prior}"], gb_case[f"bayes_relative_{prior}"]
    assert arm.chance_to_beat_control == pytest.approx(absolute["chance_to_win"], rel=1e-6)
    assert [arm.expected_loss_control, arm.expected_loss] == pytest.approx(
        absolute["risk"], rel=1e-6
    )
    assert arm.relative_lift == pytest.approx(relative["expected"], rel=1e-6)
    assert arm.relative_lift_interval == pytest.approx(relative["ci"], rel=1e-6)


def test_welch_t_test_matches_gbstats(gb_numeric_case):
    """abtest.stats.frequentist.compare (Welch) against gbstats' TwoSidedTTest.

    Numeric only: for binary metrics ``compare`` runs a pooled z-test (or Fisher), gbstats a
    t-test with p(1-p) variances, so the methods differ. gbstats' relative p-value tests the
    delta-method z of the relative lift, ours the absolute difference; only the absolute p-value
    is the same test. Our relative interval is built on the log ratio (never below -100%), whose
    delta-method variance is gbstats' ratio variance divided by the squared ratio: the log
    half-width is gbstats' half-width over ``1 + lift``.
    """
    gb_case = gb_numeric_case
    result = compare(_stats(gb_case, "treatment"), _stats(gb_case, "control"), "numeric")
    absolute, relative = gb_case["ttest_absolute"], gb_case["ttest_relative"]
    assert result.p_value == pytest.approx(absolute["p_value"], rel=1e-6)
    assert result.absolute_lift == pytest.approx(absolute["expected"], rel=1e-9)
    assert result.absolute_ci == pytest.approx(absolute["ci"], rel=1e-6)
    assert result.relative_lift == pytest.approx(relative["expected"], rel=1e-9)
    gb_half = (relative["ci"][1] - relative["ci"][0]) / 2
    log_half = (math.log1p(result.relative_ci[1]) - math.log1p(result.relative_ci[0])) / 2
    assert log_half == pytest.approx(gb_half / (1 + relative["expected"]), rel=1e-6)


@pytest.mark.parametrize("kind", ["binary", "numeric"])
def test_without_lift_only_the_lift_is_left_out(kind):
    arms = [
        SampleStats(500, 60.0, 60.0),
        SampleStats(480, 71.0, 71.0),
        SampleStats(510, 55.0, 55.0),
    ]
    full = bayesian_compare(arms, kind)
    lean = bayesian_compare(arms, kind, with_lift=False)
    for with_lift, without in zip(full.arms, lean.arms, strict=True):
        assert math.isnan(without.relative_lift)
        assert all(math.isnan(end) for end in without.relative_lift_interval)
        kept = [f.name for f in fields(without) if not f.name.startswith("relative_lift")]
        # repr, not ==: control's own fields are NaN in both
        assert repr([getattr(without, name) for name in kept]) == repr(
            [getattr(with_lift, name) for name in kept]
        )
