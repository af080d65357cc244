"""In CI a missing prerequisite fails the test that needs it; in a user's clone it skips."""
from __future__ import annotations

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
