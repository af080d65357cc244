"""RFM segmentation: read an order history, score recency/frequency/monetary, assign a tier.

E-commerce teams treat customers differently by how recently, how often and how much they buy
(Hughes 1994); experiments target the resulting ``segment`` attribute and results are broken down by
it. This module is the pure part: :func:`read_orders` parses a CSV export, :func:`score_rfm` turns
orders into one :class:`RfmScore` per unit, and :meth:`RfmScore.as_attributes` gives the dict that
is merged into a unit's targeting attributes.

Scoring is quantile-based, as Hughes' quintile method: customers are ranked on each dimension and
cut into ``bins`` equal-sized groups, 1 (worst) to ``bins`` (best: most recent, most frequent,
highest spend). Scores are therefore relative to the scored population, not absolute amounts or
days.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, TextIO

import numpy as np

Tier = Literal["core", "potential", "dormant", "regular"]
#: Every tier, in the order :meth:`TierRules.tier` tries them; ``regular`` is the fallthrough.
TIERS: tuple[Tier, ...] = ("core", "potential", "dormant", "regular")
HIGH_SPEND_LOW_ENGAGEMENT = "high_spend_low_engagement"

#: Accepted header names per required column, compared after :func:`_normalise_header`.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "unit id": ("unit_id", "customer_id", "customer", "user_id"),
    "order time": ("order_time", "ordered_at", "time", "order_date", "date", "created_at"),
    "amount": ("amount", "total", "order_total", "order_amount"),
}
# Plain digits, optionally grouped by thousands with commas ("1,299.00"); ASCII digits only so
# full-width or other Unicode digits are reported rather than silently converted by Decimal.
_AMOUNT = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
_BOM = "\ufeff"


@dataclass(frozen=True)
class Order:
    """One order of one unit (customer); ``ordered_at`` is timezone-aware, ``amount`` ≥ 0."""

    unit_id: str
    ordered_at: datetime
    amount: Decimal

    def __post_init__(self) -> None:
        """Reject values no order can have, so scoring never meets them."""
        if not self.unit_id:
            raise ValueError("unit id is empty")
        _require_aware(self.ordered_at, "ordered_at")
        if not self.amount.is_finite() or self.amount < 0:
            raise ValueError(f"amount must be a finite decimal >= 0, got {self.amount}")


@dataclass(frozen=True)
class RowError:
    """A skipped CSV row: its first line as a text editor counts (header = line 1) and why."""

    line: int
    message: str


@dataclass(frozen=True)
class OrdersReadResult:
    """Orders parsed from the good rows, and one error per skipped row, both in file order."""

    orders: tuple[Order, ...]
    errors: tuple[RowError, ...]


@dataclass(frozen=True)
class _Columns:
    """Positions of the required columns in the header."""

    unit_id: int
    ordered_at: int
    amount: int
    width: int


def read_orders(stream: TextIO) -> OrdersReadResult:
    """Parse a CSV order export with a header row; bad rows are reported and skipped.

    Header names are matched case-insensitively, ignoring surrounding blanks, with spaces and
    hyphens read as underscores (``Customer ID`` = ``customer_id``); see :data:`HEADER_ALIASES`.
    Other columns are ignored. A missing or ambiguous required column raises ValueError naming it
    and the headers found, since no row could be read. A UTF-8 byte-order mark (Excel's "CSV UTF-8")
    is dropped. An empty stream gives an empty result.

    Each row must have as many fields as the header: an unquoted ``1,299.00`` splits into two fields
    and is reported rather than misread. Order time is ISO 8601 (``datetime.fromisoformat``: a date,
    or a datetime with or without offset); naive values are taken as UTC, all are converted to UTC.
    Amount is a decimal ≥ 0 with ``.`` as decimal point and optional comma thousands grouping
    (``1,299.00``); a decimal comma (``12,5``), currency symbols and negative amounts (refunds) are
    rejected. Rows whose fields are all blank are skipped silently. Open files with ``newline=""``
    (as :mod:`csv` requires) so quoted fields may span lines; line numbers count physical lines.
    """
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        return OrdersReadResult((), ())
    columns = _locate_columns(header)
    orders: list[Order] = []
    errors: list[RowError] = []
    line = reader.line_num + 1
    for row in reader:
        if any(field.strip() for field in row):
            parsed = _parse_row(row, columns, line)
            if isinstance(parsed, Order):
                orders.append(parsed)
            else:
                errors.append(parsed)
        line = reader.line_num + 1
    return OrdersReadResult(tuple(orders), tuple(errors))


def _normalise_header(name: str) -> str:
    """Header as compared with :data:`HEADER_ALIASES`: trimmed, casefolded, ``_`` for space/-."""
    return re.sub(r"[\s\-]+", "_", name.strip().casefold())


def _locate_columns(header: Sequence[str]) -> _Columns:
    """Index of each required column, or ValueError naming the column and the headers found."""
    names = [_normalise_header(name.removeprefix(_BOM)) for name in header]
    found = [name.removeprefix(_BOM) for name in header]
    positions: list[int] = []
    for role, aliases in HEADER_ALIASES.items():
        matches = [i for i, name in enumerate(names) if name in aliases]
        if len(matches) != 1:
            problem = "missing" if not matches else "ambiguous"
            raise ValueError(
                f"{problem} {role} column (expected exactly one of {', '.join(aliases)}); "
                f"headers found: {found}"
            )
        positions.extend(matches)
    return _Columns(*positions, width=len(header))


def _parse_row(row: Sequence[str], columns: _Columns, line: int) -> Order | RowError:
    """The row's order, or the first reason it cannot be one."""
    if len(row) != columns.width:
        return RowError(
            line, f"expected {columns.width} fields, found {len(row)} (an unquoted comma?)"
        )
    try:
        return Order(
            unit_id=_parse_unit_id(row[columns.unit_id]),
            ordered_at=_parse_time(row[columns.ordered_at]),
            amount=_parse_amount(row[columns.amount]),
        )
    except ValueError as error:
        return RowError(line, str(error))


def _parse_unit_id(text: str) -> str:
    """Trimmed unit id; any non-empty text (e.g. Chinese names) is an id."""
    unit_id = text.strip()
    if not unit_id:
        raise ValueError("unit id is empty")
    return unit_id


def _parse_time(text: str) -> datetime:
    """ISO 8601 date or datetime in UTC; a value without offset is taken as UTC."""
    text = text.strip()
    if not text:
        raise ValueError("order time is empty")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"order time {text!r} is not an ISO 8601 date or datetime") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _parse_amount(text: str) -> Decimal:
    """Decimal ≥ 0 from ``1299``, ``1299.00`` or ``1,299.00``."""
    text = text.strip()
    if text.startswith("-") and _AMOUNT.fullmatch(text[1:]):
        raise ValueError(f"amount {text!r} is negative (a refund is not an order)")
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"amount {text!r} is not a decimal number like 1299.00 or 1,299.00")
    return Decimal(text.replace(",", ""))


