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

The driver comes from the factorial section (the model's effects on the primary mean, in
percentage points for a binary metric, each with its delta-method interval and p-value):
``drivers`` are the terms with ``p < alpha`` after Holm's adjustment over the model's terms;
a unit "makes no difference" when no driver involves it and the interval of its effect
averaged over the other units' variants lies within ``± equivalence_margin`` (relative, the
promotion rule's δ) of control's modelled mean; an arm is as good as the leader when the
model's interval for their difference lies within ``± δ`` of the leader's mean, and is then
shipped just as well.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from abtest.stats.factorial import contrast
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
    lift_ci: tuple[float | None, float | None] | None = None
    test: str | None = None


@dataclass(frozen=True)
class Driver:
    """One factorial term's effect on the primary mean (a proportion for binary metrics)."""

    term: str
    units: tuple[str, ...]
    effect: float
    ci: tuple[float, float]
    p_value: float
    p_value_adjusted: float | None = None


@dataclass(frozen=True)
class Equivalent:
    """An arm as good as the leader: the units it differs in, the modelled difference (arm
    minus leader) and its interval, all within the margin."""

    arm: str
    differs_in: tuple[str, ...]
    difference: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class FactorialFigures:
    """The factorial section as the verdict reads it: every term's effect, each arm's
    varying units, modelled mean and their covariance (``df`` inf: normal inference)."""

    factors: tuple[str, ...]
    effects: tuple[Driver, ...]
    average_effects: tuple[Driver, ...]
    arm_choices: tuple[Mapping[str, str], ...]
    fitted: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    df: float
    margin: float


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
    factorial: FactorialFigures | None = None


@dataclass(frozen=True)
class NextStep:
    """One recommended action, on an arm or for a number of days."""

    action: Action
    arm: str | None = None
    days: int | None = None


