"""A marketer's verdict on an experiment, from the figures the analysis already computed.

Nothing here re-tests or re-plans anything: p-values, lifts, probabilities and the days still
needed come from the results document (:func:`figures_from_results` reads the JSON of
``experiments.results.results_document``) or from a hand-built :class:`VerdictInput`.

Rules, checked in this order (the first that applies decides the kind):

1. ``no_data``: no arm has units, or no arm has a probability to be best.
2. Significance: an arm is significant when its headline p-value is below ``alpha /
   comparisons``. From a results document that is the row's headline (the relative p-value
   shown beside the relative interval) after the headline's own adjustment for several arms:
   Bonferroni over the treatments for the always-valid p-value while the experiment collects
   data, Holm once stopped (so ``comparisons = 1``). Better or worse reads the lift in the
   metric's direction.
3. ``significant_winner``: some arm is significantly better than control and harms no guardrail.
   The leader is the one most likely to be best; next steps: promote it, stop significant losers
   and guardrail-harming arms.
4. ``significant_loser``: no winner, but some arm is significantly worse (or harms a guardrail):
   stop those, keep running the others.
5. ``leading``: an arm (control included) is at least ``LEADING_PROBABILITY`` likely to be best:
   keep running for the days the power section plans.
6. ``no_difference``: the power section says the planned effect is already detectable (no more
   days needed): there is no effect worth having, keep the control script.
7. ``needs_more_data``: otherwise, keep running for the days the power section says the planned
   effect needs.

Once the experiment has ended (fixed-horizon headline) no day can be added: "keep running" becomes
"keep the control script" and the sentence says it ended without the data to decide.

Every "more days" is the power section's, which plans for the test that decides (the sequential
one while running): the verdict and the page's power line quote one number, so the page never
says the planned sample is reached while asking for more days. (A plan for the *observed* lift,
as before, said "planned sample reached" beside the power section's "426 more days".)

A sample ratio mismatch adds a first step "check the traffic split": the figures may be biased.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from abtest.stats.summary import MetricKind

Kind = Literal["significant_winner", "significant_loser", "leading", "no_difference",
               "needs_more_data", "no_data"]
Action = Literal["promote", "stop", "extend", "keep_control", "check_srm"]
Lang = Literal["zh", "en"]

#: Probability to be best from which an arm "leads".
LEADING_PROBABILITY = 0.8


@dataclass(frozen=True)
class ArmFigures:
    """One arm's headline figures on the primary metric (lift and p-value None for control)."""

    arm: str
    units: int
    mean: float | None
    relative_lift: float | None
    p_value: float | None
    probability_best: float | None
    harmed: bool = False


@dataclass(frozen=True)
class VerdictInput:
    """What the verdict needs: the primary metric's arms and the context to judge them.

    ``comparisons`` divides ``alpha`` for the significance threshold (see the module rules);
    ``planned_days`` the power section's days still needed for the ``planned_effect`` (relative
    lift; 0 days: enough units already, None: unknown); ``ended``: the experiment stopped and
    collects no more data.
    """

    arms: tuple[ArmFigures, ...]
    control: str
    kind: MetricKind
    higher_is_better: bool = True
    alpha: float = 0.05
    comparisons: int = 1
    planned_days: int | None = None
    planned_effect: float | None = None
    srm_mismatch: bool = False
    ended: bool = False


@dataclass(frozen=True)
class NextStep:
    """One recommended action, on an arm or for a number of days."""

    action: Action
    arm: str | None = None
    days: int | None = None


@dataclass(frozen=True)
class Verdict:
    """The structured verdict; :func:`render` turns it into one sentence in zh or en.

    ``days_needed`` is the power section's plan for detecting ``planned_effect`` with the
    deciding test (0: the planned sample is reached; None: unknown or not asked).
    """

    kind: Kind
    leader: str | None
    probability_best: float | None
    lift: float | None
    days_needed: int | None
    steps: tuple[NextStep, ...]
    srm_mismatch: bool = False
    planned_effect: float | None = None
    ended: bool = False


