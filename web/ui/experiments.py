"""Experiment pages: the list, the form (create, edit), the page with results, lifecycle
actions, archive and delete, and the two JSON helpers of the form (arm preview, sample-size
calculator).

Helper and creation URLs live under ``/experiments/-/``: an experiment key never starts with
``-``, so no key can shadow them. Views parse, call the experiments services, and render.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

import variants
from abtest import verdict as verdicts
from abtest.stats.power import days_needed, sample_size
from experiments import audit, definitions, lifecycle, removal, results, survey
from experiments.allocation import promote_by_hand
from experiments.definitions import ACTIVE_STATUSES, design_of, get_experiment
from experiments.errors import DomainError, ExperimentServing, IllegalTransition, InvalidInput
from experiments.models import AuditEntry, Experiment, utcnow
from web.api.results import ResultsQuery
from web.endpoint import parse, session
from web.ui import definition_form as df
from web.ui.access import requires
from web.ui.forms import ActionForm, PromoteForm, RetentionForm, SampleSizeForm
from web.ui.i18n import current_language, label
from web.ui.issues import issue_text
from web.ui.reasons import describe

Document = dict[str, Any]
MOVES: dict[str, Callable[..., Experiment]] = {
    "start": lifecycle.start_experiment,
    "pause": lifecycle.pause_experiment,
    "stop": lifecycle.stop_experiment,
}
RETENTION: dict[str, Callable[..., Any]] = {
    "archive": removal.archive_experiment,
    "unarchive": removal.unarchive_experiment,
    "delete": removal.delete_experiment,
}


def create_blueprint() -> Blueprint:
    """Every experiment page and helper."""
    blueprint = Blueprint("experiments", __name__)
    rules: list[tuple[str, Callable[..., Any], list[str]]] = [
        ("/", index, ["GET"]),
        ("/experiments", experiment_list, ["GET"]),
        ("/experiments/-/new", new, ["GET", "POST"]),
        ("/experiments/-/preview", preview, ["POST"]),
        ("/experiments/-/sample-size", sample_size_estimate, ["POST"]),
        ("/experiments/<key>", page, ["GET"]),
        ("/experiments/<key>/edit", edit, ["GET", "POST"]),
        ("/experiments/<key>/<any(start,pause,stop,promote):action>", act, ["POST"]),
        ("/experiments/<key>/<any(archive,unarchive,delete):change>", retain, ["POST"]),
    ]
    for rule, view, methods in rules:
        blueprint.add_url_rule(rule, view_func=view, methods=methods)
    return blueprint


def index() -> Response:
    return redirect(url_for("ui.experiments.experiment_list"))


@dataclass(frozen=True)
class Summary:
    """One row of the list: figures from the results service (none for drafts)."""

    experiment: Experiment
    days: int | None
    units: int | None
    leader: str | None
    alerts: tuple[str, ...]


def experiment_list() -> str:
    """Status, days running, traffic, primary-metric leader and alerts of every experiment;
    archived ones only with ``?archived=1``."""
    archived = request.args.get("archived") == "1"
    found = definitions.list_experiments(session(), archived=archived)
    rows = [summarize(e, results_for(e)) for e in found]
    return render_template("experiments/list.html", rows=rows, archived=archived)


def results_for(experiment: Experiment, segment: str | None = None) -> Document | None:
    """The results document, computed once per request and experiment; None for drafts,
    which have no traffic to analyse."""
    if experiment.status == "draft":
        return None
    cache: dict[tuple[str, str | None], Document] = g.setdefault("ui_results", {})
    if (experiment.key, segment) not in cache:
        found = results.experiment_results(session(), experiment.key, segment=segment)
        cache[experiment.key, segment] = results.results_document(found)
    return cache[experiment.key, segment]


def summarize(experiment: Experiment, document: Document | None) -> Summary:
    """The list's figures for one experiment."""
    days = _days_running(experiment)
    if document is None:
        return Summary(experiment, days, None, None, ())
    alerts = tuple(name for name, on in (("srm", document["srm"]["mismatch"]),
                                         ("guardrail", document["guardrails"]["harmed"])) if on)
    return Summary(experiment, days, sum(document["units"]), _leader(document), alerts)


