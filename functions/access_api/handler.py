"""access_api: API Gateway REST proxy event (Cognito claims) -> witan.api -> proxy response.

Thin: wire the AWS adapters once per execution environment and hand the event to `witan.api.app.handle`,
which routes, applies the sharing policy and records exactly one audit event per request.
AWS adapters (and boto3) are imported on the first request, not at import: the cold import stays
small (see benchmarks/bench_api.py) and nothing is built for a stack that is not configured.
"""

from __future__ import annotations

import os
from typing import Any

# We use no pydantic plugins; without this pydantic scans every installed package's entry points
# (importlib.metadata) the first time it builds a schema, which is a good part of a cold start.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from witan.api.app import handle
from witan.api.deps import Services
from witan.settings import Settings

SERVICE_NAME = "access_api"
logger = Logger(service=SERVICE_NAME)

_services: dict[Settings, Services] = {}


def build_services(settings: Settings) -> Services:
    """The deployed wiring: DynamoDB tables, the data bucket and the hash-chained audit trail."""
    import boto3
    from witan.aws.audit_table import AuditReadError, DynamoAuditReader, DynamoAuditTrail, verify
    from witan.aws.catalog_table import DynamoCatalogStore, S3FileTransfer
    from witan.aws.grants_table import DynamoGrantStore

    dynamodb = boto3.client("dynamodb")
    return Services(
        catalog=DynamoCatalogStore(settings.catalog_table, dynamodb),
        grants=DynamoGrantStore(settings.grants_table, dynamodb),
        files=S3FileTransfer(settings.data_bucket),
        audit=DynamoAuditTrail(settings.audit_table, dynamodb, retention_days=settings.audit_retention_days),
        audit_reader=DynamoAuditReader(settings.audit_table, dynamodb),
        verify_audit=lambda: verify(settings.audit_table, dynamodb).as_dict(),
        max_upload_bytes=settings.max_upload_bytes,
        read_errors=(AuditReadError,),
    )


def services_for(settings: Settings) -> Services:
    """One wiring per configuration (tests run several stacks in one process; Lambda has one)."""
    if settings not in _services:
        _services[settings] = build_services(settings)
    return _services[settings]


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, services_for(Settings.from_env()))
