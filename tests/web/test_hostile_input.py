"""Hostile storefront input, as a careless or hostile client sends it, on SQLite and PostgreSQL:
values that would overflow the analysis' sums, text PostgreSQL cannot store, analysis
parameters out of range. Each is a 422 naming the field, the batch is refused whole, and every
figure keeps answering afterwards."""
from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select, text

from experiments.models import OUT_OF_BOUND, Assignment, Event, Feedback, utcnow
from experiments.reports import IsoWeek, build_weekly_report, render_html
from experiments.schema import MAX_ABS_VALUE_LIMIT
from experiments.users import create_user
from tests.web.test_api_errors import check_error, post_raw, stored_rows
from tests.web.test_results_api import T0, _seed
from tests.web.ui.conftest import PASSWORD, sign_in
from web.cli import main

ASSIGN = "/api/v1/assign"
EVENTS = "/api/v1/events"
RESULTS = "/api/v1/experiments/urgency-close/results"


def _assigned(client, storefront_headers, unit_id: str = "u1") -> None:
    answer = client.post(ASSIGN, json={"experiment": "urgency-close", "unit_id": unit_id},
                         headers=storefront_headers)
    assert answer.status_code == 200, answer.json


def _event(**changes) -> dict:
    return {"event_id": "e1", "unit_id": "u1", "name": "revenue",
            "experiment": "urgency-close", "value": 10.0, **changes}


@pytest.mark.parametrize("value", [1e160, -1e160, 1e9 * 1.5, 1e16])
def test_absurd_values_are_refused_and_analysis_keeps_answering(
    app, client, storefront_headers, admin_headers, started, value
) -> None:
    started()
    _assigned(client, storefront_headers)
    batch = {"events": [_event(event_id="ok", value=12.5), _event(event_id="bad", value=value)]}
    check_error(client.post(EVENTS, json=batch, headers=storefront_headers), 422, "invalid",
                "events.1.value")
    assert stored_rows(app, Event) == []  # the whole batch is refused, the good event too
    results = client.get(RESULTS, headers=admin_headers)
    assert results.status_code == 200, results.get_data(as_text=True)


def test_the_bound_is_configurable_per_metric(
    app, client, storefront_headers, started, playbook
) -> None:
    definition = playbook("urgency-close")
    for metric in definition["metrics"]["secondary"]:
        if metric["name"] == "revenue":
            metric["max_abs_value"] = 1e12
    started(metrics=definition["metrics"])
    _assigned(client, storefront_headers)
    accepted = client.post(EVENTS, json={"events": [_event(value=5e10)]},
                           headers=storefront_headers)
    assert accepted.status_code == 200, accepted.json
    # Without an experiment the event could count anywhere: the default bound holds.
    check_error(client.post(EVENTS, json={"events": [_event(event_id="e2", experiment=None,
                                                            value=5e10)]},
                            headers=storefront_headers), 422, "invalid", "events.0.value")
    assert [event.value for event in stored_rows(app, Event)] == [5e10]


def test_a_metric_cannot_raise_its_bound_past_the_overflow_limit(
    client, admin_headers, playbook
) -> None:
    definition = playbook("urgency-close")
    definition["metrics"]["primary"]["max_abs_value"] = 1e200
    answer = client.post("/api/v1/experiments", json=definition, headers=admin_headers)
    assert answer.status_code == 422
    assert "max_abs_value" in answer.json["error"]["field"]


@pytest.mark.parametrize("value", ["false", "true", '"12"'])
def test_a_value_must_be_a_number(app, client, storefront_headers, started, value) -> None:
    started()
    body = '{"events": [{"event_id": "e", "unit_id": "u", "name": "revenue", "value": %s}]}'
    check_error(post_raw(client, EVENTS, (body % value).encode(), storefront_headers), 422,
                "invalid", "events.0.value")
    assert stored_rows(app, Event) == []


