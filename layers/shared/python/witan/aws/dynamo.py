"""DynamoDB pieces shared by the table adapters: the pk/sk/gsi1 table shape, paging, failed conditions.

No boto3 import here: callers pass their client, so the API's lazily-importing adapters stay lazy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

TTL_ATTRIBUTE = "expires_at"


def create_keyed_table(client: Any, table_name: str) -> None:
    """Create a catalog/grants/requests/model-runs table as infra/storage.py defines it (docs/contracts.md):
    `pk`/`sk`, GSI `gsi1` (`gsi1pk`, `gsi1sk`), TTL on `expires_at`. For tests and local runs."""
    client.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def query_items(client: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query matches (wire form), page after page; `kwargs` are the Query's own."""
    while True:
        page = client.query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def condition_failed(exc: Exception) -> bool:
    """True for a botocore ClientError saying a ConditionExpression did not hold."""
    error = getattr(exc, "response", None) or {}
    return error.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
