"""Reproduce holds for every model the platform runs: each registered model's run, on its own generated
inputs, packed, exported and re-run from the zip, gives identical CSV and Parquet outputs; and a SEND
run whose population came from a demography run is re-run through the same conversion."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from witan.datapacks import records as dm
from witan.datapacks.bundle import export_zip
from witan.datapacks.manifest import PackFile, RunInput, build_manifest
from witan.datapacks.reproduce import IDENTICAL, reproduce_zip
from witan.modelrun.local import run_local
from witan.modelrun.registry import get_model, model_names

from tests.unit.datapacks.pack_fixtures import local_run_files

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def _inputs(model: str, folder: Path) -> Path:
    """Each model's own generated inputs, small."""
    if model == "send":
        from witan.models.send.synthetic import write_synthetic

        return write_synthetic(folder)
    if model == "demography":
        from witan.models.demography.synthetic import write_synthetic

        return write_synthetic(folder, councils=1)
    if model == "cic":
        from witan.models.cic.synthetic import generate, write_synthetic

        return write_synthetic(folder, generate(150, seed=3))
    if model == "asc":
        from witan.models.asc.synthetic import SyntheticSpec, generate

        data = generate(SyntheticSpec(adults=4000, years=2, seed=4))
        folder.mkdir(parents=True, exist_ok=True)
        for name, body in data.files.items():
            (folder / name).write_bytes(body)
        (folder / "population.csv").write_bytes(data.population_csv)
        return folder
    raise AssertionError(f"no generated inputs for model {model}: add them here")


def _pack(members: list[tuple[dm.Member, Path, list[RunInput]]]) -> bytes:
    pack = dm.create("f" * 32, "org-camden", "u", NOW, title="every model")
    for member, _, _ in members:
        pack = dm.add_member(pack, member, NOW)
    files: list[PackFile] = []
    runs: list[dict[str, Any]] = []
    for member, (_, run_dir, inputs) in zip(pack.members, members, strict=True):
        more, run = local_run_files(member, run_dir, inputs)
        files += more
        runs.append(run)
    manifest = build_manifest(pack, files, runs, "u", NOW)
    data, withheld = export_zip(manifest, "event-1", {f.path: f.data for f in files})
    assert withheld == []
    return data


def _run(model: str, root: Path, simulations: int = 6) -> tuple[dm.Member, Path, list[RunInput]]:
    from witan.modelrun.inputs import read_role_files

    files = read_role_files(get_model(model), _inputs(model, root / "inputs"))
    run_dir = root / "run"
    run_local(model, files, run_dir, simulations=simulations, seed=2, run_id=f"{model}-run")
    member = dm.Member("", dm.MemberKind.MODEL_RUN, dm.Role.OUTPUT, model, "u", NOW, run_id=f"{model}-run")
    inputs = [RunInput(role, f.name, f.data, {"local": True}) for role, given in files.items() for f in given]
    return member, run_dir, inputs


@pytest.mark.parametrize("model", model_names())
def test_every_model_reproduces_identically(model: str, tmp_path: Path) -> None:
    report = reproduce_zip(_pack([_run(model, tmp_path)]))
    assert report.ok, report.lines()
    (run,) = report.runs
    strict = [o for o in run.outputs if o.path.endswith((".csv", ".parquet"))]
    assert strict and all(o.status == IDENTICAL for o in strict), [(o.path, o.status) for o in strict]


def test_a_chained_input_is_converted_again(tmp_path: Path) -> None:
    """SEND's population from a demography run: the pack holds the demography run's population.parquet
    and the conversion; reproduce converts it again and checks it hashes to what the SEND run read."""
    from witan.modelrun.definition import InputFile
    from witan.modelrun.inputs import read_role_files
    from witan.models.demography.synthetic import council_codes
    from witan.models.send.synthetic import write_synthetic

    population_run = _run("demography", tmp_path / "demography")
    parquet = (population_run[1] / "population.parquet").read_bytes()
    reference = {"model_run": "demography-run", "output": "population", "gss_code": council_codes(1)[0]}
    import io

    import pyarrow.parquet as pq

    converted: InputFile = (
        get_model("send").chains["population"].convert(pq.read_table(io.BytesIO(parquet)), reference)
    )
    files = read_role_files(get_model("send"), write_synthetic(tmp_path / "send-inputs"))
    files["population"] = [converted]
    run_dir = tmp_path / "send-run"
    run_local(
        "send", files, run_dir, simulations=6, seed=3, run_id="send-run", inputs={"population": reference}
    )
    inputs = [
        RunInput(role, f.name, f.data, {"local": True})
        for role, given in files.items()
        if role != "population"
        for f in given
    ]
    inputs.append(
        RunInput(
            "population",
            "population.parquet",
            parquet,
            {"from_model_run": "demography-run"},
            convert=reference,
        )
    )
    send = dm.Member("", dm.MemberKind.MODEL_RUN, dm.Role.OUTPUT, "send", "u", NOW, run_id="send-run")
    report = reproduce_zip(_pack([population_run, (send, run_dir, inputs)]))
    assert report.ok, report.lines()
    assert [r.run_id for r in report.runs] == ["demography-run", "send-run"]