def figures_from_results(document: Mapping[str, Any]) -> VerdictInput:
    """The primary metric's figures of a results JSON document (as the results API returns)."""
    primary = document["metrics"][0]
    harmed = {c["arm"] for c in document["guardrails"]["checks"] if c["harmed"]}
    arms = tuple(_arm_figures(arm, arm["arm"] in harmed) for arm in primary["arms"])
    power = document["power"]
    return VerdictInput(
        arms=arms,
        control=document["control"],
        kind=primary["kind"],
        higher_is_better=primary["higher_is_better"],
        alpha=document["alpha"],
        planned_days=power["days_needed"],
        planned_effect=power["minimum_effect"],
        srm_mismatch=bool(document["srm"]["mismatch"]),
        ended=document["decision_basis"] == "fixed_horizon",
    )


def decide(figures: VerdictInput) -> Verdict:
    """Apply the module's rules, in order, to the figures."""
    if not any(a.units for a in figures.arms) or all(
        a.probability_best is None for a in figures.arms
    ):
        return Verdict("no_data", None, None, None, None, (), figures.srm_mismatch,
                       figures.planned_effect)
    significant = _significant(figures)
    winners = [a for a in significant if _better(figures, a) and not a.harmed]
    losers = [a for a in figures.arms
              if a.harmed or (a in significant and not _better(figures, a))]
    stops = tuple(NextStep("stop", a.arm) for a in losers)
    if winners:
        leader = _most_likely_best(winners)
        return _verdict(figures, "significant_winner", leader, None,
                        (NextStep("promote", leader.arm), *stops))
    candidates = [a for a in figures.arms if a not in losers]
    leader = _most_likely_best(candidates) if candidates else None
    days = None if figures.ended else figures.planned_days
    more = NextStep("keep_control") if figures.ended else NextStep("extend", None, days)
    if losers:
        return _verdict(figures, "significant_loser", leader, days, (*stops, more))
    if leader is not None and (leader.probability_best or 0.0) >= LEADING_PROBABILITY:
        return _verdict(figures, "leading", leader, days, (more,))
    if figures.planned_days == 0:
        return _verdict(figures, "no_difference", leader, None, (NextStep("keep_control"),))
    return _verdict(figures, "needs_more_data", leader, days, (more,))


def verdict_of_results(document: Mapping[str, Any]) -> Verdict:
    """:func:`decide` on a results JSON document."""
    return decide(figures_from_results(document))


def render(verdict: Verdict, lang: Lang = "zh", labels: Mapping[str, str] | None = None) -> str:
    """One sentence with the next steps, e.g. "countdown+stock_left 领先；97% 可能是最优；
    约需再运行 3 天才能达到显著。建议：继续运行约 3 天".

    ``labels`` maps arm keys to display names (arm keys by default).
    """
    texts = _TEXTS[lang]

    def name(arm: str | None) -> str:
        return (labels or {}).get(arm or "", arm or "")

    parts = [texts["srm"]] if verdict.srm_mismatch else []
    parts.append(texts[verdict.kind].format(
        leader=name(verdict.leader), p=verdict.probability_best or 0.0, lift=verdict.lift or 0.0,
        losers=texts["and"].join(name(s.arm) for s in verdict.steps if s.action == "stop"),
    ))
    if verdict.kind in ("leading", "significant_loser", "needs_more_data"):
        parts.append(_planned_text(verdict, texts))
    sentence = texts["sep"].join(parts)
    if verdict.steps:
        sentence += texts["steps"] + texts["sep"].join(
            _step_text(step, texts, name(step.arm)) for step in verdict.steps)
    return sentence


def step_texts(verdict: Verdict, lang: Lang = "zh",
               labels: Mapping[str, str] | None = None) -> list[str]:
    """The next steps alone, one string each (for a list on the experiment page)."""
    texts = _TEXTS[lang]
    return [_step_text(step, texts, (labels or {}).get(step.arm or "", step.arm or ""))
            for step in verdict.steps]


