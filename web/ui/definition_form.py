"""The experiment form and the experiment definition: one reads into the other.

The form is plain HTML (it works without JavaScript): field names are the definition's dotted
paths where the definition has one (``metrics.primary.name``, ``layer.range``), with units named
by their catalogue key instead of their position (``units.stock_left.variants``,
``units.stock_left.params.stock``). :func:`read_form` builds the definition dict and nothing
else; validation is the experiment schema's and :func:`experiments.definitions.compile_design`'s,
whose dotted error paths :func:`field_errors` maps back to the field that shows them.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

import variants
from abtest.rfm import TIERS
from experiments.errors import DomainError, FieldIssue, InvalidInput
from experiments.schema import PromotionRule, ThompsonAllocation
from variants import Catalogue, Unit
from variants.text import placeholders
from web.ui.issues import issue_text

CHANNELS = ("chat", "qianniu", "sms", "app", "web")
SEGMENTS = TIERS
OPERATORS = ("$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$regex", "$exists")
LIST_OPERATORS = ("$in", "$nin")
METRIC_LISTS = ("secondary", "guardrails")
BLANK_ROWS = 2
#: The schema's defaults, shown as the placeholders of the fields left blank to take them.
SCHEMA_DEFAULTS = {
    f"{prefix}.{name}": model.model_fields[name].default
    for prefix, model, names in [
        ("allocation", ThompsonAllocation, ("period_hours", "floor", "min_units")),
        ("promotion", PromotionRule, ("probability_best", "min_units_per_arm",
                                   "equivalence_margin")),
    ]
    for name in names
}
DESIGN_FIELDS = ("template", "units", "design", "arms", "control", "weights")
NEW_EXPERIMENT = MultiDict([("design", "factorial"), ("metrics.primary.name", "conversion"),
                            ("metrics.primary.kind", "binary"),
                            ("metrics.primary.higher_is_better", "on"),
                            ("allocation.mode", "fixed")])
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+")
_ANCHOR = re.compile(r"""(key|name|hypothesis|template|design|arms|control|weights|coverage
    |targeting(_json|\.channel|\.segment|\.hours|\.attr\.\d+)?
    |layer(\.name|\.range)?
    |units\.\w+(\.variants|\.params)?
    |metrics(\.primary\.(name|kind)|\.(secondary|guardrails)(\.\d+\.(name|kind))?)?
    |allocation(\.(mode|period_hours|floor|min_units))?
    |promotion(\.(probability_best|min_units_per_arm|equivalence_margin))?)""", re.X)


@dataclass
class ParsedForm:
    """The definition read from a form, problems only the form can have (malformed JSON or arm
    keys), and how definition paths map to form fields (``units.0`` → ``units.countdown``)."""

    definition: dict[str, Any] = field(default_factory=dict)
    issues: list[FieldIssue] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)


def read_form(form: MultiDict[str, str], catalogue: Catalogue) -> ParsedForm:
    """Serialise the form's fields into the definition dict (blank optional fields omitted)."""
    # pydantic names the allocation's union member in error paths: allocation.thompson.floor
    parsed = ParsedForm(paths={f"allocation.{mode}": "allocation"
                               for mode in ("fixed", "thompson")})
    text = {name: _text(form, name) for name in ("key", "name", "hypothesis", "template")}
    parsed.definition = {**text, "key": text["key"].strip(),
                         "units": _units(form, catalogue, text["template"], parsed),
                         "design": form.get("design", "factorial"),
                         "targeting": _targeting(form, parsed),
                         "metrics": _metrics(form, parsed),
                         "allocation": _allocation(form)}
    if parsed.definition["design"] == "arms":
        parsed.definition["arms"] = _arms(form, parsed)
    for name in ("control", "coverage"):
        if form.get(name, "").strip():
            parsed.definition[name] = form[name].strip()
    if form.get("weights", "").strip():
        parsed.definition["weights"] = [part.strip() for part in form["weights"].split(",")]
    if form.get("layer.name", "").strip():
        parsed.definition["layer"] = {"name": form["layer.name"].strip(), "range": [
            form.get("layer.start", "").strip() or "0.0",
            form.get("layer.end", "").strip() or "1.0"]}
    if "promotion.enabled" in form:
        parsed.definition["promotion"] = _filled(form, "promotion", (
            "probability_best", "min_units_per_arm", "equivalence_margin"))
    return parsed


