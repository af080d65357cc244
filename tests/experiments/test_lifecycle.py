"""The status machine, layer overlap and the update rules for live experiments."""
from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from experiments.definitions import create_experiment, update_experiment
from experiments.errors import Conflict, IllegalTransition, InvalidInput, LayerOverlap
from experiments.lifecycle import (
    pause_experiment,
    promote_experiment,
    start_experiment,
    stop_experiment,
)
from tests.experiments.conftest import stock_definition

MOVES = {"start": start_experiment, "pause": pause_experiment, "stop": stop_experiment,
         "promote": lambda s, k: promote_experiment(s, k, "stock_left=on")}
PATHS = {"draft": [], "running": ["start"], "paused": ["start", "pause"],
         "stopped": ["start", "stop"], "promoted": ["start", "promote"]}
LEGAL = {("draft", "start"), ("running", "pause"), ("running", "stop"), ("running", "promote"),
         ("paused", "start"), ("paused", "stop"), ("paused", "promote"), ("stopped", "promote"),
         ("promoted", "stop")}


@pytest.mark.parametrize("status", PATHS)
@pytest.mark.parametrize("action", MOVES)
def test_transitions(session: Session, status: str, action: str) -> None:
    create_experiment(session, stock_definition())
    for step in PATHS[status]:
        MOVES[step](session, "stock-test")
    if (status, action) in LEGAL:
        assert MOVES[action](session, "stock-test").status != status
    else:
        with pytest.raises(IllegalTransition, match=f"cannot {action}"):
            MOVES[action](session, "stock-test")


def test_timestamps_and_winner(session: Session) -> None:
    create_experiment(session, stock_definition())
    started = start_experiment(session, "stock-test").started_at
    pause_experiment(session, "stock-test")
    assert start_experiment(session, "stock-test").started_at == started
    promoted = promote_experiment(session, "stock-test", "stock_left=on")
    assert promoted.winner_arm == "stock_left=on" and promoted.stopped_at is not None


def test_promote_needs_an_arm_of_the_experiment(session: Session) -> None:
    create_experiment(session, stock_definition())
    start_experiment(session, "stock-test")
    with pytest.raises(InvalidInput) as caught:
        promote_experiment(session, "stock-test", "countdown=on")
    assert caught.value.field == "arm"


def test_layer_overlap_is_refused_on_create_update_and_start(session: Session) -> None:
    create_experiment(session, stock_definition("a", layer={"name": "chat", "range": [0, 0.5]}))
    with pytest.raises(LayerOverlap, match="overlaps experiment 'a'"):
        create_experiment(session, stock_definition(
            "b", layer={"name": "chat", "range": [0.4, 1]}))
    create_experiment(session, stock_definition("b", layer={"name": "chat", "range": [0.5, 1]}))
    create_experiment(session, stock_definition("c", layer={"name": "other", "range": [0, 1]}))
    with pytest.raises(LayerOverlap):
        update_experiment(session, "b", stock_definition(
            "b", layer={"name": "chat", "range": [0.2, 1]}))
    start_experiment(session, "a")
    stop_experiment(session, "a")
    create_experiment(session, stock_definition("d", layer={"name": "chat", "range": [0, 0.5]}))
    start_experiment(session, "d")


def test_a_promoted_experiment_holds_its_layer_range_until_stopped(session: Session) -> None:
    chat = {"name": "chat", "range": [0, 0.5]}
    create_experiment(session, stock_definition("a", layer=chat))
    start_experiment(session, "a")
    promote_experiment(session, "a", "stock_left=on")
    with pytest.raises(LayerOverlap, match="overlaps experiment 'a'"):
        create_experiment(session, stock_definition("b", layer=chat))
    retired = stop_experiment(session, "a")
    assert retired.stopped_at == retired.promoted_at  # the analysis window still ends there
    create_experiment(session, stock_definition("b", layer=chat))
    start_experiment(session, "b")
    with pytest.raises(LayerOverlap, match="overlaps experiment 'b'"):
        promote_experiment(session, "a", "stock_left=off")  # would revive a's sticky arms


def test_live_experiments_keep_their_arms(session: Session) -> None:
    create_experiment(session, stock_definition())
    start_experiment(session, "stock-test")
    with pytest.raises(Conflict, match="arms and control cannot change"):
        update_experiment(session, "stock-test", stock_definition(
            units=[{"unit": "stock_left", "variants": ["on"]}]))
    updated = update_experiment(session, "stock-test", stock_definition(weights=[0.2, 0.8]))
    assert (updated.weights, updated.weights_version) == ([0.2, 0.8], 2)
    stop_experiment(session, "stock-test")
    with pytest.raises(Conflict, match="frozen"):
        update_experiment(session, "stock-test", stock_definition(name="new"))


def test_key_is_unique_and_must_match_on_update(session: Session) -> None:
    create_experiment(session, stock_definition())
    with pytest.raises(Conflict, match="already exists"):
        create_experiment(session, stock_definition())
    with pytest.raises(InvalidInput) as caught:
        update_experiment(session, "stock-test", stock_definition("other"))
    assert caught.value.field == "key"
