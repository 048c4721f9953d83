"""A sealed pack as one zip (manifest, seal, descriptions, files), and verifying one.

Verify recomputes every file's SHA-256 and size against the manifest, the manifest's hash against the
seal (and, given one, the hash the audit trail recorded), and rebuilds the three description files
from the manifest: any changed, missing or added file is named.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from witan.datapacks.describe import GENERATED, generated_files
from witan.datapacks.manifest import MANIFEST_NAME, SEAL_NAME, manifest_bytes, seal_document, sha256_hex

MAX_MEMBER_BYTES = 4 * 1024**3  # refuse zip bombs: no file in a pack is larger


def _zip_time(sealed_at: str) -> tuple[int, int, int, int, int, int]:
    moment = datetime.fromisoformat(sealed_at)
    return (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, moment.second)


def export_zip(
    manifest: Mapping[str, Any], audit_event_id: str | None, files: Mapping[str, bytes]
) -> tuple[bytes, list[str]]:
    """The zip of a sealed pack for one caller: `files` holds the bytes they may have (path -> bytes);
    files of the manifest not given are withheld (personal data). Returns the zip and the withheld
    paths. Entries carry the seal time, so the same pack for the same caller gives the same bytes."""
    body = manifest_bytes(manifest)
    digest = sha256_hex(body)
    manifest = json.loads(body)  # described exactly as verify will read it back
    included = [e["path"] for e in manifest["files"] if e["path"] in files]
    withheld = [e["path"] for e in manifest["files"] if e["path"] not in files]
    stamp = _zip_time(str(manifest["sealed_at"]))
    seal = json.dumps(seal_document(manifest, digest, audit_event_id), indent=1, sort_keys=True) + "\n"
    entries: list[tuple[str, bytes]] = [(MANIFEST_NAME, body), (SEAL_NAME, seal.encode())]
    entries += sorted(generated_files(manifest, set(included)).items())
    entries += [(p, files[p]) for p in included]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue(), withheld


@dataclass
class VerifyReport:
    """What verify found. `ok` only when nothing changed, went missing or was added."""

    manifest_sha256: str | None = None
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)  # personal files exported as references: expected
    problems: list[str] = field(default_factory=list)  # the manifest or seal itself
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added or self.problems)

    def lines(self) -> list[str]:
        if self.ok:
            note = (
                f" ({len(self.withheld)} personal file(s) withheld, hashes listed)" if self.withheld else ""
            )
            return [f"ok: {self.checked} file(s) match manifest sha256 {self.manifest_sha256}{note}"]
        return (
            [f"problem: {p}" for p in self.problems]
            + [f"changed: {p}" for p in self.changed]
            + [f"missing: {p}" for p in self.missing]
            + [f"added: {p}" for p in self.added]
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "manifest_sha256": self.manifest_sha256,
            "checked": self.checked,
            "changed": self.changed,
            "missing": self.missing,
            "added": self.added,
            "withheld": self.withheld,
            "problems": self.problems,
        }


def verify_files(
    manifest_data: bytes,
    seal: Mapping[str, Any] | None,
    files: Mapping[str, bytes],
    *,
    recorded_sha256: str | None = None,
    personal_may_be_withheld: bool = True,
) -> VerifyReport:
    """Check a pack given as its manifest bytes, its seal and every other file (path -> bytes).

    `recorded_sha256`: the manifest hash the audit trail holds for the pack (from the seal event)."""
    report = VerifyReport(manifest_sha256=sha256_hex(manifest_data))
    try:
        manifest = json.loads(manifest_data)
        entries = {e["path"]: e for e in manifest["files"]}
    except (ValueError, KeyError, TypeError):
        report.problems.append(f"{MANIFEST_NAME} is not a pack manifest")
        return report
    if seal is None:
        report.problems.append(f"{SEAL_NAME} is missing")
    elif seal.get("manifest_sha256") != report.manifest_sha256:
        report.problems.append(
            f"{MANIFEST_NAME} changed: its sha256 {report.manifest_sha256} is not the sealed "
            f"{seal.get('manifest_sha256')}"
        )
    if recorded_sha256 is not None and recorded_sha256 != report.manifest_sha256:
        report.problems.append(
            f"{MANIFEST_NAME} is not the one the audit trail recorded at sealing ({recorded_sha256})"
        )
    for path, entry in sorted(entries.items()):
        data = files.get(path)
        if data is None:
            if entry.get("personal") and personal_may_be_withheld:
                report.withheld.append(path)
            else:
                report.missing.append(path)
            continue
        report.checked += 1
        if len(data) != entry["bytes"] or sha256_hex(data) != entry["sha256"]:
            report.changed.append(path)
    # The descriptions list every file except withheld personal ones: a dropped file is reported once.
    included = {p for p, e in entries.items() if p in files or not e.get("personal")}
    for name, expected in generated_files(manifest, included).items():
        data = files.get(name)
        if data is None:
            report.missing.append(name)
        elif data != expected:
            report.changed.append(name)
    known = set(entries) | set(GENERATED)
    report.added = sorted(p for p in files if p not in known)
    return report


def read_zip(source: bytes | str | Path) -> tuple[bytes | None, dict[str, Any] | None, dict[str, bytes]]:
    """Manifest bytes, seal and every other file of a pack zip. Folders are skipped; a file listed twice
    counts as added (a zip can hold two entries of one name: only the first is read)."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    with stream, zipfile.ZipFile(stream) as archive:
        manifest: bytes | None = None
        seal: dict[str, Any] | None = None
        files: dict[str, bytes] = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                raise ValueError(f"{info.filename} is larger than any pack file may be")
            name = info.filename
            data = archive.read(info)
            if name == MANIFEST_NAME and manifest is None:
                manifest = data
            elif name == SEAL_NAME and seal is None:
                try:
                    seal = json.loads(data)
                except ValueError:
                    seal = {}
            elif name in files or name in (MANIFEST_NAME, SEAL_NAME):
                files[f"{name} (listed twice)"] = data
            else:
                files[name] = data
    return manifest, seal, files


def verify_zip(source: bytes | str | Path, *, recorded_sha256: str | None = None) -> VerifyReport:
    try:
        manifest, seal, files = read_zip(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return VerifyReport(problems=[f"not a readable zip: {exc}"])
    if manifest is None:
        return VerifyReport(problems=[f"{MANIFEST_NAME} is missing"], added=sorted(files))
    return verify_files(manifest, seal, files, recorded_sha256=recorded_sha256)
