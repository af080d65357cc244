"""abtest.verdict: every kind on crafted figures, the significance threshold, the days quoted
from the power section, reading a results document, and the zh/en sentences."""

from __future__ import annotations

import pytest
from statsmodels.stats.multitest import multipletests

from abtest.stats.analysis import analyze
from abtest.stats.analysis_types import AnalysisConfig, AnalysisInput, MetricSpec, as_json
from abtest.stats.summary import SampleStats
from abtest.verdict import (
    ArmFigures,
    NextStep,
    VerdictInput,
    decide,
    figures_from_results,
    render,
    step_texts,
    verdict_of_results,
)

CONTROL = ArmFigures("a=off", 1000, 0.10, None, None, 0.01)


def _arm(name: str, lift: float, p: float, best: float, *, units: int = 1000,
         harmed: bool = False) -> ArmFigures:
    return ArmFigures(name, units, 0.10 * (1 + lift), lift, p, best, harmed)


def _figures(*arms: ArmFigures, **changes: object) -> VerdictInput:
    base = {"arms": (CONTROL, *arms), "control": "a=off", "kind": "binary",
            "planned_days": 20, "planned_effect": 0.05}
    return VerdictInput(**{**base, **changes})  # type: ignore[arg-type]


def test_no_data_without_units() -> None:
    empty = ArmFigures("a=off", 0, None, None, None, None)
    verdict = decide(_figures(arms=(empty, ArmFigures("a=on", 0, None, None, None, None))))
    assert (verdict.kind, verdict.leader, verdict.steps) == ("no_data", None, ())
    assert render(verdict, "zh") == "暂无数据：还没有顾客进入实验"
    assert render(verdict, "en") == "no data: no shopper has entered the experiment yet"


def test_significant_winner_is_promoted_and_significant_losers_stopped() -> None:
    winner, loser = _arm("b", 0.3, 0.001, 0.97), _arm("c", -0.3, 0.002, 0.0)
    verdict = decide(_figures(winner, loser, _arm("d", 0.05, 0.4, 0.02)))
    assert verdict.kind == "significant_winner"
    assert (verdict.leader, verdict.probability_best, verdict.lift) == ("b", 0.97, 0.3)
    assert verdict.steps == (NextStep("promote", "b"), NextStep("stop", "c"))
    labels = {"b": "stock_left+loyal_price", "c": "countdown"}
    assert render(verdict, "zh", labels) == (
        "stock_left+loyal_price 显著胜出：相对对照 +30.0%；97% 可能是最优。"
        "建议：推广 stock_left+loyal_price；停用 countdown")
    assert render(verdict, "en", labels) == (
        "stock_left+loyal_price wins significantly: +30.0% vs control; 97% likely best. "
        "Next: promote stock_left+loyal_price; stop countdown")


def test_among_several_winners_the_most_likely_best_leads() -> None:
    verdict = decide(_figures(_arm("b", 0.3, 0.001, 0.3), _arm("c", 0.25, 0.001, 0.69)))
    assert verdict.leader == "c"


def test_a_winner_that_harms_a_guardrail_is_stopped_not_promoted() -> None:
    verdict = decide(_figures(_arm("b", 0.3, 0.001, 0.97, harmed=True)))
    assert verdict.kind == "significant_loser"
    assert verdict.steps[0] == NextStep("stop", "b")
    assert "b 显著差于对照或伤害了护栏指标" in render(verdict, "zh")


def test_significant_loser_stops_it_and_keeps_running_the_rest() -> None:
    verdict = decide(_figures(_arm("b", -0.4, 0.001, 0.0), _arm("c", 0.02, 0.6, 0.3)))
    assert verdict.kind == "significant_loser"
    assert verdict.steps[0] == NextStep("stop", "b")
    assert verdict.steps[1].action == "extend"
    assert render(verdict, "en").startswith("b significantly worse than control")


def test_lower_is_better_metric_reads_a_drop_as_a_win() -> None:
    verdict = decide(_figures(_arm("b", -0.3, 0.001, 0.97), higher_is_better=False))
    assert (verdict.kind, verdict.leader) == ("significant_winner", "b")


