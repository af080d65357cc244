"""Fixtures and parametrization shared by every test package."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Database/app/API-key fixtures (db_url over SQLite and PostgreSQL, app, client, runner...).
pytest_plugins = ["tests.fixtures_db"]

GROWTHBOOK_CASES_ENV = "ABTEST_GROWTHBOOK_CASES"


def growthbook_cases_path() -> Path:
    """GrowthBook's cross-SDK cases: shared data stays in ../shared (DESIGN.md); CI has it."""
    default = REPO_ROOT.parent / "shared" / "peers" / "growthbook-cases.json"
    return Path(os.environ.get(GROWTHBOOK_CASES_ENV, default))


@cache
def _growthbook_cases() -> dict | None:
    path = growthbook_cases_path()
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "growthbook_cases(section, id_of): parametrize `case` with every case of one section of "
        "GrowthBook's cross-SDK JSON file; id_of(index, case) names each test",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``case`` from the JSON file at collection time, or skip saying where it looked.

    Used by tests marked ``growthbook_cases(section, id_of)``.
    """
    marker = metafunc.definition.get_closest_marker("growthbook_cases")
    if marker is None:
        return
    section, id_of = marker.args
    cases = _growthbook_cases()
    if cases is None:
        path = growthbook_cases_path()
        reason = f"GrowthBook cases not found at {path} (set {GROWTHBOOK_CASES_ENV})"
        metafunc.parametrize("case", [pytest.param(None, marks=pytest.mark.skip(reason=reason))])
        return
    rows = cases[section]
    metafunc.parametrize("case", rows, ids=[id_of(i, row) for i, row in enumerate(rows)])
