"""experiments.aggregation and experiments.results: SQL sufficient statistics against
plain-Python sums of the inserted rows, on SQLite and PostgreSQL (the ``session`` fixture runs
on both)."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from scipy.stats import chisquare, norm
from sqlalchemy import text
from sqlalchemy.orm import Session
from statsmodels.stats.proportion import proportions_ztest

from experiments import aggregation
from experiments.aggregation import MISSING, OTHER, group_statistics
from experiments.definitions import create_experiment, design_of, set_weights
from experiments.errors import InvalidInput, NotFound
from experiments.lifecycle import start_experiment, stop_experiment
from experiments.models import Assignment, Event, Experiment
from experiments.results import (
    POOLED,
    STRATIFIED,
    experiment_results,
    metric_specs,
    results_document,
)
from experiments.results_text import format_results

T0 = datetime(2026, 11, 9, 20, 0, tzinfo=UTC)
CHANNELS = ["chat", "qianniu", "app", "sms", None]


def _definition(playbook: Any) -> dict[str, Any]:
    definition = playbook("urgency-close")
    definition.pop("layer")
    return definition


def _start(session: Session, definition: dict[str, Any]) -> Experiment:
    create_experiment(session, definition)
    experiment = start_experiment(session, definition["key"])
    session.commit()
    return experiment


def _seed(session: Session, experiment: Experiment, units: int, seed: int,
          other: int) -> list[dict]:
    """Random assignments (two weights versions, three days, channels) and events of every kind
    the query must keep or drop. Returns the assignment rows for the reference computation."""
    rng = random.Random(seed)
    arms = design_of(experiment).arm_keys
    rows = []
    for i in range(units):
        attributes = {} if (c := rng.choice(CHANNELS)) is None else {"channel": c}
        rows.append({"experiment_id": experiment.id, "unit_id": f"u{i}", "arm": rng.choice(arms),
                     "weights_version": rng.choice([1, 2]), "attributes": attributes,
                     "assigned_at": T0 + timedelta(hours=rng.uniform(0, 60))})
    session.add_all(Assignment(**row) for row in rows)
    session.add_all(Event(**event) for event in _events(rng, experiment.id, other, rows))
    session.commit()
    return rows


def _events(rng: random.Random, experiment_id: int, other: int, rows: list[dict]) -> list[dict]:
    events = []
    for row in rows:
        for _ in range(rng.randint(0, 4)):
            name = rng.choice(["conversion", "revenue", "complaint", "page_view"])
            events.append({
                "event_id": f"e{len(events)}", "unit_id": row["unit_id"], "name": name,
                "experiment_id": rng.choice([experiment_id, experiment_id, None, other]),
                "value": rng.choice([round(rng.uniform(1, 300), 2), None]),
                "occurred_at": row["assigned_at"] + timedelta(hours=rng.uniform(-5, 30)),
                "unexposed": rng.random() < 0.1,
            })
    events.append({"event_id": "stranger", "unit_id": "nobody", "name": "conversion",
                   "experiment_id": experiment_id, "value": None, "occurred_at": T0,
                   "unexposed": True})
    return events


def _other_experiment(session: Session, playbook: Any) -> int:
    """A second experiment whose events must not count for the first."""
    definition = {**_definition(playbook), "key": "other-exp"}
    return _start(session, definition).id


def _unit_value(kind: str, name: str, row: dict, events: list[Event], exp_id: int,
                until: datetime | None) -> float:
    """The metric value of one unit from its raw event rows, in plain Python."""
    kept = [e for e in events
            if e.unit_id == row["unit_id"] and e.name == name and not e.unexposed
            and e.experiment_id in (exp_id, None) and e.occurred_at >= row["assigned_at"]
            and (until is None or e.occurred_at <= until)]
    if kind == "binary":
        return 1.0 if kept else 0.0
    return sum(e.value or 0.0 for e in kept)


def _expected(session: Session, experiment: Experiment, rows: list[dict], segment_of,
              until: datetime | None = None) -> dict[tuple, list[float]]:
    metrics = metric_specs(design_of(experiment).definition)
    events = list(session.query(Event))
    expected: dict[tuple, list[float]] = defaultdict(lambda: [0.0] * (1 + 2 * len(metrics)))
    for row in rows:
        if until is not None and row["assigned_at"] > until:
            continue  # exposed after the window: not in the analysis
        key = (row["arm"], row["weights_version"],
               row["assigned_at"].astimezone(UTC).date().isoformat(), segment_of(row))
        sums = expected[key]
        sums[0] += 1
        for i, m in enumerate(metrics):
            x = _unit_value(m.kind, m.name, row, events, experiment.id, until)
            sums[1 + 2 * i] += x
            sums[2 + 2 * i] += x * x
    return dict(expected)


def _actual(groups) -> dict[tuple, list[float]]:
    return {(g.arm, g.weights_version, g.day, g.segment):
            [g.stats[0].n] + [v for s in g.stats for v in (s.sum, s.sum_squares)]
            for g in groups}


def _assert_same(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for key, values in expected.items():
        assert actual[key] == pytest.approx(values, rel=1e-12, abs=1e-9), key


def test_sql_statistics_equal_python_sums_of_the_rows(session: Session, playbook) -> None:
    experiment = _start(session, _definition(playbook))
    set_weights(session, experiment, [0.3] + [0.1] * 7)
    rows = _seed(session, experiment, 300, 1, _other_experiment(session, playbook))
    metrics = metric_specs(design_of(experiment).definition)
    groups = group_statistics(session, experiment.id, metrics)
    _assert_same(_actual(groups), _expected(session, experiment, rows, lambda row: None))


def test_segments_keep_the_top_values_and_pool_the_rest(session: Session, playbook) -> None:
    experiment = _start(session, _definition(playbook))
    set_weights(session, experiment, [0.3] + [0.1] * 7)
    rows = _seed(session, experiment, 300, 2, _other_experiment(session, playbook))
    counts: dict[str | None, int] = defaultdict(int)
    for row in rows:
        counts[row["attributes"].get("channel")] += 1
    top = sorted(counts, key=lambda c: (-counts[c], c or ""))[:2]

    def segment_of(row: dict) -> str | None:
        value = row["attributes"].get("channel")
        return value if value in top else OTHER

    metrics = metric_specs(design_of(experiment).definition)
    groups = group_statistics(session, experiment.id, metrics, segment="channel", top=2)
    _assert_same(_actual(groups), _expected(session, experiment, rows, segment_of))


@pytest.fixture
def sharded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Shard any SQLite-file aggregation over 3 connections; lists the shard counts run."""
    monkeypatch.setattr(aggregation, "SHARD_MIN_UNITS", 1)
    monkeypatch.setattr(aggregation.os, "cpu_count", lambda: 3)
    runs: list[int] = []
    execute = aggregation._execute_concurrently

    def counted(engine, queries):
        runs.append(len(queries))
        return execute(engine, queries)

    monkeypatch.setattr(aggregation, "_execute_concurrently", counted)
    return runs


