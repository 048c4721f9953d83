"""access_api: API Gateway REST proxy event (Cognito claims) -> witan.api -> proxy response.

Two other events reach it: the daily EventBridge schedule (Collect+Share reminders and digests) and the
API stage's access-log records of requests API Gateway refused before any integration ran (401, 403,
429, ...), each recorded as one audit event (witan.api.gateway_log).

Thin: wire the AWS adapters once per execution environment and hand the event to `witan.api.app.handle`,
which routes, applies the sharing policy and records exactly one audit event per request.
AWS adapters (and boto3), and each area's routes (witan.api.app.AREAS), are imported on first use: the
cold import stays small (see benchmarks/bench_api.py) and nothing is built for a stack not configured.
"""

from __future__ import annotations

import gc
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

# We use no pydantic plugins; without this pydantic scans every installed package's entry points
# (importlib.metadata) the first time it builds a schema, which is a good part of a cold start.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
# Imports create many long-lived objects and no garbage: collections during them only walk the heap
# (measured: 9 M of 871 M instructions, about 4 ms here). Collection resumes after them.
gc.disable()
try:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from witan.api.app import handle
    from witan.api.deps import Services
    from witan.settings import Settings
finally:
    gc.enable()

if TYPE_CHECKING:
    from witan.api.routes.collect import CollectWiring

SERVICE_NAME = "access_api"
# Base of the partner links in scheduled reminder emails, from the schedule rule's input (infra/api.py);
# API calls use the host they were called on.
LINK_BASE_URL_KEY = "link_base_url"
SCHEDULED_SOURCE = "aws.events"
# Access-log records from the API stage's subscription: requests API Gateway refused
# (witan.api.gateway_log).
ACCESS_LOG_KEY = "awslogs"
logger = Logger(service=SERVICE_NAME)

_services: dict[Settings, Services] = {}


def build_services(settings: Settings) -> Services:
    """The deployed wiring: DynamoDB tables, the data bucket and the hash-chained audit trail."""
    import boto3
    from witan.api.routes.collect import CollectServices, RedactingAuditTrail
    from witan.aws.audit_table import AuditReadError, DynamoAuditReader, DynamoAuditTrail
    from witan.aws.catalog_table import DynamoCatalogStore, S3FileTransfer
    from witan.aws.grants_table import DynamoGrantStore

    dynamodb = boto3.client("dynamodb")
    return CollectServices(
        catalog=DynamoCatalogStore(settings.catalog_table, dynamodb),
        grants=DynamoGrantStore(settings.grants_table, dynamodb),
        files=S3FileTransfer(settings.data_bucket),
        # Partner paths hold capability tokens: the trail records them redacted.
        audit=RedactingAuditTrail(
            DynamoAuditTrail(settings.audit_table, dynamodb, retention_days=settings.audit_retention_days)
        ),
        audit_reader=DynamoAuditReader(settings.audit_table, dynamodb),
        verify_audit=lambda: verify_audit(settings, dynamodb),
        max_upload_bytes=settings.max_upload_bytes,
        read_errors=(AuditReadError,),
        collect=build_collect(settings, dynamodb) if settings.requests_table else None,
    )


def verify_audit(settings: Settings, dynamodb: Any) -> dict[str, Any]:
    """GET /audit/verify: the chains, their retention, and the heads signed in the newest seals
    (witan.audit.seal) when the stack has a seal bucket and key."""
    import boto3
    from witan.aws.audit_seals import KmsSigner, S3SealStore, verify_sealed
    from witan.aws.audit_table import verify
    from witan.settings import AUDIT_SEAL_BUCKET, AUDIT_SEAL_KEY_ID

    bucket, key = os.environ.get(AUDIT_SEAL_BUCKET), os.environ.get(AUDIT_SEAL_KEY_ID)
    retention = settings.audit_retention_days
    if not (bucket and key):
        return verify(settings.audit_table, dynamodb, retention_days=retention).as_dict()
    signer = KmsSigner(key, boto3.client("kms"))
    store = S3SealStore(bucket, boto3.client("s3"))
    return verify_sealed(settings.audit_table, dynamodb, store, signer, retention_days=retention).as_dict()


