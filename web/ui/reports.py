"""/reports: the weekly reports written so far, a button to write this week's, and downloads.

Reports are files, written by ``abtest report weekly`` (cron) or by the button, into
``ABTEST_REPORT_DIR`` (config or environment; default ``<instance folder>/reports``), so the list
is the directory and nothing in the database has to track them. Viewers read and download;
writing one takes an editor (it runs the whole analysis of every experiment of the week).
Labels come from the report's own zh/en texts (:data:`experiments.reports.TEXTS`).
"""
from __future__ import annotations

import os
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    send_from_directory,
    url_for,
)
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField

from experiments import reports
from experiments.errors import InvalidInput
from experiments.models import utcnow
from web.endpoint import session
from web.ui.access import requires
from web.ui.i18n import current_language
from web.ui.reasons import describer

REPORT_DIR_SETTING = "ABTEST_REPORT_DIR"


class GenerateForm(FlaskForm):
    """Which week to write (blank: the current week so far); CSRF-protected."""

    week = StringField()


def create_blueprint() -> Blueprint:
    """``/reports`` (GET list), ``/reports/generate`` (POST), ``/reports/<file>`` (GET)."""
    blueprint = Blueprint("reports", __name__)
    blueprint.add_url_rule("/reports", view_func=report_list, methods=["GET"])
    blueprint.add_url_rule("/reports/generate", view_func=generate, methods=["POST"])
    blueprint.add_url_rule("/reports/<name>", view_func=download, methods=["GET"])
    return blueprint


def report_directory() -> Path:
    """Where reports live: the app's setting, the environment, else the instance folder."""
    configured = current_app.config.get(REPORT_DIR_SETTING) or os.environ.get(REPORT_DIR_SETTING)
    return Path(configured) if configured else Path(current_app.instance_path) / "reports"


def _texts() -> dict[str, str]:
    return reports.TEXTS["en" if current_language() == "en" else "zh"]


def report_list() -> str:
    """Stored reports, newest week first, and the form to write one."""
    return render_template(
        "reports/list.html", t=_texts(), form=GenerateForm(),
        stored=reports.stored_reports(report_directory()),
        current=reports.IsoWeek.containing(utcnow()).label,
    )


@requires("editor")
def generate() -> Response:
    """Write the week's report in every format, then list it (bad week: message, no file)."""
    form = GenerateForm()
    if not form.validate_on_submit():
        abort(400)
    texts = _texts()
    try:
        week = (reports.IsoWeek.parse(form.week.data) if form.week.data
                else reports.IsoWeek.containing(utcnow()))
    except InvalidInput as error:
        flash(error.message, "error")
        return redirect(url_for("ui.reports.report_list"))
    lang = "en" if current_language() == "en" else "zh"
    report = reports.build_weekly_report(session(), week, lang=lang)
    reports.write_report(report, report_directory(), reports.FORMATS, describer(lang))
    flash(texts["written"].format(week=week.label))
    return redirect(url_for("ui.reports.report_list"))


def download(name: str) -> Response:
    """One report file; only names the report writer produces are served."""
    if not reports.is_report_file(name):
        abort(404)
    return send_from_directory(report_directory(), name, as_attachment=not name.endswith(".html"))
