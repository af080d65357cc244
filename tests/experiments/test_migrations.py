"""Migrations are atomic: one that fails half-way leaves the schema and the version stamp as
they were, on both backends, and the next start (fault removed) succeeds.

The fault is injected as a real migration script in a copy of the versions directory: it
creates a table, adds a column to an existing one, then fails, either in Python or with an
SQL error (which on PostgreSQL also aborts the transaction).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import DBAPIError

from experiments import db
from experiments.db import (
    alembic_config,
    current_revision,
    make_engine,
    make_session_factory,
    upgrade,
)
from experiments.definitions import create_experiment
from experiments.models import Experiment
from tests.conftest import REPO_ROOT
from tests.experiments.conftest import stock_definition

FAILURES = {
    "python": ('raise RuntimeError("injected migration failure")', RuntimeError),
    "sql": ('op.execute("SELECT injected_missing_column FROM experiments")', DBAPIError),
}
FAULTY_MIGRATION = '''"""faulty: fails after two DDL statements"""
import sqlalchemy as sa
from alembic import op

revision = "fault"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("fault_probe", sa.Column("id", sa.Integer(), primary_key=True))
    op.add_column("experiments", sa.Column("fault_column", sa.Integer()))
    {failure}


def downgrade() -> None:
    pass
'''


def real_head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


class Fault:
    """A copy of the migrations with the faulty one added, switched on and off."""

    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
        shutil.copytree(db.MIGRATIONS_DIR, directory,
                        ignore=shutil.ignore_patterns("__pycache__"))
        failure, self.error = FAILURES[kind]
        (directory / "versions" / "9999_fault.py").write_text(
            FAULTY_MIGRATION.format(head=real_head(), failure=failure), encoding="utf-8")
        self.head = real_head()  # the last real migration: where a failed run must stay
        self.directory = directory
        self.monkeypatch = monkeypatch

    def inject(self) -> None:
        self.monkeypatch.setattr(db, "MIGRATIONS_DIR", self.directory)

    def remove(self) -> None:
        self.monkeypatch.undo()


@pytest.fixture(params=sorted(FAILURES))
def fault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Fault:
    return Fault(tmp_path / "migrations", monkeypatch, request.param)


@pytest.fixture
def bare_engine(db_url: str) -> Iterator[Engine]:
    """An engine on the empty database, not migrated yet."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def schema_of(engine: Engine) -> dict[str, set[str]]:
    inspector = inspect(engine)
    return {table: {column["name"] for column in inspector.get_columns(table)}
            for table in inspector.get_table_names()}


def test_failed_migration_leaves_schema_and_version_untouched(
    bare_engine: Engine, fault: Fault, make_app: Callable[..., Flask],
) -> None:
    fault.inject()
    with pytest.raises(fault.error, match="injected"):
        upgrade(bare_engine)
    # every real migration before the faulty one was committed, one transaction each
    assert current_revision(bare_engine) == fault.head
    before = schema_of(bare_engine)
    assert "fault_probe" not in before and "fault_column" not in before["experiments"]

    with pytest.raises(fault.error, match="injected"):
        upgrade(bare_engine)  # a start that fails again changes nothing either
    assert schema_of(bare_engine) == before and current_revision(bare_engine) == fault.head

    fault.remove()
    app = make_app()  # the next start succeeds
    assert current_revision(app.extensions["abtest"].engine) == fault.head
    assert schema_of(bare_engine) == before


def test_failed_migration_keeps_the_rows_of_the_table_it_altered(
    bare_engine: Engine, fault: Fault,
) -> None:
    upgrade(bare_engine)
    with make_session_factory(bare_engine).begin() as session:
        create_experiment(session, stock_definition())
    fault.inject()
    with pytest.raises(fault.error, match="injected"):
        upgrade(bare_engine)
    with make_session_factory(bare_engine)() as session:
        assert [e.key for e in session.scalars(select(Experiment))] == ["stock-test"]
    assert "fault_column" not in schema_of(bare_engine)["experiments"]


def test_concurrent_first_starts_take_turns(db_url: str, bare_engine: Engine) -> None:
    """Four processes migrating an empty database at the same moment: each succeeds, none runs
    a migration another already ran (before: "table … already exists" on SQLite)."""
    code = ("import sys; from experiments.db import make_engine, upgrade; "
            "engine = make_engine(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.readline(); upgrade(engine); engine.dispose()")
    starts = [subprocess.Popen([sys.executable, "-c", code, db_url], cwd=REPO_ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE) for _ in range(4)]
    for start in starts:  # every process imported and connected: then all go at once
        assert start.stdout is not None and start.stdout.readline() == "ready\n"
    for start in starts:
        assert start.stdin is not None
        start.stdin.write("go\n")
        start.stdin.close()
    codes = [start.wait(timeout=120) for start in starts]
    failures = []
    for start in starts:
        assert start.stdout is not None and start.stderr is not None
        failures.append(start.stderr.read())
        start.stdout.close()
        start.stderr.close()
    assert codes == [0] * 4, failures
    assert current_revision(bare_engine) == real_head()
