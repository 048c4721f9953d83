"""Storage: the data bucket (uploads, reports, curated Parquet, datasets, model outputs), its access-log
bucket, and the DynamoDB tables. Everything here holds council data, so it is retained on stack delete."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct
from witan.aws.table_shapes import TABLES, Key, TableShape

from infra.config import WitanConfig

# How long a browser may cache the answer to an upload's CORS preflight (Chromium caps it at 2 hours).
UPLOAD_PREFLIGHT_MAX_AGE_S = 3600
# Writes that would change or remove recorded audit events. Denied for every principal by the audit
# table's own resource policy, on top of the function roles granting only PutItem.
AUDIT_MUTATIONS = (
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
)


_ATTRIBUTE_TYPES = {"S": ddb.AttributeType.STRING, "N": ddb.AttributeType.NUMBER}
# The tables with generic pk/sk items; the audit table is made on its own (its resource policy).
KEYED_TABLES = ("catalog", "grants", "requests", "model-runs")


def _attribute(key: Key) -> ddb.Attribute:
    return ddb.Attribute(name=key.name, type=_ATTRIBUTE_TYPES[key.type])


def _table(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    shape: TableShape,
    resource_policy: iam.PolicyDocument | None = None,
) -> ddb.Table:
    """A table of the shape witan.aws.table_shapes declares (the one declaration the tests use too)."""
    table = ddb.Table(
        scope,
        construct_id,
        table_name=name,
        partition_key=_attribute(shape.partition),
        sort_key=_attribute(shape.sort),
        billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=ddb.TableEncryption.AWS_MANAGED,
        time_to_live_attribute=shape.ttl_attribute,
        removal_policy=RemovalPolicy.RETAIN,
        resource_policy=resource_policy,
    )
    for index in shape.indexes:
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=_attribute(index.partition),
            sort_key=_attribute(index.sort),
            projection_type=ddb.ProjectionType.ALL,
        )
    return table


class Storage(Construct):
    """The buckets and the tables; each built by a method named for it."""

    def __init__(self, scope: Construct, construct_id: str, *, config: WitanConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.access_log_bucket = self._access_log_bucket()
        self.data_bucket = self._data_bucket()
        self.audit_table = self._audit_table()
        self.tables: dict[str, ddb.Table] = {
            key: _table(
                self,
                "".join(part.capitalize() for part in key.split("-")) + "Table",
                name=config.name(key),
                shape=TABLES[key],
            )
            for key in KEYED_TABLES
        }
        self.catalog_table = self.tables["catalog"]
        self.grants_table = self.tables["grants"]
        self.requests_table = self.tables["requests"]
        self.model_runs_table = self.tables["model-runs"]

    def _bucket_name(self, key: str) -> str:
        return f"{self.config.name(key)}-{Aws.ACCOUNT_ID}-{Aws.REGION}"  # bucket names are global

    def _access_log_bucket(self) -> s3.Bucket:
        return s3.Bucket(
            self,
            "AccessLogBucket",
            bucket_name=self._bucket_name("access-logs"),
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 server access logging needs SSE-S3
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            auto_delete_objects=False,  # a Node.js custom resource otherwise
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(365),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )

    def _data_bucket(self) -> s3.Bucket:
        return s3.Bucket(
            self,
            "DataBucket",
            bucket_name=self._bucket_name("data"),
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="data-bucket/",
            removal_policy=RemovalPolicy.RETAIN,
            auto_delete_objects=False,
            # Browsers upload with presigned POST straight to S3 from the configured origins only.
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
                    allowed_origins=list(self.config.allowed_origins),
                    allowed_headers=["*"],
                    exposed_headers=["ETag", "x-amz-version-id"],
                    max_age=3000,
                )
            ],
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                # Old versions exist only when a key is overwritten; keep them 90 days to recover.
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(90),
                ),
                # Uploads are kept (with their reports) but rarely read after the request closes.
                s3.LifecycleRule(
                    id="uploads-to-infrequent-access",
                    prefix="uploads/",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(90),
                        )
                    ],
                ),
            ],
        )

    def _audit_table(self) -> ddb.Table:
        """The audit table, append-only by its own resource policy (for every principal)."""
        audit_name = self.config.name("audit")
        audit_arn = f"arn:{Aws.PARTITION}:dynamodb:{Aws.REGION}:{Aws.ACCOUNT_ID}:table/{audit_name}"
        append_only = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AuditEventsAreAppendOnly",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=list(AUDIT_MUTATIONS),
                    resources=[audit_arn],
                )
            ]
        )
        return _table(self, "AuditTable", name=audit_name, shape=TABLES["audit"], resource_policy=append_only)

    def allow_browser_uploads(self, origin: str) -> None:
        """Let pages served from `origin` (the API's own, for the partner page) POST a presigned form to
        the data bucket. Only POST: the page sends the form by XMLHttpRequest with an upload progress
        listener, which makes the browser ask a preflight (method POST, no extra request headers: the
        form's multipart/form-data Content-Type is CORS-safelisted); it reads only the status, so no
        headers are exposed. `origin` may hold tokens (the RestApi id): the API does not depend on the
        bucket, only its functions, methods and deployment do, so this makes no cycle."""
        self.data_bucket.add_cors_rule(
            id="partner-page-uploads",
            allowed_methods=[s3.HttpMethods.POST],
            allowed_origins=[origin],
            max_age=UPLOAD_PREFLIGHT_MAX_AGE_S,
        )

    def objects(self, prefix: str) -> str:
        """ARN of the data bucket's objects under a prefix (prefix-scoped grants)."""
        return self.data_bucket.arn_for_objects(f"{prefix}*")
