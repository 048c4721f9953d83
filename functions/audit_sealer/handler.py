"""audit_sealer: signs the audit chains' heads into the Object Lock seal bucket (witan.audit.seal).

Two events reach it: batches from the audit table's DynamoDB stream (each batch is checked for
changes other than appends, then sealed) and the EventBridge schedule (sealed every few minutes, so
that a quiet trail is still sealed). It is the only role that may sign with the seal key.
A tamper alert is the `AuditTamperAlerts` metric (alarmed in infra/monitoring.py) and an error log;
the batch still succeeds, so the stream moves on and the seal records what the table now holds.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from witan.audit.seal import stream_alerts
from witan.aws.wiring import sealer_services
from witan.settings import Settings

SERVICE_NAME = "audit_sealer"
TAMPER_METRIC = "AuditTamperAlerts"
SEALS_METRIC = "AuditSealsWritten"

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from witan.aws.audit_seals import plain_stream_records, write_seal

    ports = sealer_services(Settings.from_env())
    records = event.get("Records") or []
    alerts = [a.as_dict() for a in stream_alerts(plain_stream_records(records), ports.retention_days)]
    outcome = write_seal(
        ports.audit_table,
        ports.dynamodb,
        ports.signer,
        ports.seals,
        trigger="stream" if records else "schedule",
        retention_days=ports.retention_days,
        chains=ports.chains,
    )
    # A sealed head the table no longer holds: tampering the stream check may not have seen (a
    # change made while the stream was off, or before this batch).
    alerts += [{**p.as_dict(), "kind": f"sealed-head-{p.kind}"} for p in outcome.disputed]
    for alert in alerts:
        logger.error("audit trail tampered", extra={"alert": alert})
    metrics.add_metric(name=TAMPER_METRIC, unit=MetricUnit.Count, value=len(alerts))
    metrics.add_metric(name=SEALS_METRIC, unit=MetricUnit.Count, value=1)
    logger.info("sealed", extra={"key": outcome.key, "records": len(records), "alerts": len(alerts)})
    return {"seal": outcome.key, "records": len(records), "alerts": alerts}
