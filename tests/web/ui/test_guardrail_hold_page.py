"""An arm a guardrail holds at the floor: the allocation answers with its floor weight, and the
experiment page's audit log says which arm and why, in the marketer's language."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from experiments.definitions import get_experiment
from experiments.models import Event, utcnow
from tests.web.test_api_allocation import BASE, THOMPSON, _seed, _thompson

GUARDED = {"primary": {"name": "conversion", "kind": "binary"},
           "guardrails": [{"name": "complaint", "kind": "binary", "higher_is_better": False}]}


def _complaints(app: Flask, arm: int, count: int) -> None:
    with app.extensions["abtest"].session_factory() as session:
        experiment = get_experiment(session, "stock-test")
        for j in range(count):
            session.add(Event(event_id=f"complaint-{arm}-{j}", experiment_id=experiment.id,
                              unit_id=f"seed-{arm}-{j}", name="complaint",
                              occurred_at=utcnow() + timedelta(seconds=2)))
        session.commit()


def test_the_page_says_which_arm_a_guardrail_holds_back_and_why(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str],
    signed_in: Callable[[str], FlaskClient],
) -> None:
    _thompson(client, admin_headers, metrics=GUARDED)
    _seed(app, [(1500, 60), (1500, 150)])
    _complaints(app, 1, 120)
    outcome = client.post(f"{BASE}/stock-test/allocate", headers=admin_headers).json
    assert outcome["weights"][1] == THOMPSON["floor"]

    viewer = signed_in("vi")
    viewer.get("/language/zh")
    page = viewer.get("/experiments/stock-test").get_data(as_text=True)
    audit = page[page.index('id="audit"'):]
    assert "因护栏指标降至最低流量" in audit
    assert "<code>stock_left=on</code>" in audit and "complaint higher than control" in audit
