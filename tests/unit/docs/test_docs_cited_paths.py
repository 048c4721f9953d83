"""What the code and docs cite must exist: every `docs/...` and `schemas/...` path named in layers/,
functions/, infra/, local/, docs/, tests/ or the README is a file or folder of the repository.

A placeholder ends the path where it starts (`schemas/tables/{name}.json` and `schemas/models/NAME/`
need the folder before it); OpenAPI's `#/components/schemas/...` references are not paths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FOLDERS = ("layers", "functions", "infra", "local", "docs", "tests")
FILES = ("README.md",)
SUFFIXES = {".py", ".md", ".json", ".js", ".html", ".txt", ".toml", ".cfg", ".yaml", ".yml"}
SKIP_DIRS = {"__pycache__", "node_modules", ".venv", "cdk.out", "site", "static"}
# A path starts where no word, path or anchor character comes before it.
CITED = re.compile(r"(?<![\w/.#-])((?:docs|schemas)/[\w./{}*<>-]*)")
PLACEHOLDER = re.compile(r"[{*<]|/[A-Z][A-Z_]*(?:/|$)")


def _text_files() -> Iterator[Path]:
    for name in FILES:
        yield ROOT / name
    for folder in FOLDERS:
        for parent, dirs, files in os.walk(ROOT / folder):  # symlinks to folders are not followed
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
            for file in files:
                path = Path(parent, file)
                if path.suffix in SUFFIXES:
                    yield path


def cited_path(text: str) -> str:
    """The part of a cited path that must exist: up to a placeholder, without trailing punctuation."""
    placeholder = PLACEHOLDER.search(text)
    if placeholder:
        text = text[: placeholder.start() + (1 if text[placeholder.start()] == "/" else 0)]
    return text.rstrip(".,;:")


def test_cited_path_stops_at_placeholders_and_punctuation() -> None:
    assert cited_path("schemas/tables/{name}.json") == "schemas/tables/"
    assert cited_path("schemas/models/NAME/") == "schemas/models/"
    assert cited_path("schemas/tables/*.json") == "schemas/tables/"
    assert cited_path("docs/openapi.json.") == "docs/openapi.json"
    assert cited_path("docs/models/send.md") == "docs/models/send.md"


def test_every_cited_docs_or_schemas_path_exists() -> None:
    missing = []
    for path in _text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for line_number, line in enumerate(text.splitlines(), 1):
            for match in CITED.finditer(line):
                cited = cited_path(match.group(1))
                if not (ROOT / cited).exists():
                    missing.append(f"{path.relative_to(ROOT)}:{line_number}: {cited}")
    assert not missing, "cited paths that do not exist:\n" + "\n".join(missing)
