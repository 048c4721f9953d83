"""One embedded deployment of the real stack (in-process moto), shared by the tests/e2e modules.

Package scope, not session scope: it is torn down when a worker's last e2e test is done. A live
`mock_aws` would otherwise stay around in that worker and nested `mock_aws()` of later tests would not
start from empty backends. The modules mark themselves `xdist_group("e2e")`, but nothing relies on it:
with pytest 9.2 and pytest-xdist 3.8.0 `--dist loadgroup` ignores the mark (the group suffix xdist
writes into `item._nodeid` no longer reaches the node id), so each worker that gets e2e tests deploys
its own stack, and a module's fixtures must not depend on what another module did or left behind."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from local.deploy import Deployment, embedded_stack
from local.gateway import LocalGateway

if TYPE_CHECKING:
    from .test_e2e_partner_page import Cdp


@dataclass
class Stack:
    deployment: Deployment
    gateway: LocalGateway
    outbox_dir: Path


@pytest.fixture(scope="package")
def e2e_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    outbox_dir = tmp_path_factory.mktemp("outbox")
    with embedded_stack(outbox_dir=outbox_dir) as deployment, LocalGateway(deployment) as gateway:
        yield Stack(deployment, gateway, outbox_dir)


@pytest.fixture
def browser() -> Iterator[Cdp]:
    """Headless Chromium with one page session, over the DevTools pipe (test_e2e_partner_page.Cdp).
    Without Chromium: skipped, saying how to get it (`make browser`); failed under CI instead."""
    from .test_e2e_partner_page import Cdp, require_chromium

    require_chromium()

    profile = Path(tempfile.mkdtemp(prefix="witan-chromium-"))
    cdp = Cdp(profile)
    try:
        target = cdp.send("Target.createTarget", {"url": "about:blank"}, browser=True)
        attached = cdp.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, browser=True
        )
        cdp.session = attached["sessionId"]
        yield cdp
    finally:
        cdp.close()
        shutil.rmtree(profile, ignore_errors=True)
