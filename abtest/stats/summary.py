"""Sufficient statistics of one sample: everything the tests need, nothing row-level.

The database aggregates ``COUNT``, ``SUM(x)`` and ``SUM(x*x)`` per group (DESIGN.md, "Analysis never
loads raw rows"); every test in :mod:`abtest.stats` starts from these three numbers, as GrowthBook's
gbstats ``SampleMeanStatistic`` does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: A metric is a 0/1 outcome per unit (a rate) or a number per unit (a mean).
MetricKind = Literal["binary", "numeric"]
#: Undefined figures stay NaN in results (``null`` in JSON).
NAN = float("nan")
NAN_PAIR = (NAN, NAN)


def check_kind(kind: str) -> None:
    """Refuse a metric kind other than "binary" or "numeric"."""
    if kind not in ("binary", "numeric"):
        raise ValueError(f"kind must be 'binary' or 'numeric', got {kind!r}")


@dataclass(frozen=True)
class SampleStats:
    """``n`` units, ``sum`` and ``sum_squares`` of their metric values.

    For a binary metric each value is 0 or 1, so ``sum_squares == sum`` (the number of successes).
    """

    n: int
    sum: float
    sum_squares: float

    @classmethod
    def binary(cls, n: int, successes: int) -> SampleStats:
        """Stats of ``successes`` ones among ``n`` 0/1 values."""
        return cls(n=n, sum=float(successes), sum_squares=float(successes))

    @property
    def mean(self) -> float:
        """Sample mean; 0 for an empty sample so callers can report "no data" without dividing."""
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Unbiased sample variance ``(Σx² − (Σx)²/n) / (n − 1)``; 0 when n < 2.

        Clipped at 0: the subtraction can go a few ulps negative for constant data.
        """
        if self.n < 2:
            return 0.0
        return max((self.sum_squares - self.sum * self.sum / self.n) / (self.n - 1), 0.0)

    def __add__(self, other: SampleStats) -> SampleStats:
        """Pool two disjoint samples (e.g. two days, or two allocation periods)."""
        return SampleStats(
            self.n + other.n, self.sum + other.sum, self.sum_squares + other.sum_squares
        )


def binary_unit_variance(arm: SampleStats) -> float:
    """Per-unit variance ``p(1 - p)`` of a 0/1 sample, with ``p = (x + 0.5) / (n + 1)`` when
    every unit had the same outcome (``x`` is 0 or ``n``).

    Why: such a sample's plug-in variance is 0, which claims certainty exactly where counts are
    smallest (an arm without conversions at a 0.1% base rate); half a pseudo success keeps it
    positive and leaves every other sample as it is.

    References
    ----------
    .. [1] Anscombe, F. J. (1956). "On estimating binomial response relations". Biometrika
       43(3/4), 461-464 (adding 1/2 to binomial counts).
    .. [2] Agresti, A., Caffo, B. (2000). "Simple and effective confidence intervals for
       proportions and differences of proportions result from adding two successes and two
       failures". The American Statistician 54(4), 280-288.
    """
    p = (arm.sum + 0.5) / (arm.n + 1) if arm.sum in (0, arm.n) else arm.mean
    return p * (1 - p)