NUL, SURROGATE = "\\u0000", "\\ud800"


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(
    ("path", "template", "field"),
    [
        (EVENTS, '{"events": [{"event_id": "ok", "unit_id": "u1", "name": "conversion"},'
                 ' {"event_id": "e%s", "unit_id": "u1", "name": "conversion"}]}',
         "events.1.event_id"),
        (EVENTS, '{"events": [{"event_id": "e", "unit_id": "u%s", "name": "conversion"}]}',
         "events.0.unit_id"),
        (ASSIGN, '{"experiment": "urgency-close", "unit_id": "u%s"}', "unit_id"),
        (ASSIGN, '{"experiment": "urgency-close", "unit_id": "u2",'
                 ' "attributes": {"channel": "chat%s"}}', "attributes"),
        (ASSIGN, '{"experiment": "urgency-close", "unit_id": "u2",'
                 ' "attributes": {"ch%sannel": "chat"}}', "attributes"),
        (ASSIGN, '{"experiment": "urgency-close", "unit_id": "u2",'
                 ' "attributes": {"tags": [["a%s"]]}}', "attributes"),
        ("/api/v1/feedback", '{"event_id": "f", "unit_id": "u1", "experiment": "urgency-close",'
                             ' "rating": 4, "helpful": true, "comment": "good%s"}', "comment"),
    ],
)
def test_text_postgresql_cannot_store_is_a_422_on_both_backends(
    app, client, storefront_headers, admin_headers, started, bad, path, template, field
) -> None:
    started()
    _assigned(client, storefront_headers)
    before = [a.unit_id for a in stored_rows(app, Assignment)]
    body = (template % bad).encode()
    error = check_error(post_raw(client, path, body, storefront_headers), 422, "invalid", field)
    if bad == NUL:  # pydantic's own parser already refuses a lone surrogate, in its words
        assert "NUL" in error["message"]
    assert [a.unit_id for a in stored_rows(app, Assignment)] == before
    assert stored_rows(app, Event) == stored_rows(app, Feedback) == []
    for query in ("", "?segment=channel"):
        answer = client.get(RESULTS + query, headers=admin_headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)


def test_text_in_a_definition_is_checked_too(client, admin_headers, playbook) -> None:
    definition = playbook("urgency-close")
    definition["name"] = "Urgency\x00close"
    answer = client.post("/api/v1/experiments", data=json.dumps(definition),
                         content_type="application/json", headers=admin_headers)
    check_error(answer, 422, "invalid", "name")


@pytest.mark.parametrize("alpha", ["1e-300", "0", "0.9", "1", "-0.1", "nan", "x"])
def test_analysis_parameters_out_of_range_are_a_4xx_naming_them(
    client, storefront_headers, admin_headers, started, alpha
) -> None:
    started()
    _assigned(client, storefront_headers)
    answer = client.get(f"{RESULTS}?alpha={alpha}", headers=admin_headers)
    check_error(answer, 422, "invalid", "alpha")


@pytest.mark.parametrize("query", ["segment=chan%00nel", "segment=1x", "top=0", "top=x"])
def test_bad_breakdowns_are_a_4xx_naming_them(client, admin_headers, started, query) -> None:
    started()
    answer = client.get(f"{RESULTS}?{query}", headers=admin_headers)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.json["error"]["field"] == query.split("=")[0]


@pytest.mark.parametrize("alpha", [0.001, 0.5])
def test_the_edges_of_the_alpha_range_answer(
    client, storefront_headers, admin_headers, started, alpha
) -> None:
    started()
    _assigned(client, storefront_headers)
    client.post(EVENTS, json={"events": [_event(name="conversion", value=None)]},
                headers=storefront_headers)
    answer = client.get(f"{RESULTS}?alpha={alpha}", headers=admin_headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)




