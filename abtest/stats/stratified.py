"""Post-stratification by allocation period: unbiased arm means when Thompson weights move.

When the weights change over time and the conversion rate drifts over time too, pooling every
period's units per arm is biased: the arm that got most of its traffic in a good period looks
better than it is (Simpson's paradox). Within one allocation period (one ``weights_version``)
assignment is a fixed randomization, so each arm's mean in that period is unbiased for the
period's population. The post-stratified estimator weights those period means by the period's
share of all units, ``m_i = Σ_t (N_t / N) m_it``, with variance ``Σ_t (N_t / N)² s²_it / n_it``
(Miratrix, Sekhon & Yu 2013, eq. 2-3: strata fixed in advance, here the allocation periods).
Every arm is thus estimated over the same mix of periods, so differences between arms are not
confounded by time.

The result is given as one moment-matched :class:`~abtest.stats.summary.SampleStats` per arm
(same ``n``, ``mean`` equal to the stratified mean, and ``variance / n`` equal to the stratified
estimator's variance), so every existing test takes it unchanged, as a *numeric* metric (a
binary metric's Wald variance ``p(1-p)/n`` would ignore the stratification).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from abtest.stats.summary import SampleStats, binary_unit_variance


@dataclass(frozen=True)
class StratifiedArms:
    """Post-stratified statistics per arm, and what was left out.

    Attributes
    ----------
    arms : tuple of SampleStats
        Moment-matched statistics per arm (analyse as ``kind="numeric"``).
    periods_used : int
        Periods in which every arm had at least 2 units.
    units_left_out : int
        Units of the other periods (e.g. after a promotion only the winner gets traffic).
    """

    arms: tuple[SampleStats, ...]
    periods_used: int
    units_left_out: int


def post_stratify(
    periods: Sequence[Sequence[SampleStats]], *, binary: bool = False
) -> StratifiedArms:
    """Post-stratified arm means over allocation periods (one row of arms per period).

    Periods where some arm has fewer than 2 units (no variance estimate) are left out and
    counted in ``units_left_out``; with none left the arms come back empty (``n = 0``).

    Parameters
    ----------
    periods : sequence of sequence of SampleStats
        ``periods[t][i]``: arm ``i`` in allocation period ``t``.
    binary : bool
        0/1 values: a period where an arm's units all had the same outcome (no conversion
        yet) contributes :func:`~abtest.stats.summary.binary_unit_variance`, not 0, so an arm
        without conversions is not reported as certain.

    References
    ----------
    .. [1] Miratrix, L. W., Sekhon, J. S., Yu, B. (2013). "Adjusting treatment effect estimates
       by post-stratification in randomized experiments". J. R. Stat. Soc. B 75(2), 369-396.
    .. [2] Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed., section 5.2 (stratified mean
       and its variance).
    """
    k = len(periods[0]) if periods else 0
    used = [p for p in periods if all(arm.n >= 2 for arm in p)]
    left_out = sum(arm.n for p in periods for arm in p) - sum(arm.n for p in used for arm in p)
    if not used:
        return StratifiedArms((SampleStats(0, 0.0, 0.0),) * k, 0, left_out)
    sizes = [sum(arm.n for arm in p) for p in used]
    shares = [size / sum(sizes) for size in sizes]
    arms = tuple(_arm([p[i] for p in used], shares, binary) for i in range(k))
    return StratifiedArms(arms, len(used), left_out)


def _arm(strata: Sequence[SampleStats], shares: Sequence[float], binary: bool) -> SampleStats:
    """The moment-matched SampleStats of one arm's stratified mean and variance."""
    n = sum(s.n for s in strata)
    mean = sum(w * s.mean for w, s in zip(shares, strata, strict=True))
    variances = [_floored(s) if binary else s.variance for s in strata]
    variance_of_mean = sum(w * w * v / s.n for w, v, s in zip(shares, variances, strata,
                                                                 strict=True))
    unit_variance = variance_of_mean * n
    total = mean * n
    return SampleStats(n, total, unit_variance * (n - 1) + total * total / n)


def _floored(stratum: SampleStats) -> float:
    """The unbiased variance of a 0/1 stratum, or the floor when all its outcomes are equal."""
    if stratum.sum in (0, stratum.n):
        return binary_unit_variance(stratum)
    return stratum.variance
