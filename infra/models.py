"""Models: one `model_run` function behind a Step Functions state machine

    MarkPlan -> Plan -> Chunks (Distributed Map over the S3 JSON manifest) -> Aggregate

with a Catch on every task that invokes the function with {"step": "fail", ...} and then fails."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct
from witan import settings

from infra.collect import (
    TABLE_READ_WRITE,
    grant_audit_append,
    grant_list_bucket,
    grant_send_email,
    table_and_indexes,
)
from infra.config import WitanConfig
from infra.lambdas import LOG_RETENTION, Layers, WitanFunction
from infra.mail import Mail
from infra.storage import Storage

# Errors worth retrying beyond the Lambda service errors CDK's LambdaInvoke already retries.
THROTTLING_ERRORS = ["Lambda.TooManyRequestsException"]


class Models(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: WitanConfig,
        storage: Storage,
        layers: Layers,
        mail: Mail,
    ) -> None:
        super().__init__(scope, construct_id)
        self.model_run = WitanFunction(
            self,
            "ModelRun",
            config=config,
            folder="model_run",
            layers=layers,
            description="Every registered model: plan, run one chunk, aggregate, or record a failure",
            memory_mb=2048,
            timeout=Duration.minutes(15),
            ephemeral_storage_mb=2048,
            environment={
                settings.ENV_NAME: config.environment,
                settings.DATA_BUCKET: storage.data_bucket.bucket_name,
                settings.MODEL_RUNS_TABLE: storage.model_runs_table.table_name,
                settings.AUDIT_TABLE: storage.audit_table.table_name,
                settings.AUDIT_RETENTION_DAYS: str(config.audit_retention_days),
                settings.SES_SENDER: mail.sender,
                settings.SES_CONFIGURATION_SET: mail.configuration_set_name,
                # matplotlib caches fonts under $HOME, which is read-only on Lambda.
                "MPLCONFIGDIR": "/tmp/matplotlib",  # noqa: S108
            },
        )
        fn = self.model_run
        fn.grant(
            "ReadModelInputs",
            ("s3:GetObject", "s3:GetObjectVersion"),
            [
                storage.objects(settings.CURATED_PREFIX),
                storage.objects(settings.DATASETS_PREFIX),
                storage.objects(settings.MODELS_PREFIX),
            ],
        )
        grant_list_bucket(fn, storage)  # exists() checks on run outputs; listing an inputs prefix
        fn.grant("WriteModelOutputs", ("s3:PutObject",), [storage.objects(settings.MODELS_PREFIX)])
        fn.grant(
            "ReadWriteModelRuns", TABLE_READ_WRITE, table_and_indexes(storage.model_runs_table.table_arn)
        )
        grant_audit_append(fn, storage)
        grant_send_email(fn, mail)

        self.state_machine_name = config.name("model-run")
        self.log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            log_group_name=f"/aws/vendedlogs/states/{self.state_machine_name}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=self.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(config, storage)),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            timeout=Duration.hours(6),
        )

    def _invoke(
        self, state_id: str, payload: sfn.TaskInput | None = None, **kwargs: object
    ) -> tasks.LambdaInvoke:
        """Invoke model_run and take its return value as the result (no Lambda response envelope).
        Without a payload the state's whole input is the event."""
        task = tasks.LambdaInvoke(
            self,
            state_id,
            lambda_function=self.model_run.function,
            payload=payload,
            payload_response_only=True,
            retry_on_service_exceptions=True,
            **kwargs,  # type: ignore[arg-type]
        )
        task.add_retry(errors=THROTTLING_ERRORS, interval=Duration.seconds(2), max_attempts=6, backoff_rate=2)
        return task

    def _definition(self, config: WitanConfig, storage: Storage) -> sfn.IChainable:
        notify_failure = self._invoke(
            "RecordFailure",
            sfn.TaskInput.from_object(
                {
                    "step": "fail",
                    "run_id": sfn.JsonPath.string_at("$.run_id"),
                    "error": sfn.JsonPath.object_at("$.error"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        ).next(
            sfn.Fail(
                self, "Failed", error="ModelRunFailed", cause="A model run step failed; see RecordFailure"
            )
        )

        # The execution input plus "step": "plan" is the Plan payload.
        mark_plan = sfn.Pass(self, "MarkPlan", result=sfn.Result.from_string("plan"), result_path="$.step")
        plan = self._invoke("Plan")
        # Each manifest item already carries "step": "chunk" and run_id.
        chunk = self._invoke("Chunk", result_path=sfn.JsonPath.DISCARD)
        chunks = sfn.DistributedMap(
            self,
            "Chunks",
            item_reader=sfn.S3JsonItemReader(
                bucket=storage.data_bucket, key=sfn.JsonPath.string_at("$.manifest_key")
            ),
            max_concurrency=config.map_max_concurrency,
            result_path=sfn.JsonPath.DISCARD,  # chunks write Parquet; their results are not needed
        )
        chunks.item_processor(chunk)
        aggregate = self._invoke(
            "Aggregate",
            sfn.TaskInput.from_object(
                {
                    "step": "aggregate",
                    "run_id": sfn.JsonPath.string_at("$.run_id"),
                    "manifest_bucket": sfn.JsonPath.string_at("$.manifest_bucket"),
                    "manifest_key": sfn.JsonPath.string_at("$.manifest_key"),
                }
            ),
        )
        for state in (plan, chunks, aggregate):
            state.add_catch(notify_failure, errors=["States.ALL"], result_path="$.error")
        return mark_plan.next(plan).next(chunks).next(aggregate)
