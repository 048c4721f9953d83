"""The storage port a model run writes through: keys are relative to the run's root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from witan.settings import MODELS_PREFIX


def run_prefix(run_id: str) -> str:
    """Where a run's files live in the data bucket."""
    return f"{MODELS_PREFIX}{run_id}/"


class RunStorage(Protocol):
    """Where one run's files live (a local folder, or `models/{run_id}/` in the data bucket)."""

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def location(self, key: str) -> str:
        """A human-readable address of `key` (path or s3:// URI) for reports."""
        ...


class LocalStorage:
    """A run folder on the local filesystem (the CLI's)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"key {key!r} escapes the run folder")
        return path

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # readers never see half a file

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def location(self, key: str) -> str:
        return str(self._path(key))
