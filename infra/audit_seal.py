"""Audit seals: the audit chains' heads signed outside the table (witan.audit.seal, docs/audit.md).

- A stream on the audit table (new and old images) feeds the audit_sealer function, which checks each
  batch for anything but appends (MODIFY, REMOVE other than TTL, TTL before the retention, short
  expiries: the AuditTamperAlerts metric, alarmed in infra/monitoring.py) and then seals the heads.
  An EventBridge schedule seals every SEAL_EVERY as well, so a quiet trail is sealed too and a stopped
  sealer is seen (the seals-missing alarm).
- The signing key is a KMS asymmetric key (ECC_NIST_P256, sign/verify). Its key policy denies
  kms:Sign to every principal but the sealer's role; access_api and operators verify (kms:Verify).
- Seals go to a bucket of their own with S3 Object Lock in compliance mode, default retention the
  audit retention: no one, root included, can delete or overwrite a seal until then.

The stream is set on the table made in infra/storage.py through its CloudFormation resource, so that
storage stays as it is; the sealer reads the stream by its ARN.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct
from witan import settings
from witan.audit.seal import SEAL_PREFIX

from infra.config import WitanConfig
from infra.lambdas import Layers, WitanFunction
from infra.storage import Storage

SEAL_EVERY = Duration.minutes(5)
# Records wait at most this long for a batch: with SEAL_EVERY, the bound on an unsealed item's age.
STREAM_BATCH_WINDOW = Duration.seconds(10)
STREAM_BATCH_SIZE = 100
STREAM_VIEW = "NEW_AND_OLD_IMAGES"
SIGNING_SPEC = kms.KeySpec.ECC_NIST_P256


class AuditSeal(Construct):
    """The audit table's stream, the sealer function, its signing key and seal bucket, what runs it (the
    stream and a schedule), and access_api's rights to verify seals."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: WitanConfig,
        storage: Storage,
        layers: Layers,
        access_api: WitanFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stream_arn = self._stream(storage.audit_table)
        self.sealer = self._sealer(config, storage.audit_table, layers)
        self.key = self._signing_key(config)
        self.bucket = self._seal_bucket(config, storage)
        self._grant_sealer(storage.audit_table)
        self.stream_mapping, self.schedule = self._triggers(config)
        self._grant_verification(access_api)

    def _stream(self, table: ddb.Table) -> str:
        """Turn on the table's stream (new and old images) through its CloudFormation resource."""
        cfn_table = table.node.default_child
        assert isinstance(cfn_table, ddb.CfnTable)
        cfn_table.stream_specification = ddb.CfnTable.StreamSpecificationProperty(
            stream_view_type=STREAM_VIEW
        )
        return cfn_table.attr_stream_arn

    def _sealer(self, config: WitanConfig, table: ddb.Table, layers: Layers) -> WitanFunction:
        return WitanFunction(
            self,
            "Sealer",
            config=config,
            folder="audit_sealer",
            layers=layers,
            description="Signs the audit chains' heads into the Object Lock seal bucket; alarms on tampering",
            memory_mb=256,
            timeout=Duration.seconds(60),
            environment={
                settings.ENV_NAME: config.environment,
                settings.AUDIT_TABLE: table.table_name,
                settings.AUDIT_RETENTION_DAYS: str(config.audit_retention_days),
            },
        )

    def _signing_key(self, config: WitanConfig) -> kms.Key:
        """The KMS signing key, whose own policy lets no one but the sealer's role sign."""
        sealer_role_arn = f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{self.sealer.function_name}-role"
        key = kms.Key(
            self,
            "SealKey",
            alias=f"alias/{config.name('audit-seal')}",
            description=f"Signs the audit seals of {config.name('audit')} (only the sealer may sign)",
            key_spec=SIGNING_SPEC,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            removal_policy=RemovalPolicy.RETAIN,  # old seals stay verifiable
        )
        # By role ARN string, not a reference to the role: the role's policy refers to the key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheSealerSigns",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:Sign"],
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": sealer_role_arn}},
            )
        )
        return key

    def _seal_bucket(self, config: WitanConfig, storage: Storage) -> s3.Bucket:
        return s3.Bucket(
            self,
            "SealBucket",
            bucket_name=f"{config.name('audit-seals')}-{Aws.ACCOUNT_ID}-{Aws.REGION}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,  # Object Lock protects object versions
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(
                Duration.days(config.audit_retention_days)
            ),
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=storage.access_log_bucket,
            server_access_logs_prefix="audit-seals-bucket/",
            removal_policy=RemovalPolicy.RETAIN,
            auto_delete_objects=False,
        )

    def _grant_sealer(self, table: ddb.Table) -> None:
        sealer = self.sealer
        sealer.function.add_environment(settings.AUDIT_SEAL_BUCKET, self.bucket.bucket_name)
        sealer.function.add_environment(settings.AUDIT_SEAL_KEY_ID, self.key.key_arn)
        # Heads (Query) and the previous seal's heads still in the table (GetItem); never a write.
        sealer.grant("ReadAuditHeads", ("dynamodb:Query", "dynamodb:GetItem"), [table.table_arn])
        sealer.grant(
            "ReadAuditStream",
            (
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ),
            [self.stream_arn],
        )
        # Verify and read too: each seal first checks the previous one (witan.audit.seal.continue_heads).
        sealer.grant("SignSeals", ("kms:Sign", "kms:Verify"), [self.key.key_arn])
        sealer.grant(
            "WriteSeals", ("s3:PutObject", "s3:GetObject"), [self.bucket.arn_for_objects(f"{SEAL_PREFIX}*")]
        )
        self._grant_list_seals(sealer)

    def _grant_list_seals(self, function: WitanFunction) -> None:
        function.grant(
            "ListSeals",
            ("s3:ListBucket",),
            [self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{SEAL_PREFIX}*"]}},
        )

    def _triggers(self, config: WitanConfig) -> tuple[lambda_.EventSourceMapping, events.Rule]:
        """The stream's batches, and a schedule so that a quiet trail is sealed too."""
        function = self.sealer.function
        stream_mapping = lambda_.EventSourceMapping(
            self,
            "AuditStream",
            target=function,
            event_source_arn=self.stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=STREAM_BATCH_SIZE,
            max_batching_window=STREAM_BATCH_WINDOW,
            retry_attempts=10,
        )
        schedule = events.Rule(
            self,
            "SealSchedule",
            rule_name=config.name("audit-seal"),
            description="Seal the audit chains' heads even when nothing is written",
            schedule=events.Schedule.rate(SEAL_EVERY),
            targets=[targets.LambdaFunction(function, retry_attempts=2, max_event_age=Duration.minutes(5))],
        )
        return stream_mapping, schedule

    def _grant_verification(self, api: WitanFunction) -> None:
        """GET /audit/verify checks the chains against the newest seals."""
        api.function.add_environment(settings.AUDIT_SEAL_BUCKET, self.bucket.bucket_name)
        api.function.add_environment(settings.AUDIT_SEAL_KEY_ID, self.key.key_arn)
        api.grant("VerifySeals", ("kms:Verify",), [self.key.key_arn])
        api.grant("ReadSeals", ("s3:GetObject",), [self.bucket.arn_for_objects(f"{SEAL_PREFIX}*")])
        self._grant_list_seals(api)
