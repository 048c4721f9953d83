"""The stack's DynamoDB tables made in moto for tests and benchmarks, from the one declaration of their
keys, indexes and TTL (witan.aws.table_shapes, which infra/storage.py builds the stack's tables from).

A uniquely named module (see aws_stack.py); benchmarks import it as tests.integration.dynamo_tables.
"""

from __future__ import annotations

from typing import Any

from witan.aws.table_shapes import AUDIT, KEYED, TableShape


def create_table(client: Any, table_name: str, shape: TableShape) -> None:
    """Create a table of `shape` (on demand, TTL on), and wait until it exists."""
    keys = (
        shape.partition,
        shape.sort,
        *(k for index in shape.indexes for k in (index.partition, index.sort)),
    )
    types = {key.name: key.type for key in keys}  # each attribute once, even when indexes share it
    client.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": kind} for name, kind in types.items()],
        KeySchema=[
            {"AttributeName": shape.partition.name, "KeyType": "HASH"},
            {"AttributeName": shape.sort.name, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition.name, "KeyType": "HASH"},
                    {"AttributeName": index.sort.name, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in shape.indexes
        ],
    )
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": shape.ttl_attribute},
    )


def create_keyed_table(client: Any, table_name: str) -> None:
    """A catalog, grants, requests or model-runs table (pk/sk, gsi1)."""
    create_table(client, table_name, KEYED)


def create_audit_table(client: Any, table_name: str) -> None:
    """An audit table (chain/seq, by-actor and by-resource)."""
    create_table(client, table_name, AUDIT)
