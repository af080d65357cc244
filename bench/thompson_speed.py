"""Time :func:`abtest.allocation.thompson_weights` for 16 binary arms (goal: under 10 ms/call).

Prints the default draw count (:data:`abtest.allocation.DEFAULT_DRAWS`) beside 10,000 draws, with
the worst-case Monte Carlo standard error of a weight, ``0.5 / sqrt(draws)``, for each.
"""

from __future__ import annotations

import math
import timeit

import numpy as np

from abtest.allocation import DEFAULT_DRAWS, thompson_weights
from abtest.stats.summary import SampleStats

ARMS = 16
CALLS = 50


def _ms_per_call(arms: list[SampleStats], draws: int) -> float:
    """Best of 3 repeats of ``CALLS`` calls: the least disturbed by other processes."""
    thompson_weights(arms, seed=1, draws=draws)  # warm-up
    timer = timeit.Timer(lambda: thompson_weights(arms, seed=1, draws=draws))
    return min(timer.repeat(repeat=3, number=CALLS)) / CALLS * 1000


def main() -> None:
    """Print milliseconds per call for the default and for 10,000 draws."""
    rng = np.random.default_rng(0)
    arms = [SampleStats.binary(5000, int(c)) for c in rng.binomial(5000, 0.05, ARMS)]
    for draws in sorted({DEFAULT_DRAWS, 10_000}):
        label = " (default)" if draws == DEFAULT_DRAWS else ""
        print(
            f"thompson_weights, {ARMS} binary arms, {draws:,} draws{label}: "
            f"{_ms_per_call(arms, draws):.2f} ms/call, "
            f"Monte Carlo SE <= {0.5 / math.sqrt(draws):.4f}"
        )


if __name__ == "__main__":
    main()
