"""No SQL is built by string formatting: a grep-able rule over every project *.py file.

A string that reads like SQL (a statement keyword, or ``WHERE`` with a condition) may not be
built from values at run time: no f-string with placeholders, no ``%`` formatting, no
``.format(...)``, no ``+`` concatenation with anything but other literals. The rule reads the
syntax tree (:mod:`ast`), so it holds whatever the Python version tokenizes f-strings as, and
sees a statement split over concatenated pieces (``"SELECT ... WHERE id = " + unit``) as the
whole it builds. Values go in as bind parameters; ruff's S608 (pyproject, ``make lint`` in CI)
says the same. The checker is itself tested on bad and good samples, so the rule cannot pass
vacuously. What it cannot see: a statement kept in a variable and extended on a later line
(``query += str(unit)``), which would take data-flow analysis; review catches that.
"""
from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
_SQL = re.compile(r"\b(SELECT\b.*\bFROM|INSERT\s+INTO|UPDATE\b.*\bSET|DELETE\s+FROM|"
                  r"DROP\s+(TABLE|SCHEMA|INDEX)|ALTER\s+TABLE|CREATE\s+(TABLE|INDEX|SCHEMA)|"
                  r"PRAGMA)\b"
                  r"|\bWHERE\s+[\w.]+\s*(=|<|>|!=|IN\b|LIKE\b|IS\b)",  # a condition, not prose
                  re.IGNORECASE | re.DOTALL)
#: Stands for a run-time value in the text a formatted string would have.
_VALUE = "x"


def _text(node: ast.expr) -> str | None:
    """The text a string expression builds, run-time values as ``x``; None if not a string."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(part) or _VALUE for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        pieces = [_text(side) for side in (node.left, node.right)]
        if all(piece is None for piece in pieces):
            return None
        return "".join(_VALUE if piece is None else piece for piece in pieces)
    return None


def _is_literal(node: ast.expr) -> bool:
    """Text fixed in the source: a constant, or literals concatenated with ``+``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_literal(node.left) and _is_literal(node.right)
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _builds_sql(node: ast.AST) -> bool:
    """Whether ``node`` is SQL-looking text formatted or concatenated with run-time values."""
    if isinstance(node, ast.JoinedStr):
        formatted, text = any(isinstance(v, ast.FormattedValue) for v in node.values), _text(node)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        formatted, text = True, _text(node.left)
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
          and node.func.attr == "format"):
        formatted, text = True, _text(node.func.value)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        formatted, text = not _is_literal(node), _text(node)
    else:
        return False
    return formatted and text is not None and bool(_SQL.search(text))


def formatted_sql(source: str) -> list[int]:
    """Line numbers of SQL-looking strings built by formatting or concatenation."""
    return sorted({node.lineno for node in ast.walk(ast.parse(source)) if _builds_sql(node)})


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


BAD = [
    # f-strings
    'text(f"SELECT * FROM events WHERE unit_id = \'{unit}\'")',
    'query = f"""\n  select id\n  from experiments where key = {key}\n"""',
    'clause = f" WHERE e.unit_id = \'{unit}\'"',
    # % formatting
    'session.execute(text("DELETE FROM events WHERE id = %s" % event_id))',
    'sql = "UPDATE arms SET weight = %(w)s" % {"w": weight}',
    # .format
    'connection.exec_driver_sql("UPDATE experiments SET name = \'{}\'".format(name))',
    'sql = "INSERT INTO events VALUES ({})".format(values)',
    # concatenation, alone or with other literals, on either side, in an augmented assignment
    'sql = "SELECT * FROM t WHERE id = " + var',
    'sql = "SELECT * FROM t WHERE id = " + str(unit) + " LIMIT 1"',
    'sql = "SELECT * FROM t" + where',
    'sql = base + " WHERE id = " + unit',
    'sql += " WHERE " + column + " = " + value',
    'connection.execute(text("DROP TABLE " + name))',
]
GOOD = [
    'text("SELECT * FROM events WHERE unit_id = :unit")',
    'connection.exec_driver_sql("PRAGMA integrity_check")',
    'text("SELECT id FROM experiments " "WHERE key = :key")',  # implicit concatenation
    'text("SELECT id FROM experiments " + "WHERE key = :key")',  # literals only
    'message = f"unknown experiment {key!r}"',
    'label = "where the unit came from: %s" % origin',
    'reason = f"{n} units left out (periods where an arm has fewer than 2)"',
    'note = "select a variant: " + name',
    'total = count + 1',
]


def test_the_checker_finds_formatted_sql_and_spares_bind_parameters() -> None:
    assert [sample for sample in BAD if not formatted_sql(sample)] == []
    assert [sample for sample in GOOD if formatted_sql(sample)] == []
    assert formatted_sql("x = 1\n\nsql = 'SELECT * FROM t WHERE id = ' + var\n") == [3]
