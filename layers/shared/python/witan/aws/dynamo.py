"""DynamoDB pieces shared by the table adapters: a table's name and lazily made client, paging,
conditional writes, failed conditions (the tables' keys and indexes: table_shapes.py).

boto3 is imported on first use only, so the API's lazily-importing adapters stay lazy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any


def boto_client(service: str) -> Any:
    """A boto3 client, boto3 imported now. S3's signs with SigV4: presigned URLs for KMS-encrypted
    objects need it."""
    import boto3

    make: Callable[..., Any] = boto3.client  # by a service name known only at run time
    if service == "s3":
        from botocore.config import Config

        return make(service, config=Config(signature_version="s3v4"))
    return make(service)


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


class DynamoTable:
    """One table of a table adapter: its name, and the client given (tests) or made on first use."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._ddb = client

    @property
    def client(self) -> Any:
        if self._ddb is None:
            self._ddb = boto_client("dynamodb")
        return self._ddb

    def query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of this table a Query matches (wire form), page after page."""
        return query_items(self.client, TableName=self.table_name, **kwargs)

    def put_when(self, item: Mapping[str, Any], **condition: Any) -> bool:
        """Put `item` if `condition` (ConditionExpression and its names and values) holds; False if not."""
        try:
            self.client.put_item(TableName=self.table_name, Item=item, **condition)
        except Exception as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def delete_when(self, key: Mapping[str, Any], **condition: Any) -> bool:
        """Delete the item at `key` if `condition` holds; False if not."""
        try:
            self.client.delete_item(TableName=self.table_name, Key=key, **condition)
        except Exception as exc:
            if condition_failed(exc):
                return False
            raise
        return True
