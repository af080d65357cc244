"""``python -m bench [NAME ...]``: run the named bench modules' ``main()``, or all of them.

Any ``bench/NAME.py`` with a ``main()`` is a benchmark; only the requested ones are imported, so
one module's missing optional dependency cannot stop the others.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Sequence

import bench


def _module_names() -> list[str]:
    modules = pkgutil.iter_modules(bench.__path__)
    return sorted(m.name for m in modules if not m.name.startswith("_"))


def main(argv: Sequence[str] | None = None) -> int:
    requested = list(sys.argv[1:] if argv is None else argv)
    available = _module_names()
    unknown = [name for name in requested if name not in available]
    if unknown:
        print(f"unknown bench {', '.join(unknown)}; available: {', '.join(available)}")
        return 2
    for name in requested or available:
        run = getattr(importlib.import_module(f"bench.{name}"), "main", None)
        if callable(run):
            print(f"== {name}", flush=True)
            run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
