"""The server's background allocation (web.scheduling): on when serving, off when testing."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from experiments.allocation import snapshots
from experiments.definitions import create_experiment
from experiments.lifecycle import start_experiment
from experiments.models import Experiment, WeightsPeriod, utcnow
from tests.experiments.conftest import stock_definition
from tests.experiments.test_allocation import THOMPSON, seed_arm
from web.scheduling import PERIOD_VARIABLE, SCHEDULER, allocation_period


def _due_experiment(session: Session) -> Experiment:
    """A running Thompson experiment with data whose first period began two hours ago."""
    create_experiment(session, stock_definition("bg-test", allocation=THOMPSON))
    experiment = start_experiment(session, "bg-test")
    session.commit()
    seed_arm(session, experiment, 0, 300, 15)
    seed_arm(session, experiment, 1, 300, 45)
    session.get_one(WeightsPeriod, (experiment.id, 1)).valid_from = (
        utcnow() - timedelta(hours=2))
    session.commit()
    return experiment


def test_a_serving_app_reweights_due_experiments_in_the_background(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(TESTING=False, ABTEST_ENV="test", ALLOCATION_PERIOD_SECONDS=0.05)
    scheduler = app.extensions[SCHEDULER]
    assert scheduler.alive
    try:
        with app.extensions["abtest"].session_factory() as session:
            _due_experiment(session)
            deadline = time.monotonic() + 20
            while not snapshots(session, "bg-test") and time.monotonic() < deadline:
                time.sleep(0.05)
                session.expire_all()
            assert [s.action for s in snapshots(session, "bg-test")] == ["reweight"]
            assert app.test_client().get("/healthz").status_code == 200  # requests still served
    finally:
        scheduler.stop(timeout=20)
    assert not scheduler.alive


def test_testing_apps_and_period_zero_run_no_thread(make_app: Callable[..., Flask]) -> None:
    assert SCHEDULER not in make_app().extensions
    off = make_app(TESTING=False, ABTEST_ENV="test", ALLOCATION_PERIOD_SECONDS=0)
    assert SCHEDULER not in off.extensions


def test_the_period_comes_from_config_then_environment(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    monkeypatch.delenv(PERIOD_VARIABLE, raising=False)
    assert allocation_period(app) == 300.0
    monkeypatch.setenv(PERIOD_VARIABLE, "12.5")
    assert allocation_period(app) == 12.5
    app.config["ALLOCATION_PERIOD_SECONDS"] = 0
    assert allocation_period(app) == 0
    monkeypatch.setenv(PERIOD_VARIABLE, "soon")
    app.config["ALLOCATION_PERIOD_SECONDS"] = None
    with pytest.raises(ValueError, match=PERIOD_VARIABLE):
        allocation_period(app)
