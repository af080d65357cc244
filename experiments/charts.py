"""Charts of an experiment's results, rendered on the server to PNG bytes.

Every chart is a function of the results JSON (:func:`experiments.results.results_document`), so
the experiment page, the weekly report and e-mails embed the same pictures without recomputing
a statistic: means, intervals, lifts and probabilities are read from the document as they are.
The only arithmetic here is presentation (cumulative means of the daily rows, weight shares).

Figures are built with the object API (``matplotlib.figure.Figure``), never pyplot, so there
is no global figure state to leak between requests or threads. Marketers read Chinese: labels
use the CJK font "WenQuanYi Micro Hei" (Debian ``fonts-wqy-microhei``). When it is missing,
charts fall back to English labels and log a warning, because Chinese text in a font without
the glyphs would render as boxes (and matplotlib would warn "Glyph missing").
"""

from __future__ import annotations

import base64
import io
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, DateFormatter, DayLocator
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from sqlalchemy import select
from sqlalchemy.orm import Session

from experiments.definitions import get_experiment
from experiments.models import WeightsPeriod
from variants.design import parse_arm_key

Lang = Literal["zh", "en"]
Document = Mapping[str, Any]

logger = logging.getLogger(__name__)

CJK_FAMILY = "WenQuanYi Micro Hei"
#: Where Debian's fonts-wqy-microhei puts the font; registered explicitly because matplotlib's
#: font cache may predate the package's installation.
CJK_FONT_FILES = (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),)

LABELS: dict[Lang, dict[str, str]] = {
    "zh": {
        "control": "对照",
        "no_data": "暂无数据",
        "mean": "各组{metric}（{level:.0%} 可信区间）",
        "lift": "相对对照的{metric}提升（{level:.0%} {basis}区间）",
        "sequential": "序贯置信",
        "fixed_horizon": "置信",
        "cumulative": "{metric}累计走势（按曝光日）",
        "day": "曝光日期",
        "probability_best": "各组是最优的概率",
        "allocation": "流量分配历史",
        "share": "流量占比",
    },
    "en": {
        "control": "control",
        "no_data": "no data yet",
        "mean": "{metric} per arm ({level:.0%} credible interval)",
        "lift": "{metric} lift vs control ({level:.0%} {basis} interval)",
        "sequential": "sequential confidence",
        "fixed_horizon": "confidence",
        "cumulative": "Cumulative {metric} (by exposure day)",
        "day": "exposure day",
        "probability_best": "Probability to be best",
        "allocation": "Traffic allocation history",
        "share": "traffic share",
    },
}
#: Marketer-facing names of the playbooks' metrics; other metrics show their own name.
METRIC_NAMES: dict[Lang, dict[str, str]] = {
    "zh": {"conversion": "转化率", "revenue": "人均收入", "complaint": "投诉率"},
    "en": {},
}


@dataclass(frozen=True)
class AllocationPoint:
    """Weights in force from ``at`` (one allocation period) until the next point."""

    at: datetime
    weights: tuple[float, ...]


@cache
def cjk_font() -> str | None:
    """Register and return the CJK font family name, or None (logged) when it is not installed."""
    for path in CJK_FONT_FILES:
        if path.exists():
            font_manager.fontManager.addfont(str(path))
    try:
        font_manager.findfont(CJK_FAMILY, fallback_to_default=False)
    except ValueError:
        logger.warning("font %r not found: charts use English labels (install "
                       "fonts-wqy-microhei for Chinese)", CJK_FAMILY)
        return None
    return CJK_FAMILY


def chart_lang(lang: Lang) -> Lang:
    """The language charts can actually draw: English when no CJK font is installed."""
    return lang if lang == "en" or cjk_font() is not None else "en"


def arm_label(arm: str, control: str, lang: Lang = "zh") -> str:
    """Short name of an arm: the units it changes from control ("countdown+stock_left").

    A unit switched to ``on`` shows as its key, any other variant as ``unit=variant``; the
    control is "对照" / "control". Keys that are not arm keys are returned unchanged.
    """
    if arm == control:
        return LABELS[lang]["control"]
    try:
        choices, base = parse_arm_key(arm), parse_arm_key(control)
    except ValueError:
        return arm
    changed = [unit if variant == "on" else f"{unit}={variant}"
               for unit, variant in choices.items() if base.get(unit) != variant]
    return "+".join(changed) or arm


def arm_labels(document: Document, lang: Lang = "zh") -> dict[str, str]:
    """Every arm of a results document with its short name (for charts, verdict, tables)."""
    return {arm: arm_label(arm, document["control"], lang) for arm in document["arms"]}


