"""access_api: API Gateway REST proxy event (Cognito claims) -> witan.api -> proxy response.

Two other events reach it: the daily EventBridge schedule (Collect+Share reminders and digests) and the
API stage's access-log records of requests API Gateway refused before any integration ran (401, 403,
429, ...), each recorded as one audit event (witan.api.gateway_log).

Thin: `witan.aws.wiring` builds the services from Settings once per execution environment; the event goes
to `witan.api.app.handle`, which routes, applies the sharing policy and records exactly one audit event
per request. AWS adapters (and boto3), and each area's routes (witan.api.app.AREAS), are imported on first
use: the cold import stays small (see benchmarks/bench_api.py) and nothing is built for a stack not
configured.
"""

from __future__ import annotations

import gc
import os
from typing import Any

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
    from witan.aws.wiring import api_services
    from witan.settings import Settings
finally:
    gc.enable()

SERVICE_NAME = "access_api"
# Base of the partner links in scheduled reminder emails, from the schedule rule's input (infra/api.py);
# API calls use the host they were called on.
LINK_BASE_URL_KEY = "link_base_url"
SCHEDULED_SOURCE = "aws.events"
# Access-log records from the API stage's subscription: requests API Gateway refused
# (witan.api.gateway_log).
ACCESS_LOG_KEY = "awslogs"
logger = Logger(service=SERVICE_NAME)


def run_scheduled(event: dict[str, Any], services: Services) -> dict[str, Any]:
    """The daily EventBridge schedule: reminders and digests (witan.collect.requests.daily)."""
    from witan.collect.requests.daily import run_daily

    if services.collect is None:
        raise RuntimeError("Collect+Share is not configured (REQUESTS_TABLE)")
    link_base = event.get(LINK_BASE_URL_KEY)
    service = services.collect.service(link_base if isinstance(link_base, str) else "")
    result = run_daily(service, services.audit, event)
    logger.info("scheduled collect run", extra=result)
    return result


def record_gateway_refusals(event: dict[str, Any], services: Services) -> dict[str, int]:
    """Access-log records delivered by the stage's subscription -> one audit event per refused request.

    Raises when an event cannot be recorded, so that Lambda retries the delivery (asynchronous invoke)."""
    from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent
    from witan.api.gateway_log import record_refusals, refused_requests

    data = CloudWatchLogsEvent(event).parse_logs_data()
    batch = refused_requests((log.get_id, log.message) for log in data.log_events)
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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    services = api_services(Settings.from_env())
    if event.get("source") == SCHEDULED_SOURCE:
        return run_scheduled(event, services)
    if ACCESS_LOG_KEY in event:
        return record_gateway_refusals(event, services)
    return handle(event, context, services)
