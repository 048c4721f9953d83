"""One moto world per module (bucket, handler); fresh tables and state machine per test (aws_stack.py)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import aws_stack
import pytest
from mr_harness import BUCKET, DEFINITION, MAX_UPLOAD, ROLE_ARN, TABLE_VARS, Api, World, load_handler
from witan.aws import wiring


@pytest.fixture(scope="module")
def moto_world() -> Iterator[tuple[aws_stack.Aws, ModuleType]]:
    with aws_stack.handler_world(load_handler, BUCKET, MAX_UPLOAD_BYTES=str(MAX_UPLOAD)) as world:
        yield world


@pytest.fixture
def world(moto_world: tuple[aws_stack.Aws, ModuleType], monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    aws, module = moto_world
    with aws_stack.fresh_tables(aws, monkeypatch, *TABLE_VARS, "MODEL_RUNS_TABLE") as tables:
        runs_table = tables["MODEL_RUNS_TABLE"]  # unique, so it names the machine too
        arn = aws.sfn.create_state_machine(name=runs_table, definition=DEFINITION, roleArn=ROLE_ARN)[
            "stateMachineArn"
        ]
        monkeypatch.setenv("STATE_MACHINE_ARN", arn)
        api = Api(module=module, ddb=aws.ddb, s3=aws.s3, tables=tables)
        yield World(api=api, sfn=aws.sfn, state_machine_arn=arn, runs_table=runs_table)
        wiring.forget()
        aws.sfn.delete_state_machine(stateMachineArn=arn)