def metric_name(name: str, lang: Lang) -> str:
    """The metric as marketers call it in ``lang``."""
    return METRIC_NAMES[lang].get(name, name)


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for embedding a chart in HTML or an e-mail."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def mean_chart(document: Document, *, lang: Lang = "zh", metric: str | None = None) -> bytes:
    """Each arm's mean (conversion rate for binary metrics) with its credible interval."""
    lang = chart_lang(lang)
    found = _metric(document, metric)
    arms = [a for a in found["arms"] if a["mean"] is not None]
    title = LABELS[lang]["mean"].format(metric=metric_name(found["name"], lang),
                                        level=1 - document["alpha"])

    def draw(ax: Axes) -> None:
        intervals = [a["credible_interval"] for a in arms]
        _interval_rows(ax, [a["mean"] for a in arms], intervals, _colors(document, arms))
        _arm_axis(ax, document, [a["arm"] for a in arms], lang)
        _value_axis(ax, found["kind"])

    return _render(title, lang, draw if arms else None, rows=len(arms))


def lift_chart(document: Document, *, lang: Lang = "zh", metric: str | None = None) -> bytes:
    """Relative lift of each treatment arm over control with the headline interval.

    The interval is each row's ``headline`` one, as the table shows it: the sequential
    confidence sequence while the experiment collects data and the fixed-horizon interval once
    it has stopped (the document's ``decision_basis``).
    """
    lang = chart_lang(lang)
    found = _metric(document, metric)
    basis = document["decision_basis"]
    arms = [a for a in found["arms"] if a["headline"] and a["lift"]["relative"] is not None]
    title = LABELS[lang]["lift"].format(metric=metric_name(found["name"], lang),
                                        level=1 - document["alpha"], basis=LABELS[lang][basis])

    def draw(ax: Axes) -> None:
        lifts = [a["lift"]["relative"] for a in arms]
        _interval_rows(ax, lifts, [a["headline"]["ci"] for a in arms], _colors(document, arms))
        ax.axvline(0.0, color="0.4", linewidth=1)
        _arm_axis(ax, document, [a["arm"] for a in arms], lang)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))

    return _render(title, lang, draw if arms else None, rows=len(arms))


def cumulative_chart(document: Document, *, lang: Lang = "zh", metric: str | None = None) -> bytes:
    """Each arm's metric over time: the mean of all units exposed up to each day.

    Read from the document's ``daily`` rows (units and mean per arm per exposure day); a day
    where an arm had no units adds nothing to it.
    """
    lang = chart_lang(lang)
    found = _metric(document, metric)
    days = document["daily"]
    title = LABELS[lang]["cumulative"].format(metric=metric_name(found["name"], lang))

    def draw(ax: Axes) -> None:
        dates = [datetime.fromisoformat(day["day"]) for day in days]
        series_by_arm = cumulative_means(document, found["name"])
        for i, arm in enumerate(document["arms"]):
            ax.plot(dates, series_by_arm[arm], marker="o", markersize=3,
                    label=arm_label(arm, document["control"], lang), color=_color(i, document))
        ax.set_xlabel(LABELS[lang]["day"])
        ax.xaxis.set_major_locator(DayLocator(interval=max(1, len(dates) // 10)))
        ax.xaxis.set_major_formatter(DateFormatter("%m-%d"))
        _value_axis(ax, found["kind"], axis="y")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)

    return _render(title, lang, draw if days else None, rows=len(document["arms"]))


def probability_best_chart(
    document: Document, *, lang: Lang = "zh", metric: str | None = None
) -> bytes:
    """Bayesian probability that each arm is the best on the metric (in its good direction)."""
    lang = chart_lang(lang)
    found = _metric(document, metric)
    arms = [a for a in found["arms"] if a["probability_best"] is not None]

    def draw(ax: Axes) -> None:
        shares = [a["probability_best"] for a in arms]
        bars = ax.barh(range(len(arms)), shares, color=_colors(document, arms))
        ax.bar_label(bars, labels=[f"{p:.0%}" for p in shares], padding=3, fontsize=8)
        _arm_axis(ax, document, [a["arm"] for a in arms], lang)
        ax.set_xlim(0, 1.1)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))

    title = LABELS[lang]["probability_best"]
    return _render(title, lang, draw if arms else None, rows=len(arms))


def allocation_chart(
    points: Sequence[AllocationPoint],
    arms: Sequence[str],
    control: str,
    *,
    until: datetime,
    lang: Lang = "zh",
) -> bytes:
    """Share of new traffic per arm over time: one step per allocation period up to ``until``."""
    lang = chart_lang(lang)
    ordered = sorted(points, key=lambda p: p.at)

    def draw(ax: Axes) -> None:
        times = [p.at for p in ordered] + [max(until, ordered[-1].at)]
        shares = [_shares(p.weights) for p in ordered]
        series = [[row[i] for row in shares] + [shares[-1][i]] for i in range(len(arms))]
        labels = [arm_label(arm, control, lang) for arm in arms]
        colors = [_color(i, {"arms": arms, "control": control}) for i in range(len(arms))]
        ax.stackplot(times, series, labels=labels, colors=colors, step="post")
        ax.set_ylim(0, 1)
        ax.set_ylabel(LABELS[lang]["share"])
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))

    return _render(LABELS[lang]["allocation"], lang, draw if ordered else None, rows=len(arms))