def test_shards_add_up_to_the_python_sums(session: Session, playbook, sharded) -> None:
    experiment = _start(session, _definition(playbook))
    rows = _seed(session, experiment, 200, 5, _other_experiment(session, playbook))
    until = T0 + timedelta(hours=50)
    metrics = metric_specs(design_of(experiment).definition)
    groups = group_statistics(session, experiment.id, metrics, segment="channel", top=3,
                              until=until)
    ranked = {g.segment for g in groups} - {OTHER}
    assert sharded == [3]
    assert len(ranked) == 3
    _assert_same(_actual(groups), _expected(
        session, experiment, rows,
        lambda row: c if (c := row["attributes"].get("channel")) in ranked else OTHER, until))


def test_uncommitted_units_are_counted_on_the_session_not_sharded(
    session: Session, playbook, sharded
) -> None:
    experiment = _start(session, _definition(playbook))
    _seed(session, experiment, 50, 6, _other_experiment(session, playbook))
    session.add(Assignment(experiment_id=experiment.id, unit_id="fresh", arm=design_of(
        experiment).arm_keys[0], weights_version=1, attributes={}, assigned_at=T0))
    session.flush()
    metrics = metric_specs(design_of(experiment).definition)
    groups = group_statistics(session, experiment.id, metrics)
    assert sum(g.stats[0].n for g in groups) == 51
    assert sharded == []


