"""Fixtures and parametrization shared by every test package."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Database/app/API-key fixtures (db_url over SQLite and PostgreSQL, app, client, runner...).
pytest_plugins = ["tests.fixtures_db"]

GROWTHBOOK_CASES_ENV = "ABTEST_GROWTHBOOK_CASES"
#: Set (``CI=true``) on the CI machine, which .ci/run provisions with every prerequisite.
CI_ENV = "CI"


def in_ci() -> bool:
    """Whether this run is CI's: ``CI`` set to anything but empty, 0 or false."""
    return os.environ.get(CI_ENV, "").strip().lower() not in ("", "0", "false", "no")


def missing_prerequisite(reason: str) -> NoReturn:
    """Skip a test whose prerequisite (PostgreSQL, Chromium, a font, shared data) is absent.

    A user's clone may lack them, so there it skips saying why. CI must have them all: there a
    skip would hide a broken provisioning step behind a green run, so the test fails instead.
    """
    if in_ci():
        pytest.fail(f"CI prerequisite missing ({CI_ENV} is set): {reason}", pytrace=False)
    pytest.skip(reason)


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
    config.addinivalue_line(
        "markers",
        "missing_prerequisite(reason): set at collection; the test skips (fails in CI) at setup",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Collection-time absences (see pytest_generate_tests) go through missing_prerequisite."""
    marker = item.get_closest_marker("missing_prerequisite")
    if marker is not None:
        missing_prerequisite(marker.args[0])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``case`` from the JSON file at collection time, or skip saying where it looked
    (fail in CI: see :func:`missing_prerequisite`).

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
        marks = pytest.mark.missing_prerequisite(reason)
        metafunc.parametrize("case", [pytest.param(None, marks=marks, id="missing")])
        return
    rows = cases[section]
    metafunc.parametrize("case", rows, ids=[id_of(i, row) for i, row in enumerate(rows)])