def allocation_history(session: Session, key: str) -> list[AllocationPoint]:
    """Every allocation period of experiment ``key`` (its WeightsPeriod rows) in version order."""
    experiment = get_experiment(session, key)
    query = (select(WeightsPeriod.valid_from, WeightsPeriod.weights)
             .where(WeightsPeriod.experiment_id == experiment.id)
             .order_by(WeightsPeriod.version))
    return [AllocationPoint(at, tuple(weights)) for at, weights in session.execute(query)]


def _metric(document: Document, name: str | None) -> Mapping[str, Any]:
    """The named metric of the document, the primary one by default."""
    metrics = document["metrics"]
    if name is None:
        return metrics[0]
    for metric in metrics:
        if metric["name"] == name:
            return metric
    raise KeyError(f"no metric {name!r} in the results (have: "
                   f"{', '.join(m['name'] for m in metrics)})")


def _render(title: str, lang: Lang, draw: Callable[[Axes], None] | None, rows: int) -> bytes:
    """A titled figure drawn by ``draw`` (or a "no data" note when None), as PNG bytes.

    Styles apply inside ``rc_context`` so one request's fonts never leak into another's.
    """
    with matplotlib.rc_context(_style(lang)):
        figure = Figure(figsize=(8, 1.6 + 0.38 * max(rows, 4)), dpi=100, layout="constrained")
        ax = figure.add_subplot()
        ax.set_title(title, fontsize=11)
        if draw is None:
            ax.set_axis_off()
            ax.text(0.5, 0.5, LABELS[lang]["no_data"], ha="center", va="center", fontsize=14,
                    color="0.4", transform=ax.transAxes)
        else:
            ax.grid(True, color="0.9")
            ax.set_axisbelow(True)
            draw(ax)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _style(lang: Lang) -> dict[str, Any]:
    family = [CJK_FAMILY, "DejaVu Sans"] if lang == "zh" else ["DejaVu Sans"]
    # The CJK font has no U+2212 minus sign: draw negative numbers with an ASCII hyphen.
    return {"font.family": "sans-serif", "font.sans-serif": family, "axes.unicode_minus": False}


def _interval_rows(
    ax: Axes, values: Sequence[float], intervals: Sequence[Sequence[float | None]],
    colors: Sequence[str],
) -> None:
    """One horizontal row per arm: a point and its interval (rows without one show the point)."""
    for row, (value, interval, color) in enumerate(zip(values, intervals, colors, strict=True)):
        low, high = interval if interval and None not in interval else (value, value)
        ax.plot([low, high], [row, row], color=color, linewidth=3, alpha=0.6,
                solid_capstyle="round")
        ax.plot([value], [row], marker="o", color=color, markersize=7)


def _arm_axis(ax: Axes, document: Document, arms: Sequence[str], lang: Lang) -> None:
    ax.set_yticks(range(len(arms)), [arm_label(arm, document["control"], lang) for arm in arms],
                  fontsize=8)
    ax.invert_yaxis()


def _value_axis(ax: Axes, kind: str, axis: Literal["x", "y"] = "x") -> None:
    """Rates as percentages; numeric metrics keep their unit."""
    if kind == "binary":
        (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentFormatter(1.0))


def cumulative_means(document: Document, metric: str) -> dict[str, list[float]]:
    """Per arm, the mean over all units exposed up to each day of ``document["daily"]``.

    The unit-weighted running mean of the per-day means; NaN until the arm has units.
    """
    series: dict[str, list[float]] = {}
    for i, arm in enumerate(document["arms"]):
        units, total, points = 0, 0.0, []
        for day in document["daily"]:
            n, mean = day["units"][i], day["means"][metric][i]
            if n and mean is not None:
                units, total = units + n, total + n * mean
            points.append(total / units if units else math.nan)
        series[arm] = points
    return series


def _shares(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    return [w / total if total else 0.0 for w in weights]


def _color(index: int, document: Document) -> str:
    """Control in grey, treatment arms in the tab10 colours (stable across charts)."""
    if document["arms"][index] == document["control"]:
        return "#7f7f7f"
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#bcbd22", "#17becf"]
    return palette[index % len(palette)]


def _colors(document: Document, arms: Sequence[Mapping[str, Any]]) -> list[str]:
    return [_color(list(document["arms"]).index(a["arm"]), document) for a in arms]