_TEXTS: dict[Lang, dict[str, str]] = {
    "zh": {
        "significant_winner": "{leader} 显著胜出：相对对照 {lift:+.1%}；{p:.0%} 可能是最优",
        "significant_loser": "{losers} 显著差于对照或伤害了护栏指标",
        "leading": "{leader} 领先；{p:.0%} 可能是最优",
        "no_difference": "各组之间没有显著差异，样本量已足以发现计划的提升",
        "needs_more_data": "数据还不足以下结论",
        "no_data": "暂无数据：还没有顾客进入实验",
        "days_unknown": "尚无法估计还需运行几天",
        "days_now": "样本量已达计划，显著性随时可能出现",
        "days_planned": "约需再运行 {days} 天才能检出 {effect:+.0%} 的提升",
        "ended": "实验已结束，数据不足以得出结论",
        "srm": "警告：各组流量比例与设定不符（SRM），结果可能有偏",
        "steps": "。建议：",
        "sep": "；",
        "and": "、",
        "promote": "推广 {arm}",
        "stop": "停用 {arm}",
        "extend": "继续运行约 {days} 天",
        "extend_open": "继续运行",
        "keep_control": "结束实验，保留对照话术",
        "check_srm": "先检查分流与埋点",
    },
    "en": {
        "significant_winner": "{leader} wins significantly: {lift:+.1%} vs control; "
                              "{p:.0%} likely best",
        "significant_loser": "{losers} significantly worse than control or harming a guardrail",
        "leading": "{leader} leads; {p:.0%} likely best",
        "no_difference": "no significant difference, with enough units to detect the planned "
                         "lift",
        "needs_more_data": "not enough data for a conclusion yet",
        "no_data": "no data: no shopper has entered the experiment yet",
        "days_unknown": "cannot estimate the days still needed yet",
        "days_now": "the planned sample is reached; significance may come any day",
        "days_planned": "needs ~{days} more days to detect a {effect:+.0%} lift",
        "ended": "the experiment ended without the data to decide",
        "srm": "warning: the traffic split does not match the weights (SRM), figures may be "
               "biased",
        "steps": ". Next: ",
        "sep": "; ",
        "and": ", ",
        "promote": "promote {arm}",
        "stop": "stop {arm}",
        "extend": "keep running ~{days} days",
        "extend_open": "keep running",
        "keep_control": "stop the experiment and keep the control script",
        "check_srm": "check the traffic split and tracking first",
    },
}


def _arm_figures(arm: Mapping[str, Any], harmed: bool) -> ArmFigures:
    """The row's headline p-value, already adjusted for the several arms."""
    lift, headline = arm["lift"], arm["headline"]
    p_value = headline["p_value_adjusted"] if headline else None
    return ArmFigures(arm["arm"], arm["units"], arm["mean"], lift["relative"] if lift else None,
                      p_value, arm["probability_best"], harmed)


def _verdict(figures: VerdictInput, kind: Kind, leader: ArmFigures | None, days: int | None,
             steps: tuple[NextStep, ...]) -> Verdict:
    if figures.srm_mismatch:
        steps = (NextStep("check_srm"), *steps)
    return Verdict(kind, leader.arm if leader else None,
                   leader.probability_best if leader else None,
                   leader.relative_lift if leader else None, days, steps, figures.srm_mismatch,
                   figures.planned_effect, figures.ended)


def _significant(figures: VerdictInput) -> list[ArmFigures]:
    threshold = figures.alpha / figures.comparisons
    return [a for a in figures.arms if a.p_value is not None and a.p_value < threshold]


def _control(figures: VerdictInput) -> ArmFigures:
    return next(a for a in figures.arms if a.arm == figures.control)


def _better(figures: VerdictInput, arm: ArmFigures) -> bool:
    """Better than control in the metric's direction, by the sign of the absolute lift: it is
    defined when control's mean is 0 and the relative lift is not."""
    control = _control(figures)
    if arm.mean is None or control.mean is None:
        return False
    lift = arm.mean - control.mean
    return lift > 0 if figures.higher_is_better else lift < 0


def _most_likely_best(arms: Sequence[ArmFigures]) -> ArmFigures:
    return max(arms, key=lambda a: (a.probability_best or 0.0, a.units))


def _planned_text(verdict: Verdict, texts: Mapping[str, str]) -> str:
    if verdict.ended:
        return texts["ended"]
    if verdict.days_needed is None or verdict.planned_effect is None:
        return texts["days_unknown"]
    if verdict.days_needed == 0:
        return texts["days_now"]
    return texts["days_planned"].format(days=verdict.days_needed, effect=verdict.planned_effect)


def _step_text(step: NextStep, texts: Mapping[str, str], arm: str) -> str:
    if step.action == "extend" and not step.days:
        return texts["extend_open"]
    return texts[step.action].format(arm=arm, days=step.days)
