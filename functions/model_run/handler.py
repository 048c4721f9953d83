"""model_run: the Step Functions task for every registered model's runs (contract: docs/contracts.md).

Thin: `{"step": "plan" | "chunk" | "aggregate" | "fail", ...}` -> witan.modelrun.steps over the ports
`witan.aws.wiring` builds (the S3 run storage, the model-runs table, SES); counts outcomes as metrics.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from witan.aws.lambda_logs import share_with_domain_loggers
from witan.aws.wiring import model_run_services
from witan.modelrun.steps import STEPS, BadEvent
from witan.settings import Settings

SERVICE_NAME = "model_run"
# The steps that end a run, and the metric each counts.
OUTCOME_METRICS = {"aggregate": "ModelRunsSucceeded", "fail": "ModelRunsFailed"}

logger = Logger(service=SERVICE_NAME)
share_with_domain_loggers(logger)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace="Witan", service=SERVICE_NAME)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = event.get("step") if isinstance(event, dict) else None
    if step not in STEPS:
        raise BadEvent(f"unknown step {step!r} (expected one of {', '.join(STEPS)})")
    logger.append_keys(step=step, run_id=event.get("run_id"))
    result = STEPS[step](event, model_run_services(Settings.from_env()))
    if step in OUTCOME_METRICS:
        metrics.add_metric(name=OUTCOME_METRICS[step], unit=MetricUnit.Count, value=1)
    return result
