"""Time :func:`abtest.allocation.thompson_weights` for 16 binary arms (10,000 draws each)."""

from __future__ import annotations

import timeit

import numpy as np

from abtest.allocation import thompson_weights
from abtest.stats.summary import SampleStats

ARMS = 16
CALLS = 50


def main() -> None:
    """Print the mean milliseconds per call over ``CALLS`` calls (best of 3 repeats)."""
    rng = np.random.default_rng(0)
    arms = [SampleStats.binary(5000, int(c)) for c in rng.binomial(5000, 0.05, ARMS)]
    thompson_weights(arms, seed=1)  # warm-up: imports, scipy distribution set-up
    timer = timeit.Timer(lambda: thompson_weights(arms, seed=1))
    best = min(timer.repeat(repeat=3, number=CALLS)) / CALLS
    print(f"thompson_weights, {ARMS} binary arms, 10,000 draws: {best * 1000:.2f} ms/call")


if __name__ == "__main__":
    main()
