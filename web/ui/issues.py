"""Form problems in the visitor's language, each naming the field's label.

Validation speaks English for the API and the CLI; every :class:`~experiments.errors.FieldIssue`
also carries a ``code`` (pydantic's error type such as ``string_pattern_mismatch``, or one of
the definition rules such as ``weights_sum``) and its ``params``. Here the code becomes a
catalogue message and the dotted path the label the form shows. A code without a message
keeps the English text, behind the translated label.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from experiments.errors import FieldIssue
from web.ui import reasons

#: The label of each form field (:func:`web.ui.definition_form.anchor` of a path).
LABELS = {
    "": _l("Experiment"), "segment": _l("Break down by attribute"),
    "key": _l("Key"), "name": _l("Name"), "hypothesis": _l("Hypothesis"),
    "template": _l("Script template"), "units": _l("Units"), "design": _l("Design"),
    "arms": _l("Chosen arms"), "control": _l("Control arm"), "weights": _l("Weights"),
    "coverage": _l("Coverage"), "targeting": _l("Targeting"), "targeting_json": _l("Condition"),
    "targeting.hours": _l("Hours"), "layer": _l("Layer"), "layer.name": _l("Layer name"),
    "layer.range": _l("Layer range"), "metrics": _l("Metrics"),
    "metrics.primary.name": _l("Primary metric"), "allocation": _l("Allocation"),
    "allocation.period_hours": _l("Re-weight every (hours)"),
    "allocation.floor": _l("Floor: least share per arm"),
    "allocation.min_units": _l("Units per arm before re-weighting"),
    "promotion.probability_best": _l("Chance to be best at least"),
    "promotion.min_units_per_arm": _l("Units per arm at least"),
    "promotion.equivalence_margin": _l("As good as the best within (relative)"),
    "arm": _l("Winning arm"),
}
#: Patterns of experiments.schema, said in words.
PATTERNS = {
    r"^[a-z0-9][a-z0-9-]{0,63}$": _l("lower-case letters, digits and hyphens (-), starting "
                                     "with a letter or digit, at most 64"),
    r"^[A-Za-z_][A-Za-z0-9_]{0,63}$": _l("letters, digits and underscores, not starting with "
                                         "a digit, at most 64"),
}
#: By ``code:field`` first, then by ``code``; ``%(field)s`` is the label.
MESSAGES = {
    "missing": _l("%(field)s: please fill this in."),
    "string_pattern_mismatch": _l("%(field)s: use %(pattern)s."),
    "string_too_short": _l("%(field)s: please fill this in."),
    "string_too_long": _l("%(field)s: at most %(max_length)s characters."),
    "too_short": _l("%(field)s: choose at least %(min_length)s."),
    "greater_than": _l("%(field)s: must be greater than %(gt)s."),
    "greater_than_equal": _l("%(field)s: must be at least %(ge)s."),
    "less_than": _l("%(field)s: must be less than %(lt)s."),
    "less_than_equal": _l("%(field)s: must be at most %(le)s."),
    "float_parsing": _l("%(field)s: enter a number such as 0.5."),
    "float_type": _l("%(field)s: enter a number such as 0.5."),
    "int_parsing": _l("%(field)s: enter a whole number."),
    "int_from_float": _l("%(field)s: enter a whole number."),
    "finite_number": _l("%(field)s: enter a finite number."),
    "literal_error": _l("%(field)s: choose one of %(expected)s."),
    "union_tag_invalid": _l("%(field)s: choose one of %(expected_tags)s."),
    "extra_forbidden": _l("%(field)s: this setting is not known."),
    "conflict:key": _l("%(field)s: an experiment with this key already exists."),
    "unit_twice": _l("%(field)s: unit %(unit)s is listed twice."),
    "variant_twice": _l("%(field)s: a variant is ticked twice."),
    "bad_params": _l("%(field)s: the parameters do not fit the texts (%(detail)s)."),
    "bad_template": _l("%(field)s: the template does not fit the units (%(detail)s)."),
    "invalid_condition": _l("%(field)s: the condition is not valid (%(detail)s)."),
    "weights_count": _l("%(field)s: %(weights)s weights for %(arms)s arms; give one per arm."),
    "weights_sum": _l("%(field)s: the weights add up to %(total)s; they must add up to 1."),
    "floor_too_high": _l("%(field)s: %(floor)s × %(arms)s arms is more than 1."),
    "metric_twice": _l("%(field)s: a metric name is used twice."),
    "not_an_arm": _l("%(field)s: %(control)s is not an arm; the arms are %(arms)s."),
    "hours": _l("%(field)s: give both hours, from 0-23 and to 1-24, not equal."),
    "invalid_json": _l("%(field)s: this is not valid JSON (%(detail)s)."),
    "arm_key": _l("%(field)s: %(detail)s (one arm per line, like countdown=on|stock_left=off)."),
}


def issue_text(issue: FieldIssue, field: str) -> str:
    """``issue`` worded for the form field ``field`` (its anchor) in the request's language."""
    label = field_label(field)
    message = MESSAGES.get(f"{issue.code}:{field}") or MESSAGES.get(issue.code)
    try:
        return str(message) % {**_shown(issue.params), "field": label}
    except (KeyError, TypeError):  # no message for the code, or pydantic changed its context
        return gettext("%(field)s: %(message)s", field=label, message=issue.message)


def field_label(field: str) -> str:
    """The label of ``field`` or of the nearest labelled field above it; a unit's fields say
    which unit (``units.stock_left.params`` → "Units stock_left")."""
    parts = field.split(".")
    if parts[0] == "units" and len(parts) > 1:
        return f"{LABELS['units']} {parts[1]}"
    while parts and ".".join(parts) not in LABELS:
        parts.pop()
    return str(LABELS[".".join(parts)])


def _shown(params: Mapping[str, Any]) -> dict[str, str]:
    """Lists joined, numbers short (1.0 → 1), schema patterns in words, the rest as text."""
    shown = {name: reasons.shown(value, digits=6) for name, value in params.items()}
    if "pattern" in shown:
        shown["pattern"] = str(PATTERNS.get(shown["pattern"], shown["pattern"]))
    return shown
