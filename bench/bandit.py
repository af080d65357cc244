"""Thompson sampling with promotion versus a fixed equal split, on the urgency-close scenarios.

Eight arms (the 2 x 2 x 2 urgency-close playbook), 100,000 visitors per run, 1,000 visitors per
allocation period (the playbook's ``period_hours``). The Thompson settings and the promotion rule
are the ones the product ships: read from experiments/playbooks/urgency-close.yaml through the
schema and :func:`experiments.allocation.promotion_rule`, exactly as the allocation service
reads them, and run through :func:`abtest.promotion.bandit_step`, the service's decision.

Scenarios (issue "Decision truth"), each with its goal:

* ``tie``: the seed's finding, stock_left + loyal_price wins with or without countdown: arms
  3 and 7 at 5.9%, the other six at 5%. A best arm (either) promoted in >= 90% of runs, a worse
  arm in <= 2%, regret at least 30% below the fixed split.
* ``aa``: every arm at 5%: false promotions <= 5%.
* ``drift 3-7%`` and ``drift 2-8%``: A/A while the rate drifts linearly from 3% to 7% (2% to
  8%) over the 100 periods, with a weekly ±20% cycle: false promotions <= 5% each.
* ``guardrail``: arm 7 converts best (6.5%) but doubles complaints (2% vs 1%); arm 3 (5.9%) is
  the best safe arm: arm 7 never promoted, arm 3 promoted in >= 90%.

Fresh seeds: every scenario and policy has its own seed range, none of which was used to tune
the settings (tuning used seeds from 900,000). ``--runs`` makes it smaller (default 200: about
ten minutes on two cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from abtest.promotion import PromotionRule
from abtest.simulation import RunResult, Scenario, simulate_fixed_split, simulate_thompson
from experiments.allocation import promotion_rule
from experiments.definitions import parse_definition
from experiments.schema import ThompsonAllocation

PLAYBOOK = Path(__file__).resolve().parents[1] / "experiments" / "playbooks" / "urgency-close.yaml"
BASE, BEST = 0.05, 0.059
TIED = (3, 7)
SEED_STRIDE = 100_000


def _rates(best: dict[int, float]) -> tuple[float, ...]:
    return tuple(best.get(i, BASE) for i in range(8))


#: name -> (scenario changes, goals). Goals read the summary of the Thompson runs.
SCENARIOS: dict[str, dict[str, Any]] = {
    "tie": {"rates": _rates({3: BEST, 7: BEST})},
    "aa": {"rates": _rates({})},
    "drift 3-7%": {"rates": _rates({}), "trend": (0.6, 1.4), "weekly_cycle": 0.2},
    "drift 2-8%": {"rates": _rates({}), "trend": (0.4, 1.6), "weekly_cycle": 0.2},
    "guardrail": {"rates": _rates({3: BEST, 7: 0.065}),
                  "guardrail_rates": tuple(0.02 if i == 7 else 0.01 for i in range(8))},
}


def shipped_settings(path: Path = PLAYBOOK) -> tuple[ThompsonAllocation, PromotionRule]:
    """The playbook's Thompson settings and promotion rule, as the allocation service reads them."""
    design = parse_definition(yaml.safe_load(path.read_text(encoding="utf-8")))
    allocation, rule = design.definition.allocation, promotion_rule(design.definition)
    if not isinstance(allocation, ThompsonAllocation) or rule is None:
        raise ValueError(f"{path.name} must set Thompson allocation and a promotion rule")
    return allocation, rule


def scenario(allocation: ThompsonAllocation, **changes: Any) -> Scenario:
    """The benchmark's traffic with the playbook's Thompson settings and ``changes``."""
    return Scenario(visitors=100_000, batch=1_000, floor=allocation.floor,
                    min_units=allocation.min_units, **changes)


def run_many(
    simulate: Callable[[np.random.Generator], RunResult], first_seed: int, runs: int
) -> list[RunResult]:
    return [simulate(np.random.default_rng(first_seed + i)) for i in range(runs)]


def summary(case: Scenario, runs: Sequence[RunResult]) -> dict[str, float]:
    """Shares of runs that promoted a best arm, a worse arm, anything (A/A), and the regret."""
    decided = [r.decided_at for r in runs if r.winner in case.best and r.decided_at is not None]
    return {
        "best promoted": float(np.mean([r.winner in case.best for r in runs])),
        "worse arm promoted": float(np.mean(
            [r.winner is not None and r.winner not in case.best for r in runs])),
        "anything promoted": float(np.mean([r.winner is not None for r in runs])),
        "median visitors at promotion": float(np.median(decided)) if decided else float("nan"),
        "regret": float(np.mean([r.regret for r in runs])),
    }


def goals(name: str, thompson: dict[str, float], fixed: dict[str, float]) -> list[tuple[str, bool]]:
    """The issue's goal for scenario ``name``, each as (text, met)."""
    if name in ("aa", "drift 3-7%", "drift 2-8%"):
        share = thompson["anything promoted"]
        return [(f"{name}: false promotions {share:.1%} <= 5%", share <= 0.05)]
    best, worse = thompson["best promoted"], thompson["worse arm promoted"]
    checks = [(f"{name}: best arm promoted {best:.1%} >= 90%", best >= 0.9)]
    if name == "guardrail":
        return [*checks, (f"{name}: harmful or worse arm promoted {worse:.1%} == 0%", worse == 0)]
    cut = 1 - thompson["regret"] / fixed["regret"]
    return [*checks, (f"{name}: worse arm promoted {worse:.1%} <= 2%", worse <= 0.02),
            (f"{name}: regret {cut:.0%} below the fixed split >= 30%", cut >= 0.3)]


def _print(name: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{name}")
    for field in next(iter(rows.values())):
        cells = "".join(f"{rows[policy][field]:>16,.3f}" if rows[policy][field] < 1.0001
                        else f"{rows[policy][field]:>16,.1f}" for policy in rows)
        print(f"  {field:30}{cells}")


def main(argv: Sequence[str] | None = None) -> None:
    """Run every scenario, print Thompson beside the fixed split, then each goal met or not."""
    parser = argparse.ArgumentParser(prog="python -m bench.bandit", description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="runs per policy and scenario")
    args = parser.parse_args([] if argv is None else argv)  # `python -m bench` passes none
    allocation, rule = shipped_settings()
    print(f"{args.runs} runs x 100,000 visitors per scenario, 8 arms; {PLAYBOOK.name}: floor"
          f" {allocation.floor}, min units {allocation.min_units}, P(within"
          f" {rule.equivalence_margin:.0%} of the best) >= {rule.probability_best},"
          f" {rule.min_units_per_arm} units per arm")
    print(f"{'':32}{'thompson':>16}{'fixed split':>16}")
    checks: list[tuple[str, bool]] = []
    for number, (name, changes) in enumerate(SCENARIOS.items()):
        case = scenario(allocation, **changes)
        started = time.perf_counter()
        seed = SEED_STRIDE * (2 * number + 1)
        thompson = summary(case, run_many(lambda rng, c=case: simulate_thompson(c, rule, rng),
                                          seed, args.runs))
        fixed = summary(case, run_many(lambda rng, c=case: simulate_fixed_split(c, rng),
                                       seed + SEED_STRIDE, args.runs))
        _print(f"{name} ({time.perf_counter() - started:.0f} s)",
               {"thompson": thompson, "fixed split": fixed})
        checks += goals(name, thompson, fixed)
    print()
    for text, met in checks:
        print(f"goal {'met    ' if met else 'NOT met'}: {text}")


if __name__ == "__main__":
    main(sys.argv[1:])