def _days_running(experiment: Experiment) -> int | None:
    if experiment.started_at is None:
        return None
    end: datetime = experiment.stopped_at or utcnow()
    return (end - experiment.started_at).days


def _leader(document: Document) -> str | None:
    """The arm most likely best on the primary metric, once there is data."""
    if document["status"] != "ok":
        return None
    arms = document["metrics"][0]["arms"]
    best = max(arms, key=lambda arm: arm["probability_best"] or 0.0)
    return best["arm"] if best["probability_best"] is not None else None


@requires("editor")
def new() -> str | Response:
    """The empty form; a valid post creates a draft."""
    if request.method == "POST":
        return _save(None)
    return _render_form(df.NEW_EXPERIMENT, {}, None)


@requires("editor")
def edit(key: str) -> str | Response:
    """The stored definition in the form; a valid post replaces it."""
    experiment = get_experiment(session(), key)
    if request.method == "POST":
        return _save(experiment)
    return _render_form(df.form_values(experiment.definition), {}, experiment)


def _save(experiment: Experiment | None) -> str | Response:
    """Create or update in one transaction; on any problem nothing is kept and the form comes
    back with each message next to its field. An edit based on a version that someone else
    has changed since comes back too (409), with the editor's input and who changed what."""
    parsed = df.read_form(request.form, variants.load_catalogue())
    actor = current_user.username
    try:
        if experiment is not None and (conflicts := _changed_meanwhile(experiment)):
            session().rollback()
            return _render_form(request.form, {}, experiment, conflicts), 409  # type: ignore[return-value]
        if parsed.issues:
            raise InvalidInput(parsed.issues + _definition_issues(parsed.definition))
        if experiment is None:
            experiment = definitions.create_experiment(session(), parsed.definition, actor=actor)
        else:
            definitions.update_experiment(session(), experiment.key, parsed.definition,
                                          actor=actor)
        session().commit()
    except DomainError as error:
        session().rollback()
        errors = df.field_errors(df.issues_of(error), parsed.paths)
        return _render_form(request.form, errors, experiment), 422  # type: ignore[return-value]
    flash(_("Saved."))
    return redirect(url_for("ui.experiments.page", key=experiment.key))


def _changed_meanwhile(experiment: Experiment) -> list[AuditEntry]:
    """Audited changes since the version the form was filled from (its hidden ``version``),
    read under the experiment's row lock so that the save that follows cannot race them."""
    seen = request.form.get("version", "")
    if not seen.isdigit():
        return []
    locked = get_experiment(session(), experiment.key, for_update=True)
    return audit.changes_since(session(), locked, int(seen))


def _definition_issues(definition: dict[str, Any]) -> list[Any]:
    """What the schema and compile_design say besides the form's own problems."""
    try:
        definitions.parse_definition(definition)
    except InvalidInput as error:
        return error.issues
    return []


def _render_form(values: MultiDict[str, str], errors: dict[str, list[str]],
                 experiment: Experiment | None, conflicts: Sequence[AuditEntry] = ()) -> str:
    """The form. Its hidden version is the one the editor's input is based on (kept across a
    422), except after a conflict: then the stored one, so that saving again is a deliberate
    overwrite of the changes listed."""
    version = values.get("version") if experiment is not None and not conflicts else None
    if experiment is not None and not (version or "").isdigit():
        version = str(experiment.version)
    return render_template(
        "experiments/form.html", values=values, errors=errors, experiment=experiment,
        version=version, conflicts=conflicts, catalogue=variants.load_catalogue(), df=df,
        calculator=SampleSizeForm(prefix="ss"))


