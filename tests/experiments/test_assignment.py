"""Sticky, deterministic assignment and what units outside the experiment see."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from abtest import bucketing
from experiments.assignment import Clock, assign, assign_all, service_zone
from experiments.definitions import set_weights, update_experiment
from experiments.errors import LayerOverlap, NotFound
from experiments.lifecycle import pause_experiment, promote_experiment, stop_experiment
from experiments.models import Assignment
from tests.experiments.conftest import stock_definition

UNITS = [f"shopper-{i}" for i in range(400)]


def test_arm_follows_the_growthbook_hash_and_is_stored(session: Session, running) -> None:
    running()
    for unit in UNITS[:50]:
        result = assign(session, "stock-test", unit, {})
        expected = bucketing.assign("stock-test", unit, [0.5, 0.5])
        assert result.in_experiment
        assert result.arm == ("stock_left=off", "stock_left=on")[expected]
        assert result.text == ("亲，", "亲，只剩最后3件")[expected]
    session.commit()
    stored = session.scalar(select(func.count()).select_from(Assignment))
    assert stored == 50


def test_sticky_when_weights_change(session: Session, running) -> None:
    experiment = running()
    first = {unit: assign(session, "stock-test", unit).arm for unit in UNITS}
    set_weights(session, experiment, [0.0, 1.0])
    session.commit()
    assert {unit: assign(session, "stock-test", unit).arm for unit in UNITS} == first
    newcomers = {assign(session, "stock-test", f"new-{i}").arm for i in range(50)}
    assert newcomers == {"stock_left=on"}
    versions = dict(session.execute(select(Assignment.unit_id, Assignment.weights_version)).all())
    assert versions[UNITS[0]] == 1 and versions["new-0"] == 2


def test_targeting_mismatch_gets_control_and_is_not_stored(session: Session, running) -> None:
    running(targeting={"channel": "chat"})
    outside = assign(session, "stock-test", "u1", {"channel": "sms"})
    assert (outside.in_experiment, outside.arm, outside.text) == (False, "stock_left=off", "亲，")
    assert assign(session, "stock-test", "u1", {"channel": "chat"}).in_experiment
    assert session.scalar(select(func.count()).select_from(Assignment)) == 1


def test_coverage_admits_about_that_share(session: Session, running) -> None:
    running(coverage=0.3)
    inside = sum(assign(session, "stock-test", unit).in_experiment for unit in UNITS)
    # Binomial(400, 0.3): mean 120, sd 9.2; bounds at z = 3.29 (PlanOut's convention)
    assert 90 <= inside <= 150


def test_layer_ranges_never_share_a_unit(session: Session, running) -> None:
    running("left", layer={"name": "chat", "range": [0.0, 0.5]})
    running("right", layer={"name": "chat", "range": [0.5, 1.0]})
    ids = [f"visitor-{i}" for i in range(2000)]
    left = {u for u in ids if assign(session, "left", u).in_experiment}
    right = {u for u in ids if assign(session, "right", u).in_experiment}
    assert not left & right
    assert len(left | right) == 2000  # the two halves cover the layer
    assert 900 <= len(left) <= 1100


def test_a_promoted_experiment_shares_its_layer_units_only_once_retired(
    session: Session, running
) -> None:
    """Promoted: its units keep their arms, so no experiment may enrol them in that layer.
    Stopped: everyone sees the winner outside the experiment, and the range can be reused."""
    chat = {"name": "chat", "range": [0.0, 0.5]}
    running("old", layer=chat)
    ids = [f"visitor-{i}" for i in range(400)]
    enrolled = {u for u in ids if assign(session, "old", u).in_experiment}
    promote_experiment(session, "old", "stock_left=on")
    session.commit()
    assert {u for u in ids if assign(session, "old", u).in_experiment} == enrolled
    with pytest.raises(LayerOverlap):
        running("new", layer=chat)
    session.rollback()
    stop_experiment(session, "old")
    session.commit()
    running("new", layer=chat)
    for unit in ids:
        old, new = assign(session, "old", unit), assign(session, "new", unit)
        assert not (old.in_experiment and new.in_experiment)
        assert (old.in_experiment, old.arm) == (False, "stock_left=on")
        assert new.in_experiment == (unit in enrolled)  # the same hash range, now free


def test_paused_keeps_assigned_units_and_gives_newcomers_control(
    session: Session, running
) -> None:
    running(control="stock_left=on")
    kept = {unit: assign(session, "stock-test", unit).arm for unit in UNITS[:40]}
    pause_experiment(session, "stock-test")
    session.commit()
    assert {unit: assign(session, "stock-test", unit).arm for unit in kept} == kept
    newcomer = assign(session, "stock-test", "late")
    assert (newcomer.in_experiment, newcomer.arm) == (False, "stock_left=on")


def test_stopped_gives_control_to_everyone(session: Session, running) -> None:
    running()
    arms = {assign(session, "stock-test", unit).arm for unit in UNITS[:40]}
    assert arms == {"stock_left=off", "stock_left=on"}
    stop_experiment(session, "stock-test")
    session.commit()
    after = [assign(session, "stock-test", unit) for unit in UNITS[:40]]
    assert {(r.in_experiment, r.arm) for r in after} == {(False, "stock_left=off")}


def test_promoted_winner_for_newcomers_assigned_keep_their_arm(
    session: Session, running
) -> None:
    running()
    kept = {unit: assign(session, "stock-test", unit).arm for unit in UNITS[:40]}
    promote_experiment(session, "stock-test", "stock_left=on")
    session.commit()
    assert {unit: assign(session, "stock-test", unit).arm for unit in kept} == kept
    newcomer = assign(session, "stock-test", "late")
    assert (newcomer.in_experiment, newcomer.arm, newcomer.text) == (
        False, "stock_left=on", "亲，只剩最后3件")


def test_draft_serves_control_without_storing(session: Session) -> None:
    from experiments.definitions import create_experiment

    create_experiment(session, stock_definition())
    result = assign(session, "stock-test", "u1")
    assert not result.in_experiment and result.arm == "stock_left=off"
    assert session.scalar(select(func.count()).select_from(Assignment)) == 0


def test_text_updates_of_a_running_experiment_are_served(session: Session, running) -> None:
    running()
    unit = next(u for u in UNITS if assign(session, "stock-test", u).arm == "stock_left=on")
    update_experiment(session, "stock-test", stock_definition(
        units=[{"unit": "stock_left", "variants": ["off", "on"], "params": {"stock": 2}}]))
    session.commit()
    assert assign(session, "stock-test", unit).text == "亲，只剩最后2件"


def test_assign_all_covers_live_experiments_only(session: Session, running) -> None:
    from experiments.definitions import create_experiment

    running("a-test")
    running("b-test")
    create_experiment(session, stock_definition("c-draft"))
    results = assign_all(session, "u1", {})
    assert [r.experiment for r in results] == ["a-test", "b-test"]
    assert [r.experiment for r in assign_all(session, "u1", {}, ["c-draft"])] == ["c-draft"]
    with pytest.raises(NotFound):
        assign_all(session, "u1", {}, ["a-test", "missing"])


def test_unknown_experiment(session: Session) -> None:
    with pytest.raises(NotFound) as caught:
        assign(session, "missing", "u1")
    assert caught.value.field == "experiment"


def test_a_time_slot_admits_shoppers_by_the_service_clock_and_a_sent_hour_wins(
    session: Session, running, monkeypatch: pytest.MonkeyPatch
) -> None:
    running(targeting={"hour": {"$gte": 20, "$lt": 23}})  # 20:00-23:00 Beijing time
    evening = Clock(now=datetime(2026, 11, 18, 13, 30, tzinfo=UTC))  # 21:30 in Shanghai
    morning = Clock(now=datetime(2026, 11, 18, 3, 0, tzinfo=UTC))  # 11:00 in Shanghai
    assert assign(session, "stock-test", "in-slot", clock=evening).in_experiment
    assert not assign(session, "stock-test", "too-early", clock=morning).in_experiment
    assert not assign(session, "stock-test", "sent-9", {"hour": 9}, clock=evening).in_experiment
    assert assign(session, "stock-test", "sent-21", {"hour": 21}, clock=morning).in_experiment
    stored = dict(session.execute(select(Assignment.unit_id, Assignment.attributes)).all())
    assert stored == {"in-slot": {"hour": 21, "weekday": 3},
                      "sent-21": {"hour": 21, "weekday": 3}}  # Wednesday
    monkeypatch.setenv("ABTEST_TIMEZONE", "UTC")  # 13:30 UTC is outside the slot
    assert not assign(session, "stock-test", "utc-shop", clock=Clock(evening.now)).in_experiment
    in_zone = Clock(evening.now, ZoneInfo("Asia/Shanghai"))
    assert assign(session, "stock-test", "zone-given", clock=in_zone).in_experiment


def test_an_unknown_time_zone_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ABTEST_TIMEZONE", raising=False)
    assert service_zone().key == "Asia/Shanghai"
    with pytest.raises(ValueError, match="ABTEST_TIMEZONE: unknown time zone 'Mars/Olympus'"):
        service_zone("Mars/Olympus")