@dataclass(frozen=True)
class TierRules:
    """Thresholds of the tiers and tags, as levels on each score's scale so they fit any ``bins``.

    A score ``s`` of ``1..bins`` has level ``(s - 1) / (bins - 1)``: 0 for the worst bin, 1 for the
    best. On 5 bins the defaults read: core = R, F and M all ≥ 4; potential = R ≥ 3 (bought
    recently) but not core; dormant = R, F and M all ≤ 2. Tiers are tried in :data:`TIERS` order and
    the first that matches wins, so every unit gets exactly one; ``regular`` takes the rest (e.g. a
    lapsed customer who used to spend a lot). The tag ``high_spend_low_engagement`` is independent
    of the tier: M ≥ 4 with F ≤ 2 or R ≤ 2 (big spenders to win back or to grow).
    """

    core_min: float = 0.75
    potential_recency_min: float = 0.5
    dormant_max: float = 0.25
    high_spend_min: float = 0.75
    low_engagement_max: float = 0.25

    def __post_init__(self) -> None:
        """Levels live in [0, 1]; anything else is a typo that would silently empty a tier."""
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"TierRules.{name} must be within [0, 1], got {value}")

    def tier(self, r: int, f: int, m: int, bins: int) -> Tier:
        """The first tier of :data:`TIERS` whose rule the scores meet."""
        levels = [_level(score, bins) for score in (r, f, m)]
        if min(levels) >= self.core_min:
            return "core"
        if levels[0] >= self.potential_recency_min:
            return "potential"
        if max(levels) <= self.dormant_max:
            return "dormant"
        return "regular"

    def tags(self, r: int, f: int, m: int, bins: int) -> tuple[str, ...]:
        """Tags the scores earn besides the tier."""
        high_spend = _level(m, bins) >= self.high_spend_min
        low_engagement = min(_level(r, bins), _level(f, bins)) <= self.low_engagement_max
        return (HIGH_SPEND_LOW_ENGAGEMENT,) if high_spend and low_engagement else ()


DEFAULT_TIER_RULES = TierRules()


def _level(score: int, bins: int) -> float:
    """Position of ``score`` on ``1..bins`` as a fraction: 0 worst, 1 best."""
    return (score - 1) / (bins - 1)