def test_window_ends_when_the_experiment_stops(session: Session, playbook) -> None:
    experiment = _start(session, _definition(playbook))
    set_weights(session, experiment, [0.3] + [0.1] * 7)
    rows = _seed(session, experiment, 120, 3, _other_experiment(session, playbook))
    until = T0 + timedelta(hours=40)
    metrics = metric_specs(design_of(experiment).definition)
    groups = group_statistics(session, experiment.id, metrics, until=until)
    _assert_same(_actual(groups), _expected(session, experiment, rows, lambda row: None, until))


def test_results_until_leaves_out_later_exposures(session: Session, playbook) -> None:
    experiment = _start(session, _definition(playbook))
    set_weights(session, experiment, [0.3] + [0.1] * 7)
    rows = _seed(session, experiment, 120, 4, _other_experiment(session, playbook))
    until = T0 + timedelta(hours=30)
    windowed = experiment_results(session, experiment.key, until=until)
    assert windowed.window_end == until
    assert sum(windowed.analysis.units) == sum(row["assigned_at"] <= until for row in rows) < 120
    stop_experiment(session, experiment.key)
    stopped = experiment.stopped_at
    assert experiment_results(session, experiment.key, until=stopped + timedelta(days=1)
                              ).window_end == stopped


def _one_unit(session: Session, experiment: Experiment, events: list[dict]) -> dict[str, float]:
    """Store one exposed unit with ``events``; return its per-metric sums."""
    session.add(Assignment(experiment_id=experiment.id, unit_id="solo", arm=design_of(
        experiment).arm_keys[0], weights_version=1, attributes={}, assigned_at=T0))
    session.add_all(Event(event_id=f"s{i}", unit_id="solo", **e) for i, e in enumerate(events))
    session.commit()
    metrics = metric_specs(design_of(experiment).definition)
    [group] = group_statistics(session, experiment.id, metrics)
    return {m.name: s.sum for m, s in zip(metrics, group.stats, strict=True)}


def test_only_exposed_events_after_exposure_of_this_experiment_count(
    session: Session, playbook
) -> None:
    experiment = _start(session, _definition(playbook))
    other = _other_experiment(session, playbook)
    after = T0 + timedelta(minutes=5)
    sums = _one_unit(session, experiment, [
        {"name": "revenue", "value": 10.0, "occurred_at": T0 - timedelta(seconds=1)},
        {"name": "revenue", "value": 20.0, "occurred_at": after, "unexposed": True},
        {"name": "revenue", "value": 40.0, "occurred_at": after, "experiment_id": other},
        {"name": "revenue", "value": 80.0, "occurred_at": after},  # NULL experiment: counts
        {"name": "revenue", "value": 1.5, "occurred_at": T0, "experiment_id": experiment.id},
        {"name": "complaint", "occurred_at": after, "experiment_id": other},
        {"name": "conversion", "occurred_at": after},
        {"name": "conversion", "occurred_at": after + timedelta(hours=1)},
    ])
    assert sums == {"conversion": 1.0, "revenue": 81.5, "complaint": 0.0}


def test_units_without_events_count_as_zero(session: Session, playbook) -> None:
    experiment = _start(session, _definition(playbook))
    assert _one_unit(session, experiment, []) == {"conversion": 0, "revenue": 0, "complaint": 0}


def test_day_is_the_utc_exposure_date_whatever_the_session_time_zone(
    session: Session, playbook
) -> None:
    experiment = _start(session, _definition(playbook))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET TIME ZONE 'Asia/Shanghai'"))
    china = timezone(timedelta(hours=8))
    session.add(Assignment(experiment_id=experiment.id, unit_id="late", arm=design_of(
        experiment).arm_keys[0], weights_version=1, attributes={},
        assigned_at=datetime(2026, 11, 11, 1, 30, tzinfo=china)))
    session.flush()
    metrics = metric_specs(design_of(experiment).definition)
    [group] = group_statistics(session, experiment.id, metrics)
    assert group.day == "2026-11-10"


