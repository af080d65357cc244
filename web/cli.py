"""The ``abtest`` command line: serve, load playbooks, manage API keys, migrate, export, erase.

Errors a user can fix (a bad playbook, an unknown experiment) print one line per problem,
naming the file and field, and exit with status 1; usage errors exit 2 (click's convention).
"""
from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import click
import yaml
from sqlalchemy.orm import Session

from experiments import (
    apikeys,
    export,
    removal,
    reports,
    results,
    results_text,
    segments,
    users,
)
from experiments.db import current_revision, make_engine, make_session_factory, upgrade
from experiments.definitions import Design, parse_definition, upsert_experiment
from experiments.errors import DomainError, FieldIssue, InvalidInput
from web.endpoint import parse
from web.schemas import UnitPath


class Settings:
    """What every command needs: the database URL (option or ABTEST_DATABASE_URL)."""

    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A migrated database and one transaction, committed only if the block succeeds."""
        engine = make_engine(self.database_url)
        try:
            upgrade(engine)
            with make_session_factory(engine).begin() as session:
                yield session
        finally:
            engine.dispose()


def fail(lines: list[str]) -> None:
    """Print each problem to stderr and exit 1 (no traceback)."""
    for line in lines:
        click.echo(f"error: {line}", err=True)
    raise SystemExit(1)


def issue_lines(source: str, issues: list[FieldIssue]) -> list[str]:
    """``source: field: message`` per issue."""
    return [f"{source}: {issue.field + ': ' if issue.field else ''}{issue.message}"
            for issue in issues]


def domain_lines(source: str, error: DomainError) -> list[str]:
    if isinstance(error, InvalidInput):
        return issue_lines(source, error.issues)
    return issue_lines(source, [FieldIssue(error.field or "", error.message)])


@click.group()
@click.option("--database-url", envvar="ABTEST_DATABASE_URL", default=None,
              help="SQLAlchemy URL (default: ABTEST_DATABASE_URL or ./instance/abtest.db).")
@click.pass_context
def main(context: click.Context, database_url: str | None) -> None:
    """A/B testing of e-commerce sales scripts."""
    context.obj = Settings(database_url)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_obj
def serve(settings: Settings, host: str, port: int) -> None:
    """Run the development server (production: gunicorn 'web.app:create_app()')."""
    from web.app import create_app

    create_app({"DATABASE_URL": settings.database_url, "ABTEST_ENV": "development"}).run(
        host=host, port=port)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def load(settings: Settings, files: tuple[Path, ...]) -> None:
    """Validate playbook FILES, then create or update them by key in one transaction."""
    designs = _read_designs(files)
    with settings.transaction() as session:
        for path, design in designs:
            try:
                experiment, created = upsert_experiment(session, design.definition)
            except DomainError as error:
                session.rollback()
                fail(domain_lines(str(path), error) + ["nothing was changed"])
            click.echo(f"{'created' if created else 'updated'} {experiment.key} ({path})")


def _read_designs(files: tuple[Path, ...]) -> list[tuple[Path, Design]]:
    """Every file parsed and validated before anything is written; all problems reported."""
    designs: list[tuple[Path, Design]] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in files:
        try:
            design = parse_definition(_read_yaml(path))
        except InvalidInput as error:
            problems += issue_lines(str(path), error.issues)
            continue
        except ValueError as error:
            problems.append(f"{path}: {error}")
            continue
        key = design.definition.key
        if key in seen:
            problems.append(f"{path}: key: {key!r} is also defined in {seen[key]}")
        seen[key] = path
        designs.append((path, design))
    if problems:
        fail([*problems, "nothing was changed"])
    return designs


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"not readable YAML: {error}") from None
    if not isinstance(data, dict):
        raise ValueError("the file must hold one YAML mapping (an experiment definition)")
    return data


@main.group()
def apikey() -> None:
    """Create, list and revoke API keys."""


@apikey.command("create")
@click.option("--scope", required=True, type=click.Choice(apikeys.SCOPES))
@click.option("--name", default="", help="What the key is for (shown in lists).")
@click.pass_obj
def apikey_create(settings: Settings, scope: apikeys.Scope, name: str) -> None:
    """Create a key and print its token once (it is stored only as a hash)."""
    with settings.transaction() as session:
        key, token = apikeys.create_api_key(session, scope, name)
    click.echo(f"created key {key.id} ({scope}); the token is shown only now:", err=True)
    click.echo(token)


@apikey.command("list")
@click.pass_obj
def apikey_list(settings: Settings) -> None:
    """One line per key: id, prefix, scope, status, created, name."""
    with settings.transaction() as session:
        for key in apikeys.list_api_keys(session):
            status = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            click.echo(f"{key.id}\t{key.prefix}\t{key.scope}\t{status}\t"
                       f"{key.created_at:%Y-%m-%d %H:%M}\t{key.name}")


@apikey.command("revoke")
@click.argument("key_id", type=int)
@click.pass_obj
def apikey_revoke(settings: Settings, key_id: int) -> None:
    """Revoke key KEY_ID: requests with it get 401 from now on."""
    with settings.transaction() as session:
        try:
            apikeys.revoke_api_key(session, key_id)
        except DomainError as error:
            fail([error.message])
    click.echo(f"revoked key {key_id}")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Apply pending migrations (the server also does this on start)."""
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        click.echo(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()


@main.command("results")
@click.argument("key")
@click.option("--segment", default=None, help="Exposure attribute to break results down by.")
@click.option("--alpha", default=0.05, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document of the API.")
@click.pass_obj
def results_command(settings: Settings, key: str, segment: str | None, alpha: float,
                    as_json: bool) -> None:
    """Print the results of experiment KEY: a table per metric, SRM, power and factorial."""
    with settings.transaction() as session:
        try:
            found = results.experiment_results(session, key, segment=segment, alpha=alpha)
        except DomainError as error:
            fail([f"{key}: {error.message}"])
    document = results.results_document(found)
    click.echo(json.dumps(document, ensure_ascii=False, indent=1) if as_json
               else results_text.format_results(document))


@main.command("erase")
@click.option("--unit-id", required=True, help="The shopper's unit id, as the storefront sent it.")
@click.pass_obj
def erase(settings: Settings, unit_id: str) -> None:
    """Erase one shopper's assignments, events, feedback and segment in every experiment.

    Audited (counts only, never the unit id); erasing again removes 0 rows."""
    try:
        checked = parse(UnitPath, {"unit_id": unit_id})
    except InvalidInput as error:
        fail([f"--unit-id: {issue.message}" for issue in error.issues])
    with settings.transaction() as session:
        removed = removal.erase_unit(session, checked.unit_id)
    counts = ", ".join(f"{table} {n}" for table, n in removed.items())
    click.echo(f"erased unit: {counts} ({sum(removed.values())} rows)")


@main.group("export")
def export_group() -> None:
    """Export raw data for offline analysis."""


@export_group.command("events")
@click.option("--experiment", "key", required=True, help="Experiment key.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default="-",
              help="Output file (default: standard output).")
@click.pass_obj
def export_events(settings: Settings, key: str, fmt: str, out: str) -> None:
    """Stream the events of an experiment with each unit's arm, oldest first."""
    with settings.transaction() as session:
        try:
            rows = export.iter_events(session, key)
        except DomainError as error:
            fail([f"--experiment: {error.message}"])
        with click.open_file(out, "w", encoding="utf-8") as stream:
            write = _csv_writer(stream) if fmt == "csv" else _jsonl_writer(stream)
            for row in rows:
                write(row)


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _csv_writer(stream: Any) -> Any:
    writer = csv.DictWriter(stream, fieldnames=export.EVENT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    return lambda row: writer.writerow({k: _plain(v) for k, v in row.items()})


def _jsonl_writer(stream: Any) -> Any:
    return lambda row: stream.write(
        json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False) + "\n")


@main.command()
@click.option("--experiment", "key", default=None,
              help="Reweight this experiment now; default: every Thompson experiment now due.")
@click.option("--seed", type=int, default=None, help="Monte Carlo seed (reproducible weights).")
@click.pass_obj
def allocate(settings: Settings, key: str | None, seed: int | None) -> None:
    """Run Thompson allocation (and the promotion rule) once, e.g. from cron."""
    from experiments.allocation import allocate_due, allocate_experiment

    with settings.transaction() as session:
        try:
            outcomes = ([allocate_experiment(session, key, seed=seed)] if key
                        else allocate_due(session, seed=seed))
        except DomainError as error:
            fail([f"--experiment: {error.message}"])
    for outcome in outcomes:
        weights = ", ".join(f"{w:.3f}" for w in outcome.weights)
        note = outcome.winner or "; ".join(outcome.reasons)
        click.echo(f"{outcome.experiment}: {outcome.action} v{outcome.weights_version}"
                   f" [{weights}]{' ' + note if note else ''}")
    if not outcomes:
        click.echo("no Thompson experiment is due")


@main.command()
@click.argument("playbook", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--visitors", type=click.IntRange(min=1), required=True)
@click.option("--true-rates", required=True, help="Conversion rate per arm: r1,r2,...")
@click.option("--seed", type=int, default=None)
@click.option("--allocate-every", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Visitors between allocation runs.")
@click.option("--database-url", "simulation_url", default=None,
              help="Database to simulate in (default: a temporary SQLite file).")
def simulate(playbook: Path, visitors: int, true_rates: str, seed: int | None,
             allocate_every: int, simulation_url: str | None) -> None:
    """Send simulated visitors with known TRUE-RATES through the real service code."""
    import tempfile

    from tqdm import tqdm

    from experiments.simulate import format_report, simulate_traffic

    try:
        rates = [float(rate) for rate in true_rates.split(",")]
        definition = _read_yaml(playbook)
    except ValueError as error:
        fail([f"{playbook if 'YAML' in str(error) else '--true-rates'}: {error}"])
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(simulation_url or f"sqlite:///{Path(scratch) / 'simulation.db'}")
        try:
            upgrade(engine)
            with make_session_factory(engine)() as session, tqdm(total=visitors) as bar:
                report = simulate_traffic(session, definition, rates, visitors, allocate_every,
                                          seed, bar.update)
        except DomainError as error:
            fail(domain_lines(str(playbook), error))
        finally:
            engine.dispose()
    click.echo(format_report(report))


@main.group("segments")
def segments_group() -> None:
    """RFM customer segments used by targeting and segment breakdowns."""


@segments_group.command("import")
@click.argument("orders", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Score as of the end of this UTC day (default: now); later orders are ignored.")
@click.option("--bins", type=click.IntRange(2, 9), default=5, show_default=True,
              help="Quantile bins per R/F/M score.")
@click.pass_obj
def segments_import(settings: Settings, orders: Path, as_of: datetime | None, bins: int) -> None:
    """Score ORDERS (CSV: customer id, order time, amount) and replace the stored segments.

    Bad rows are skipped and listed by line; units absent from the file lose their segment.
    """
    moment = None if as_of is None else datetime.combine(as_of.date(), time.max, UTC)
    with settings.transaction() as session:
        try:
            with orders.open(encoding="utf-8", newline="") as stream:
                summary = segments.import_orders(session, stream, moment, bins)
        except OSError as error:
            fail([f"{orders}: {error.strerror or error}"])
        except DomainError as error:
            fail(domain_lines(str(orders), error))
    click.echo("\n".join(summary.lines()))


@main.group()
def user() -> None:
    """Accounts of the web app (the first admin is created here)."""


@user.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(users.ROLES))
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")
@click.pass_obj
def user_create(settings: Settings, username: str, role: str, password_stdin: bool) -> None:
    """Create a user; the password is prompted for (hidden, twice) or read from stdin."""
    password = _read_password(password_stdin)
    with settings.transaction() as session:
        try:
            users.create_user(session, username, password, role)
        except DomainError as error:
            fail(domain_lines("user", error))
    click.echo(f"created user {username} ({role})")


def _read_password(from_stdin: bool) -> str:
    """One line of stdin, or a hidden prompt asked twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.command("set-password")
@click.option("--username", required=True)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")
@click.pass_obj
def user_set_password(settings: Settings, username: str, password_stdin: bool) -> None:
    """Give a user a new password; their sessions end (they sign in again)."""
    password = _read_password(password_stdin)
    with settings.transaction() as session:
        try:
            users.change_password(session, username, password)
        except DomainError as error:
            fail(domain_lines("user", error))
    click.echo(f"changed the password of {username}; their sessions are ended")


@user.command("set-role")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(users.ROLES))
@click.pass_obj
def user_set_role(settings: Settings, username: str, role: str) -> None:
    """Give a user another role; their sessions end (they sign in again)."""
    with settings.transaction() as session:
        try:
            users.change_role(session, username, role)
        except DomainError as error:
            fail(domain_lines("user", error))
    click.echo(f"{username} is now {role}; their sessions are ended")


@user.command("list")
@click.pass_obj
def user_list(settings: Settings) -> None:
    """One line per user: name, role, created."""
    with settings.transaction() as session:
        for found in users.list_users(session):
            click.echo(f"{found.username}\t{found.role}\t{found.created_at:%Y-%m-%d %H:%M}")


@main.group("report")
def report_group() -> None:
    """Reports for the Monday script review."""


@report_group.command("weekly")
@click.option("--week", default=None,
              help="ISO week like 2026-W47 (default: the last complete week, UTC).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Directory to write abtest-weekly-<week>.<format> into.")
@click.option("--format", "formats", default="html", show_default=True,
              help="Comma-separated: html, pdf, csv.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.pass_obj
def report_weekly(settings: Settings, week: str | None, out: Path, formats: str,
                  lang: reports.Lang) -> None:
    """Write the weekly report of every experiment running or ended in the week.

    Cron, Monday 08:00: 0 8 * * 1 abtest report weekly --format html,pdf,csv --out DIR
    """
    try:
        chosen = reports.IsoWeek.parse(week) if week else reports.IsoWeek.last_complete(
            datetime.now(UTC))
        wanted = reports.parse_formats(formats)
    except InvalidInput as error:
        fail([f"--{issue.field}: {issue.message}" for issue in error.issues])
    from web.ui.reasons import describer  # the pages' catalogue words the reasons too

    with settings.transaction() as session:
        report = reports.build_weekly_report(session, chosen, lang=lang, progress=True)
    try:
        paths = reports.write_report(report, out, wanted, describer(lang))
    except OSError as error:
        fail([f"--out {out}: {error.strerror or error}"])
    click.echo("\n".join(str(path) for path in paths))
