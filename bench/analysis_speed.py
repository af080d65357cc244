"""Speed of the results pipeline: the analysis from sufficient statistics, and the SQL aggregation.

1. One full analysis (:func:`abtest.stats.analysis.analyze`) of 8 arms x 3 metrics x 5 segments
   from ``SampleStats`` alone, in milliseconds, next to GrowthBook gbstats 0.8.0 on the same
   numbers, alternating ours and gbstats for ``--rounds`` (default 9) rounds in one run; it
   prints each side's median and min-max and the median of the per-round ratios against the
   goal (< 1.0). gbstats pins numpy<2/pandas<2, so it runs in a throwaway virtualenv
   (``bench/.venv-gbstats``, git-ignored) through ``bench/_gbstats_reference_timing.py``, one
   process answering one round per request; when that venv cannot be built the column is
   skipped with the reason.
2. :func:`experiments.aggregation.group_statistics` over N stored events (default 10 million)
   in a temporary SQLite file, migrated like production. Generation is not timed; the aggregation
   runs in a fresh subprocess that reports its wall time and peak RSS (Linux ``VmHWM``).

``python -m bench.analysis_speed [--events N] [--rounds R] [--skip-gbstats]``; ``python -m bench``
runs it with the defaults.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

from abtest.stats.analysis import analyze
from abtest.stats.analysis_types import AnalysisConfig, AnalysisInput, Group, MetricSpec
from abtest.stats.summary import SampleStats

BENCH = Path(__file__).resolve().parent
GBSTATS_VENV = BENCH / ".venv-gbstats"
GBSTATS_SCRIPT = BENCH / "_gbstats_reference_timing.py"
PLAYBOOK = BENCH.parent / "experiments" / "playbooks" / "urgency-close.yaml"
METRICS = (
    MetricSpec("conversion", "binary"),
    MetricSpec("revenue", "numeric", "secondary"),
    MetricSpec("complaint", "binary", "guardrail", higher_is_better=False),
)
ARMS = 8
SEGMENTS = 5
CHUNK = 100_000
#: Alternating rounds of ours and gbstats (issue 13 asks for at least 9).
ROUNDS = 9
#: Goal for the median per-round ratio ours / gbstats of one full analysis.
GOAL_RATIO = 1.0
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def synthetic_stats(seed: int, units: int) -> dict[str, list[SampleStats]]:
    """Per metric, one ``SampleStats`` per arm drawn like real traffic (revenue ~ gamma)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[SampleStats]] = {m.name: [] for m in METRICS}
    for arm in range(ARMS):
        buyers = rng.binomial(1, 0.08 + 0.004 * arm, units)
        revenue = buyers * rng.gamma(2.0, 60.0, units)
        complaints = rng.binomial(1, 0.02, units)
        for name, x in (("conversion", buyers), ("revenue", revenue), ("complaint", complaints)):
            out[name].append(SampleStats(units, float(x.sum()), float((x * x).sum())))
    return out


def analysis_case() -> tuple[AnalysisConfig, AnalysisInput]:
    """8 arms (the urgency-close factorial) x 3 metrics, overall and in 5 segments."""
    levels = [(a, b, c) for a in ("off", "on") for b in ("off", "on") for c in ("off", "on")]
    choices = tuple(
        dict(zip(("countdown", "stock_left", "loyal_price"), v, strict=True)) for v in levels
    )
    arms = tuple("|".join(f"{k}={v}" for k, v in c.items()) for c in choices)
    config = AnalysisConfig(arms, METRICS, arm_choices=choices)
    segments = tuple(Group(f"s{i}", synthetic_stats(i + 1, 4000)) for i in range(SEGMENTS))
    data = AnalysisInput(
        synthetic_stats(0, 20_000),
        segment_attribute="channel",
        segment_top=SEGMENTS,
        segments=segments,
    )
    return config, data


def time_analysis(config: AnalysisConfig, data: AnalysisInput) -> float:
    """Wall time of one :func:`analyze` in milliseconds."""
    start = time.perf_counter()
    analyze(config, data)
    return (time.perf_counter() - start) * 1000


def gbstats_python() -> Path | None:
    """The throwaway venv's interpreter with gbstats 0.8.0, built on first use; None if not."""
    python = GBSTATS_VENV / "bin" / "python"
    if not python.exists():
        try:
            venv.create(GBSTATS_VENV, with_pip=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "gbstats==0.8.0"],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (OSError, subprocess.SubprocessError) as error:
            print(f"gbstats venv could not be built ({error}); gbstats column skipped")
            return None
    return python


