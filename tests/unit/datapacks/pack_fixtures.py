"""A sealed pack built from a small SEND run on this machine (generated inputs)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
PACK_ID = "a" * 32
DATASET_ID = "d" * 32
SCENARIO = {
    "name": "fewer-moves",
    "modify_transitions": [{"match": {"setting": "SPIB"}, "factor": 0.5}],
}


def local_run_files(
    member: Any, run_dir: str | Path, inputs: Sequence[Any]
) -> tuple[list[Any], dict[str, Any]]:
    """A run done on this machine (`witan model run`, run_local) as a pack member, gathered as the API
    gathers a run from S3."""
    from witan.datapacks.manifest import run_member_files
    from witan.datapacks.sources import output_names, role_schemas

    folder = Path(run_dir)
    plan_bytes = (folder / "plan.json").read_bytes()
    metadata = json.loads((folder / "metadata.json").read_bytes())
    outputs = {name: (folder / name).read_bytes() for name in output_names(metadata)}
    return run_member_files(member, plan_bytes, outputs, inputs, role_schemas(str(metadata["model"])))


@dataclass
class Built:
    pack: Any
    files: dict[str, bytes]
    manifest: dict[str, Any]
    zip_bytes: bytes
    run_dir: Path


def build_pack(root: Path, *, personal_path: str | None = None) -> Built:
    from witan.datapacks import records as dm
    from witan.datapacks.bundle import export_zip
    from witan.datapacks.manifest import PackFile, RunInput, build_manifest
    from witan.modelrun.inputs import read_role_files
    from witan.modelrun.local import run_local
    from witan.modelrun.registry import get_model
    from witan.models.send.synthetic import write_synthetic

    inputs = write_synthetic(root / "inputs")
    files = read_role_files(get_model("send"), inputs)
    run_dir = root / "run"
    run_local("send", files, run_dir, simulations=12, seed=5, scenarios=[SCENARIO], run_id="run1")
    pack = dm.create(
        PACK_ID,
        "org-camden",
        "user-a",
        NOW,
        title="SEND: baseline against fewer moves",
        summary="What the EHCP caseload does if fewer children move.",
        conclusions="Fewer moves means **more plans** by 2019.",
        licence="OGL-UK-3.0",
        tags=("send", "demo"),
    )
    run_member = dm.Member(
        "", dm.MemberKind.MODEL_RUN, dm.Role.OUTPUT, "the SEND run", "user-a", NOW, run_id="run1"
    )
    script = dm.Member(
        "",
        dm.MemberKind.PACK_FILE,
        dm.Role.SCRIPT,
        "the analysis script",
        "user-a",
        NOW,
        file_name="analysis.py",
    )
    data = dm.Member(
        "",
        dm.MemberKind.DATASET_FILE,
        dm.Role.INPUT,
        "the census extract",
        "user-a",
        NOW,
        dataset_id=DATASET_ID,
        version=2,
        file_name="census.csv",
        personal=personal_path is not None,
    )
    meta_only = dm.Member(
        "",
        dm.MemberKind.DATASET_METADATA,
        dm.Role.OTHER,
        "the school roll (metadata only)",
        "user-a",
        NOW,
        dataset_id="e" * 32,
        metadata={"title": "School roll", "personal_data": True},
    )
    for member in (run_member, script, data, meta_only):
        pack = dm.add_member(pack, member, NOW)
    m_run, m_script, m_data, _ = pack.members
    sources = [
        RunInput(role, f.name, f.data, {"dataset_id": DATASET_ID, "version": 1, "role": role})
        for role, given in files.items()
        for f in given
    ]
    pack_files, run = local_run_files(m_run, run_dir, sources)
    pack_files.append(
        PackFile("files/analysis.py", b"import pandas\nprint('caseload')\n", m_script.id, "script")
    )
    pack_files.append(
        PackFile(
            m_data.path or "",
            b"child,setting\n1,MMSIB\n2,OOB\n",
            m_data.id,
            "input",
            personal=m_data.personal,
            source={"dataset_id": DATASET_ID, "version": 2},
        )
    )
    manifest = build_manifest(pack, pack_files, [run], "user-a", NOW)
    contents = {f.path: f.data for f in pack_files if f.path != personal_path}
    zip_bytes, _ = export_zip(manifest, "audit-1", contents)
    return Built(pack, {f.path: f.data for f in pack_files}, manifest, zip_bytes, run_dir)