def build_collect(settings: Settings, dynamodb: Any, clock: Any = None) -> CollectWiring:
    """Collect+Share: requests table, SES, presigned POSTs to uploads/, schemas built-in or stored."""
    from functools import cache

    from witan.api.routes.collect import CollectWiring
    from witan.aws.catalog_table import DynamoCatalogStore
    from witan.aws.grants_table import DynamoGrantStore
    from witan.aws.s3 import make_client as make_s3_client
    from witan.aws.ses import SesMailer
    from witan.aws.submissions import (
        DynamoRequestStore,
        S3UploadPresigner,
        _plain,
        get_stored_schema,
        put_stored_schema,
        read_json_report,
    )
    from witan.collect.requests.schemas import SchemaResolver
    from witan.collect.requests.service import CollectRequestService
    from witan.validation.schema import builtin_schema_names

    s3 = make_s3_client()
    store = DynamoRequestStore(settings.requests_table, dynamodb)
    presigner = S3UploadPresigner(settings.data_bucket, s3)
    mailer = SesMailer(settings.ses_sender, configuration_set=settings.ses_configuration_set)
    resolver = SchemaResolver(get_stored=get_stored_schema(dynamodb, settings.requests_table))
    # The datastore, to check a request's destination dataset (may the requester add versions, share?)
    # and to make one for a request that names none.
    catalog = DynamoCatalogStore(settings.catalog_table, dynamodb) if settings.catalog_table else None
    grants = DynamoGrantStore(settings.grants_table, dynamodb) if settings.grants_table else None
    extra = {"clock": clock} if clock is not None else {}

    def service(link_base_url: str) -> CollectRequestService:
        return CollectRequestService(
            store=store,
            mailer=mailer,
            presign=presigner,
            resolve_schema=resolver,
            link_base_url=link_base_url,
            max_upload_bytes=settings.max_upload_bytes,
            read_report=read_json_report(s3, settings.data_bucket),
            catalog=catalog,
            grants=grants,
            **extra,
        )

    @cache
    def upload_origin() -> str:
        # Computed locally by botocore (no call): the origin presigned POSTs go to, for the page's CSP.
        url = presigner(key="uploads/r/s/f.csv", content_type="text/csv", max_bytes=1, expires_in=60)["url"]
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    return CollectWiring(
        service=service,
        upload_origin=upload_origin,
        put_schema=lambda name, descriptor, owner: put_stored_schema(
            dynamodb,
            settings.requests_table,
            name,
            descriptor,
            created_by=owner,
            gsi1pk="SCHEMAS",
            gsi1sk=name,
        ),
        list_stored_schemas=lambda: [
            {k: str(v) for k, v in _plain(item).items() if k in ("name", "created_by")}
            for item in dynamodb.query(
                TableName=settings.requests_table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": {"S": "SCHEMAS"}},
                Limit=200,
            ).get("Items", [])
        ],
        builtin_schema_names=builtin_schema_names,
    )


def services_for(settings: Settings) -> Services:
    """One wiring per configuration (tests run several stacks in one process; Lambda has one)."""
    if settings not in _services:
        _services[settings] = build_services(settings)
    return _services[settings]


def run_scheduled(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The daily EventBridge schedule: reminders, then the requesters' digests, as of the event's time.

    Records one audit event (no path, no token: counts only)."""
    from witan.api.routes.collect import CollectWiring
    from witan.audit.records import AuditEvent

    services = services_for(settings)
    wiring = getattr(services, "collect", None)
    if not isinstance(wiring, CollectWiring):
        raise RuntimeError("Collect+Share is not configured (REQUESTS_TABLE)")
    moment = _event_time(event)
    link_base = event.get(LINK_BASE_URL_KEY)
    service = wiring.service(link_base if isinstance(link_base, str) else wiring.link_base_url)
    if moment is not None:
        service.clock = lambda: moment
    reminders = service.run_reminders()
    digests = service.run_digests()
    result = {
        "reminders": {
            "sent": len(reminders.sent),
            "failed": len(reminders.failed),
            "skipped": reminders.skipped,
        },
        "digests": {"sent": len(digests.sent), "failed": len(digests.failed), "skipped": digests.skipped},
    }
    services.audit.record(
        AuditEvent(
            action="collect.reminders.run",
            decision="allow" if not (reminders.failed or digests.failed) else "error",
            reason="schedule",
            status=0,
            resource=str(event.get("resources", ["schedule"])[0] if event.get("resources") else "schedule"),
            request_id=str(event.get("id") or ""),
            detail={"time": event.get("time"), **result},
        )
    )
    logger.info("scheduled collect run", extra=result)
    return result


def record_gateway_refusals(event: dict[str, Any], settings: Settings) -> dict[str, int]:
    """Access-log records delivered by the stage's subscription -> one audit event per refused request.

    Raises when an event cannot be recorded, so that Lambda retries the delivery (asynchronous invoke)."""
    from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent
    from witan.api.gateway_log import record_refusals, refused_requests

    data = CloudWatchLogsEvent(event).parse_logs_data()
    batch = refused_requests((log.get_id, log.message) for log in data.log_events)
    services = services_for(settings)
    recorded = record_refusals(batch, services.audit, services.audit_reader)
    result = {
        "recorded": recorded,
        "already_recorded": len(batch.events) - recorded,
        "skipped_integrated": batch.skipped_integrated,
        "unreadable": batch.unreadable,
    }
    if batch.unreadable:
        logger.warning(
            "access-log records not in the expected format", extra={"log_group": data.log_group, **result}
        )
    else:
        logger.info("gateway refusals recorded", extra=result)
    return result


def _event_time(event: dict[str, Any]) -> datetime | None:
    """EventBridge's `time` (the scheduled moment), so a run can be replayed for a given day."""
    raw = event.get("time")
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("source") == SCHEDULED_SOURCE:
        return run_scheduled(event, Settings.from_env())
    if ACCESS_LOG_KEY in event:
        return record_gateway_refusals(event, Settings.from_env())
    return handle(event, context, services_for(Settings.from_env()))
