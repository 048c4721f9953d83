"""DynamoDB pieces shared by the table adapters: paging, failed conditions (table shapes: table_shapes.py).

No boto3 import here: callers pass their client, so the API's lazily-importing adapters stay lazy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


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
