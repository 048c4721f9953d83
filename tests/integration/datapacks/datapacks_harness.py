"""Harness for the datapack API tests (the moto set-up is ../aws_stack.py): personas, a versioned data
bucket, an Object Lock packs bucket, seeded datasets, a SEND run done on this machine and copied to
`models/{run}/` with its record, and a client building API Gateway proxy events."""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
    REGION,
    Persona,
    audit_items,
    call_rest_api,
    load_function,
)
from witan.access.records import Activity, Grant, GranteeType
from witan.aws.catalog_table import DynamoCatalogStore
from witan.aws.datapacks_table import DynamoPackStore
from witan.aws.grants_table import DynamoGrantStore
from witan.catalog import records as catalog
from witan.datapacks import records as packs

DATA_BUCKET = "dp-data-bucket"
PACKS_BUCKET = "dp-packs-bucket"
TABLE_VARS = ("CATALOG_TABLE", "GRANTS_TABLE", "AUDIT_TABLE", "MODEL_RUNS_TABLE")
SEND_FILES = {
    "transitions": "transitions.csv",
    "population": "population.csv",
    "costs": "costs.csv",
    "valid_states": "valid-states.csv",
}


def create_packs_bucket(s3: Any) -> None:
    """The packs bucket as infra/ makes it: versioned with Object Lock (no default retention)."""
    s3.create_bucket(
        Bucket=PACKS_BUCKET,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=True,
    )


@dataclass
class World:
    module: ModuleType
    ddb: Any
    s3: Any
    tables: dict[str, str]
    run_dir: Path
    inputs_dir: Path
    last_request_id: str = ""
    runs: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        persona: Persona = OWNER,
        body: Any = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        self.last_request_id = f"req-{uuid.uuid4().hex}"
        status, parsed, _ = call_rest_api(
            self.module,
            method,
            path,
            request_id=self.last_request_id,
            claims=persona.claims,
            body=body,
            query=query,
        )
        return status, parsed

    def events_for(self, request_id: str) -> list[dict[str, Any]]:
        """The request's audit events, each attribute's value unwrapped from the wire format."""
        items = audit_items(self.ddb, self.tables["AUDIT_TABLE"], request_id)
        return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]

    # -- set-up straight through the stores (no audit events) -------------------------------------------

    @property
    def store(self) -> DynamoPackStore:
        return DynamoPackStore(self.tables["CATALOG_TABLE"], self.ddb)

    def seed_dataset(
        self,
        owner_org: str = "org-camden",
        *,
        personal: bool = False,
        file_name: str = "data.csv",
        data: bytes = b"a,b\n1,2\n",
        grants: list[Grant] | None = None,
    ) -> str:
        now = datetime.now(UTC)
        dataset_id = catalog.new_dataset_id()
        metadata: dict[str, Any] = {"title": f"dataset {dataset_id[:6]}", "personal_data": personal}
        dataset, meta, file = catalog.create(
            dataset_id, owner_org, OWNER.sub or "", metadata, file_name, "text/csv", 10**6, now
        )
        DynamoCatalogStore(self.tables["CATALOG_TABLE"], self.ddb).create(dataset, meta)
        self.s3.put_object(Bucket=DATA_BUCKET, Key=file.key, Body=data)
        store = DynamoGrantStore(self.tables["GRANTS_TABLE"], self.ddb)
        for grant in grants or []:
            store.put(Grant(**{**grant.__dict__, "dataset_id": dataset_id}))
        return dataset_id

    def seed_pack(self, owner_org: str = "org-camden", *, with_file: bool = True, grants: bool = True) -> str:
        now = datetime.now(UTC)
        pack = packs.create(packs.new_pack_id(), owner_org, OWNER.sub or "", now, title="A pack", summary="s")
        if with_file:
            member = packs.Member(
                "",
                packs.MemberKind.PACK_FILE,
                packs.Role.SCRIPT,
                "script",
                OWNER.sub or "",
                now,
                file_name="a.py",
            )
            pack = packs.add_member(pack, member, now)
            self.s3.put_object(Bucket=PACKS_BUCKET, Key=f"drafts/{pack.id}/m1/a.py", Body=b"print(1)\n")
        self.store.create(pack)
        if grants:
            for activity, persona in GRANTEES.items():
                self.store.put_grant(pack, grant(pack.id, persona.sub or "", {activity}, now))
            self.store.put_grant(pack, grant(pack.id, EXPIRED.sub or "", set(Activity), now, expired=True))
            self.store.put_grant(pack, grant(pack.id, "victim-7", {Activity.META_READ}, now))
        return pack.id

    def seed_send_run(self, organisation: str = "org-camden", *, personal_costs: bool = False) -> str:
        """The SEND run done once on this machine, its inputs as four datasets of `organisation`, its
        files under models/{run}/ and its record as the API and state machine leave it."""
        import json

        from witan.aws.model_runs import ModelRunsTable

        run_id = f"run-{uuid.uuid4().hex[:10]}"
        keys: dict[str, str] = {}
        for role, name in SEND_FILES.items():
            dataset_id = self.seed_dataset(
                organisation,
                personal=personal_costs and role == "costs",
                file_name=name,
                data=(self.inputs_dir / name).read_bytes(),
            )
            keys[role] = f"datasets/{dataset_id}/1/{name}"
        # The run was done with inputs named as these keys: re-point its plan at them.
        for path in sorted(p for p in self.run_dir.rglob("*") if p.is_file()):
            rel = path.relative_to(self.run_dir).as_posix()
            data = path.read_bytes()
            if rel == "plan.json":
                plan = json.loads(data)
                plan["inputs"], plan["run_id"] = keys, run_id
                data = json.dumps(plan, indent=1).encode()
            self.s3.put_object(Bucket=DATA_BUCKET, Key=f"models/{run_id}/{rel}", Body=data)
        table = ModelRunsTable(self.tables["MODEL_RUNS_TABLE"], self.ddb)
        table.requested(
            run_id,
            model="send",
            simulations=8,
            seed=4,
            scenarios=["fewer-moves"],
            requested_by=OWNER.sub or "",
            organisation=organisation,
            email=None,
            inputs=keys,
            projection_years=None,
        )
        table.succeeded(run_id, [f"models/{run_id}/metadata.json"])
        return run_id


def grant(pack_id: str, sub: str, activities: set[Activity], now: datetime, expired: bool = False) -> Grant:
    return Grant(
        dataset_id=pack_id,
        grantee_type=GranteeType.USER,
        grantee=sub,
        activities=frozenset(activities),
        granted_by=OWNER.sub or "",
        granted_at=now - timedelta(days=2),
        expires_at=now - timedelta(hours=1) if expired else None,
    )


def group_grant(group: str, activities: set[Activity]) -> Grant:
    now = datetime.now(UTC)
    return Grant(
        "", GranteeType.GROUP, group, frozenset(activities), OWNER.sub or "", now - timedelta(days=1)
    )


def zip_names(data: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return set(archive.namelist())


def load_handler() -> ModuleType:
    return load_function("access_api", "access_api_handler_datapacks")
