"""RFM customer segments: score an order export and store each unit's segment attributes.

:mod:`abtest.rfm` parses and scores; this service stores the result so that assignment can use
``segment`` for targeting and analysis can break results down by it, even when the storefront
does not send it (:func:`merge_attributes`, called by :mod:`experiments.assignment`).

Each import re-scores the whole population in the file and **replaces** the stored segments in
one transaction: units in the file get fresh attributes (created or updated), units absent from
the file lose their segment. RFM scores are quantiles of the scored population, so an old score
of a unit that is not in the new population is relative to a population that no longer exists;
keeping it would let a stale "core" label go on steering targeting. Export the full order history
you want scored (a customer with no order in the export is not a customer of the new scoring).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from abtest.rfm import (
    DEFAULT_TIER_RULES,
    TIERS,
    RfmScore,
    RowError,
    TierRules,
    read_orders,
    score_rfm,
)
from experiments.errors import FieldIssue, InvalidInput
from experiments.models import CustomerSegment, utcnow


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed: units per tier, created/updated/removed, and skipped rows."""

    as_of: datetime
    orders: int
    tiers: Mapping[str, int]
    created: int
    updated: int
    removed: int
    skipped: tuple[RowError, ...]

    @property
    def units(self) -> int:
        """Units stored by this import."""
        return sum(self.tiers.values())

    def lines(self) -> list[str]:
        """A plain-text summary for the command line, skipped rows with their line numbers."""
        tiers = ", ".join(f"{tier} {count}" for tier, count in self.tiers.items())
        lines = [
            f"scored {self.units} units from {self.orders} orders as of {self.as_of.isoformat()}",
            f"units per tier: {tiers}",
            f"created {self.created}, updated {self.updated}, "
            f"removed {self.removed} (absent from this file)",
            f"rows skipped: {len(self.skipped)}",
        ]
        return lines + [f"  line {error.line}: {error.message}" for error in self.skipped]


def import_orders(
    session: Session,
    stream: TextIO,
    as_of: datetime | None = None,
    bins: int = 5,
    rules: TierRules = DEFAULT_TIER_RULES,
) -> ImportSummary:
    """Score the orders in ``stream`` as of ``as_of`` (default now) and replace stored segments.

    Bad rows are skipped and listed; a file without a single good row raises InvalidInput and
    changes nothing, so a wrong file never wipes the segments.
    """
    try:
        read = read_orders(stream)
    except UnicodeDecodeError as error:  # e.g. a GBK export from Excel
        message = f"not UTF-8 text (byte {error.start}); save the CSV as UTF-8"
        raise InvalidInput([FieldIssue("file", message)]) from None
    except ValueError as error:  # a missing or ambiguous column
        raise InvalidInput([FieldIssue("file", str(error))]) from None
    if not read.orders:
        raise InvalidInput([FieldIssue("file", "no valid order rows; nothing was changed")])
    moment = as_of or utcnow()
    try:
        scores = score_rfm(read.orders, moment, bins, rules)
    except ValueError as error:
        raise InvalidInput([FieldIssue("as_of", str(error))]) from None
    if not scores:
        message = f"no order on or before {moment.isoformat()}; nothing was changed"
        raise InvalidInput([FieldIssue("as_of", message)])
    previous = set(session.scalars(select(CustomerSegment.unit_id)))
    _replace(session, scores.values(), moment)
    counts = Counter(score.tier for score in scores.values())
    return ImportSummary(
        as_of=moment,
        orders=len(read.orders),
        tiers={tier: counts[tier] for tier in TIERS},
        created=len(scores.keys() - previous),
        updated=len(scores.keys() & previous),
        removed=len(previous - scores.keys()),
        skipped=read.errors,
    )


def _replace(session: Session, scores: Iterable[RfmScore], as_of: datetime) -> None:
    """Every stored segment replaced by ``scores`` (one executemany insert)."""
    now = utcnow()
    rows = [
        {
            "unit_id": score.unit_id,
            "segment": score.tier,
            "attributes": score.as_attributes(),
            "scored_as_of": as_of,
            "imported_at": now,
        }
        for score in scores
    ]
    session.execute(delete(CustomerSegment))
    session.execute(insert(CustomerSegment), rows)


def merge_attributes(
    stored: Mapping[str, Any] | None, sent: Mapping[str, Any]
) -> dict[str, Any]:
    """The unit's stored segment attributes overlaid with those the storefront sent.

    Sent ones win: the storefront may know better right now (e.g. a first order since the last
    import), and tests or previews can force a segment.
    """
    return {**(stored or {}), **sent}