def _store_raw_event(app, unit_id: str, value: float) -> None:
    """A revenue event written past the API, as rows stored before the bound existed are."""
    with app.extensions["abtest"].session_factory.begin() as session:
        session.add(Event(event_id=f"huge-{unit_id}", unit_id=unit_id, name="revenue",
                          value=value, occurred_at=T0 + timedelta(days=3)))


def _revenue(document: dict) -> dict:
    return next(m for m in document["metrics"] if m["name"] == "revenue")


@pytest.mark.parametrize("value", [1e160, -1e300, MAX_ABS_VALUE_LIMIT * 2])
def test_values_stored_before_the_bound_are_left_out_and_counted(
    make_app, app, client, admin_headers, started, runner, value
) -> None:
    """PostgreSQL's SUM(x*x) raised NumericValueOutOfRange on 1e160 and SQLite's floats
    overflowed in the analysis: every figure, page and report answered 500."""
    started()
    seeded = _seed(app)
    _store_raw_event(app, "u0", value)
    answer = client.get(RESULTS, headers=admin_headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    revenue = _revenue(answer.json)
    assert revenue["events_out_of_bound"] == 1
    assert all(m["events_out_of_bound"] == 0 for m in answer.json["metrics"]
               if m["name"] != "revenue")
    for arm in revenue["arms"]:  # the in-bound figures, as computed from the seeded rows
        assert arm["mean"] == pytest.approx(np.mean(seeded["revenue"][arm["arm"]]), rel=1e-9)
    allocated = client.post("/api/v1/experiments/urgency-close/allocate", headers=admin_headers)
    assert allocated.status_code == 200, allocated.get_data(as_text=True)
    promoted = client.post("/api/v1/experiments/urgency-close/promote",
                           json={"arm": revenue["arms"][1]["arm"]}, headers=admin_headers)
    assert promoted.status_code in (200, 409), promoted.get_data(as_text=True)
    cli = runner.invoke(main, ["results", "urgency-close"])
    assert cli.exit_code == 0, cli.output
    assert "1 event(s) left out" in cli.output
    with app.extensions["abtest"].session_factory() as session:
        report = build_weekly_report(session, IsoWeek.containing(utcnow()), lang="en")
    assert [part.key for part in report.experiments] == ["urgency-close"]
    assert "1 event(s) left out" in render_html(report)
    ui = make_app()
    with ui.extensions["abtest"].session_factory.begin() as session:
        create_user(session, "vi", PASSWORD, "viewer")
    browser = ui.test_client()
    assert sign_in(browser, "vi").status_code == 302
    assert browser.get("/experiments").status_code == 200
    page = browser.get("/experiments/urgency-close")
    assert page.status_code == 200, page.get_data(as_text=True)
    notice = page.get_data(as_text=True).split('id="out-of-bound-revenue">')[1].split("</p>")[0]
    assert notice.startswith("1 ") or " 1 " in notice, notice


def test_events_within_the_bound_are_all_counted(app, client, admin_headers, started) -> None:
    started()
    _seed(app)
    _store_raw_event(app, "u0", MAX_ABS_VALUE_LIMIT)
    revenue = _revenue(client.get(RESULTS, headers=admin_headers).json)
    assert revenue["events_out_of_bound"] == 0
    assert max(arm["mean"] for arm in revenue["arms"]) > MAX_ABS_VALUE_LIMIT / 800


def test_the_out_of_bound_index_uses_the_schema_bound(engine) -> None:
    """The partial index's predicate names the same bound the API enforces, and SQLite's
    planner reads it for the count (a term written unlike the index's would scan events)."""
    assert float(OUT_OF_BOUND.rsplit(">", 1)[1]) == MAX_ABS_VALUE_LIMIT
    if engine.dialect.name != "sqlite":
        return
    names = Event.name.in_(["revenue"])
    query = select(func.count()).select_from(Event).where(text(OUT_OF_BOUND), names)
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {sql}"))
    assert "ix_events_out_of_bound" in plan, plan
