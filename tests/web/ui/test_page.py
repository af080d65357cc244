"""The experiment page and list: lifecycle actions with confirmation and audit entries, results
from the results service, segment breakdown."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.web.ui.conftest import post_form, stored

PAGE = "/experiments/urgency-close"
EN = {"Accept-Language": "en"}


def act(client: FlaskClient, action: str, **fields: str) -> Any:
    return post_form(client, f"{PAGE}/{action}", fields, PAGE)


def test_start_pause_stop_promote_through_the_page_with_audit_entries(
    app: Flask, editor: FlaskClient, define: Callable[..., Any]
) -> None:
    define()
    asked = act(editor, "start")
    assert asked.status_code == 200 and 'id="confirm-start"' in asked.get_data(as_text=True)
    assert stored(app, "urgency-close").status == "draft"  # no confirmation, no move
    for action, status in (("start", "running"), ("pause", "paused"), ("stop", "stopped")):
        assert act(editor, action, confirm="yes").status_code == 302
        assert stored(app, "urgency-close").status == status
    winner = "countdown=on|stock_left=on|loyal_price=off"
    assert act(editor, "promote", confirm="yes", arm=winner).status_code == 302
    experiment = stored(app, "urgency-close")
    assert (experiment.status, experiment.winner_arm) == ("promoted", winner)
    page = editor.get(PAGE, headers=EN).get_data(as_text=True)
    audit = page[page.index('id="audit"'):]
    for action in ("create", "start", "pause", "stop", "promote"):
        assert f'class="audit-{action}"' in audit
    assert audit.count("<td>ed</td>") == 4 and audit.count("<td>system</td>") == 1
    assert "stopped → promoted" in audit and winner in audit


def test_promote_needs_an_arm_of_the_experiment(
    app: Flask, editor: FlaskClient, define: Callable[..., Any]
) -> None:
    define()
    act(editor, "start", confirm="yes")
    answer = act(editor, "promote", confirm="yes", arm="countdown=maybe")
    assert answer.status_code == 302
    assert stored(app, "urgency-close").status == "running"
    assert "不是有效的选择" in editor.get(PAGE).get_data(as_text=True)  # WTForms' own zh text


def test_an_illegal_move_is_explained_and_changes_nothing(
    app: Flask, editor: FlaskClient, define: Callable[..., Any]
) -> None:
    define()
    assert act(editor, "pause", confirm="yes").status_code == 302
    assert stored(app, "urgency-close").status == "draft"
    page = editor.get(PAGE).get_data(as_text=True)
    assert "无法暂停这个实验：它处于草稿状态，暂停只适用于运行中的实验。" in page
    assert "cannot pause experiment" not in page


def test_a_viewer_sees_the_page_but_cannot_act(
    app: Flask, signed_in: Callable[[str], FlaskClient], define: Callable[..., Any]
) -> None:
    define()
    viewer = signed_in("vi")
    page = viewer.get(PAGE).get_data(as_text=True)
    assert 'id="action-start"' not in page and 'id="edit"' not in page
    assert post_form(viewer, f"{PAGE}/start", {"confirm": "yes"}, PAGE).status_code == 403
    assert stored(app, "urgency-close").status == "draft"


def test_results_on_the_page_and_in_the_list(
    app: Flask, client: FlaskClient, editor: FlaskClient, define: Callable[..., Any],
    storefront_headers: dict[str, str]
) -> None:
    define()
    act(editor, "start", confirm="yes")
    for i in range(40):
        unit = f"shopper-{i}"
        client.post("/api/v1/assign", headers=storefront_headers, json={
            "experiment": "urgency-close", "unit_id": unit,
            "attributes": {"channel": "chat" if i % 2 else "qianniu"}})
        if i % 3 == 0:
            client.post("/api/v1/events", headers=storefront_headers, json={"events": [{
                "event_id": f"e{i}", "unit_id": unit, "experiment": "urgency-close",
                "name": "conversion"}]})
    page = editor.get(PAGE, headers=EN).get_data(as_text=True)
    assert 'id="metric-conversion"' in page and 'id="metric-complaint"' in page
    assert "Factorial effects" in page
    assert 'id="verdict"' in page and 'id="chart-allocation" src="data:image/png;base64,' in page
    assert "Responses: 0" in page
    listing = editor.get("/experiments").get_data(as_text=True)
    row = listing[listing.index('id="row-urgency-close"'):]
    assert "<td>40</td>" in row[:row.index("</tr>")]
    broken_down = editor.get(f"{PAGE}?segment=channel", headers=EN).get_data(as_text=True)
    assert "channel = chat" in broken_down and "channel = qianniu" in broken_down
    bad = editor.get(f"{PAGE}?segment=not a key", headers=EN).get_data(as_text=True)
    assert "Break down by attribute: use letters, digits and underscores" in bad
    chinese = editor.get(f"{PAGE}?segment=not a key").get_data(as_text=True)
    assert "“按属性拆分”只能使用" in chinese and "String should match" not in chinese


def test_api_changes_are_audited_with_the_key_prefix(
    app: Flask, client: FlaskClient, editor: FlaskClient, admin_headers: dict[str, str],
    playbook: Callable[[str], dict[str, Any]]
) -> None:
    client.post("/api/v1/experiments", json=playbook("urgency-close"), headers=admin_headers)
    client.post(f"/api/v1{PAGE}/start", headers=admin_headers)
    prefix = admin_headers["Authorization"].split("_")[1]  # abt_<prefix>_<secret>
    audit = editor.get(PAGE).get_data(as_text=True).split('id="audit"')[1]
    assert audit.count(f"<td>api key {prefix}</td>") == 2


def test_an_unknown_experiment_is_an_html_404(editor: FlaskClient) -> None:
    answer = editor.get("/experiments/no-such-thing", headers=EN)
    assert answer.status_code == 404
    assert answer.mimetype == "text/html" and "Not found." in answer.get_data(as_text=True)
