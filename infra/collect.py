"""Collect: S3 ObjectCreated on uploads/ -> SQS (with DLQ) -> upload_validator, which writes reports and
curated Parquet, adds a valid upload as a version of the request's destination dataset (catalog item,
CSV under datasets/, grants for the request's share_with), updates the submission and emails the
uploader and requester."""

from __future__ import annotations

from aws_cdk import CfnResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from witan import settings

from infra.config import WitanConfig
from infra.lambdas import Layers, WitanFunction
from infra.mail import Mail
from infra.nag import acknowledge
from infra.storage import Storage

FUNCTION_TIMEOUT = Duration.minutes(5)
BATCH_SIZE = 5
MAX_RECEIVE_COUNT = 3

# DynamoDB actions for tables a function reads and writes (no Scan, no table-level admin).
TABLE_READ_WRITE = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
)
# Audit: append (PutItem) and read the chain's tail to link the next event (Query/GetItem). Never
# UpdateItem/DeleteItem (the table's resource policy also denies them to everyone).
AUDIT_APPEND = ("dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem")


# What a delivery decides from (a request's META item, docs/data-model.md): written by access_api alone.
DELIVERY_INPUTS = ("share_with", "share_until", "requester_sub", "requester_groups", "dataset_owner_org")
# The attributes of a grant item (witan.aws.grants_table): all the validator may put in the grants table.
GRANT_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "record", "expires_at")


def grant_audit_append(function: WitanFunction, storage: Storage) -> None:
    function.grant("AppendAuditEvents", AUDIT_APPEND, [storage.audit_table.table_arn])


def grant_list_bucket(function: WitanFunction, storage: Storage) -> None:
    """HeadObject on a missing key answers 404 only to callers allowed s3:ListBucket (403 otherwise), and
    the handlers tell "not there" from "not allowed" by that status."""
    function.grant("ListDataBucket", ("s3:ListBucket",), [storage.data_bucket.bucket_arn])


def grant_send_email(function: WitanFunction, mail: Mail) -> None:
    function.grant(
        "SendEmail", ("ses:SendEmail", "ses:SendRawEmail"), mail.send_resources, mail.send_conditions
    )


def table_and_indexes(table_arn: str) -> list[str]:
    return [table_arn, f"{table_arn}/index/*"]