def start_gbstats(python: Path, config: AnalysisConfig, data: AnalysisInput) -> subprocess.Popen:
    """gbstats' timing process, sent the same statistics and warmed up (it prints ``ready``)."""
    groups = [data.overall, *(g.stats for g in data.segments)]
    payload = [
        {m.name: [[s.n, s.sum, s.sum_squares] for s in group[m.name]] for m in METRICS}
        for group in groups
    ]
    kinds = {m.name: m.kind for m in METRICS}
    process = subprocess.Popen(
        [str(python), str(GBSTATS_SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    process.stdin.write(json.dumps({"groups": payload, "kinds": kinds, "control": config.control}))
    process.stdin.write("\n")
    process.stdin.flush()
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError("the gbstats timing process did not start")
    return process


def time_gbstats_round(process: subprocess.Popen) -> float:
    """gbstats' milliseconds for one run of the same tests."""
    process.stdin.write("\n")
    process.stdin.flush()
    return float(json.loads(process.stdout.readline())["ms"])


def alternate(rounds: int, python: Path | None) -> tuple[list[float], list[float]]:
    """Ours, gbstats, ours, gbstats, ...: ``rounds`` timings each on the same inputs.

    Alternating within one run exposes both sides to the same load (this machine is shared),
    so the per-round ratio is fair where two separate best-of-n figures are not.
    """
    config, data = analysis_case()
    time_analysis(config, data)  # warm-up: imports, scipy set-up
    process = start_gbstats(python, config, data) if python else None
    ours, theirs = [], []
    try:
        for _ in range(rounds):
            ours.append(time_analysis(config, data))
            if process:
                theirs.append(time_gbstats_round(process))
    finally:
        if process:
            process.stdin.close()
            process.wait(timeout=60)
    return ours, theirs


def spread(values: Sequence[float]) -> str:
    """``median (min-max)`` in milliseconds."""
    return f"median {np.median(values):.0f} ms (min {min(values):.0f} - max {max(values):.0f})"


def report_speed(rounds: int, python: Path | None) -> None:
    """Print both sides' spread, the median per-round ratio and whether the goal is met."""
    ours, theirs = alternate(rounds, python)
    shape = f"{ARMS} arms x {len(METRICS)} metrics x {SEGMENTS} segments"
    print(f"full analysis, {shape}, {rounds} alternating rounds: ours {spread(ours)}")
    if not theirs:
        return
    ratio = float(np.median(np.divide(ours, theirs)))
    verdict = "met" if ratio < GOAL_RATIO else "NOT met"
    print(f"gbstats 0.8.0 on the same statistics: {spread(theirs)}")
    print(
        f"median per-round ratio ours / gbstats = {ratio:.2f} "
        f"[goal < {GOAL_RATIO:.1f} for one full analysis: {verdict}]"
    )


def _chunks(total: int) -> Iterator[tuple[int, int]]:
    """(first index, size) of each chunk of ``total`` rows."""
    for first in range(0, total, CHUNK):
        yield first, min(CHUNK, total - first)


def _times(rng: np.random.Generator, size: int, days: int) -> list[str]:
    """Uniform UTC times over ``days`` days in SQLAlchemy's SQLite DateTime text format."""
    offsets = (rng.uniform(0, days * 86_400, size) * 1e6).astype("timedelta64[us]")
    stamps = np.datetime_as_string(np.datetime64(T0.replace(tzinfo=None), "us") + offsets)
    return [stamp.replace("T", " ") for stamp in stamps.tolist()]


def _assignment_chunks(experiment_id: int, units: int, arms: Sequence[str]) -> Iterator[list]:
    rng = np.random.default_rng(1)
    channels = [json.dumps({"channel": c}) for c in ("chat", "qianniu", "app", "sms", "web")]
    for first, size in _chunks(units):
        attributes = [channels[k] for k in rng.integers(len(channels), size=size).tolist()]
        times = _times(rng, size, 14)
        yield [
            (experiment_id, f"u{i}", arms[i % len(arms)], 1, attributes[j], times[j])
            for j, i in enumerate(range(first, first + size))
        ]


def _event_chunks(experiment_id: int, units: int, events: int) -> Iterator[list]:
    """Events of metric and non-metric names, some before exposure, unexposed, NULL experiment
    or of another experiment, so the join has real filtering to do."""
    rng = np.random.default_rng(2)
    names = ["conversion", "revenue", "complaint", "page_view", "chat_open"]
    owners = [experiment_id, experiment_id, None, experiment_id + 1]
    for first, size in _chunks(events):
        unit = rng.integers(units, size=size).tolist()
        name = rng.integers(len(names), size=size).tolist()
        owner = rng.integers(len(owners), size=size).tolist()
        value = np.round(rng.uniform(5, 400, size), 2).tolist()
        valued = (rng.random(size) < 0.5).tolist()
        unexposed = (rng.random(size) < 0.02).tolist()
        times = _times(rng, size, 15)
        yield [
            (
                f"e{first + j}",
                owners[owner[j]],
                f"u{unit[j]}",
                names[name[j]],
                value[j] if valued[j] else None,
                times[j],
                times[j],
                unexposed[j],
            )
            for j in range(size)
        ]


def _insert(connection: sqlite3.Connection, statement: str, chunks: Iterator[list]) -> None:
    for chunk in chunks:
        connection.executemany(statement, chunk)
        connection.commit()


def build_database(path: Path, events: int) -> None:
    """A migrated SQLite file with one 8-arm experiment, its units and ``events`` events."""
    from experiments.db import make_engine, make_session_factory, upgrade
    from experiments.definitions import create_experiment, design_of
    from experiments.models import Event

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    definition = yaml.safe_load(PLAYBOOK.read_text(encoding="utf-8"))
    with make_session_factory(engine).begin() as session:
        experiment = create_experiment(session, definition)
        create_experiment(session, {**definition, "key": "other", "layer": None})
        experiment_id, arms = experiment.id, design_of(experiment).arm_keys
    # Loading into indexed B-trees in random key order is far slower than indexing afterwards:
    # drop the events indexes of the migrated schema now, create the same ones after the load.
    for index in Event.__table__.indexes:
        index.drop(engine)
    engine.dispose()
    _load(path, experiment_id, arms, events)
    engine = make_engine(f"sqlite:///{path}")
    for index in Event.__table__.indexes:
        index.create(engine)
    engine.dispose()


def _load(path: Path, experiment_id: int, arms: Sequence[str], events: int) -> None:
    """Bulk insert ``events // 10`` units and ``events`` events with sqlite3's executemany."""
    units = max(events // 10, 1)
    with sqlite3.connect(path) as connection:
        # A throwaway file: no journal, no fsync, so generation (not timed) stays quick.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")
        _insert(
            connection,
            "INSERT INTO assignments (experiment_id, unit_id, arm, weights_version,"
            " attributes, assigned_at) VALUES (?, ?, ?, ?, ?, ?)",
            _assignment_chunks(experiment_id, units, arms),
        )
        _insert(
            connection,
            "INSERT INTO events (event_id, experiment_id, unit_id, name, value,"
            " occurred_at, received_at, unexposed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            _event_chunks(experiment_id, units, events),
        )
    with sqlite3.connect(path) as connection:
        connection.execute("ANALYZE")


def peak_rss_mb() -> float:
    """This process's peak resident set in MB.

    Linux's ``VmHWM`` is per process image; ``ru_maxrss`` is not used there because the kernel
    carries the parent's high-water mark across ``fork``/``exec`` into the child's figure.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def aggregate(path: Path, segment: str | None) -> dict[str, float]:
    """Run :func:`group_statistics` once: wall and CPU seconds, peak RSS before and after."""
    from experiments.aggregation import group_statistics
    from experiments.db import make_engine, make_session_factory
    from experiments.definitions import design_of, get_experiment
    from experiments.results import metric_specs

    engine = make_engine(f"sqlite:///{path}")
    with make_session_factory(engine)() as session:
        experiment = get_experiment(session, "urgency-close")
        metrics = metric_specs(design_of(experiment).definition)
        before = peak_rss_mb()
        cpu, start = time.process_time(), time.perf_counter()
        groups = group_statistics(session, experiment.id, metrics, segment=segment)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mb": peak_rss_mb(),
        "rss_before_mb": before,
        "groups": len(groups),
    }


def time_aggregation(events: int) -> None:
    """Build the file (untimed), then aggregate in fresh subprocesses with and without segments."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        start = time.perf_counter()
        build_database(path, events)
        print(f"generated {events:,} events in {time.perf_counter() - start:.0f} s (not counted)")
        for segment in (None, "channel"):
            command = [sys.executable, "-m", "bench.analysis_speed", "--aggregate", str(path)]
            command += ["--segment", segment] if segment else []
            answer = subprocess.run(
                command, capture_output=True, text=True, check=True, cwd=BENCH.parent
            )
            figures = json.loads(answer.stdout)
            verdict = "ok" if figures["seconds"] < 5 and figures["peak_mb"] < 300 else "OVER"
            print(
                f"aggregate {events:,} events{' by ' + segment if segment else ''}: "
                f"{figures['seconds']:.2f} s ({figures['cpu_seconds']:.2f} s CPU), "
                f"peak RSS {figures['peak_mb']:.0f} MB "
                f"({figures['rss_before_mb']:.0f} MB before the query), "
                f"{figures['groups']} groups [{verdict}: target < 5 s, < 300 MB]"
            )


def main(argv: Sequence[str] | None = None) -> None:
    """Print both timings; ``argv`` defaults to none (the ``python -m bench`` runner)."""
    parser = argparse.ArgumentParser(prog="python -m bench.analysis_speed")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--skip-gbstats", action="store_true")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--aggregate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--segment", help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv or []))
    if args.aggregate:
        print(json.dumps(aggregate(args.aggregate, args.segment)))
        return
    report_speed(args.rounds, None if args.skip_gbstats else gbstats_python())
    time_aggregation(args.events)


if __name__ == "__main__":
    main(sys.argv[1:])