@requires("editor")
def preview() -> Response:
    """Each arm's rendered text for the form as it stands, or the field errors: the real
    compile_design on the parts of the definition that shape the texts."""
    parsed = df.read_form(request.form, variants.load_catalogue())
    try:
        if parsed.issues:
            raise InvalidInput(parsed.issues)
        design = definitions.parse_definition(df.preview_definition(parsed.definition))
    except InvalidInput as error:
        return jsonify(arms=[], errors=df.field_errors(error.issues, parsed.paths))
    arms = [{"key": key, "text": text} for key, text in zip(design.arm_keys, design.texts,
                                                             strict=True)]
    return jsonify(arms=arms, errors={})


def sample_size_estimate() -> Response | tuple[Response, int]:
    """"With your traffic this needs about N days": power.sample_size and days_needed.

    Errors are keyed by each field's id (``ss-baseline``...), the name its input posts and
    its error slot (``error-<id>``) on the form carries, so the page can put each one beside
    its field."""
    form = SampleSizeForm(prefix="ss")
    if not form.validate_on_submit():
        return jsonify(errors={form[name].id: messages
                               for name, messages in form.errors.items()}), 422
    arms = form.arms.data or 2
    plan = sample_size("binary", float(form.baseline.data) / 100, float(form.mde.data) / 100,
                       arms=arms)
    if plan.n_per_arm is None:
        return jsonify(errors={form.mde.id: [describe(asdict(plan))]}), 422
    duration = days_needed(plan.n_per_arm, form.traffic.data or 0, arms=arms)
    message = _("With your traffic this needs about %(days)s days (%(n)s shoppers per arm).",
                days=duration.days, n=plan.n_per_arm)
    return jsonify(n_per_arm=plan.n_per_arm, total=plan.total_n, days=duration.days,
                   message=message)


def page(key: str) -> str:
    """Definition, arms, actions, results, verdict and audit log of one experiment."""
    experiment = get_experiment(session(), key)
    design = design_of(experiment)
    segment, segment_errors = _segment_choice()
    document = results_for(experiment, segment)
    return render_template(
        "experiments/page.html", experiment=experiment, design=design, document=document,
        segment=segment, segment_errors=segment_errors, insights=_insights(experiment, document),
        actions=_allowed_actions(experiment), action_form=ActionForm(),
        entries=audit.entries(session(), experiment), can_edit=_can_edit(experiment),
        removable=experiment.status not in removal.SERVING_STATUSES)


@dataclass(frozen=True)
class Insights:
    """What the results say in words and pictures, and what shoppers said in the survey."""

    verdict: str
    charts: dict[str, str]
    survey: survey.SurveySummary


def _insights(experiment: Experiment, document: Document | None) -> Insights | None:
    """Verdict, charts (PNG data URIs) and survey of an experiment with data; None before."""
    if document is None or document["status"] != "ok":
        return None
    # matplotlib takes seconds to import: load it on the first page with charts, not at start.
    from experiments import charts

    lang = "en" if current_language() == "en" else "zh"
    labels = charts.arm_labels(document, lang)
    sentence = verdicts.render(verdicts.decision_of(document), lang, labels)
    drawn = {name: draw(document, lang=lang) for name, draw in (
        ("mean", charts.mean_chart), ("lift", charts.lift_chart),
        ("cumulative", charts.cumulative_chart),
        ("probability_best", charts.probability_best_chart))}
    drawn["allocation"] = charts.allocation_chart(
        charts.allocation_history(session(), experiment.key), document["arms"],
        document["control"], until=experiment.stopped_at or utcnow(), lang=lang)
    uris = {name: charts.data_uri(png) for name, png in drawn.items()}
    return Insights(sentence, uris, survey.survey_summary(session(), experiment.key))


def _segment_choice() -> tuple[str | None, list[str]]:
    """The breakdown attribute of the query string, validated as the results API does."""
    raw = request.args.get("segment", "").strip()
    if not raw:
        return None, []
    try:
        return parse(ResultsQuery, {"segment": raw}).segment, []
    except InvalidInput as error:
        return None, [issue_text(issue, "segment") for issue in error.issues]


