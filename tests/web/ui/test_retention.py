"""Archive, unarchive and delete from the experiment page: admins only, the key typed to
confirm, refused while the experiment serves its arms (both backends)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from experiments import audit
from experiments.lifecycle import start_experiment, stop_experiment
from experiments.models import AuditEntry
from tests.web.ui.conftest import count_experiments, csrf_token, post_form, stored

KEY = "urgency-close"
PAGE = f"/experiments/{KEY}"
EN = {"Accept-Language": "en"}


def change(client: FlaskClient, what: str, typed: str | None = KEY) -> Any:
    fields = {} if typed is None else {"confirm_key": typed}
    return post_form(client, f"{PAGE}/{what}", fields, PAGE)


def move(app: Flask, *moves: Callable[..., Any]) -> None:
    with app.extensions["abtest"].session_factory.begin() as session:
        for step in moves:
            step(session, KEY)


@pytest.fixture
def admin(signed_in: Callable[[str], FlaskClient]) -> FlaskClient:
    return signed_in("ada")


@pytest.mark.parametrize("user", ["ed", "vi"])
def test_editors_and_viewers_cannot_archive_or_delete(
    app: Flask, signed_in: Callable[[str], FlaskClient], define: Callable[..., Any], user: str,
) -> None:
    define()
    client = signed_in(user)
    assert 'id="retention"' not in client.get(PAGE).get_data(as_text=True)
    for what in ("archive", "delete", "unarchive"):
        assert change(client, what).status_code == 403
    experiment = stored(app, KEY)
    assert experiment is not None and experiment.archived_at is None


def test_a_running_experiment_is_refused_with_the_reason(
    app: Flask, admin: FlaskClient, define: Callable[..., Any],
) -> None:
    define()
    move(app, start_experiment)
    shown = admin.get(PAGE, headers=EN).get_data(as_text=True)
    assert "Stop the experiment before archiving or deleting it" in shown
    assert 'id="retention-delete"' not in shown
    for what in ("delete", "archive"):
        answer = post_form(admin, f"{PAGE}/{what}", {"confirm_key": KEY}, PAGE)
        assert answer.status_code == 409
        text = answer.get_data(as_text=True)
        assert "仍在向顾客展示" in text  # the reason, in the default language
    assert stored(app, KEY).status == "running" and stored(app, KEY).archived_at is None


def test_delete_needs_the_key_typed_then_removes_everything(
    app: Flask, admin: FlaskClient, define: Callable[..., Any],
) -> None:
    define()
    move(app, start_experiment, stop_experiment)
    for typed in (None, "", "urgency", f"{KEY}x"):
        fields = {} if typed is None else {"confirm_key": typed}
        answer = admin.post(f"{PAGE}/delete", headers=EN,
                            data={**fields, "csrf_token": csrf_token(admin, PAGE)})
        assert answer.status_code == 422
        assert "nothing was changed" in answer.get_data(as_text=True)
    assert count_experiments(app) == 1

    deleted = change(admin, "delete", f" {KEY} ")  # surrounding blanks are forgiven
    assert deleted.status_code == 302 and deleted.headers["Location"] == "/experiments"
    assert count_experiments(app) == 0
    listed = admin.get("/experiments").get_data(as_text=True)
    assert f"已删除 {KEY} 及其 4 行数据" in listed  # its audit entries and weights period
    assert admin.get(PAGE).status_code == 404
    with app.extensions["abtest"].session_factory() as session:
        [tombstone] = audit.removals(session)
        assert (tombstone.actor, tombstone.detail["experiment"]) == ("ada", KEY)
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_archive_hides_from_the_list_and_unarchive_brings_it_back(
    app: Flask, admin: FlaskClient, define: Callable[..., Any],
) -> None:
    define()
    define("fab-order")
    assert change(admin, "archive", "fab-order").status_code == 422  # another key
    assert change(admin, "archive").status_code == 302
    assert stored(app, KEY).archived_at is not None

    listed = admin.get("/experiments", headers=EN).get_data(as_text=True)
    assert f'id="row-{KEY}"' not in listed and 'id="row-fab-order"' in listed
    everything = admin.get("/experiments?archived=1", headers=EN).get_data(as_text=True)
    assert f'id="row-{KEY}"' in everything and "Hide archived experiments" in everything
    page = admin.get(PAGE, headers=EN).get_data(as_text=True)
    assert 'id="archived"' in page and 'id="actions"' not in page  # viewable, no moves
    assert 'class="audit-archive"' in page

    assert change(admin, "unarchive", None).status_code == 302
    assert stored(app, KEY).archived_at is None
    assert f'id="row-{KEY}"' in admin.get("/experiments").get_data(as_text=True)


def test_the_section_is_translated(admin: FlaskClient, define: Callable[..., Any]) -> None:
    define()
    page = admin.get(PAGE).get_data(as_text=True)  # Chinese by default
    assert "归档或删除" in page and f"输入实验标识 {KEY} 以确认" in page
    assert "显示已归档的实验" in admin.get("/experiments").get_data(as_text=True)
