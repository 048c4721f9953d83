"""Grants in the grants table (keys per docs/contracts.md).

- `pk=DATASET#{id}, sk=GRANT#{user|group}#{grantee}`: one grant per (dataset, grantee); PUT replaces it.
- `gsi1pk=GRANTEE#{user|group}#{grantee}, gsi1sk=DATASET#{id}`: "what is shared with me" for listings.
- `expires_at` (TTL): 90 days after the grant's own expiry, so expired grants stay visible a while
  in `GET /datasets/{id}/access`; the policy checks expiry itself, TTL only tidies up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from witan.access.records import Activity, Grant, GranteeType, Purpose
from witan.aws.dynamo import DynamoTable
from witan.aws.table_shapes import GSI1

TTL_GRACE = timedelta(days=90)


def _sk(grantee_type: GranteeType, grantee: str) -> str:
    return f"GRANT#{grantee_type.value}#{grantee}"


def grant_to_record(grant: Grant) -> str:
    return json.dumps(grant.plain(), sort_keys=True)


def grant_from_record(record: str) -> Grant:
    data = json.loads(record)
    purpose = data.get("purpose")
    return Grant(
        dataset_id=data["dataset_id"],
        grantee_type=GranteeType(data["grantee_type"]),
        grantee=data["grantee"],
        activities=frozenset(Activity(a) for a in data["activities"]),
        granted_by=data["granted_by"],
        granted_at=datetime.fromisoformat(data["granted_at"]),
        purpose=Purpose(**purpose) if purpose else None,
        expires_at=datetime.fromisoformat(data["expires_at"]) if data.get("expires_at") else None,
    )


class DynamoGrantStore(DynamoTable):
    """`witan.catalog.ports.GrantStore` on the grants table."""

    def grants_for(self, dataset_id: str) -> list[Grant]:
        items = self.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :g)",
            ExpressionAttributeValues={":pk": {"S": f"DATASET#{dataset_id}"}, ":g": {"S": "GRANT#"}},
            ConsistentRead=True,
        )
        return [grant_from_record(item["record"]["S"]) for item in items]

    def put(self, grant: Grant) -> None:
        self.client.put_item(TableName=self.table_name, Item=self._item(grant))

    def put_if(self, grant: Grant, expected: Grant | None) -> bool:
        """Put `grant` only if the grantee's grant is still `expected` (None: there is none); False if
        it changed meanwhile, so a check made on what was read still holds when the write lands."""
        return self.put_when(self._item(grant), **self._unchanged(expected))

    def delete_if(self, expected: Grant) -> bool:
        """Remove the grant only if it is still `expected`; False if it changed or went meanwhile."""
        key = {
            "pk": {"S": f"DATASET#{expected.dataset_id}"},
            "sk": {"S": _sk(expected.grantee_type, expected.grantee)},
        }
        return self.delete_when(key, **self._unchanged(expected))

    @staticmethod
    def _unchanged(expected: Grant | None) -> dict[str, Any]:
        if expected is None:
            return {"ConditionExpression": "attribute_not_exists(pk)"}
        return {
            "ConditionExpression": "#r = :r",
            "ExpressionAttributeNames": {"#r": "record"},
            "ExpressionAttributeValues": {":r": {"S": grant_to_record(expected)}},
        }

    def _item(self, grant: Grant) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": f"DATASET#{grant.dataset_id}"},
            "sk": {"S": _sk(grant.grantee_type, grant.grantee)},
            "gsi1pk": {"S": f"GRANTEE#{grant.grantee_type.value}#{grant.grantee}"},
            "gsi1sk": {"S": f"DATASET#{grant.dataset_id}"},
            "record": {"S": grant_to_record(grant)},
        }
        if grant.expires_at is not None:
            item["expires_at"] = {"N": str(int((grant.expires_at + TTL_GRACE).timestamp()))}
        return item

    def delete(self, dataset_id: str, grantee_type: GranteeType, grantee: str) -> bool:
        response = self.client.delete_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"DATASET#{dataset_id}"}, "sk": {"S": _sk(grantee_type, grantee)}},
            ReturnValues="ALL_OLD",
        )
        return "Attributes" in response

    def datasets_granted_to(self, grantees: Iterable[tuple[GranteeType, str]]) -> dict[str, list[Grant]]:
        out: dict[str, list[Grant]] = {}
        for grantee_type, grantee in grantees:
            items = self.query(
                IndexName=GSI1,
                KeyConditionExpression="gsi1pk = :g",
                ExpressionAttributeValues={":g": {"S": f"GRANTEE#{grantee_type.value}#{grantee}"}},
            )
            for item in items:
                grant = grant_from_record(item["record"]["S"])
                out.setdefault(grant.dataset_id, []).append(grant)
        return out