def _text(form: MultiDict[str, str], name: str) -> str:
    """A text field with the browser's CRLF line breaks normalised."""
    return form.get(name, "").replace("\r\n", "\n")


def _filled(form: MultiDict[str, str], prefix: str, names: Iterable[str]) -> dict[str, str]:
    """The non-blank ``prefix.name`` fields (blank ones take the schema's default)."""
    values = {name: form.get(f"{prefix}.{name}", "").strip() for name in names}
    return {name: value for name, value in values.items() if value}


def _units(form: MultiDict[str, str], catalogue: Catalogue, template: str,
           parsed: ParsedForm) -> list[dict[str, Any]]:
    """Units with a ticked variant, in the order their slots appear in the template."""
    in_play = [unit for unit in catalogue if form.getlist(f"units.{unit}.variants")]
    try:
        slots = placeholders(template)
    except ValueError:  # compile_design reports the broken template
        slots = ()
    order = sorted(in_play, key=lambda u: slots.index(u) if u in slots else len(slots))
    parsed.paths.update({f"units.{i}": f"units.{unit}" for i, unit in enumerate(order)})
    return [{"unit": unit, "variants": form.getlist(f"units.{unit}.variants"),
             "params": {name: parameter_value(value) for name, value in
                        _filled(form, f"units.{unit}.params", catalogue[unit].parameters).items()}}
            for unit in order]


def parameter_value(text: str) -> str | int | float:
    """A number when the text is one (``3`` → 3, ``1.5`` → 1.5), else the text itself."""
    if _INTEGER.fullmatch(text):
        return int(text)
    return float(text) if _DECIMAL.fullmatch(text) else text


def _arms(form: MultiDict[str, str], parsed: ParsedForm) -> list[dict[str, str]]:
    """One arm key per line (``countdown=on|stock_left=off``), as the preview lists them."""
    lines = [line.strip() for line in form.get("arms", "").splitlines() if line.strip()]
    try:
        return [dict(variants.parse_arm_key(line)) for line in lines]
    except ValueError as error:
        parsed.issues.append(FieldIssue("arms", str(error), "arm_key", {"detail": str(error)}))
        return []


def _targeting(form: MultiDict[str, str], parsed: ParsedForm) -> Any:
    """The raw JSON condition when filled, else the condition built from the fields."""
    raw = form.get("targeting_json", "").strip()
    if not raw:
        return _combine(_clauses(form, parsed))
    try:
        return json.loads(raw)
    except ValueError as error:
        parsed.issues.append(FieldIssue("targeting_json", f"not valid JSON: {error}",
                                        "invalid_json", {"detail": str(error)}))
        return {}


def _clauses(form: MultiDict[str, str], parsed: ParsedForm) -> list[tuple[str, Any]]:
    clauses: list[tuple[str, Any]] = [
        (attribute, {"$in": form.getlist(f"targeting.{attribute}")})
        for attribute in ("channel", "segment") if form.getlist(f"targeting.{attribute}")]
    clauses += _hours(form, parsed)
    for row in _row_numbers(form, "targeting.attr", "key"):
        attribute = form.get(f"targeting.attr.{row}.key", "").strip()
        operator = form.get(f"targeting.attr.{row}.op", "$eq")
        if attribute:
            clauses.append((attribute, {operator: _operand(
                operator, form.get(f"targeting.attr.{row}.value", "").strip())}))
    return clauses