@dataclass(frozen=True)
class Verdict:
    """The structured verdict (the results document's ``decision``); :func:`render` turns it
    into one short paragraph in zh or en.

    ``days_needed`` is the power section's plan for detecting ``planned_effect`` with the
    deciding test (0: the planned sample is reached; None: unknown or not asked). ``lift_ci``,
    ``p_value`` and ``test`` are the leader row's headline, the test the lift rests on;
    ``ship`` the winner and the arms as good as it (any one will do), empty without a
    significant winner; ``drivers``, ``negligible_units``, ``unclear_units`` and
    ``equivalent_arms`` the factorial reading of the module rules, ``scale`` "pp" when effects
    are proportions.
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
    lift_ci: tuple[float | None, float | None] | None = None
    p_value: float | None = None
    test: str | None = None
    ship: tuple[str, ...] = ()
    drivers: tuple[Driver, ...] = ()
    negligible_units: tuple[str, ...] = ()
    unclear_units: tuple[str, ...] = ()
    equivalent_arms: tuple[Equivalent, ...] = ()
    equivalence_margin: float | None = None
    scale: Literal["pp", "absolute"] = "pp"
    alpha: float = 0.05


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
        factorial=_factorial_figures(document.get("factorial")),
    )


def _factorial_figures(section: Mapping[str, Any] | None) -> FactorialFigures | None:
    """The fitted factorial section, None when there is none or it could not be fitted."""
    if not section or section["status"] != "ok" or not section.get("effects"):
        return None
    def drivers(name: str) -> tuple[Driver, ...]:
        return tuple(Driver(e["term"], tuple(e["units"]), e["effect"]["estimate"],
                            tuple(e["effect"]["ci"]), e["effect"]["p_value"],
                            e["p_value_adjusted"])
                     for e in section[name])

    df = section["df_resid"]
    return FactorialFigures(tuple(section["factors"]), drivers("effects"),
                            drivers("average_effects"), tuple(section["arm_choices"]),
                            tuple(section["fitted"]),
                            tuple(map(tuple, section["fitted_covariance"])),
                            float("inf") if df is None else df, section["equivalence_margin"])


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


def decision_of(document: Mapping[str, Any]) -> Verdict:
    """The verdict the results document carries as ``decision`` (computed once, by
    :func:`verdict_of_results` when the document was built), for the page and the report."""
    found = dict(document["decision"])
    found["steps"] = tuple(NextStep(**step) for step in found["steps"])
    found["drivers"] = tuple(Driver(d["term"], tuple(d["units"]), d["effect"], tuple(d["ci"]),
                                    d["p_value"], d["p_value_adjusted"])
                             for d in found["drivers"])
    found["equivalent_arms"] = tuple(
        Equivalent(e["arm"], tuple(e["differs_in"]), e["difference"], tuple(e["ci"]))
        for e in found["equivalent_arms"])
    for name in ("ship", "negligible_units", "unclear_units"):
        found[name] = tuple(found[name])
    if found["lift_ci"] is not None:
        found["lift_ci"] = tuple(found["lift_ci"])
    return Verdict(**found)


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
        interval=_interval(verdict.lift_ci, texts, 1 - verdict.alpha, "{:+.1%}".format),
    ))
    if verdict.kind in ("leading", "significant_loser", "needs_more_data"):
        parts.append(_planned_text(verdict, texts))
    parts += _driver_texts(verdict, texts, name)
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
        "significant_winner": "{leader} 显著胜出：相对对照 {lift:+.1%}{interval}；"
                              "{p:.0%} 可能是最优",
        "interval": "（{level:.0%} 区间 {low}～{high}）",
        "pp": "{} 个百分点",
        "driver": "起作用的是 {term}：{effect}{interval}，{p}",
        "negligible": "{units} 影响不大（差异在 ±{margin:.0%} 以内）",
        "unclear": "{units} 的作用尚不确定",
        "equivalent": "同样好（相差在 ±{margin:.0%} 以内）：{arms}，推广哪个都可以",
        "differs": "{arm}（仅 {units} 不同）",
        "term_and": " × ",
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
        "significant_winner": "{leader} wins significantly: {lift:+.1%} vs control{interval}; "
                              "{p:.0%} likely best",
        "interval": " ({level:.0%} CI {low} to {high})",
        "pp": "{} pp",
        "driver": "driven by {term}: {effect}{interval}, {p}",
        "negligible": "{units} make no difference (within ±{margin:.0%})",
        "unclear": "the effect of {units} is not yet clear",
        "equivalent": "equally good within ±{margin:.0%}: {arms}; ship any of them",
        "differs": "{arm} (differs only in {units})",
        "term_and": " × ",
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
                      p_value, arm["probability_best"], harmed,
                      tuple(headline["ci"]) if headline else None,
                      headline["test"] if headline else None)


def _verdict(figures: VerdictInput, kind: Kind, leader: ArmFigures | None, days: int | None,
             steps: tuple[NextStep, ...]) -> Verdict:
    if figures.srm_mismatch:
        steps = (NextStep("check_srm"), *steps)
    equivalent = _equivalent_arms(figures, leader.arm) if leader else ()
    winner = kind == "significant_winner" and leader is not None
    ship = (leader.arm, *(e.arm for e in equivalent)) if winner else ()
    verdict = Verdict(kind, leader.arm if leader else None,
                      leader.probability_best if leader else None,
                      leader.relative_lift if leader else None, days, steps, figures.srm_mismatch,
                      figures.planned_effect, figures.ended,
                      leader.lift_ci if leader else None, leader.p_value if leader else None,
                      leader.test if leader else None, ship, equivalent_arms=equivalent,
                      scale="pp" if figures.kind == "binary" else "absolute",
                      alpha=figures.alpha)
    return _with_drivers(verdict, figures)


def _with_drivers(verdict: Verdict, figures: VerdictInput) -> Verdict:
    """The factorial terms that move the mean, the units that make no difference, the rest."""
    model = figures.factorial
    if model is None:
        return verdict
    drivers = tuple(sorted((e for e in model.effects
                            if (e.p_value_adjusted or 1.0) < figures.alpha),
                           key=lambda e: e.p_value))
    bound = model.margin * abs(model.fitted[_index(figures, figures.control)])
    moving = {u for e in drivers for u in e.units}
    negligible = tuple(u for u in model.factors if u not in moving and all(
        _within(e.ci, bound) for e in model.average_effects if u in e.units))
    unclear = tuple(u for u in model.factors if u not in moving and u not in negligible)
    return replace(verdict, drivers=drivers, negligible_units=negligible,
                   unclear_units=unclear, equivalence_margin=model.margin)


def _equivalent_arms(figures: VerdictInput, leader: str) -> tuple[Equivalent, ...]:
    """Arms whose modelled mean is within ``± margin`` of the leader's, by the model's
    interval of the difference (a two one-sided tests reading at level ``alpha / 2``)."""
    model = figures.factorial
    if model is None:
        return ()
    means, covariance = np.array(model.fitted), np.array(model.covariance)
    mine = _index(figures, leader)
    bound = model.margin * abs(means[mine])
    found = []
    for i, arm in enumerate(a.arm for a in figures.arms):
        weights = np.eye(len(means))[i] - np.eye(len(means))[mine]
        difference = contrast(means, covariance, weights, figures.alpha, model.df)
        if i != mine and _within(difference.ci, bound):
            choices, best = model.arm_choices[i], model.arm_choices[mine]
            differs = tuple(u for u in model.factors if choices[u] != best[u])
            found.append(Equivalent(arm, differs, difference.estimate, difference.ci))
    return tuple(found)


def _within(ci: Sequence[float | None], bound: float) -> bool:
    """The interval lies within ``± bound`` (an undefined interval does not)."""
    low, high = ci
    return low is not None and high is not None and -bound <= low and high <= bound


def _index(figures: VerdictInput, arm: str) -> int:
    return next(i for i, a in enumerate(figures.arms) if a.arm == arm)


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


def _driver_texts(verdict: Verdict, texts: Mapping[str, str],
                  name: Callable[[str | None], str]) -> list[str]:
    """The factorial's reading: which terms move the mean, which units do not matter, which
    arms are as good as the leader."""
    pp = verdict.scale == "pp"

    def number(x: float) -> str:
        return f"{x * 100:+.2f}" if pp else f"{x:+.3g}"

    found = [texts["driver"].format(
        term=_term_label(d.term, texts), p=_p_text(d.p_value),
        effect=texts["pp"].format(number(d.effect)) if pp else number(d.effect),
        interval=_interval(d.ci, texts, 1 - verdict.alpha, number))
        for d in verdict.drivers]
    margin = verdict.equivalence_margin or 0.0
    if verdict.negligible_units:
        found.append(texts["negligible"].format(
            units=texts["and"].join(verdict.negligible_units), margin=margin))
    if verdict.unclear_units:
        found.append(texts["unclear"].format(units=texts["and"].join(verdict.unclear_units)))
    if verdict.equivalent_arms:
        others = [texts["differs"].format(arm=name(e.arm), units=texts["and"].join(e.differs_in))
                  for e in verdict.equivalent_arms]
        found.append(texts["equivalent"].format(
            margin=margin, arms=texts["and"].join([name(verdict.leader), *others])))
    return found


def _term_label(term: str, texts: Mapping[str, str]) -> str:
    """``countdown[on]:stock_left[on]`` as ``countdown × stock_left`` (a variant other than
    ``on`` as ``unit=variant``, as arm labels show it)."""
    def one(part: str) -> str:
        unit, _, variant = part.rstrip("]").partition("[")
        return unit if variant == "on" else f"{unit}={variant}"

    return texts["term_and"].join(one(part) for part in term.split(":"))


def _p_text(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}"


def _interval(ci: Sequence[float | None] | None, texts: Mapping[str, str], level: float,
              show: Callable[[float], str]) -> str:
    """`` (95% CI low to high)`` in the language's words; empty when unknown."""
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return texts["interval"].format(level=level, low=show(ci[0]), high=show(ci[1]))


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
