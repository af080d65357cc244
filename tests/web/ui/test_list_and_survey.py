"""The experiments list's columns (days running, primary-metric leader, SRM alert) and the
survey summary on the experiment page, from data the tests write through the services."""
from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from experiments.assignment import assign
from experiments.definitions import create_experiment
from experiments.lifecycle import start_experiment
from experiments.models import Assignment, Experiment, utcnow
from experiments.schema import EventIn, FeedbackIn
from experiments.tracking import record_events, record_feedback
from tests.experiments.conftest import stock_definition

EN = {"Accept-Language": "en"}
ON, OFF = "stock_left=on", "stock_left=off"


def _start(app: Flask, key: str, days_ago: int = 0) -> None:
    """A running two-arm experiment (stock_left off/on), started ``days_ago`` days ago."""
    with app.extensions["abtest"].session_factory.begin() as session:
        create_experiment(session, stock_definition(key))
        experiment = start_experiment(session, key)
        experiment.started_at = utcnow() - timedelta(days=days_ago, hours=1)


def _traffic(app: Flask, key: str, arms: dict[str, tuple[int, int]]) -> None:
    """``units`` assignments per arm (written as rows, so their split is the test's choice)
    and ``conversions`` of the first of them."""
    with app.extensions["abtest"].session_factory.begin() as session:
        experiment_id = session.scalar(select(Experiment.id).where(Experiment.key == key))
        events = []
        for arm, (units, conversions) in arms.items():
            for i in range(units):
                unit = f"{key}-{arm}-{i}"
                session.add(Assignment(experiment_id=experiment_id, unit_id=unit, arm=arm,
                                       weights_version=1, attributes={}))
                if i < conversions:
                    events.append(EventIn(event_id=f"c-{unit}", unit_id=unit, experiment=key,
                                          name="conversion"))
        session.flush()
        record_events(session, events)


def _row(listing: str, key: str) -> list[str]:
    """The cells of one experiment's row in the list, as text without tags."""
    row = listing[listing.index(f'id="row-{key}"'):]
    row = row[:row.index("</tr>")]
    cells = re.findall(r"<td>(.*?)</td>", row, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def test_list_shows_days_running_leader_and_the_srm_alert(app: Flask,
                                                          editor: FlaskClient) -> None:
    _start(app, "skewed", days_ago=3)
    _traffic(app, "skewed", {OFF: (10, 1), ON: (90, 45)})  # equal weights, 10/90 split: SRM
    _start(app, "balanced", days_ago=1)
    _traffic(app, "balanced", {OFF: (50, 30), ON: (50, 5)})
    with app.extensions["abtest"].session_factory.begin() as session:
        create_experiment(session, stock_definition("drafted"))
    listing = editor.get("/experiments", headers=EN).get_data(as_text=True)

    assert _row(listing, "skewed")[1:] == ["running", "3", "100", ON, "Sample ratio mismatch"]
    assert _row(listing, "balanced")[1:] == ["running", "1", "100", OFF, "—"]
    assert _row(listing, "drafted")[1:] == ["draft", "—", "—", "—", "—"]
    assert listing.count('class="alert alert-srm"') == 1


def test_page_shows_the_survey_summary_with_top_moved_and_confused(
    app: Flask, editor: FlaskClient,
) -> None:
    _start(app, "stock-test")
    answers = [  # (arm wanted, rating, helpful, moved_by, confused_by, comment)
        (ON, 5, True, "stock_left", None, "库存提示让我下单了"),
        (ON, 4, True, "stock_left", None, None),
        (ON, 2, False, None, "stock_left", "<b>真的只剩3件？</b>"),
        (OFF, 3, False, "stock_left", "stock_left", None),
    ]
    with app.extensions["abtest"].session_factory.begin() as session:
        units: dict[str, list[str]] = {ON: [], OFF: []}
        i = 0
        while min(len(found) for found in units.values()) < 3:
            units[assign(session, "stock-test", f"s{i}").arm].append(f"s{i}")
            i += 1
        for n, (arm, rating, helpful, moved, confused, comment) in enumerate(answers):
            record_feedback(session, FeedbackIn(
                event_id=f"f{n}", unit_id=units[arm].pop(), experiment="stock-test",
                rating=rating, helpful=helpful, moved_by=moved, confused_by=confused,
                comment=comment))
    page = editor.get("/experiments/stock-test", headers=EN).get_data(as_text=True)

    def paragraph(name: str) -> str:
        found = re.search(rf'<p id="survey-{name}">(.*?)</p>', page, flags=re.S)
        assert found, name
        return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())

    assert paragraph("overall") == ("Responses: 4 · Mean rating: 3.50 · CSAT: 50.0% · "
                                    "Found it helpful: 50.0%")
    assert paragraph("moved") == f"Moved shoppers: {ON} × 2, {OFF} × 1"
    assert paragraph("confused") == f"Confused shoppers: {OFF} × 1, {ON} × 1"
    assert "&lt;b&gt;真的只剩3件？&lt;/b&gt;" in page and "<b>真的" not in page
    assert "5★ 库存提示让我下单了" in page
