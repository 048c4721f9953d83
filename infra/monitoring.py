"""Monitoring: one dashboard for the admin and alarms that email them through an SNS topic."""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import WitanConfig
from infra.lambdas import METRICS_NAMESPACE, WitanFunction

PERIOD = Duration.minutes(5)
SUMMED: dict[str, Any] = {"period": PERIOD, "statistic": "Sum"}


def _graph(title: str, *left: cw.IMetric, right: list[cw.IMetric] | None = None) -> cw.GraphWidget:
    """A half-width graph of the dashboard."""
    return cw.GraphWidget(title=title, left=list(left), right=right, width=12)


class Monitoring(Construct):
    """The alarm topic (email to the admin), the alarms, and the overview dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: WitanConfig,
        functions: list[WitanFunction],
        upload_validator: WitanFunction,
        dead_letter_queue: sqs.Queue,
        rest_api: apigw.RestApi,
        state_machine: sfn.StateMachine,
        audit_sealer: WitanFunction | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.upload_validator = upload_validator
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=config.name("alarms"),
            display_name=f"Witan {config.environment} alarms",
            enforce_ssl=True,
        )
        self.topic.add_subscription(subs.EmailSubscription(config.admin_email))
        self.alarms: list[cw.Alarm] = []
        self.alarm_names: list[str] = []

        dlq_depth = dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum"
        )
        runs_failed = state_machine.metric_failed(**SUMMED)
        self._alarm(
            "DlqNotEmpty",
            "uploads-dlq-not-empty",
            dlq_depth,
            "Upload messages failed 3 times and wait in the DLQ",
        )
        self._alarm(
            "Api5xx",
            "api-5xx",
            rest_api.metric_server_error(**SUMMED),
            "The API returned server errors",
        )
        self._alarm("ModelRunsFailed", "model-runs-failed", runs_failed, "A model run execution failed")
        if audit_sealer is not None:
            self._audit_alarms(audit_sealer)
        for fn in functions:
            self._alarm(
                f"{fn.node.id}Errors",
                f"{fn.folder.replace('_', '-')}-errors",
                fn.function.metric_errors(**SUMMED),
                f"{fn.function_name} raised errors",
            )
        self.dashboard = self._dashboard(functions, dlq_depth, rest_api, state_machine)

    def _metric(self, name: str, label: str, service: str | None = None) -> cw.Metric:
        """A Witan metric; Powertools metrics carry the function's service name as the "service"
        dimension (upload_validator's unless said)."""
        return cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": service or self.upload_validator.folder},
            statistic="Sum",
            period=PERIOD,
            label=label,
        )

    def _alarm(
        self,
        construct_id: str,
        name: str,
        metric: cw.IMetric,
        description: str,
        *,
        evaluation_periods: int = 1,
        when_below: bool = False,
    ) -> None:
        """An alarm that emails the topic: at 1 or more in a period (by default), or below 1 in each of
        `evaluation_periods` periods with missing data counted as none (when_below)."""
        created = cw.Alarm(
            self,
            construct_id,
            alarm_name=self.config.name(name),
            alarm_description=description,
            metric=metric,
            threshold=1,
            evaluation_periods=evaluation_periods,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD
            if when_below
            else cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.BREACHING
            if when_below
            else cw.TreatMissingData.NOT_BREACHING,
        )
        created.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(created)
        self.alarm_names.append(self.config.name(name))

    def _audit_alarms(self, sealer: WitanFunction) -> None:
        """Tampering seen on the audit table's stream, and a sealer that stopped sealing."""
        tamper = self._metric("AuditTamperAlerts", "audit items changed or removed", sealer.folder)
        self._alarm(
            "AuditTampered",
            "audit-tampered",
            tamper,
            "An audit item was modified, removed other than by TTL after its retention, or written with a "
            "short expiry (audit_sealer logs say which)",
        )
        # The schedule seals every few minutes: none in three periods means the window is growing.
        seals = self._metric("AuditSealsWritten", "audit seals written", sealer.folder)
        self._alarm(
            "AuditSealsMissing",
            "audit-seals-missing",
            seals,
            "No audit seal was written for 15 minutes: changes to the trail are not being anchored",
            evaluation_periods=3,
            when_below=True,
        )

    def _dashboard(
        self,
        functions: list[WitanFunction],
        dlq_depth: cw.IMetric,
        rest_api: apigw.RestApi,
        state_machine: sfn.StateMachine,
    ) -> cw.Dashboard:
        metric = self._metric
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=self.config.name("overview"))
        dashboard.add_widgets(
            _graph(
                "Uploads checked and invalid",
                metric("UploadsChecked", "checked"),
                metric("UploadsInvalid", "invalid"),
            ),
            _graph("Upload dead-letter queue depth", dlq_depth),
        )
        dashboard.add_widgets(
            _graph(
                "API errors", rest_api.metric_client_error(**SUMMED), rest_api.metric_server_error(**SUMMED)
            ),
            _graph(
                "API latency",
                *(rest_api.metric_latency(period=PERIOD, statistic=s) for s in ("p50", "p90", "p99")),
            ),
        )
        dashboard.add_widgets(
            _graph(
                "Model runs",
                state_machine.metric_succeeded(**SUMMED),
                state_machine.metric_failed(**SUMMED),
                right=[
                    metric("ModelRunsSucceeded", "recorded succeeded", "model_run"),
                    metric("ModelRunsFailed", "recorded failed", "model_run"),
                ],
            ),
            _graph(
                "Function errors", *(fn.function.metric_errors(**SUMMED, label=fn.folder) for fn in functions)
            ),
        )
        dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=self._alarms_by_arn(), width=24))
        return dashboard

    def _alarms_by_arn(self) -> list[cw.IAlarm]:
        """By ARN string rather than a reference to the alarms: moto's CloudFormation ignores alarms,
        and a GetAtt on an ignored resource would fail the whole local deployment."""
        stack = Stack.of(self)
        return [
            cw.Alarm.from_alarm_arn(
                self,
                f"{alarm.node.id}Ref",
                stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name=name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                ),
            )
            for alarm, name in zip(self.alarms, self.alarm_names, strict=True)
        ]
