"""`make bench`: run every benchmark module (benchmarks/bench_*.py), each printing its own table.

Run one with `python -m benchmarks NAME` (e.g. `python -m benchmarks validation`).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
    )
    wanted = [f"bench_{n.removeprefix('bench_')}" for n in argv] or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    failures = 0
    for name in wanted:
        print(f"\n=== {name.removeprefix('bench_')} ===", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        failures += 0 if module.main() == 0 else 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
