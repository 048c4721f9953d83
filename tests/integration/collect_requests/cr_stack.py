"""Shared pieces of the Collect+Share integration tests (the fixture is in conftest.py, the moto set-up
in ../aws_stack.py).

A uniquely named module: `from conftest import ...` would pick up another folder's conftest under xdist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from witan.api.bodies import CreateCollectRequest, RequestChecks
from witan.aws.submissions import DynamoRequestStore
from witan.collect.requests.records import Requester
from witan.collect.requests.service import CollectRequestService
from witan.collect.uploads.check import UploadCheckService

BUCKET = "witan-cr-data"
TABLE = "witan-cr-requests"
CATALOG = "witan-cr-catalog"
GRANTS = "witan-cr-grants"
BASE_URL = "https://api.council.example/prod"
MAX_BYTES = 50_000


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 25, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Env:
    s3: Any
    ddb: Any
    ses: Any
    clock: Clock
    store: DynamoRequestStore
    service: CollectRequestService
    checker: UploadCheckService
    catalog: Any = None  # DynamoCatalogStore
    grants: Any = None  # DynamoGrantStore


def create_request(
    service: CollectRequestService, body: dict[str, Any], requester: Requester
) -> dict[str, Any]:
    """What `POST /requests` does: check the body as the API does (pydantic; ValidationError listing
    every problem), then create."""
    checks = RequestChecks(today=service.today(), schema_exists=service.schema_exists)
    return service.create(CreateCollectRequest.model_validate(body, context=checks).spec(), requester)