def test_sequential_threshold_is_bonferroni_over_the_treatments() -> None:
    arms = (_arm("b", 0.3, 0.03, 0.9), _arm("c", 0.0, 0.9, 0.05), _arm("d", 0.0, 0.9, 0.04))
    assert decide(_figures(*arms, comparisons=1)).kind == "significant_winner"
    assert decide(_figures(*arms, comparisons=3)).kind == "leading"  # 0.03 > 0.05 / 3


def test_leading_quotes_the_power_sections_days() -> None:
    """One plan on the page: the verdict's days are the power section's, for the planned effect."""
    verdict = decide(_figures(_arm("b", 0.1, 0.2, 0.97), planned_days=17))
    assert (verdict.kind, verdict.leader, verdict.days_needed) == ("leading", "b", 17)
    assert verdict.steps == (NextStep("extend", None, 17),)
    labels = {"b": "stock_left=on + loyal_price=on"}
    assert render(verdict, "zh", labels) == (
        "stock_left=on + loyal_price=on 领先；97% 可能是最优；约需再运行 17 天才能检出 +5% 的提升"
        "。建议：继续运行约 17 天")
    assert render(verdict, "en", labels) == (
        "stock_left=on + loyal_price=on leads; 97% likely best; needs ~17 more days to detect a "
        "+5% lift. Next: keep running ~17 days")


def test_a_leader_at_the_planned_sample_asks_for_no_more_days() -> None:
    """"Planned sample reached" never comes with a number of days to go."""
    verdict = decide(_figures(_arm("b", 0.1, 0.2, 0.97), planned_days=0))
    assert (verdict.kind, verdict.days_needed) == ("leading", 0)
    assert render(verdict, "en") == ("b leads; 97% likely best; the planned sample is reached; "
                                     "significance may come any day. Next: keep running")
    loser = decide(_figures(_arm("b", -0.2, 0.001, 0.01), planned_days=0))
    assert loser.kind == "significant_loser" and "~" not in render(loser, "en")


def test_control_leading_is_leading_with_the_planned_days() -> None:
    control = ArmFigures("a=off", 1000, 0.10, None, None, 0.9)
    verdict = decide(_figures(arms=(control, _arm("b", -0.1, 0.3, 0.1))))
    assert (verdict.kind, verdict.leader, verdict.days_needed) == ("leading", "a=off", 20)


def test_leading_without_a_plan_cannot_estimate_days() -> None:
    verdict = decide(_figures(_arm("b", 0.1, 0.2, 0.97), planned_days=None))
    assert verdict.days_needed is None
    assert render(verdict, "en") == ("b leads; 97% likely best; cannot estimate the days still "
                                     "needed yet. Next: keep running")


def test_no_difference_once_the_planned_effect_is_detectable() -> None:
    verdict = decide(_figures(_arm("b", 0.01, 0.7, 0.6), planned_days=0))
    assert verdict.kind == "no_difference"
    assert verdict.steps == (NextStep("keep_control"),)
    assert render(verdict, "zh") == ("各组之间没有显著差异，样本量已足以发现计划的提升。"
                                     "建议：结束实验，保留对照话术")


def test_needs_more_data_counts_days_to_the_planned_effect() -> None:
    verdict = decide(_figures(_arm("b", 0.01, 0.7, 0.6), planned_days=12))
    assert (verdict.kind, verdict.days_needed) == ("needs_more_data", 12)
    assert render(verdict, "zh") == ("数据还不足以下结论；约需再运行 12 天才能检出 +5% 的提升。"
                                     "建议：继续运行约 12 天")
    assert step_texts(verdict, "en") == ["keep running ~12 days"]


def test_sample_ratio_mismatch_comes_first() -> None:
    verdict = decide(_figures(_arm("b", 0.01, 0.7, 0.6), srm_mismatch=True))
    assert verdict.steps[0] == NextStep("check_srm")
    assert render(verdict, "en").startswith("warning: the traffic split does not match")
    assert step_texts(verdict, "zh")[0] == "先检查分流与埋点"