def test_missing_and_numeric_attributes_become_segments(session: Session, playbook) -> None:
    experiment = _start(session, _definition(playbook))
    arm = design_of(experiment).arm_keys[0]
    for i, attributes in enumerate(
            [{"slot": 3}] * 3 + [{}] * 2 + [{"slot": "x"}, {"slot": "y"}]):
        session.add(Assignment(experiment_id=experiment.id, unit_id=f"a{i}", arm=arm,
                               weights_version=1, attributes=attributes, assigned_at=T0))
    session.commit()
    document = results_document(experiment_results(session, experiment.key, segment="slot",
                                                   top=2))
    segments = document["segments"]
    assert segments["attribute"] == "slot"
    assert [(s["value"], s["units"]) for s in segments["values"]] == [
        ("3", 3), (MISSING, 2), (OTHER, 2)]


def test_srm_expects_each_periods_weights(session: Session, playbook) -> None:
    experiment = _start(session, _definition(playbook))
    design = design_of(experiment)
    set_weights(session, experiment, [0.44] + [0.08] * 7)
    first, second = [0.125] * 8, [0.44] + [0.08] * 7
    arms = design.arm_keys
    plan = [(1, i % 8) for i in range(160)] + [(2, 0 if i % 2 else 1 + i % 7) for i in range(100)]
    for i, (version, arm) in enumerate(plan):
        session.add(Assignment(experiment_id=experiment.id, unit_id=f"p{i}", arm=arms[arm],
                               weights_version=version, attributes={}, assigned_at=T0))
    session.commit()
    srm = results_document(experiment_results(session, experiment.key))["srm"]
    expected = [160 * w1 + 100 * w2 for w1, w2 in zip(first, second, strict=True)]
    observed = [sum(1 for _, a in plan if a == i) for i in range(8)]
    assert srm["observed"] == observed
    assert srm["expected"] == pytest.approx(expected, rel=1e-12)
    assert srm["p_value"] == pytest.approx(chisquare(observed, expected).pvalue, rel=1e-9)
    assert srm["periods"] == 2


def test_empty_experiment_says_no_data(session: Session, playbook) -> None:
    experiment = _start(session, _definition(playbook))
    document = results_document(experiment_results(session, experiment.key))
    json.dumps(document, allow_nan=False)
    assert document["status"] == "no_data"
    assert document["decision_basis"] == "sequential"
    assert document["srm"]["status"] == "no_data"
    assert [m["name"] for m in document["metrics"]] == ["conversion", "revenue", "complaint"]
    assert all(arm["units"] == 0 for arm in document["metrics"][0]["arms"])
    assert "no data" in format_results(document)


def test_a_stopped_experiment_is_judged_at_fixed_horizon(session: Session, playbook) -> None:
    experiment = _start(session, _definition(playbook))
    set_weights(session, experiment, [0.3] + [0.1] * 7)
    _seed(session, experiment, 200, 4, _other_experiment(session, playbook))
    stop_experiment(session, experiment.key)
    session.commit()
    results = experiment_results(session, experiment.key)
    assert results.analysis.decision_basis == "fixed_horizon"
    assert results.window_end == experiment.stopped_at
    report = format_results(results_document(results))
    assert "fixed horizon" in report and "SRM: p =" in report and "factorial" in report


def test_unknown_key_and_bad_alpha_are_domain_errors(session: Session) -> None:
    with pytest.raises(NotFound):
        experiment_results(session, "missing")
    with pytest.raises(InvalidInput):
        experiment_results(session, "missing", alpha=1.5)


#: (weights version, arm, units, conversions): the rate jumps from 2% to 10% between the periods
#: in both arms alike while the weights move from 50/50 to 10/90 (Simpson's paradox).
SIMPSON = [(1, 0, 1000, 20), (1, 1, 1000, 20), (2, 0, 200, 20), (2, 1, 1800, 180)]


def _store_cells(session: Session, experiment: Experiment,
                 cells: list[tuple[int, int, int, int]]) -> None:
    """Units per (version, arm) cell, the first ``conversions`` of each converted; even and odd
    units alternate between channels ``app`` and ``web``."""
    arms = design_of(experiment).arm_keys
    for version, arm, units, conversions in cells:
        for j in range(units):
            unit = f"v{version}-a{arm}-{j}"
            channel = {"channel": "app" if j % 2 == 0 else "web"}
            session.add(Assignment(experiment_id=experiment.id, unit_id=unit, arm=arms[arm],
                                   weights_version=version, attributes=channel, assigned_at=T0))
            if j < conversions:
                session.add(Event(event_id=f"e-{unit}", unit_id=unit, name="conversion",
                                  experiment_id=experiment.id,
                                  occurred_at=T0 + timedelta(minutes=1)))
    session.commit()


