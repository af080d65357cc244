"""Fixtures shared by every test package."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def growthbook_cases() -> dict:
    """GrowthBook's cross-SDK cases, read from ../shared (see DESIGN.md: shared data stays there)."""
    import json

    path = Path(os.environ.get("ABTEST_GROWTHBOOK_CASES",
                               REPO_ROOT.parent / "shared" / "peers" / "growthbook-cases.json"))
    if not path.exists():
        pytest.skip(f"GrowthBook cases not found at {path} (set ABTEST_GROWTHBOOK_CASES)")
    return json.loads(path.read_text(encoding="utf-8"))
