"""DynamoDB pieces shared by the table adapters: a table's name and lazily made client (clients.py),
paging, conditional writes, failed conditions (the tables' keys and indexes: table_shapes.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from witan.aws.clients import LazyClient


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
    error: Mapping[str, Any] = getattr(exc, "response", None) or {}
    return bool(error.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class DynamoTable(LazyClient):
    """One table of a table adapter: its name, and the client given (tests) or made on first use."""

    SERVICE = "dynamodb"

    # The setting that names the table, where an adapter refuses to start without it.
    REQUIRED_SETTING: ClassVar[str] = ""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        if self.REQUIRED_SETTING and not table_name:
            raise ValueError(f"a table name is required ({self.REQUIRED_SETTING})")
        self.table_name = table_name
        self._client = client

    def query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of this table a Query matches (wire form), page after page."""
        return query_items(self.client, TableName=self.table_name, **kwargs)

    def put_when(self, item: Mapping[str, Any], **condition: Any) -> bool:
        """Put `item` if `condition` (ConditionExpression and its names and values) holds; False if not."""
        return self._unless_condition_fails(self.client.put_item, Item=item, **condition)

    def delete_when(self, key: Mapping[str, Any], **condition: Any) -> bool:
        """Delete the item at `key` if `condition` holds; False if not."""
        return self._unless_condition_fails(self.client.delete_item, Key=key, **condition)

    def _unless_condition_fails(self, write: Callable[..., Any], **kwargs: Any) -> bool:
        try:
            write(TableName=self.table_name, **kwargs)
        except Exception as exc:
            if condition_failed(exc):
                return False
            raise
        return True
