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


class Monitoring(Construct):
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
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=config.name("alarms"),
            display_name=f"Witan {config.environment} alarms",
            enforce_ssl=True,
        )
        self.topic.add_subscription(subs.EmailSubscription(config.admin_email))
        action = cw_actions.SnsAction(self.topic)

        # Powertools metrics carry the function's service name as the "service" dimension.
        def witan_metric(name: str, label: str, service: str = upload_validator.folder) -> cw.Metric:
            return cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"service": service},
                statistic="Sum",
                period=PERIOD,
                label=label,
            )

        dlq_depth = dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum"
        )
        api_4xx = rest_api.metric_client_error(period=PERIOD, statistic="Sum")
        api_5xx = rest_api.metric_server_error(period=PERIOD, statistic="Sum")
        runs_ok = state_machine.metric_succeeded(period=PERIOD, statistic="Sum")
        runs_failed = state_machine.metric_failed(period=PERIOD, statistic="Sum")

        self.alarms: list[cw.Alarm] = []
        self.alarm_names: list[str] = []

        def alarm(construct_id: str, name: str, metric: cw.IMetric, description: str) -> None:
            created = cw.Alarm(
                self,
                construct_id,
                alarm_name=config.name(name),
                alarm_description=description,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            created.add_alarm_action(action)
            self.alarms.append(created)
            self.alarm_names.append(config.name(name))

        alarm(
            "DlqNotEmpty",
            "uploads-dlq-not-empty",
            dlq_depth,
            "Upload messages failed 3 times and wait in the DLQ",
        )
        alarm("Api5xx", "api-5xx", api_5xx, "The API returned server errors")
        alarm("ModelRunsFailed", "model-runs-failed", runs_failed, "A model run execution failed")
        if audit_sealer is not None:
            self._audit_alarms(config, audit_sealer, witan_metric, alarm)
        for fn in functions:
            alarm(
                f"{fn.node.id}Errors",
                f"{fn.folder.replace('_', '-')}-errors",
                fn.function.metric_errors(period=PERIOD, statistic="Sum"),
                f"{fn.function_name} raised errors",
            )

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=config.name("overview"))
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Uploads checked and invalid",
                left=[witan_metric("UploadsChecked", "checked"), witan_metric("UploadsInvalid", "invalid")],
                width=12,
            ),
            cw.GraphWidget(title="Upload dead-letter queue depth", left=[dlq_depth], width=12),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="API errors", left=[api_4xx, api_5xx], width=12),
            cw.GraphWidget(
                title="API latency",
                left=[
                    rest_api.metric_latency(period=PERIOD, statistic=stat) for stat in ("p50", "p90", "p99")
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Model runs",
                left=[runs_ok, runs_failed],
                right=[
                    witan_metric("ModelRunsSucceeded", "recorded succeeded", "model_run"),
                    witan_metric("ModelRunsFailed", "recorded failed", "model_run"),
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Function errors",
                left=[
                    fn.function.metric_errors(period=PERIOD, statistic="Sum", label=fn.folder)
                    for fn in functions
                ],
                width=12,
            ),
        )
        # By ARN string rather than a reference to the alarms: moto's CloudFormation ignores alarms,
        # and a GetAtt on an ignored resource would fail the whole local deployment.
        stack = Stack.of(self)
        by_arn = [
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
        self.dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=by_arn, width=24))

    def _audit_alarms(
        self, config: WitanConfig, sealer: WitanFunction, witan_metric: Any, alarm: Any
    ) -> None:
        """Tampering seen on the audit table's stream, and a sealer that stopped sealing."""
        tamper = witan_metric("AuditTamperAlerts", "audit items changed or removed", sealer.folder)
        alarm(
            "AuditTampered",
            "audit-tampered",
            tamper,
            "An audit item was modified, removed other than by TTL after its retention, or written with a "
            "short expiry (audit_sealer logs say which)",
        )
        # The schedule seals every few minutes: none in three periods means the window is growing.
        seals = witan_metric("AuditSealsWritten", "audit seals written", sealer.folder)
        created = cw.Alarm(
            self,
            "AuditSealsMissing",
            alarm_name=config.name("audit-seals-missing"),
            alarm_description="No audit seal was written for 15 minutes: changes to the trail are not "
            "being anchored",
            metric=seals,
            threshold=1,
            evaluation_periods=3,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.BREACHING,
        )
        created.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(created)
        self.alarm_names.append(config.name("audit-seals-missing"))
