"""experiments.charts: PNGs from results documents, Chinese labels in the CJK font, short arm
names, cumulative series from the daily rows, allocation history from the WeightsPeriod rows.

``filterwarnings = error`` turns matplotlib's "Glyph ... missing from font" into a failure, so
every zh rendering here also checks that Chinese text is drawn with a font that has it.
"""

from __future__ import annotations

import base64
import io
import math
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from matplotlib.image import imread
from sqlalchemy.orm import Session

from abtest.stats.analysis import analyze
from abtest.stats.analysis_types import AnalysisConfig, AnalysisInput, Group, MetricSpec, as_json
from abtest.stats.summary import SampleStats
from experiments import charts
from experiments.charts import (
    AllocationPoint,
    allocation_chart,
    allocation_history,
    arm_label,
    arm_labels,
    cumulative_chart,
    cumulative_means,
    data_uri,
    lift_chart,
    mean_chart,
    probability_best_chart,
)
from experiments.definitions import create_experiment, get_experiment, set_weights
from tests.experiments.conftest import require_cjk_font, stock_definition

PNG = b"\x89PNG\r\n\x1a\n"
ARMS = ("countdown=off|stock_left=off", "countdown=on|stock_left=off",
        "countdown=off|stock_left=on", "countdown=on|stock_left=on")
DOCUMENT_CHARTS = [mean_chart, lift_chart, cumulative_chart, probability_best_chart]


@cache
def _document(units: int = 400, basis: str = "sequential") -> dict[str, Any]:
    """A results document from the analysis orchestrator on two days of crafted statistics
    (cached: charts only read it)."""
    day = [SampleStats.binary(units // 2, c) for c in (20, 26, 30, 41)]
    revenue = [SampleStats(units // 2, 900.0 + 100 * i, 30000.0) for i in range(4)]
    stats = {"conversion": day, "revenue": revenue}
    config = AnalysisConfig(
        arms=ARMS,
        metrics=(MetricSpec("conversion", "binary"), MetricSpec("revenue", "numeric", "secondary")),
        decision_basis=basis,  # type: ignore[arg-type]
    )
    overall = {name: [a + a for a in arms] for name, arms in stats.items()}
    days = (Group("2026-11-09", stats), Group("2026-11-10", stats))
    return as_json(analyze(config, AnalysisInput(overall=overall, days=days)))


def _pixels(png: bytes) -> tuple[int, int]:
    height, width, _ = imread(io.BytesIO(png)).shape
    return width, height


@pytest.mark.parametrize("chart", DOCUMENT_CHARTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_document_charts_render_png_without_font_warnings(chart: Any, lang: str) -> None:
    png = chart(_document(), lang=lang)
    assert png.startswith(PNG)
    width, height = _pixels(png)
    assert width == 800 and height > 300


@pytest.mark.parametrize("chart", DOCUMENT_CHARTS, ids=lambda c: c.__name__)
def test_no_data_document_still_renders(chart: Any) -> None:
    document = _document(units=0)
    assert document["status"] == "no_data"
    assert chart(document, lang="zh").startswith(PNG)


def test_charts_of_a_secondary_metric_and_unknown_metric() -> None:
    assert mean_chart(_document(), metric="revenue").startswith(PNG)
    with pytest.raises(KeyError, match="no metric 'refunds'.*conversion, revenue"):
        lift_chart(_document(), metric="refunds")


def test_fixed_horizon_lift_chart_uses_the_fixed_interval() -> None:
    assert lift_chart(_document(basis="fixed_horizon"), lang="en").startswith(PNG)


def test_cjk_font_is_registered_when_installed() -> None:
    require_cjk_font()
    assert charts.cjk_font() == "WenQuanYi Micro Hei"
    assert charts.chart_lang("zh") == "zh"


def test_without_cjk_font_charts_fall_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    assert charts.chart_lang("zh") == "en"
    assert mean_chart(_document(), lang="zh").startswith(PNG)


@pytest.mark.parametrize(("arm", "zh", "en"), [
    ("countdown=off|stock_left=off|loyal_price=off", "对照", "control"),
    ("countdown=on|stock_left=on|loyal_price=off", "countdown+stock_left",
     "countdown+stock_left"),
    ("countdown=hours_left|stock_left=off|loyal_price=on", "countdown=hours_left+loyal_price",
     "countdown=hours_left+loyal_price"),
    ("not an arm key", "not an arm key", "not an arm key"),
])
def test_arm_label_names_the_units_changed_from_control(arm: str, zh: str, en: str) -> None:
    control = "countdown=off|stock_left=off|loyal_price=off"
    assert arm_label(arm, control, "zh") == zh
    assert arm_label(arm, control, "en") == en


def test_arm_label_against_a_control_that_is_not_all_off() -> None:
    assert arm_label("a=off|b=on", "a=on|b=on", "en") == "a=off"
    assert arm_labels({"arms": ["a=on|b=on", "a=off|b=on"], "control": "a=on|b=on"}, "zh") == {
        "a=on|b=on": "对照", "a=off|b=on": "a=off"}


def test_data_uri_round_trips_the_png() -> None:
    png = probability_best_chart(_document())
    uri = data_uri(png)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == png


def test_cumulative_means_weight_each_day_by_its_units() -> None:
    document = {
        "arms": ["a", "b"],
        "daily": [
            {"day": "2026-11-09", "units": [10, 0], "means": {"m": [0.1, None]}},
            {"day": "2026-11-10", "units": [30, 20], "means": {"m": [0.5, 0.25]}},
        ],
    }
    series = cumulative_means(document, "m")
    assert series["a"] == pytest.approx([0.1, (1 + 15) / 40])
    assert math.isnan(series["b"][0]) and series["b"][1] == pytest.approx(0.25)


def test_cumulative_means_of_the_analysis_daily_rows() -> None:
    document = _document()
    series = cumulative_means(document, "conversion")
    for arm, result in zip(document["arms"], document["metrics"][0]["arms"], strict=True):
        assert series[arm][-1] == pytest.approx(result["mean"])  # two days sum to the total


def test_allocation_chart_renders_periods_and_empty_history() -> None:
    start = datetime(2026, 11, 9, tzinfo=UTC)
    points = [AllocationPoint(start, (1.0, 1.0)), AllocationPoint(start + timedelta(days=1),
                                                                  (0.2, 0.8))]
    png = allocation_chart(points, ["s=off", "s=on"], "s=off", until=start + timedelta(days=2))
    assert png.startswith(PNG)
    assert allocation_chart([], ["s=off"], "s=off", until=start).startswith(PNG)


def test_allocation_history_lists_every_weights_period(session: Session) -> None:
    create_experiment(session, stock_definition())
    experiment = get_experiment(session, "stock-test")
    first = tuple(experiment.weights)
    set_weights(session, experiment, [0.25, 0.75])
    session.commit()
    history = allocation_history(session, "stock-test")
    assert [p.weights for p in history] == [first, (0.25, 0.75)]
    assert history[0].at <= history[1].at
    now = datetime.now(UTC)
    assert allocation_chart(history, ["stock_left=off", "stock_left=on"], "stock_left=off",
                            until=now).startswith(PNG)
