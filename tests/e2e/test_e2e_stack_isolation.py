"""Two stacks in one process stay apart: one stopping leaves the other's outbox working.

In tests/e2e the server-mode stack runs while the package's in-process stack is open, in whichever
order the modules run and on whichever worker. The outbox hook on moto's SES is process-wide; before
it was counted, the second stack stopping removed it, and the package's stack sent mail nowhere.
"""

from __future__ import annotations

import email
import email.policy
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from local import outbox
from local.deploy import embedded_stack
from local.gateway import LocalGateway
from local.story import Demo, api_call

pytestmark = pytest.mark.xdist_group("e2e")


def _invite(demo: Demo, address: str) -> None:
    """A collection request to one recipient: the API emails them an invitation."""
    body = {
        "title": f"Isolation check for {address}",
        "schema": "population-by-age",
        "due_date": (date.today() + timedelta(days=10)).isoformat(),
        "recipients": [{"email": address, "name": "Iso", "organisation": "School I"}],
    }
    status, created = api_call(demo, "POST", "requests", "requester", body)
    assert status == 201, created


def _mail_to(folder: Path, address: str) -> list[Any]:
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in outbox.sent(folder)
    ]
    return [m for m in messages if address in str(m["To"])]


def test_a_second_stack_stopping_leaves_the_first_ones_outbox_working(e2e_stack: Any, tmp_path: Path) -> None:
    outer = Demo(e2e_stack.deployment, e2e_stack.gateway, e2e_stack.outbox_dir)
    # First run access_api here, alone: a function first run while a server-mode stack is the latest
    # one up keeps clients aimed at that server after it stops (local/lambda_runtime.py takes the
    # endpoint from the latest install, process-wide), which is not what this test is about.
    _invite(outer, "outer-before@school.example")
    assert _mail_to(e2e_stack.outbox_dir, "outer-before@school.example")
    inner_outbox = tmp_path / "inner-outbox"
    with (
        embedded_stack(
            server=True, context={"witan:environment": "isotest"}, outbox_dir=inner_outbox
        ) as deployment,
        LocalGateway(deployment) as gateway,
    ):
        _invite(Demo(deployment, gateway, inner_outbox), "inner@school.example")
        _invite(outer, "outer-meanwhile@school.example")
        assert _mail_to(inner_outbox, "inner@school.example")
        # While both are open, the first stack's mail still reaches its own outbox.
        assert _mail_to(e2e_stack.outbox_dir, "outer-meanwhile@school.example")

    _invite(outer, "outer-after@school.example")
    assert _mail_to(e2e_stack.outbox_dir, "outer-after@school.example")
    assert not _mail_to(inner_outbox, "outer-after@school.example")  # a stopped stack's outbox is closed
