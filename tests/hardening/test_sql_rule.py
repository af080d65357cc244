"""No SQL is built by string formatting: a grep-able rule over every project *.py file.

A string literal that reads like SQL (a statement keyword) may not be an f-string with
placeholders, be followed by ``%`` or ``.format(``, nor be passed to ``text()``/``execute``
already formatted. Values go in as bind parameters; ruff's S608 (pyproject) says the same.
The checker is itself tested on bad and good samples, so the rule cannot pass vacuously.
"""
from __future__ import annotations

import io
import re
import subprocess
import tokenize
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
_SQL = re.compile(r"\b(SELECT\b.*\bFROM|INSERT\s+INTO|UPDATE\b.*\bSET|DELETE\s+FROM|"
                  r"DROP\s+(TABLE|SCHEMA|INDEX)|ALTER\s+TABLE|CREATE\s+(TABLE|INDEX|SCHEMA)|"
                  r"PRAGMA)\b"
                  r"|\bWHERE\s+[\w.]+\s*(=|<|>|!=|IN\b|LIKE\b|IS\b)",  # a condition, not prose
                  re.IGNORECASE | re.DOTALL)
_F_PREFIX = re.compile(r"^[rRbBuU]*[fF]")


def formatted_sql(source: str) -> list[int]:
    """Line numbers of SQL-looking string literals that are formatted."""
    tokens = [token for token in tokenize.generate_tokens(io.StringIO(source).readline)
              if token.type not in (tokenize.NL, tokenize.COMMENT)]
    found = []
    for index, token in enumerate(tokens):
        if token.type != tokenize.STRING or not _SQL.search(token.string):
            continue
        following = [t.string for t in tokens[index + 1:index + 3]]
        is_fstring = bool(_F_PREFIX.match(token.string)) and "{" in token.string
        if is_fstring or following[:1] == ["%"] or following == [".", "format"]:
            found.append(token.start[0])
    return found


def project_files() -> list[Path]:
    """Tracked and new (not ignored) *.py files: the project's own, never a venv's."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                             "*.py"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return [REPO_ROOT / name for name in listed.stdout.splitlines()
            if (REPO_ROOT / name).is_file()]


def test_no_sql_is_built_by_string_formatting() -> None:
    files = project_files()
    assert len(files) > 50
    offenders = {str(path.relative_to(REPO_ROOT)): lines for path in files
                 if (lines := formatted_sql(path.read_text(encoding="utf-8")))}
    assert offenders == {}


def test_the_checker_finds_formatted_sql_and_spares_bind_parameters() -> None:
    bad = [
        'text(f"SELECT * FROM events WHERE unit_id = \'{unit}\'")',
        'session.execute(text("DELETE FROM events WHERE id = %s" % event_id))',
        'connection.exec_driver_sql("UPDATE experiments SET name = \'{}\'".format(name))',
        'query = f"""\n  select id\n  from experiments where key = {key}\n"""',
        'clause = f" WHERE e.unit_id = \'{unit}\'"',
    ]
    good = [
        'text("SELECT * FROM events WHERE unit_id = :unit")',
        'connection.exec_driver_sql("PRAGMA integrity_check")',
        'message = f"unknown experiment {key!r}"',
        'label = "where the unit came from: %s" if verbose else ""',
        'reason = f"{n} units left out (periods where an arm has fewer than 2)"',
    ]
    assert [bool(formatted_sql(sample)) for sample in bad] == [True] * len(bad)
    assert [bool(formatted_sql(sample)) for sample in good] == [False] * len(good)
