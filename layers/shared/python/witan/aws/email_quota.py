"""Per-user daily quota on the emails a requester makes Witan send (invitations, reissued links).

One counter item per user and UTC day in the requests table: `pk = QUOTA#{sub}`, `sk = EMAILS#{yyyy-mm-dd}`,
`count` (N), `expires_at` (TTL, two days later). Taken with one conditional UpdateItem, so concurrent
requests cannot together pass the limit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from witan.aws.dynamo import condition_failed

KEEP_FOR = timedelta(days=2)


class DynamoEmailQuota:
    """`take(sub, count, limit, now)`: True and counted if `count` more fit in the user's day."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table_name = table_name
        self.client = client

    def take(self, sub: str, count: int, limit: int, now: datetime) -> bool:
        if count <= 0:
            return True
        if count > limit:
            return False
        day = now.astimezone(UTC).date()
        expires = datetime(day.year, day.month, day.day, tzinfo=UTC) + KEEP_FOR
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": f"QUOTA#{sub}"}, "sk": {"S": f"EMAILS#{day.isoformat()}"}},
                UpdateExpression="ADD #n :n SET expires_at = :ttl, #t = :type",
                ConditionExpression="attribute_not_exists(#n) OR #n <= :room",
                ExpressionAttributeNames={"#n": "count", "#t": "type"},
                ExpressionAttributeValues={
                    ":n": {"N": str(count)},
                    ":room": {"N": str(limit - count)},
                    ":ttl": {"N": str(int(expires.timestamp()))},
                    ":type": {"S": "email-quota"},
                },
            )
        except Exception as exc:
            if condition_failed(exc):
                return False
            raise
        return True
