"""The Witan stack: one stack, one construct per area, plus the outputs other tools read."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from infra.api import Api
from infra.audit_seal import AuditSeal
from infra.collect import Collect
from infra.config import WitanConfig
from infra.datapacks import Datapacks
from infra.lambdas import Layers
from infra.mail import Mail
from infra.models import Models
from infra.monitoring import Monitoring
from infra.nag import acknowledge_findings
from infra.storage import Storage


class WitanStack(Stack):
    def __init__(self, scope: Construct, *, config: WitanConfig, skip_layer_build: bool) -> None:
        super().__init__(
            scope,
            config.stack_name,
            stack_name=config.stack_name,
            description=f"Witan ({config.environment}): collect, check, share and model council data",
        )
        Tags.of(self).add("Project", "Witan")
        Tags.of(self).add("Environment", config.environment)

        self.storage = Storage(self, "Storage", config=config)
        self.layers = Layers(self, "Layers", config=config, skip_build=skip_layer_build)
        self.mail = Mail(self, "Mail", config=config)
        shared = {"config": config, "storage": self.storage, "layers": self.layers, "mail": self.mail}
        self.collect = Collect(self, "Collect", **shared)
        self.models = Models(self, "Models", **shared)
        self.api = Api(self, "Api", state_machine=self.models.state_machine, **shared)
        self.datapacks = Datapacks(
            self, "Datapacks", config=config, storage=self.storage, access_api=self.api.access_api
        )
        self.audit_seal = AuditSeal(
            self,
            "AuditSeal",
            config=config,
            storage=self.storage,
            layers=self.layers,
            access_api=self.api.access_api,
        )
        functions = [
            self.collect.validator,
            self.api.access_api,
            self.models.model_run,
            self.audit_seal.sealer,
        ]
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            functions=functions,
            upload_validator=self.collect.validator,
            dead_letter_queue=self.collect.dead_letter_queue,
            rest_api=self.api.rest_api,
            state_machine=self.models.state_machine,
            audit_sealer=self.audit_seal.sealer,
        )
        acknowledge_findings(self)

        storage = self.storage
        outputs = {
            "DataBucketName": storage.data_bucket.bucket_name,
            "AccessLogBucketName": storage.access_log_bucket.bucket_name,
            "AuditTableName": storage.audit_table.table_name,
            "CatalogTableName": storage.catalog_table.table_name,
            "GrantsTableName": storage.grants_table.table_name,
            "RequestsTableName": storage.requests_table.table_name,
            "ModelRunsTableName": storage.model_runs_table.table_name,
            "UploadQueueUrl": self.collect.queue.queue_url,
            "UploadDeadLetterQueueUrl": self.collect.dead_letter_queue.queue_url,
            "UserPoolId": self.api.user_pool.user_pool_id,
            "UserPoolClientId": self.api.user_pool_client.user_pool_client_id,
            "ApiUrl": self.api.rest_api.url,
            "StateMachineArn": self.models.state_machine.state_machine_arn,
            "AlarmTopicArn": self.monitoring.topic.topic_arn,
            "UploadValidatorFunctionName": self.collect.validator.function.function_name,
            "AccessApiFunctionName": self.api.access_api.function.function_name,
            "ModelRunFunctionName": self.models.model_run.function.function_name,
            "AuditSealBucketName": self.audit_seal.bucket.bucket_name,
            "AuditSealKeyId": self.audit_seal.key.key_arn,
            "AuditSealerFunctionName": self.audit_seal.sealer.function.function_name,
        }
        for output_id, value in outputs.items():
            CfnOutput(self, output_id, value=value)
