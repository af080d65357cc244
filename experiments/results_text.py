"""The results document of :func:`experiments.results.results_document` as terminal text
(``abtest results KEY``): the decision's paragraph, one table per metric, SRM, power,
factorial and segments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from abtest import verdict as verdicts


def format_results(document: dict[str, Any]) -> str:
    """A terminal report of :func:`results_document`: one table per metric, SRM, factorial."""
    lines = [
        f"{document['experiment']} ({document['experiment_status']}): "
        f"headline {document['decision_basis'].replace('_', ' ')}, alpha {document['alpha']}",
        f"estimator: {document['estimator']}",
        f"verdict: {verdicts.render(verdicts.decision_of(document), 'en')}",
    ]
    if document["status"] != "ok":
        lines.append(f"no data: {document['reason']}")
    for metric in document["metrics"]:
        lines += ["", f"{metric['name']} ({metric['kind']}, {metric['role']})", *_arm_table(metric)]
        if metric.get("events_out_of_bound"):
            lines.append(f"{metric['events_out_of_bound']} event(s) left out: value beyond any"
                         " metric's bound (stored before values were bounded)")
    srm = document["srm"]
    lines += [
        "",
        f"SRM: p = {_num(srm['p_value'])}"
        f"{' MISMATCH' if srm['mismatch'] else ''} {srm['reason']}".rstrip(),
    ]
    lines.append(f"power: {document['power']['reason']}")
    lines += _factorial_table(document["factorial"])
    lines += _segment_tables(document["segments"])
    return "\n".join(lines)


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def _arm_table(metric: dict[str, Any]) -> list[str]:
    """Each arm's relative lift with its headline interval and the p-value of that scale."""
    header = ("arm", "units", "mean", "lift (CI)", "p (rel)", "P(>ctrl)", "P(best)")
    rows = [header]
    for arm in metric["arms"]:
        lift, headline = arm["lift"], arm["headline"]
        ci = headline["ci"] if headline else None
        shown = (
            "control"
            if lift is None or ci is None
            else (f"{_pct(lift['relative'])} [{_pct(ci[0])}, {_pct(ci[1])}]")
        )
        rows.append(
            (
                arm["arm"],
                str(arm["units"]),
                _num(arm["mean"], 4),
                shown,
                _num(headline["p_value"] if headline else None),
                _num(arm["chance_to_beat_control"]),
                _num(arm["probability_best"]),
            )
        )
    return _columns(rows)


def _factorial_table(factorial: dict[str, Any] | None) -> list[str]:
    if factorial is None:
        return []
    lines = ["", f"factorial ({factorial['metric']}): {factorial['status']} {factorial['reason']}"]
    if factorial["terms"]:
        rows = [("term", "estimate", "CI", "p")]
        rows += [
            (
                t["term"],
                _num(t["estimate"]),
                f"[{_num(t['ci'][0])}, {_num(t['ci'][1])}]",
                _num(t["p_value"]),
            )
            for t in factorial["terms"]
        ]
        lines += _columns(rows)
    return lines


def _segment_tables(segments: dict[str, Any]) -> list[str]:
    """The primary metric's arm table within each segment (none when none was asked for)."""
    lines = []
    for segment in segments["values"]:
        primary = segment["metrics"][0]
        lines += [
            "",
            f"{segments['attribute']} = {segment['value']} ({segment['units']} units), "
            f"{primary['name']}",
            *_arm_table(primary),
        ]
    return lines


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
