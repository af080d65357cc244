"""Rendering a script: each ``{unit_key}`` slot of a template gets the chosen variant's text.

Parameter values are inserted verbatim (a value containing ``{stock}`` stays literal) and must be
``str``, ``int`` or ``float`` — what JSON and YAML give — so no object's ``__format__`` or
``__str__`` runs on the way. Every problem is a ValueError naming the unit, variant or parameter.
"""

from __future__ import annotations

from collections.abc import Mapping

from variants.catalogue import Unit
from variants.text import fill, placeholders

Choices = Mapping[str, str]
Params = Mapping[str, Mapping[str, object]]
_PARAMETER_TYPES = (str, int, float)


def render(
    template: str, choices: Choices, catalogue: Mapping[str, Unit], params: Params | None = None
) -> str:
    """The script for one arm: ``choices`` maps each unit slot in ``template`` to a variant key.

    ``params`` are per unit (``{"stock_left": {"stock": 3}}``) and override the variant's
    defaults. Literal braces in the template are written ``{{`` and ``}}``.
    """
    return fill(template, check_choices(choices, catalogue, params, template))


def check_choices(
    choices: Choices,
    catalogue: Mapping[str, Unit],
    params: Params | None = None,
    template: str | None = None,
) -> dict[str, str]:
    """Validate an arm (against ``template`` too, if given) and return each unit's rendered text.

    The one validation path: render() uses it, and so can a service checking an experiment
    definition before it goes live. Raises ValueError on an unknown unit or variant, a missing,
    unknown or ill-typed parameter, params for a unit not chosen, or choices that do not match
    the template's slots one to one.
    """
    if template is not None:
        _check_slots(placeholders(template), choices)
    params = params or {}
    not_chosen = [unit_key for unit_key in params if unit_key not in choices]
    if not_chosen:
        raise ValueError(f"params given for units not chosen: {', '.join(not_chosen)}")
    return {
        unit_key: _render_unit(_unit(catalogue, unit_key), variant_key, params.get(unit_key, {}))
        for unit_key, variant_key in choices.items()
    }


def _check_slots(slots: tuple[str, ...], choices: Choices) -> None:
    without_choice = [slot for slot in slots if slot not in choices]
    if without_choice:
        raise ValueError(f"template slots without a choice: {', '.join(without_choice)}")
    not_in_template = [unit_key for unit_key in choices if unit_key not in slots]
    if not_in_template:
        raise ValueError(
            f"choices for units the template has no slot for: {', '.join(not_in_template)}"
        )


def _unit(catalogue: Mapping[str, Unit], unit_key: str) -> Unit:
    if unit_key not in catalogue:
        raise ValueError(f"unknown unit {unit_key!r} (catalogue has: {', '.join(catalogue)})")
    return catalogue[unit_key]


def _render_unit(unit: Unit, variant_key: str, given: Mapping[str, object]) -> str:
    if variant_key not in unit.variants:
        known = ", ".join(unit.variants)
        raise ValueError(f"unit {unit.key!r} has no variant {variant_key!r} (variants: {known})")
    unknown = [name for name in given if name not in unit.parameters]
    if unknown:
        raise ValueError(
            f"unit {unit.key!r} has no parameter {', '.join(unknown)}"
            f" (parameters: {', '.join(unit.parameters) or 'none'})"
        )
    variant = unit.variants[variant_key]
    values = {**variant.defaults, **given}
    missing = [name for name in variant.parameters if name not in values]
    if missing:
        raise ValueError(
            f"unit {unit.key!r} variant {variant_key!r} needs parameter {', '.join(missing)}:"
            " give it in params (no default in the catalogue)"
        )
    texts = {name: _as_text(unit.key, name, values[name]) for name in variant.parameters}
    return fill(variant.text, texts)


def _as_text(unit_key: str, name: str, value: object) -> str:
    # type() rather than isinstance(): bool is no parameter, and no __class__ lookup on the value.
    if type(value) not in _PARAMETER_TYPES:
        raise ValueError(
            f"unit {unit_key!r} parameter {name!r} must be str, int or float,"
            f" not {type(value).__name__}"
        )
    return str(value)
