"""Time GrowthBook gbstats 0.8.0 on the sufficient statistics bench/analysis_speed.py sends.

Runs inside the throwaway venv ``bench/.venv-gbstats`` (gbstats pins numpy<2/pandas<2, so it is
never installed in the project environment). Reads one line of JSON on stdin:
``{"groups": [{metric: [[n, sum, sum_squares] per arm]}], "kinds": {metric: kind}, "control": i}``,
runs it once untimed (imports, scipy set-up), prints ``ready``, then for every further line
prints ``{"ms": ...}``: the wall time of one run, i.e. for every group, metric and treatment arm
the three tests our analysis also reports (fixed-horizon t-test, sequential t-test, Bayesian
effect test), each on the relative scale as gbstats' defaults are. One round per line lets the
caller alternate gbstats with our analysis, so both sides see the same machine load. The leading
underscore keeps ``python -m bench`` from importing it into the project venv, which has no gbstats.
"""

from __future__ import annotations

import json
import sys
import time

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.frequentist.tests import SequentialConfig, SequentialTwoSidedTTest, TwoSidedTTest
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic


def statistic(kind: str, n: float, total: float, sum_squares: float):
    """gbstats' statistic object for one arm."""
    if kind == "binary":
        return ProportionStatistic(n=int(n), sum=total)
    return SampleMeanStatistic(n=int(n), sum=total, sum_squares=sum_squares)


def run(payload: dict) -> None:
    """Every test of every treatment arm against control, results discarded."""
    control = payload["control"]
    for group in payload["groups"]:
        for metric, arms in group.items():
            kind = payload["kinds"][metric]
            base = statistic(kind, *arms[control])
            for i, arm in enumerate(arms):
                if i == control:
                    continue
                other = statistic(kind, *arm)
                TwoSidedTTest(base, other).compute_result()
                SequentialTwoSidedTTest(base, other, SequentialConfig()).compute_result()
                EffectBayesianABTest(base, other, EffectBayesianConfig()).compute_result()


def main() -> None:
    payload = json.loads(sys.stdin.readline())
    run(payload)  # warm-up: imports and scipy set-up
    print("ready", flush=True)
    for _ in sys.stdin:
        start = time.perf_counter()
        run(payload)
        print(json.dumps({"ms": (time.perf_counter() - start) * 1000}), flush=True)


if __name__ == "__main__":
    main()
