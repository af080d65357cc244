"""/assign over HTTP: answers, stickiness across restarts and instances, concurrent first hits."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from experiments.models import Assignment
from tests.fixtures_db import issue_token

CHAT = {"channel": "chat"}


def post_assign(client, headers, unit_id: str, **body):
    return client.post("/api/v1/assign", json={"unit_id": unit_id, **body}, headers=headers)


def test_assign_returns_arm_variants_and_text(client, storefront_headers, started) -> None:
    started()
    answer = post_assign(client, storefront_headers, "u1", experiment="urgency-close",
                         attributes=CHAT)
    assert answer.status_code == 200
    body = answer.json
    assert body["in_experiment"] is True and body["unit_id"] == "u1"
    assert set(body["variants"]) == {"countdown", "stock_left", "loyal_price"}
    assert body["arm"] == "|".join(f"{u}={v}" for u, v in body["variants"].items())
    assert body["text"].startswith("亲，")


def test_not_targeted_gets_control_text(client, storefront_headers, started) -> None:
    experiment = started()
    answer = post_assign(client, storefront_headers, "u1", experiment="urgency-close",
                         attributes={"channel": "sms"}).json
    control = next(arm for arm in experiment["arms"] if arm["key"] == experiment["control"])
    assert (answer["in_experiment"], answer["arm"], answer["text"]) == (
        False, control["key"], control["text"])


def test_sticky_across_restart_and_instances(make_app, admin_headers, started) -> None:
    started()
    first, second = make_app().test_client(), make_app().test_client()
    headers = {"Authorization": f"Bearer {issue_token(make_app(), 'storefront')}"}
    arms = {f"u{i}": post_assign(first, headers, f"u{i}", experiment="urgency-close",
                                 attributes=CHAT).json["arm"] for i in range(30)}
    admin = make_app().test_client()
    weights = [0.0] * 7 + [1.0]
    changed = admin.put("/api/v1/experiments/urgency-close", headers=admin_headers,
                        json={**admin.get("/api/v1/experiments/urgency-close",
                                          headers=admin_headers).json["definition"],
                              "weights": weights})
    assert changed.status_code == 200, changed.json
    for client in (second, make_app().test_client()):  # other instance, then a restart
        again = {u: post_assign(client, headers, u, experiment="urgency-close",
                                attributes=CHAT).json["arm"] for u in arms}
        assert again == arms


def test_concurrent_first_requests_store_one_assignment(make_app, started) -> None:
    started()
    apps = [make_app(), make_app()]
    headers = {"Authorization": f"Bearer {issue_token(apps[0], 'storefront')}"}
    barrier = threading.Barrier(16)

    def hit(i: int) -> dict:
        client = apps[i % 2].test_client()
        barrier.wait()
        answer = post_assign(client, headers, "same-shopper", experiment="urgency-close",
                             attributes=CHAT)
        assert answer.status_code == 200, answer.json
        return answer.json

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(hit, range(16)))
    assert len({a["arm"] for a in answers}) == 1 and all(a["in_experiment"] for a in answers)
    with apps[0].extensions["abtest"].session_factory() as session:
        count = session.scalar(select(func.count()).select_from(Assignment))
    assert count == 1


def test_assign_every_running_experiment(client, storefront_headers, started) -> None:
    started()
    started("fab-order")
    answer = post_assign(client, storefront_headers, "u1", attributes=CHAT)
    assert answer.status_code == 200
    body = answer.json
    assert body["unit_id"] == "u1"
    assert [a["experiment"] for a in body["assignments"]] == ["fab-order", "urgency-close"]
    only = post_assign(client, storefront_headers, "u1", experiments=["fab-order"]).json
    assert [a["experiment"] for a in only["assignments"]] == ["fab-order"]


def test_lifecycle_over_http(client, admin_headers, storefront_headers, started) -> None:
    started("fab-order", coverage=1.0)
    seen = {f"u{i}": post_assign(client, storefront_headers, f"u{i}",
                                 experiment="fab-order").json["arm"] for i in range(20)}
    promote = client.post("/api/v1/experiments/fab-order/promote", json={"arm": "fab_order=baf"},
                          headers=admin_headers)
    assert promote.status_code == 200 and promote.json["winner"] == "fab_order=baf"
    assert promote.json["status"] == "promoted" and promote.json["stopped_at"]
    late = post_assign(client, storefront_headers, "late", experiment="fab-order").json
    assert (late["in_experiment"], late["arm"]) == (False, "fab_order=baf")
    for unit, arm in seen.items():
        assert post_assign(client, storefront_headers, unit,
                           experiment="fab-order").json["arm"] == arm