def _hours(form: MultiDict[str, str], parsed: ParsedForm) -> list[tuple[str, Any]]:
    """``hour`` in [from, to); a range past midnight (22 → 2) is two ranges joined by $or."""
    start, end = (form.get(f"targeting.hour_{side}", "").strip() for side in ("from", "to"))
    if not (start or end):
        return []
    if not (_INTEGER.fullmatch(start) and _INTEGER.fullmatch(end)
            and 0 <= int(start) <= 23 and 1 <= int(end) <= 24 and start != end):
        parsed.issues.append(FieldIssue("targeting.hours",
                                        "give both hours: from 0-23, to 1-24, not equal", "hours"))
        return []
    low, high = int(start), int(end)
    if low < high:
        return [("hour", {"$gte": low, "$lt": high})]
    return [("$or", [{"hour": {"$gte": low}}, {"hour": {"$lt": high}}])]


def _operand(operator: str, text: str) -> Any:
    """Lists for $in/$nin (comma separated), a boolean for $exists, else one JSON scalar."""
    if operator in LIST_OPERATORS:
        return [_scalar(part.strip()) for part in text.split(",") if part.strip()]
    if operator == "$exists":
        return text.lower() not in ("false", "0", "no")
    return _scalar(text)


def _scalar(text: str) -> Any:
    """``3`` is a number and ``true`` a boolean (JSON); anything else is text as typed."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str | int | float | bool) else text


def _combine(clauses: list[tuple[str, Any]]) -> dict[str, Any]:
    """One object when every attribute appears once, else an explicit $and."""
    names = [name for name, _ in clauses]
    if len(set(names)) == len(names):
        return dict(clauses)
    return {"$and": [{name: value} for name, value in clauses]}


def _metrics(form: MultiDict[str, str], parsed: ParsedForm) -> dict[str, Any]:
    """Primary always (a blank name is the schema's error), listed metrics when named."""
    metrics: dict[str, Any] = {"primary": _metric(form, "metrics.primary")}
    for kind in METRIC_LISTS:
        rows = [row for row in _row_numbers(form, f"metrics.{kind}", "name")
                if form.get(f"metrics.{kind}.{row}.name", "").strip()]
        parsed.paths.update({f"metrics.{kind}.{i}": f"metrics.{kind}.{row}"
                             for i, row in enumerate(rows)})
        metrics[kind] = [_metric(form, f"metrics.{kind}.{row}") for row in rows]
    return metrics


def _metric(form: MultiDict[str, str], prefix: str) -> dict[str, Any]:
    return {"name": form.get(f"{prefix}.name", "").strip(),
            "kind": form.get(f"{prefix}.kind", "binary"),
            "higher_is_better": f"{prefix}.higher_is_better" in form}


def _row_numbers(form: MultiDict[str, str], prefix: str, column: str) -> list[int]:
    """Row numbers present in the form for ``prefix.<n>.column``, in order."""
    pattern = re.compile(rf"{re.escape(prefix)}\.(\d+)\.{column}")
    return sorted({int(m.group(1)) for name in form if (m := pattern.fullmatch(name))})


def _allocation(form: MultiDict[str, str]) -> dict[str, Any]:
    mode = form.get("allocation.mode", "fixed")
    if mode != "thompson":
        return {"mode": mode}
    return {"mode": mode, **_filled(form, "allocation", ("period_hours", "floor", "min_units"))}


def preview_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Only what shapes the texts, with fixed stand-ins for the rest: the preview works while
    the key, name or metrics are still being typed."""
    stand_ins = {"key": "preview", "name": "preview",
                 "metrics": {"primary": {"name": "preview", "kind": "binary"}}}
    return {**stand_ins, **{name: definition[name] for name in DESIGN_FIELDS
                            if name in definition}}


def form_values(definition: Mapping[str, Any]) -> MultiDict[str, str]:
    """The form fields that read back into ``definition`` (to edit a stored experiment)."""
    values: list[tuple[str, str]] = [(name, str(definition.get(name) or "")) for name in
                                     ("key", "name", "hypothesis", "template", "design",
                                      "control", "coverage")]
    values += [("arms", "\n".join(variants.arm_key(arm) for arm in definition.get("arms") or []))]
    values += [("weights", ", ".join(str(w) for w in definition.get("weights") or []))]
    if definition.get("targeting"):
        values.append(("targeting_json", json.dumps(definition["targeting"], ensure_ascii=False)))
    for choice in definition.get("units", []):
        prefix = f"units.{choice['unit']}"
        values += [(f"{prefix}.variants", variant) for variant in choice["variants"]]
        values += [(f"{prefix}.params.{k}", str(v)) for k, v in choice["params"].items()]
    values += _metric_values(definition["metrics"])
    values += _flat("allocation", definition.get("allocation") or {"mode": "fixed"})
    if definition.get("layer"):
        layer = definition["layer"]
        values += [("layer.name", layer["name"]), ("layer.start", str(layer["range"][0])),
                   ("layer.end", str(layer["range"][1]))]
    if definition.get("promotion"):
        values += [("promotion.enabled", "on"), *_flat("promotion", definition["promotion"])]
    return MultiDict(values)


def _metric_values(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = [("metrics.primary", metrics["primary"])]
    rows += [(f"metrics.{kind}.{i}", metric) for kind in METRIC_LISTS
             for i, metric in enumerate(metrics.get(kind, []))]
    values = []
    for prefix, metric in rows:
        values += [(f"{prefix}.name", metric["name"]), (f"{prefix}.kind", metric["kind"])]
        if metric.get("higher_is_better", True):
            values.append((f"{prefix}.higher_is_better", "on"))
    return values


def _flat(prefix: str, section: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(f"{prefix}.{name}", str(value)) for name, value in section.items()]


def metric_rows(values: MultiDict[str, str], kind: str) -> list[int]:
    """Row numbers the form shows for a metric list: the filled ones and a few blank ones."""
    filled = _row_numbers(values, f"metrics.{kind}", "name")
    first_blank = max(filled, default=-1) + 1
    return [*filled, *range(first_blank, first_blank + BLANK_ROWS)]


def attribute_rows(values: MultiDict[str, str]) -> list[int]:
    """Row numbers of the targeting attribute rows (filled ones and a few blank ones)."""
    filled = _row_numbers(values, "targeting.attr", "key")
    first_blank = max(filled, default=-1) + 1
    return [*filled, *range(first_blank, first_blank + BLANK_ROWS + 1)]


def issues_of(error: DomainError) -> list[FieldIssue]:
    """Every field problem a service raised (one for errors that are not InvalidInput)."""
    if isinstance(error, InvalidInput):
        return error.issues
    return [FieldIssue(error.field or "", error.message, error.code)]


def field_errors(issues: Iterable[FieldIssue], paths: Mapping[str, str]) -> dict[str, list[str]]:
    """Messages in the visitor's language by the form field that shows them ("" for the whole
    form)."""
    errors: dict[str, list[str]] = {}
    for issue in issues:
        field_name = anchor(_translate(issue.field, paths))
        messages = errors.setdefault(field_name, [])
        text = issue_text(issue, field_name)
        if text not in messages:
            messages.append(text)
    return errors


def _translate(path: str, paths: Mapping[str, str]) -> str:
    for source in sorted(paths, key=len, reverse=True):
        if path == source or path.startswith(source + "."):
            return paths[source] + path[len(source):]
    return path


def anchor(path: str) -> str:
    """The nearest form field of a dotted path: ``layer.range.0`` → ``layer.range``."""
    while path and not _ANCHOR.fullmatch(path):
        path = path.rpartition(".")[0]
    return path


def parameter_defaults(unit: Unit) -> dict[str, str]:
    """Each parameter's default (from the first variant that has one): the field placeholder."""
    defaults: dict[str, str] = {}
    for variant in unit.variants.values():
        for name, value in variant.defaults.items():
            defaults.setdefault(name, str(value))
    return defaults
