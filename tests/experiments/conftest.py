"""Helpers for service tests: define and start experiments directly through the services."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from experiments.definitions import create_experiment
from experiments.lifecycle import start_experiment
from experiments.models import Experiment
from tests.conftest import missing_prerequisite


def stock_definition(key: str = "stock-test", **changes: Any) -> dict[str, Any]:
    """A two-arm experiment on the stock_left unit (control: off)."""
    return {
        "key": key,
        "name": "库存提示",
        "template": "亲，{stock_left}",
        "units": [{"unit": "stock_left", "variants": ["off", "on"], "params": {"stock": 3}}],
        "metrics": {"primary": {"name": "conversion", "kind": "binary"}},
        **changes,
    }


@pytest.fixture
def running(session: Session) -> Callable[..., Experiment]:
    """Create and start an experiment (committed), returning its row."""

    def make(key: str = "stock-test", **changes: Any) -> Experiment:
        create_experiment(session, stock_definition(key, **changes))
        experiment = start_experiment(session, key)
        session.commit()
        return experiment

    return make


def require_cjk_font() -> None:
    """Chinese in charts and PDFs needs WenQuanYi Micro Hei: skip without it (fail in CI)."""
    from experiments import charts  # matplotlib: only for the tests that draw

    if not any(path.exists() for path in charts.CJK_FONT_FILES):
        missing_prerequisite("fonts-wqy-microhei is not installed (CI installs it)")
