"""Assignments per second of the pure core against GrowthBook's Python SDK, same ids, same run.

One assignment is what a storefront request costs the core: hash the unit id (version 2), turn
weights and coverage into bucket ranges, choose the arm, and evaluate a small targeting
condition. Both sides make the same four calls per id; a third line shows ``assign()``, which
the service calls and which computes the ranges once per experiment setting.

Other processes share the machine, so the ids are timed in chunks: each chunk runs through every
pipeline in turn, ``ROUNDS`` times, and each pipeline's fastest run of each chunk counts. Load
that comes and goes then hits both sides alike. The arms and targeting results of both sides
are compared, so a fast but wrong pipeline cannot pass unseen.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from abtest.bucketing import assign, bucket_ranges, choose_variation
from abtest.conditions import evaluate
from abtest.hashing import hash as unit_hash

UNITS = 200_000
ROUNDS = 3
CHUNK = 5_000
EXPERIMENT = "checkout-countdown"
WEIGHTS = [0.2, 0.3, 0.5]
COVERAGE = 0.9
CONDITION = {"channel": {"$in": ["livestream", "app"]}, "segment": "core", "hour": {"$gte": 20}}
CHANNELS = ("livestream", "app", "web")
SEGMENTS = ("core", "new")

Unit = tuple[str, dict]
Pipeline = Callable[[str, dict], tuple[int, bool]]


def _units() -> list[Unit]:
    """Unit ids with independent attributes; the condition holds for 1 unit in 18."""
    return [
        (
            f"user-{i:07d}",
            {"channel": CHANNELS[i % 3], "segment": SEGMENTS[i // 3 % 2], "hour": i // 6 % 24},
        )
        for i in range(UNITS)
    ]


def ours(unit_id: str, attributes: dict) -> tuple[int, bool]:
    position = unit_hash(EXPERIMENT, unit_id, 2)
    arm = choose_variation(position, bucket_ranges(len(WEIGHTS), COVERAGE, WEIGHTS))
    return arm, evaluate(CONDITION, attributes)


def ours_via_assign(unit_id: str, attributes: dict) -> tuple[int, bool]:
    return assign(EXPERIMENT, unit_id, WEIGHTS, COVERAGE), evaluate(CONDITION, attributes)


def growthbook_pipeline() -> Pipeline | None:
    """The SDK's own functions (``growthbook.core`` in 4.0.0), or None when it is not installed."""
    try:
        from growthbook.core import chooseVariation, evalCondition, gbhash, getBucketRanges
    except ImportError:
        return None

    def theirs(unit_id: str, attributes: dict) -> tuple[int, bool]:
        position = gbhash(EXPERIMENT, unit_id, 2)
        arm = chooseVariation(position, getBucketRanges(len(WEIGHTS), COVERAGE, WEIGHTS))
        return arm, evalCondition(attributes, CONDITION)

    return theirs


def _timed(pipeline: Pipeline, units: list[Unit]) -> tuple[float, list[tuple[int, bool]]]:
    start = time.perf_counter()
    results = [pipeline(unit_id, attributes) for unit_id, attributes in units]
    return time.perf_counter() - start, results


def _measure(
    pipelines: dict[str, Pipeline], units: list[Unit]
) -> tuple[dict[str, float], dict[str, list[tuple[int, bool]]]]:
    """Seconds and results per pipeline, chunk by chunk; no garbage collection, as in timeit."""
    seconds = dict.fromkeys(pipelines, 0.0)
    results: dict[str, list[tuple[int, bool]]] = {name: [] for name in pipelines}
    gc.disable()
    try:
        for start in range(0, len(units), CHUNK):
            chunk = units[start : start + CHUNK]
            fastest = dict.fromkeys(pipelines, float("inf"))
            for round_number in range(ROUNDS):
                for name, pipeline in pipelines.items():
                    elapsed, found = _timed(pipeline, chunk)
                    fastest[name] = min(fastest[name], elapsed)
                    if round_number == 0:
                        results[name].extend(found)
            for name, elapsed in fastest.items():
                seconds[name] += elapsed
    finally:
        gc.enable()
    return seconds, results


def main() -> None:
    units = _units()
    pipelines: dict[str, Pipeline] = {"abtest (4 calls)": ours, "abtest assign()": ours_via_assign}
    theirs = growthbook_pipeline()
    if theirs is not None:
        pipelines["growthbook SDK"] = theirs
    seconds, results = _measure(pipelines, units)
    print(f"{UNITS:,} ids: hash v2, bucket ranges, choose variation, condition")
    for name, elapsed in seconds.items():
        rate, micros = UNITS / elapsed, elapsed / UNITS * 1e6
        print(f"  {name:<18} {rate:>10,.0f} assignments/s {micros:6.2f} µs each")
    if theirs is None:
        print("  growthbook SDK not installed (pip install growthbook): no ratio")
        return
    for name in ("abtest (4 calls)", "abtest assign()"):
        ratio = seconds["growthbook SDK"] / seconds[name]
        pairs = zip(results[name], results["growthbook SDK"], strict=True)
        differing = sum(mine != sdk for mine, sdk in pairs)
        print(f"  {name} / growthbook SDK: {ratio:.2f}x  ({differing} differing results)")


if __name__ == "__main__":
    main()
