"""Fixtures for the datapack API tests (helpers in datapacks_harness.py, the moto set-up in aws_stack.py).

One moto world per module (buckets, handler, a SEND run done once); fresh tables per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import aws_stack
import pytest
from datapacks_harness import DATA_BUCKET, PACKS_BUCKET, TABLE_VARS, World, create_packs_bucket, load_handler
from witan.aws import wiring


@pytest.fixture(scope="module")
def send_run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from witan.modelrun.inputs import read_role_files
    from witan.modelrun.local import run_local
    from witan.modelrun.registry import get_model
    from witan.models.send.synthetic import write_synthetic

    root = tmp_path_factory.mktemp("send")
    inputs = write_synthetic(root / "inputs")
    scenario = {"name": "fewer-moves", "modify_transitions": [{"match": {"setting": "SPIB"}, "factor": 0.5}]}
    files = read_role_files(get_model("send"), inputs)
    run_local("send", files, root / "run", simulations=8, seed=4, scenarios=[scenario], run_id="seed-run")
    return root / "run", inputs


@pytest.fixture(scope="module")
def moto_world() -> Iterator[tuple[aws_stack.Aws, ModuleType]]:
    with aws_stack.handler_world(
        load_handler,
        DATA_BUCKET,
        versioned=True,
        DATAPACKS_BUCKET=PACKS_BUCKET,
        DATAPACK_RETENTION_YEARS="7",
        MAX_UPLOAD_BYTES=str(10 * 1024 * 1024),
    ) as world:
        create_packs_bucket(world[0].s3)
        yield world


@pytest.fixture
def world(
    moto_world: tuple[aws_stack.Aws, ModuleType],
    send_run_dir: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    aws, module = moto_world
    with aws_stack.fresh_tables(aws, monkeypatch, *TABLE_VARS) as tables:
        yield World(module, aws.ddb, aws.s3, tables, *send_run_dir)
        wiring.forget()
