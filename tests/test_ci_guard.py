"""In CI a missing prerequisite fails the test that needs it; in a user's clone it skips."""
from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import CI_ENV, missing_prerequisite, pytest_runtest_setup


@pytest.mark.parametrize("value", ["", "0", "false", "False", "no"])
def test_outside_ci_a_missing_prerequisite_skips(monkeypatch: pytest.MonkeyPatch,
                                                 value: str) -> None:
    monkeypatch.setenv(CI_ENV, value)
    with pytest.raises(pytest.skip.Exception, match="^no chromium$"):
        missing_prerequisite("no chromium")
    monkeypatch.delenv(CI_ENV)
    with pytest.raises(pytest.skip.Exception):
        missing_prerequisite("no chromium")


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_in_ci_a_missing_prerequisite_fails_saying_what(monkeypatch: pytest.MonkeyPatch,
                                                        value: str) -> None:
    monkeypatch.setenv(CI_ENV, value)
    with pytest.raises(pytest.fail.Exception, match="CI prerequisite missing.*: no chromium$"):
        missing_prerequisite("no chromium")


def test_collection_time_absence_goes_through_the_same_guard(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What pytest_generate_tests marks (the GrowthBook cases file) fails in CI at setup."""
    marker = pytest.mark.missing_prerequisite("cases file not found").mark
    item = SimpleNamespace(get_closest_marker=lambda name: marker
                           if name == "missing_prerequisite" else None)
    monkeypatch.setenv(CI_ENV, "true")
    with pytest.raises(pytest.fail.Exception, match="cases file not found"):
        pytest_runtest_setup(item)  # type: ignore[arg-type]
    monkeypatch.delenv(CI_ENV)
    with pytest.raises(pytest.skip.Exception, match="cases file not found"):
        pytest_runtest_setup(item)  # type: ignore[arg-type]
    unmarked = SimpleNamespace(get_closest_marker=lambda name: None)
    assert pytest_runtest_setup(unmarked) is None  # type: ignore[arg-type]


def _system_packages(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run .ci/system-packages as a non-root user on a machine that has none of the libraries
    (shims on PATH stand in for ldconfig, fc-list and id)."""
    shims = tmp_path / "bin"
    shims.mkdir()
    for name, body in {"ldconfig": "exit 0", "fc-list": "exit 0", "id": "echo 1000"}.items():
        (shims / name).write_text(f"#!/bin/sh\n{body}\n")
        (shims / name).chmod(0o755)
    script = Path(__file__).resolve().parents[1] / ".ci" / "system-packages"
    env = {"PATH": f"{shims}:/usr/bin:/bin"}
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, env=env,
                          check=False)


def test_a_fresh_machine_is_told_the_exact_apt_line(tmp_path) -> None:
    answer = _system_packages(tmp_path)
    assert answer.returncode == 1
    line = next(row for row in answer.stderr.splitlines() if "apt-get install" in row)
    for package in ("libpango-1.0-0", "libharfbuzz-subset0", "fonts-wqy-microhei"):
        assert package in line.split()


def test_make_test_and_ci_use_the_same_package_script() -> None:
    root = Path(__file__).resolve().parents[1]
    recipe = (root / "Makefile").read_text().split("\ntest:")[1].split("\n\n")[0]
    assert "bash .ci/system-packages" in recipe
    assert "bash .ci/system-packages --ci" in (root / ".ci" / "run").read_text()
