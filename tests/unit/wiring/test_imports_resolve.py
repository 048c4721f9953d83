"""Every `from witan... import name` in the repository names something that exists. Many imports sit
inside functions (to keep cold starts small), so a rename can leave one broken that no test runs: the
demo's steps, for instance, import lazily."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FOLDERS = ("local", "benchmarks", "tests", "functions", "infra", "layers/shared/python/witan")


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under `if TYPE_CHECKING:` (names that exist only for the type checker)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            lines.update(n.lineno for n in ast.walk(node) if isinstance(n, ast.ImportFrom))
    return lines


def test_every_witan_import_resolves() -> None:
    broken: list[str] = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            skip = _type_checking_only(tree)
            for node in ast.walk(tree):
                if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module):
                    continue
                if node.module.split(".")[0] != "witan" or node.lineno in skip:
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                try:
                    module = importlib.import_module(node.module)
                except ImportError as exc:
                    broken.append(f"{where} {node.module}: {exc}")
                    continue
                for alias in node.names:
                    if hasattr(module, alias.name):
                        continue
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        broken.append(f"{where} {node.module}.{alias.name}")
    assert broken == []
