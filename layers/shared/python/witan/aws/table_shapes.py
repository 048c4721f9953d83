"""The DynamoDB tables' keys, indexes and TTL attribute, declared once (docs/contracts.md).

infra/storage.py builds the stack's tables from these shapes, the adapters take their index names from
them, and the tests make their moto tables from them too, so no copy of a table's shape can drift.
Plain data: no boto3 and no CDK here, so the stack, the Lambda layer and the tests can all import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TTL_ATTRIBUTE = "expires_at"
GSI1 = "gsi1"
BY_ACTOR = "by-actor"
BY_RESOURCE = "by-resource"


@dataclass(frozen=True)
class Key:
    """One key attribute: its name and DynamoDB scalar type (S string, N number)."""

    name: str
    type: Literal["S", "N"] = "S"


@dataclass(frozen=True)
class Index:
    """A global secondary index projecting every attribute."""

    name: str
    partition: Key
    sort: Key


@dataclass(frozen=True)
class TableShape:
    partition: Key
    sort: Key
    indexes: tuple[Index, ...]
    ttl_attribute: str = TTL_ATTRIBUTE


# Catalog, grants, requests and model-runs: generic pk/sk items, one overloaded index.
KEYED = TableShape(Key("pk"), Key("sk"), (Index(GSI1, Key("gsi1pk"), Key("gsi1sk")),))
# The audit trail: hash chains by sequence number, read by actor or by resource in time order.
AUDIT = TableShape(
    Key("chain"),
    Key("seq", "N"),
    (
        Index(BY_ACTOR, Key("actor_sub"), Key("time")),
        Index(BY_RESOURCE, Key("resource"), Key("time")),
    ),
)
# Every table of the stack, by its name in config.name(...) (the table variable of witan.settings,
# lower-cased without `_TABLE`, underscores as hyphens).
TABLES: dict[str, TableShape] = {
    "audit": AUDIT,
    "catalog": KEYED,
    "grants": KEYED,
    "requests": KEYED,
    "model-runs": KEYED,
}