@dataclass(frozen=True)
class RfmScore:
    """A unit's RFM figures as of the scoring date, its scores ``1..bins``, tier and tags."""

    unit_id: str
    recency_days: int
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    tier: Tier
    tags: tuple[str, ...]

    @property
    def code(self) -> str:
        """Hughes' RFM cell code, e.g. ``"545"``."""
        return f"{self.r}{self.f}{self.m}"

    def as_attributes(self) -> dict[str, str | int | bool]:
        """Targeting attributes: the tier as ``segment``, the scores, and each tag as a flag."""
        return {
            "segment": self.tier,
            "rfm": self.code,
            "rfm_r": self.r,
            "rfm_f": self.f,
            "rfm_m": self.m,
            HIGH_SPEND_LOW_ENGAGEMENT: HIGH_SPEND_LOW_ENGAGEMENT in self.tags,
        }


@dataclass(frozen=True)
class _Totals:
    """One unit's running figures while orders are read."""

    last_order: datetime
    count: int
    amount: Decimal

    def add(self, order: Order) -> _Totals:
        """Totals including ``order``."""
        return _Totals(
            max(self.last_order, order.ordered_at), self.count + 1, self.amount + order.amount
        )


def score_rfm(
    orders: Iterable[Order],
    as_of: datetime,
    bins: int = 5,
    rules: TierRules = DEFAULT_TIER_RULES,
) -> dict[str, RfmScore]:
    """Score every unit with an order on or before ``as_of``; keyed and ordered by unit id.

    Recency is whole days from the unit's last order to ``as_of`` (``timedelta.days``, floored),
    frequency the number of orders, monetary their total amount. Each is turned into a score of
    ``1..bins`` by :func:`quantile_scores` (fewer days scores higher), then :class:`TierRules`
    give the tier and tags.

    Orders after ``as_of`` are ignored, not an error: scoring a full history as of a past date
    reproduces the segments units had then (e.g. when an experiment started). ``as_of`` must be
    timezone-aware. ``bins`` is 2 to 9 so the RFM code stays three digits. No orders, no scores.
    """
    if not 2 <= bins <= 9:
        raise ValueError(f"bins must be between 2 and 9, got {bins}")
    _require_aware(as_of, "as_of")
    totals = _totals_by_unit(orders, as_of)
    units = sorted(totals)
    recency = [(as_of - totals[unit].last_order).days for unit in units]
    frequency = [totals[unit].count for unit in units]
    monetary = [totals[unit].amount for unit in units]
    r_scores = quantile_scores([-days for days in recency], bins)
    f_scores = quantile_scores(frequency, bins)
    m_scores = quantile_scores([float(amount) for amount in monetary], bins)
    return {
        unit: RfmScore(
            unit, days, count, amount, r, f, m, rules.tier(r, f, m, bins), rules.tags(r, f, m, bins)
        )
        for unit, days, count, amount, r, f, m in zip(
            units, recency, frequency, monetary, r_scores, f_scores, m_scores, strict=True
        )
    }


def _totals_by_unit(orders: Iterable[Order], as_of: datetime) -> dict[str, _Totals]:
    """Per-unit last order, count and total over the orders up to ``as_of``."""
    totals: dict[str, _Totals] = {}
    for order in orders:
        if order.ordered_at > as_of:
            continue
        previous = totals.get(order.unit_id)
        totals[order.unit_id] = (
            _Totals(order.ordered_at, 1, order.amount) if previous is None else previous.add(order)
        )
    return totals


def quantile_scores(values: Sequence[float], bins: int) -> list[int]:
    """Score ``1..bins`` per value by its mid-rank percentile; higher value, higher score.

    The percentile rank of a value is ``p = (below + equal / 2) / n`` (ties share the average rank,
    scipy's ``rankdata(method="average")``, minus one half: the Hazen plotting position [2]_), and
    its score is ``floor(bins * p) + 1``. With distinct values this cuts the ranked units into
    ``bins`` equal groups (Hughes' quintiles [1]_ for ``bins=5``); equal values always get equal
    scores, and a tie group lands in the bin of its middle, so a lone unit or an all-equal
    population scores mid-scale. Integer arithmetic (``2 * rank`` is whole) keeps bin edges exact.

    References
    ----------
    .. [1] Hughes, A. M. (1994). *Strategic Database Marketing*. Probus Publishing (RFM
       quintile scoring: rank the customer file, cut it into fifths per dimension).
    .. [2] Hyndman, R. J., Fan, Y. (1996). "Sample quantiles in statistical packages".
       The American Statistician 50(4), 361-365 (definition 5, the Hazen plotting position).
    """
    if not values:
        return []
    _, group_of, counts = np.unique(
        np.asarray(values, dtype=float), return_inverse=True, return_counts=True
    )
    below = np.cumsum(counts) - counts
    twice_rank_minus_one = 2 * below + counts  # 2 * (average 1-based rank) - 1
    scores = (bins * twice_rank_minus_one) // (2 * len(values)) + 1
    return [int(score) for score in scores[group_of]]


def _require_aware(moment: datetime, name: str) -> None:
    """Naive datetimes are refused: comparing them with aware ones is an error or a silent shift."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