def _allowed_actions(experiment: Experiment) -> list[str]:
    if experiment.archived_at is not None:
        return []  # refused until unarchived (experiments.removal)
    return [action for action, (sources, _target) in lifecycle.TRANSITIONS.items()
            if experiment.status in sources]


def _can_edit(experiment: Experiment) -> bool:
    return experiment.status in ACTIVE_STATUSES


@requires("editor")
def act(key: str, action: str) -> str | Response:
    """Start, pause, stop or promote after a confirmation: without ``confirm=yes`` (set by the
    page's confirm() dialog) the server asks on a page of its own, so no move happens by
    accident even without JavaScript."""
    experiment = get_experiment(session(), key)
    form = _action_form(action, experiment)
    if not form.validate_on_submit():
        flash(" ".join(m for messages in form.errors.values() for m in messages), "error")
        return redirect(url_for("ui.experiments.page", key=key))
    if form.confirm.data != "yes":
        return render_template("experiments/confirm.html", experiment=experiment,
                               action=action, form=form)
    try:
        _move(experiment, action, form)
        session().commit()
    except DomainError as error:
        session().rollback()
        flash(_move_problem(experiment, action, error), "error")
    else:
        flash(_("Done: %(action)s.", action=label(action)))
    return redirect(url_for("ui.experiments.page", key=key))


def _move_problem(experiment: Experiment, action: str, error: DomainError) -> str:
    """Why the move failed, in the visitor's language."""
    if isinstance(error, IllegalTransition):
        sources = lifecycle.TRANSITIONS[action][0]
        return _("Cannot %(action)s this experiment: it is %(status)s, and %(action)s works "
                 "only when it is %(allowed)s.", action=label(action),
                 status=label(experiment.status),
                 allowed=" / ".join(label(status) for status in sorted(sources)))
    return " ".join(issue_text(issue, issue.field) for issue in df.issues_of(error))


def _action_form(action: str, experiment: Experiment) -> ActionForm:
    if action != "promote":
        return ActionForm()
    form = PromoteForm()
    form.arm.choices = list(design_of(experiment).arm_keys)
    return form


def _move(experiment: Experiment, action: str, form: ActionForm) -> None:
    actor = current_user.username
    if isinstance(form, PromoteForm):
        promote_by_hand(session(), experiment.key, form.arm.data, actor=actor)
    else:
        MOVES[action](session(), experiment.key, actor=actor)


@requires("admin")
def retain(key: str, change: str) -> tuple[str, int] | Response:
    """Archive, unarchive or delete. Archive and delete need the key typed into the form; a
    wrong key, or an experiment that still serves its arms, changes nothing and comes back to
    the page with the reason (422, 409). A deleted experiment leaves for the list."""
    get_experiment(session(), key)  # 404 before anything else; CSRFProtect checked the token
    typed = RetentionForm().confirm_key.data or ""
    if change != "unarchive" and typed.strip() != key:
        flash(_("Type the key %(key)s to confirm; nothing was changed.", key=key), "error")
        return page(key), 422
    try:
        outcome = RETENTION[change](session(), key, actor=current_user.username)
        session().commit()
    except ExperimentServing:
        session().rollback()
        flash(_serving_problem(key, change), "error")
        return page(key), 409
    if change == "delete":
        flash(_("Deleted %(key)s with its %(rows)s rows.", key=key, rows=sum(outcome.values())))
        return redirect(url_for("ui.experiments.experiment_list"))
    flash(_("Done: %(action)s.", action=label(change)))
    return redirect(url_for("ui.experiments.page", key=key))


def _serving_problem(key: str, change: str) -> str:
    status = get_experiment(session(), key).status
    return _("Cannot %(action)s this experiment: it is %(status)s and still serves its arms. "
             "Stop it first: archive and delete are for draft and stopped experiments.",
             action=label(change), status=label(status))
