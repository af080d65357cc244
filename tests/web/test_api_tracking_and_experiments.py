"""Events, feedback and experiment administration over HTTP."""
from __future__ import annotations

CHAT = {"channel": "chat"}


def test_events_are_idempotent(client, storefront_headers, started) -> None:
    started()
    client.post("/api/v1/assign", json={"experiment": "urgency-close", "unit_id": "u1",
                                        "attributes": CHAT}, headers=storefront_headers)
    batch = {"events": [
        {"event_id": "o-1", "unit_id": "u1", "experiment": "urgency-close", "name": "conversion"},
        {"event_id": "o-2", "unit_id": "u1", "experiment": "urgency-close", "name": "revenue",
         "value": 89.0, "timestamp": "2026-11-11T00:00:00+08:00"},
        {"event_id": "o-3", "unit_id": "stranger", "name": "payment"},
    ]}
    first = client.post("/api/v1/events", json=batch, headers=storefront_headers)
    assert (first.status_code, first.json) == (200, {"accepted": 3, "duplicates": 0})
    retry = client.post("/api/v1/events", json=batch, headers=storefront_headers)
    assert retry.json == {"accepted": 0, "duplicates": 3}
    bad = {"events": [{"event_id": "x", "unit_id": "u", "name": "n", "timestamp": "yesterday"}]}
    answer = client.post("/api/v1/events", json=bad, headers=storefront_headers)
    assert answer.status_code == 422 and answer.json["error"]["field"] == "events.0.timestamp"


def test_feedback(client, storefront_headers, started) -> None:
    started()
    client.post("/api/v1/assign", json={"experiment": "urgency-close", "unit_id": "u1",
                                        "attributes": CHAT}, headers=storefront_headers)
    survey = {"event_id": "s-1", "unit_id": "u1", "experiment": "urgency-close", "rating": 5,
              "helpful": True, "moved_by": "countdown", "comment": "倒计时让我下决心了"}
    assert client.post("/api/v1/feedback", json=survey,
                       headers=storefront_headers).json == {"accepted": 1, "duplicates": 0}
    assert client.post("/api/v1/feedback", json=survey,
                       headers=storefront_headers).json == {"accepted": 0, "duplicates": 1}
    wrong = client.post("/api/v1/feedback", json={**survey, "event_id": "s-2", "rating": 9},
                        headers=storefront_headers)
    assert wrong.status_code == 422 and wrong.json["error"]["field"] == "rating"
    alien = client.post("/api/v1/feedback",
                        json={**survey, "event_id": "s-3", "moved_by": "fab_order"},
                        headers=storefront_headers)
    assert alien.status_code == 422 and alien.json["error"]["field"] == "moved_by"


def test_experiment_administration(client, admin_headers, playbook) -> None:
    created = client.post("/api/v1/experiments", json=playbook("sms-opener"),
                          headers=admin_headers)
    assert created.status_code == 201
    body = created.json
    assert body["status"] == "draft" and len(body["arms"]) == 12
    assert body["weights"] == [1 / 12] * 12 and body["started_at"] is None
    assert body["definition"]["key"] == "sms-opener"
    listed = client.get("/api/v1/experiments", headers=admin_headers).json["experiments"]
    assert [e["key"] for e in listed] == ["sms-opener"]
    renamed = client.put("/api/v1/experiments/sms-opener", headers=admin_headers,
                         json={**playbook("sms-opener"), "name": "新名字"})
    assert renamed.status_code == 200 and renamed.json["name"] == "新名字"
    for action, status in (("start", "running"), ("pause", "paused"), ("start", "running"),
                           ("stop", "stopped")):
        moved = client.post(f"/api/v1/experiments/sms-opener/{action}", headers=admin_headers)
        assert moved.json["status"] == status
    assert moved.json["stopped_at"] and moved.json["started_at"]
    frozen = client.put("/api/v1/experiments/sms-opener", headers=admin_headers,
                        json=playbook("sms-opener"))
    assert frozen.status_code == 409
