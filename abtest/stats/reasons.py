"""Why a figure is missing or flagged, in a form other languages can be built from.

Every result that carries an English ``reason`` also carries a stable ``reason_code`` and its
``reason_params`` (JSON-ready values): the English text is for logs, the terminal and API
clients; a user interface maps the code to its own translated message and formats the
parameters in. The core stays free of any translation machinery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Every reason code the engine gives: a translation covers exactly these.
CODES = frozenset({
    "no_units_exposed",
    "srm_weight_zero", "srm_mismatch", "srm_no_units", "srm_single_arm",
    "guardrail_lower", "guardrail_higher",
    "baseline_rate_out_of_range", "sd_not_positive", "target_rate_out_of_range", "zero_effect",
    "enough_units", "no_traffic", "days_needed", "ended_short",
    "no_cell_units", "empty_cells", "single_level_units", "same_outcome", "not_identifiable",
    "not_converged", "perfect_separation", "too_few_units", "exact_fit", "no_unit_varies",
})
#: ``(status, reason, reason_code, reason_params)``: splats into the last four fields of a result.
Problem = tuple[str, str, str, dict[str, Any]]


def problem(status: str, code: str, text: str, **params: Any) -> Problem:
    """A result's status with its English reason, stable code (one of :data:`CODES`) and
    parameters."""
    if code not in CODES:
        raise ValueError(f"unknown reason code {code!r}: add it to CODES and its translations")
    return status, text, code, params


def cell_key(choices: Mapping[str, str]) -> str:
    """``countdown=off|stock_left=on``: one factorial cell as the arm keys spell it."""
    return "|".join(f"{unit}={variant}" for unit, variant in choices.items())


def cell_keys(cells: Sequence[Mapping[str, str]]) -> list[str]:
    """Every cell's :func:`cell_key`, in order."""
    return [cell_key(cell) for cell in cells]
