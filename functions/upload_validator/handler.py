"""upload_validator: SQS batch of S3 ObjectCreated notifications -> check each upload.

Thin: parse the message, hand each upload to witan.collect.uploads.check, count the outcome. A message
that fails is reported in batchItemFailures (partial batch response), so only it is retried.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from witan.aws.lambda_logs import share_with_domain_loggers
from witan.aws.wiring import forget, upload_check_service
from witan.collect.records import UploadStatus
from witan.collect.uploads.check import UploadCheckService
from witan.collect.uploads.events import uploads_from_body
from witan.settings import Settings

SERVICE_NAME = "upload_validator"
DEADLINE_MARGIN_SECONDS = 30.0  # left after the check for reports, Parquet, records and emails
MIN_CHECK_SECONDS = 15.0  # with less than this left, give the message back rather than start

logger = Logger(service=SERVICE_NAME)
share_with_domain_loggers(logger)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace="Witan", service=SERVICE_NAME)
# Every failed message is listed in batchItemFailures, even when all fail: the response then still
# follows the contract, and SQS retries exactly those messages.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class NotEnoughTime(RuntimeError):
    """Too little of the invocation is left to check a file; SQS will redeliver the message."""


def get_service() -> UploadCheckService:
    return upload_check_service(Settings.from_env())


def reset() -> None:
    """Forget the wired service (tests change the environment between cases)."""
    forget()


def _deadline(context: LambdaContext | None) -> float | None:
    """time.monotonic() by which checking must stop, leaving a margin before Lambda's timeout."""
    if context is None:
        return None
    budget = context.get_remaining_time_in_millis() / 1000.0 - DEADLINE_MARGIN_SECONDS
    if budget < MIN_CHECK_SECONDS:
        raise NotEnoughTime(f"only {budget + DEADLINE_MARGIN_SECONDS:.0f}s left in this invocation")
    return time.monotonic() + budget


@tracer.capture_method
def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    for upload in uploads_from_body(record.body):
        outcome = get_service().handle(upload, deadline=_deadline(lambda_context))
        logger.info(
            "upload handled",
            extra={
                "key": upload.key,
                "version": outcome.record.version_key if outcome.record else upload.version_key,
                "status": str(outcome.status) if outcome.status else None,
                "skipped": outcome.skipped,
                "dataset_version": outcome.record.dataset_version if outcome.record else None,
                "emails_sent": len(outcome.emailed),
                "emails_failed": len(outcome.email_failures),
            },
        )
        if outcome.checked:
            metrics.add_metric(name="UploadsChecked", unit=MetricUnit.Count, value=1)
            if outcome.status is not UploadStatus.VALID:  # invalid or unusable
                metrics.add_metric(name="UploadsInvalid", unit=MetricUnit.Count, value=1)
            if outcome.record is not None and outcome.record.dataset_version is not None:
                metrics.add_metric(name="DatasetVersionsCollected", unit=MetricUnit.Count, value=1)
        elif outcome.status is UploadStatus.NOT_ACCEPTED:  # arrived after the request closed
            metrics.add_metric(name="UploadsNotAccepted", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
