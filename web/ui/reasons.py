"""The statistics engine's reasons in the marketer's language.

The pure core says why a figure is missing or flagged with a stable ``reason_code`` and its
``reason_params`` beside an English ``reason`` (:mod:`abtest.stats.reasons`). Here each code
maps to a message of the Flask-Babel catalogue, the one catalogue of the pages, and the
parameters are formatted in readably (arm keys, not Python lists). The experiment page
translates with the request's locale; the weekly report, written by the CLI without a request,
with the catalogue of the report's language.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from babel.support import Translations
from flask_babel import gettext

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
Describe = Callable[[Mapping[str, Any]], str]


def N_(message: str) -> str:  # noqa: N802 (pybabel's default keyword for "mark, do not translate")
    """Mark ``message`` for extraction; it is translated when shown."""
    return message


MESSAGES: dict[str, str] = {
    "no_units_exposed": N_("No shopper has seen the experiment yet."),
    "srm_weight_zero": N_("Shoppers were assigned to an arm whose weight is 0: check the "
                          "assignment."),
    "srm_mismatch": N_("The traffic split does not match the weights (p = %(p_value)s < "
                       "%(threshold)s): check assignment and tracking."),
    "srm_no_units": N_("No shopper has been assigned yet."),
    "srm_single_arm": N_("Only one arm receives traffic, so the split cannot mismatch."),
    "guardrail_lower": N_("significantly lower than control by the %(test)s (p = %(p_value)s)"),
    "guardrail_higher": N_("significantly higher than control by the %(test)s (p = "
                           "%(p_value)s)"),
    "baseline_rate_out_of_range": N_("The sample size needs a control conversion rate above 0 "
                                     "and below 1 (now %(rate)s)."),
    "sd_not_positive": N_("The sample size needs a metric that varies between shoppers "
                          "(a standard deviation above 0)."),
    "target_rate_out_of_range": N_("The planned lift would take the conversion rate to "
                                   "%(rate)s, outside 0 to 1."),
    "zero_effect": N_("A zero effect cannot be detected with any number of shoppers."),
    "enough_units": N_("Enough shoppers already for the planned effect."),
    "no_traffic": N_("No daily traffic reaches the experiment yet."),
    "days_needed": N_("Needs about %(days)s more days."),
    "days_needed_one": N_("Needs about one more day."),
    "ended_short": N_("The experiment ended %(remaining)s shoppers per arm short of the "
                      "%(n)s planned."),
    "no_cell_units": N_("No combination of variants has shoppers yet."),
    "empty_cells": N_("These combinations have no shoppers yet: %(cells)s"),
    "single_level_units": N_("These units have one variant in play, so there is no effect to "
                             "estimate: %(units)s"),
    "same_outcome": N_("Every shopper has the same outcome so far: nothing to model yet."),
    "not_identifiable": N_("Some combinations are missing, so some effects cannot be "
                           "estimated."),
    "not_converged": N_("The logistic regression did not converge."),
    "perfect_separation": N_("A combination of variants predicts the outcome exactly: the "
                             "effects cannot be estimated."),
    "too_few_units": N_("Fewer shoppers than model terms."),
    "exact_fit": N_("The model fits every shopper exactly: there is no residual variance."),
    "no_unit_varies": N_("Every arm uses the same variants: no unit varies."),
}


#: The tests a results row can rest on, by ``decision_basis`` (a guardrail alert names its row's).
TESTS: dict[str, str] = {
    "sequential": N_("two-sided sequential test of the relative lift"),
    "fixed_horizon": N_("two-sided fixed-horizon test of the relative lift"),
}


def row_test_name(basis: str, translate: Callable[[str], str] = gettext) -> str:
    """The test of a results row under ``basis``, in the catalogue of ``translate``."""
    return translate(TESTS[basis]) if basis in TESTS else basis


def describe(section: Mapping[str, Any], translate: Callable[[str], str] = gettext) -> str:
    """A result section's reason in the catalogue of ``translate`` (default: the request's);
    the English ``reason`` when the code is unknown (a newer engine, an older catalogue)."""
    code = section.get("reason_code") or ""
    params = dict(section.get("reason_params") or {})
    if code == "days_needed" and params.get("days") == 1:
        code = "days_needed_one"
    if code not in MESSAGES:
        return str(section.get("reason") or "")
    if "test" in params:
        params["test"] = row_test_name(params["test"], translate)
    return translate(MESSAGES[code]) % {name: shown(value) for name, value in params.items()}


def shown(value: Any, digits: int = 3) -> str:
    """A message parameter as text: lists joined (``countdown=off|stock_left=on, …``), floats
    to ``digits`` significant digits (1.0 → 1), the rest as they are."""
    if isinstance(value, list | tuple):
        return ", ".join(shown(item, digits) for item in value)
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def describer(lang: str) -> Describe:
    """:func:`describe` in ``lang`` outside a request (the weekly report of the CLI)."""
    catalogue = Translations.load(str(TRANSLATIONS), [lang])
    return lambda section: describe(section, catalogue.gettext)
