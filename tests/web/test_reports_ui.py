"""/reports: list, write (editor, CSRF) and download weekly reports kept in ABTEST_REPORT_DIR."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from experiments.models import utcnow
from experiments.reports import IsoWeek
from experiments.users import create_user
from tests.web.ui.conftest import PASSWORD, csrf_token, sign_in


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    return tmp_path / "weekly"


@pytest.fixture
def report_app(make_app: Callable[..., Flask], report_dir: Path) -> Flask:
    app = make_app(ABTEST_REPORT_DIR=str(report_dir))
    with app.extensions["abtest"].session_factory.begin() as session:
        create_user(session, "ed", PASSWORD, "editor")
        create_user(session, "vi", PASSWORD, "viewer")
    return app


def signed_in(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


def write(client: FlaskClient, week: str) -> object:
    return client.post("/reports/generate", data={
        "week": week, "csrf_token": csrf_token(client, "/reports")})


def test_editor_writes_a_week_and_everyone_downloads_it(report_app: Flask,
                                                        report_dir: Path) -> None:
    editor = signed_in(report_app, "ed")
    answer = write(editor, "2026-W10")
    assert answer.status_code == 302 and answer.headers["Location"] == "/reports"
    assert sorted(p.name for p in report_dir.iterdir()) == [
        f"abtest-weekly-2026-W10.{fmt}" for fmt in ("csv", "html", "pdf")]
    viewer = signed_in(report_app, "vi")
    listing = viewer.get("/reports").get_data(as_text=True)
    assert 'id="report-2026-W10"' in listing and "generate-report" not in listing
    with viewer.get("/reports/abtest-weekly-2026-W10.html") as html:
        assert html.status_code == 200 and "本周没有运行中的实验" in html.get_data(as_text=True)
    with viewer.get("/reports/abtest-weekly-2026-W10.pdf") as pdf:
        assert pdf.headers["Content-Disposition"].startswith("attachment")
        assert pdf.data.startswith(b"%PDF")


def test_blank_week_writes_the_current_week(report_app: Flask, report_dir: Path) -> None:
    editor = signed_in(report_app, "ed")
    assert "generate-report" in editor.get("/reports").get_data(as_text=True)
    assert write(editor, "").status_code == 302
    current = IsoWeek.containing(utcnow()).label
    assert (report_dir / f"abtest-weekly-{current}.html").exists()


def test_viewers_cannot_write_and_tokens_are_required(report_app: Flask,
                                                      report_dir: Path) -> None:
    viewer = signed_in(report_app, "vi")
    assert "还没有生成过周报" in viewer.get("/reports").get_data(as_text=True)
    assert write(viewer, "2026-W10").status_code == 403
    editor = signed_in(report_app, "ed")
    assert editor.post("/reports/generate", data={"week": "2026-W10"}).status_code == 400
    assert not report_dir.exists()


def test_bad_week_is_explained_and_writes_nothing(report_app: Flask, report_dir: Path) -> None:
    editor = signed_in(report_app, "ed")
    answer = write(editor, "2026-W99")
    assert answer.status_code == 302
    assert "2026 has no ISO week 99" in editor.get("/reports").get_data(as_text=True)
    assert not report_dir.exists()


@pytest.mark.parametrize("name", ["abtest.db", "..%2Fabtest.db", "abtest-weekly-2026-W10.exe",
                                  "abtest-weekly-2026-W11.html"])
def test_only_existing_report_files_are_served(report_app: Flask, name: str) -> None:
    editor = signed_in(report_app, "ed")
    write(editor, "2026-W10")
    assert editor.get(f"/reports/{name}").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(report_app: Flask) -> None:
    answer = report_app.test_client().get("/reports")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
