"""The pure packages load neither Flask nor SQLAlchemy (DESIGN.md: dependencies point one way)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PURE_PACKAGES = ("abtest", "variants")
FORBIDDEN = ("flask", "sqlalchemy")
REPO_ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter: this test process may already hold Flask from other tests.
IMPORT_EVERYTHING = """
import importlib, importlib.util, json, pkgutil, sys
imported = []
for name in {packages!r}:
    if importlib.util.find_spec(name) is None:
        continue  # a package still being written
    package = importlib.import_module(name)
    imported.append(name)
    for module in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(module.name)
        imported.append(module.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r})
print(json.dumps({{"imported": imported, "forbidden": loaded}}))
"""


def test_pure_packages_load_neither_flask_nor_sqlalchemy() -> None:
    script = IMPORT_EVERYTHING.format(packages=PURE_PACKAGES, forbidden=FORBIDDEN)
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert "abtest.conditions" in report["imported"]
    assert report["forbidden"] == [], f"imported: {report['imported']}"