class Collect(Construct):
    """The upload queue and its dead-letter queue, fed by the data bucket's uploads/, and the
    upload_validator function with exactly the rights a check and a delivery need."""

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
        self.dead_letter_queue, self.queue = self._queues(config)
        storage.data_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(self.queue),
            s3.NotificationKeyFilter(prefix=settings.UPLOADS_PREFIX),
        )
        self.validator = self._validator(config, storage, layers, mail)
        self._grant_checks(storage)
        self._grant_deliveries(storage)
        grant_audit_append(self.validator, storage)
        grant_send_email(self.validator, mail)
        # Grants the queue read/delete to the role; each failed message is reported on its own.
        self.validator.function.add_event_source(
            sources.SqsEventSource(self.queue, batch_size=BATCH_SIZE, report_batch_item_failures=True)
        )

    def _queues(self, config: WitanConfig) -> tuple[sqs.Queue, sqs.Queue]:
        """The dead-letter queue, and the upload queue that sends it what failed MAX_RECEIVE_COUNT times."""
        dead_letter_queue = sqs.Queue(
            self,
            "UploadDeadLetterQueue",
            queue_name=config.name("uploads-dlq"),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        queue = sqs.Queue(
            self,
            "UploadQueue",
            queue_name=config.name("uploads"),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # AWS guidance for SQS event sources: at least six times the function timeout.
            visibility_timeout=Duration.seconds(FUNCTION_TIMEOUT.to_seconds() * 6),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=MAX_RECEIVE_COUNT, queue=dead_letter_queue
            ),
        )
        return dead_letter_queue, queue

    def _validator(self, config: WitanConfig, storage: Storage, layers: Layers, mail: Mail) -> WitanFunction:
        return WitanFunction(
            self,
            "UploadValidator",
            config=config,
            folder="upload_validator",
            layers=layers,
            description="Checks uploaded files against their schema; writes reports and curated Parquet",
            memory_mb=2048,
            timeout=FUNCTION_TIMEOUT,
            ephemeral_storage_mb=2048,
            environment={
                settings.ENV_NAME: config.environment,
                settings.DATA_BUCKET: storage.data_bucket.bucket_name,
                settings.REQUESTS_TABLE: storage.requests_table.table_name,
                settings.CATALOG_TABLE: storage.catalog_table.table_name,
                settings.GRANTS_TABLE: storage.grants_table.table_name,
                settings.AUDIT_TABLE: storage.audit_table.table_name,
                settings.AUDIT_RETENTION_DAYS: str(config.audit_retention_days),
                settings.SES_SENDER: mail.sender,
                settings.SES_CONFIGURATION_SET: mail.configuration_set_name,
                settings.MAX_UPLOAD_BYTES: str(settings.DEFAULT_MAX_UPLOAD_BYTES),
            },
        )

    def _grant_checks(self, storage: Storage) -> None:
        """A check: read the upload, write its reports and curated Parquet, update the request."""
        fn = self.validator
        fn.grant(
            "ReadUploads",
            ("s3:GetObject", "s3:GetObjectVersion"),
            [storage.objects(settings.UPLOADS_PREFIX)],
        )
        fn.grant(
            "WriteReportsAndCurated",
            ("s3:PutObject",),
            [storage.objects(settings.REPORTS_PREFIX), storage.objects(settings.CURATED_PREFIX)],
        )
        # The report links emailed to uploader and requester are presigned with this role's credentials,
        # so the role itself must be able to read what it links to.
        fn.grant("ReadReports", ("s3:GetObject",), [storage.objects(settings.REPORTS_PREFIX)])
        grant_list_bucket(fn, storage)
        fn.grant("ReadWriteRequests", TABLE_READ_WRITE, table_and_indexes(storage.requests_table.table_arn))

    def _grant_deliveries(self, storage: Storage) -> None:
        """A delivery: a valid upload becomes a dataset version: the CSV the datastore serves (its
        Parquet goes to curated/ with the check), the version and its SOURCE marker in one transaction
        (Put items, conditional), and the request's share_with as grants (read the dataset's grants,
        put missing ones)."""
        fn = self.validator
        fn.grant("WriteCollectedVersions", ("s3:PutObject",), [storage.objects(settings.DATASETS_PREFIX)])
        bucket = storage.data_bucket.node.default_child
        assert isinstance(bucket, CfnResource)
        acknowledge(  # with the statement it accepts (infra/nag.py holds the stack-wide ones)
            fn.role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(bucket)}.Arn>/"
            f"{settings.DATASETS_PREFIX}*]",
            f"{fn.function_name} writes the CSV of each collected dataset version "
            f"(datasets/{{dataset_id}}/{{version}}/); scoped to the {settings.DATASETS_PREFIX} prefix "
            "of the data bucket",
        )
        fn.grant(
            "AddCollectedVersions",
            ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
            [storage.catalog_table.table_arn],
        )
        # The request's share_with decides which grants a delivery makes. DynamoDB has no IAM condition
        # on attribute values, so no policy can compare a grant with share_with; what IAM can hold: the
        # validator never writes share_with or the other inputs of the delivery decision (only
        # access_api does, after its checks), and it puts only
        # dataset grant items, with exactly a grant's attributes. The code (witan.collect.uploads.deliver)
        # makes one read grant per share_with entry of the request it re-reads at delivery.
        dataset_keys = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["DATASET#*"]}}
        fn.grant("ReadDatasetGrants", ("dynamodb:Query",), [storage.grants_table.table_arn], dataset_keys)
        fn.grant(
            "ShareCollectedVersions",
            ("dynamodb:PutItem",),
            [storage.grants_table.table_arn],
            {**dataset_keys, "ForAllValues:StringEquals": {"dynamodb:Attributes": list(GRANT_ATTRIBUTES)}},
        )
        fn.role.add_to_policy(
            iam.PolicyStatement(
                sid="NeverWriteShareWith",
                effect=iam.Effect.DENY,
                actions=["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"],
                resources=table_and_indexes(storage.requests_table.table_arn),
                conditions={"ForAnyValue:StringEquals": {"dynamodb:Attributes": list(DELIVERY_INPUTS)}},
            )
        )