def _stratified_variance(arm: int) -> float:
    """Cochran's stratified variance of one arm's mean, from the 0/1 outcomes of each cell."""
    sizes = {v: sum(n for version, _, n, _ in SIMPSON if version == v) for v in (1, 2)}
    total = sum(sizes.values())
    variance = 0.0
    for version, cell_arm, units, conversions in SIMPSON:
        if cell_arm == arm:
            outcomes = np.r_[np.ones(conversions), np.zeros(units - conversions)]
            variance += (sizes[version] / total) ** 2 * outcomes.var(ddof=1) / units
    return variance


def test_moving_weights_and_drifting_rates_give_no_lift_when_stratified(
    session: Session, running
) -> None:
    experiment = running()
    set_weights(session, experiment, [0.1, 0.9])
    _store_cells(session, experiment, SIMPSON)
    pooled = [sum(c for _, a, _, c in SIMPSON if a == arm) / sum(n for _, a, n, _ in SIMPSON
              if a == arm) for arm in (0, 1)]
    assert pooled[1] / pooled[0] - 1 > 1.1  # pooling: 7.1% vs 3.3%, a +114% "lift"
    assert proportions_ztest([200, 40], [2800, 1200])[1] < 1e-5  # ... "significant" too

    document = results_document(experiment_results(session, experiment.key))
    assert document["estimator"].startswith(STRATIFIED)
    assert "2 of 2 periods, 0 units left out" in document["estimator"]
    conversion = document["metrics"][0]
    assert conversion["kind"] == "binary" and "Welch" in conversion["method"]
    control, treatment = conversion["arms"]
    assert control["mean"] == pytest.approx(0.06) and treatment["mean"] == pytest.approx(0.06)
    assert treatment["lift"]["relative"] == pytest.approx(0.0, abs=1e-9)
    assert treatment["p_value"] > 0.99
    half_width = (treatment["lift"]["absolute_ci"][1] - treatment["lift"]["absolute_ci"][0]) / 2
    se = np.sqrt(_stratified_variance(0) + _stratified_variance(1))
    assert half_width == pytest.approx(norm.ppf(0.975) * se, rel=1e-3)
    assert [control["units"], treatment["units"]] == document["units"] == [1200, 2800]
    assert document["srm"]["periods"] == 2 and not document["srm"]["mismatch"]


def test_each_segment_is_stratified_by_period_too(session: Session, running) -> None:
    experiment = running()
    set_weights(session, experiment, [0.1, 0.9])
    _store_cells(session, experiment, SIMPSON)  # each channel holds half of every cell
    segments = results_document(experiment_results(session, experiment.key,
                                                   segment="channel"))["segments"]
    assert "post-stratified by allocation period" in segments["method"]
    assert [s["value"] for s in segments["values"]] == ["app", "web"]
    for segment in segments["values"]:
        assert segment["units"] == 2000
        conversion = segment["metrics"][0]
        assert conversion["kind"] == "binary"
        control, treatment = conversion["arms"]
        assert [control["units"], treatment["units"]] == [600, 1400]
        assert control["mean"] == pytest.approx(0.06) and treatment["mean"] == pytest.approx(0.06)
        assert treatment["p_value"] > 0.99  # pooled, the segment would show 7.1% vs 3.3%


def test_one_allocation_period_is_analysed_pooled(session: Session, running) -> None:
    experiment = running()
    _store_cells(session, experiment, [(1, 0, 500, 25), (1, 1, 500, 40)])
    document = results_document(experiment_results(session, experiment.key))
    assert document["estimator"] == POOLED
    conversion = document["metrics"][0]
    assert [a["mean"] for a in conversion["arms"]] == [25 / 500, 40 / 500]
    expected = proportions_ztest([40, 25], [500, 500])[1]
    assert conversion["arms"][1]["p_value"] == pytest.approx(expected, rel=1e-9)
