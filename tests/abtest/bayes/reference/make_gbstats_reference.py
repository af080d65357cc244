"""Regenerate gbstats_0_8_0.json: GrowthBook gbstats' own figures for a few inputs.

gbstats 0.8.0 pins numpy<2 and pandas<2, so it lives in a throwaway virtualenv, never in the
project's (see README.md beside this file):

    python3 -m venv /tmp/gbstats-venv && /tmp/gbstats-venv/bin/pip install gbstats==0.8.0
    /tmp/gbstats-venv/bin/python tests/abtest/bayes/reference/make_gbstats_reference.py

Cases: (control, treatment) as ``n, sum, sum_squares``; binary cases use ProportionStatistic.
Each case is run through EffectBayesianABTest (flat prior, and a proper prior on the relative
effect) and TwoSidedTTest, on the relative and absolute scales.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic

CASES = [
    {"kind": "binary", "control": [10000, 1000, 1000], "treatment": [10000, 1080, 1080]},
    {"kind": "binary", "control": [523, 41, 41], "treatment": [498, 30, 30]},
    {"kind": "binary", "control": [250, 20, 20], "treatment": [260, 35, 35]},
    {"kind": "numeric", "control": [1200, 6100.5, 98000.25], "treatment": [1150, 6400.0, 110500.0]},
    {"kind": "numeric", "control": [80, 300.0, 2100.0], "treatment": [95, 410.0, 3300.0]},
]
PRIORS = {"flat": GaussianPrior(), "proper": GaussianPrior(mean=0.0, variance=0.09, proper=True)}


def statistic(kind: str, n: float, total: float, sum_squares: float):
    if kind == "binary":
        return ProportionStatistic(n=int(n), sum=total)
    return SampleMeanStatistic(n=int(n), sum=total, sum_squares=sum_squares)


def run(case: dict) -> dict:
    a = statistic(case["kind"], *case["control"])
    b = statistic(case["kind"], *case["treatment"])
    out: dict = {}
    for scale in ("relative", "absolute"):
        for name, prior in PRIORS.items():
            config = EffectBayesianConfig(difference_type=scale, prior_effect=prior)
            out[f"bayes_{scale}_{name}"] = asdict(
                EffectBayesianABTest(a, b, config).compute_result()
            )
        freq = TwoSidedTTest(a, b, FrequentistConfig(difference_type=scale))
        out[f"ttest_{scale}"] = asdict(freq.compute_result())
    return {**case, **out}


def main() -> None:
    data = {
        "generator": "tests/abtest/bayes/reference/make_gbstats_reference.py",
        "gbstats_version": version("gbstats"),
        "priors": {name: asdict(prior) for name, prior in PRIORS.items()},
        "cases": [run(case) for case in CASES],
    }
    path = Path(__file__).with_name("gbstats_0_8_0.json")
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