def _document(basis: str, complaints: tuple[int, int, int]) -> dict:
    arms = ("s=off", "s=on", "s=big")
    conversions = [SampleStats.binary(2000, c) for c in (200, 300, 205)]
    stats = {"conversion": conversions,
             "complaint": [SampleStats.binary(2000, c) for c in complaints]}
    config = AnalysisConfig(
        arms=arms,
        metrics=(MetricSpec("conversion", "binary"),
                 MetricSpec("complaint", "binary", "guardrail", higher_is_better=False)),
        decision_basis=basis,  # type: ignore[arg-type]
    )
    return as_json(analyze(config, AnalysisInput(overall=stats)))


@pytest.mark.parametrize(("basis", "p_field", "adjust"),
                         [("sequential", "p_value_sequential_relative", lambda p: min(1, 2 * p)),
                          ("fixed_horizon", "p_value_relative", None)])
def test_figures_from_results_read_the_headline(basis: str, p_field: str, adjust) -> None:
    """The row's relative p-value, Bonferroni over 2 treatments while running, Holm (statsmodels,
    over 2 arms x 2 metrics) once stopped."""
    document = _document(basis, (10, 10, 10))
    figures = figures_from_results(document)
    arms = document["metrics"][0]["arms"]
    raw = [arm[p_field] for arm in arms[1:]]
    if adjust is None:
        family = raw + [arm[p_field] for arm in document["metrics"][1]["arms"][1:]]
        expected = list(multipletests(family, method="holm")[1][:2])
    else:
        expected = [adjust(p) for p in raw]
    assert figures.comparisons == 1
    assert figures.arms[0].p_value is None
    assert [a.p_value for a in figures.arms[1:]] == pytest.approx(expected, rel=1e-12)
    assert [a.probability_best for a in figures.arms] == [a["probability_best"] for a in arms]
    assert figures.arms[1].relative_lift == arms[1]["lift"]["relative"]
    assert figures.planned_days == document["power"]["days_needed"]
    assert figures.planned_effect == document["power"]["minimum_effect"]
    assert verdict_of_results(document).leader == "s=on"


def test_guardrail_harm_in_the_document_stops_the_arm() -> None:
    document = _document("fixed_horizon", (10, 60, 10))
    assert verdict_of_results(document).steps[0] == NextStep("stop", "s=on")
    assert verdict_of_results(_document("fixed_horizon", (10, 10, 10))).kind == (
        "significant_winner")


def test_an_arm_beating_a_control_without_conversions_is_a_winner() -> None:
    """Control at 0%: the relative lift is undefined, the direction is the absolute lift's."""
    control = ArmFigures("a=off", 1000, 0.0, None, None, 0.0)
    better = ArmFigures("b", 1000, 0.02, None, 0.0001, 0.99)
    verdict = decide(_figures(better, arms=(control, better)))
    assert (verdict.kind, verdict.leader) == ("significant_winner", "b")
    assert verdict.steps[0] == NextStep("promote", "b")


@pytest.mark.parametrize("arm", [_arm("b", 0.1, 0.2, 0.97), _arm("b", 0.01, 0.7, 0.6),
                                 _arm("b", -0.2, 0.001, 0.01)])
def test_an_ended_experiment_is_never_asked_to_keep_running(arm: ArmFigures) -> None:
    """Stopped: no day can be added, so no days and no "keep running", in either language."""
    verdict = decide(_figures(arm, planned_days=None, ended=True))
    assert verdict.days_needed is None and verdict.steps[-1] == NextStep("keep_control")
    assert all(step.action != "extend" for step in verdict.steps)
    assert "the experiment ended without the data to decide" in render(verdict, "en")
    assert "实验已结束" in render(verdict, "zh") and "继续运行" not in render(verdict, "zh")


def test_a_stopped_document_reports_the_shortfall_not_days() -> None:
    document = _document("fixed_horizon", (10, 10, 10))
    power = document["power"]
    assert power["days_needed"] is None and power["reason_code"] == "ended_short"
    assert power["reason_params"]["remaining"] == power["n_per_arm"] - 2000
    assert figures_from_results(document).ended
    assert figures_from_results(_document("sequential", (10, 10, 10))).ended is False
