"""Harness for the API integration tests (the moto set-up is ../aws_stack.py): personas, and a client that
builds API Gateway proxy events the way the Cognito authorizer would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from aws_stack import (  # noqa: F401  (the personas are this harness's, re-exported)
    ADMIN,
    ANONYMOUS,
    EXPIRED,
    GRANTEES,
    MEMBER,
    OTHER,
    OWNER,
    Persona,
    audit_items,
    call_rest_api,
    load_function,
)
from witan.access.records import Activity, Grant, GranteeType
from witan.aws.catalog_table import DynamoCatalogStore
from witan.aws.grants_table import DynamoGrantStore
from witan.catalog import records as catalog

TABLE_VARS = ("CATALOG_TABLE", "GRANTS_TABLE", "AUDIT_TABLE")
BUCKET = "test-data-bucket"
MAX_UPLOAD = 10 * 1024 * 1024


@dataclass
class Api:
    module: ModuleType
    ddb: Any
    s3: Any
    tables: dict[str, str]
    calls: int = 0
    last_request_id: str = ""
    seen: list[str] = field(default_factory=list)

    def call(
        self,
        method: str,
        path: str,
        persona: Persona = OWNER,
        body: Any = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        raw_body: str | None = None,
    ) -> tuple[int, Any, dict[str, Any]]:
        self.calls += 1
        self.last_request_id = f"req-{uuid.uuid4().hex}"
        return call_rest_api(
            self.module,
            method,
            path,
            request_id=self.last_request_id,
            claims=persona.claims,
            body=body,
            raw_body=raw_body,
            query=query,
            headers=headers,
        )

    def events_for(self, request_id: str) -> list[dict[str, Any]]:
        """Audit events the handler wrote for one request (read straight from the audit table)."""
        return audit_items(self.ddb, self.tables["AUDIT_TABLE"], request_id)

    def the_event(self) -> dict[str, Any]:
        """The one audit event of the last request (fails if there is not exactly one)."""
        items = self.events_for(self.last_request_id)
        assert len(items) == 1, f"{len(items)} audit events for {self.last_request_id}"
        item = items[0]
        return {k: next(iter(v.values())) for k, v in item.items()}

    # -- direct setup through the stores (writes no audit events) ----------------------------------------

    def seed_dataset(
        self, owner_org: str = "org-camden", *, with_grants: bool = True, title: str = "SEND"
    ) -> str:
        now = datetime.now(UTC)
        dataset_id = catalog.new_dataset_id()
        dataset, meta, _ = catalog.create(
            dataset_id,
            owner_org,
            OWNER.sub or "",
            {"title": f"{title} {dataset_id}", "tags": ["send"]},
            "data.csv",
            "text/csv",
            100,
            now,
        )
        DynamoCatalogStore(self.tables["CATALOG_TABLE"], self.ddb).create(dataset, meta)
        self.s3.put_object(Bucket=BUCKET, Key=dataset.file.key if dataset.file else "", Body=b"a,b\n1,2\n")
        if with_grants:
            grants = DynamoGrantStore(self.tables["GRANTS_TABLE"], self.ddb)
            for activity, persona in GRANTEES.items():
                grants.put(self.grant(dataset_id, persona.sub or "", {activity}, now))
            grants.put(self.grant(dataset_id, EXPIRED.sub or "", set(Activity), now, expired=True))
            grants.put(self.grant(dataset_id, "victim-7", {Activity.META_READ}, now))
        return dataset_id

    @staticmethod
    def grant(
        dataset_id: str, sub: str, activities: set[Activity], now: datetime, expired: bool = False
    ) -> Grant:
        return Grant(
            dataset_id=dataset_id,
            grantee_type=GranteeType.USER,
            grantee=sub,
            activities=frozenset(activities),
            granted_by=OWNER.sub or "",
            granted_at=now - timedelta(days=2),
            expires_at=now - timedelta(hours=1) if expired else None,
        )


def load_handler() -> ModuleType:
    return load_function("access_api", "access_api_handler")
