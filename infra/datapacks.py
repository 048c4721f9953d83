"""Datapacks: the packs bucket (S3 Object Lock) and what access_api needs to seal, export and verify.

A bucket of its own rather than a prefix of the data bucket: Object Lock is a property of a whole
bucket (enabled at creation), and the data bucket's lifecycle expires old object versions, which a
sealed pack's versions must outlive. The bucket has Object Lock but no default retention: sealed files
(`datapacks/{id}/`) are each written with their own retention (compliance mode, `witan:datapackRetentionYears`
years), while a draft's own uploads (`drafts/`) and per-caller exports (`exports/`, expired after a day)
stay deletable. access_api may write and read objects and set retention, never delete or bypass it.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct
from witan import settings
from witan.datapacks.gather import DRAFTS_PREFIX, EXPORTS_PREFIX, SEALED_PREFIX

from infra.config import WitanConfig
from infra.lambdas import WitanFunction
from infra.nag import _arn, _policy, acknowledge
from infra.storage import Storage

LOCK_MODE = "COMPLIANCE"


class Datapacks(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: WitanConfig,
        storage: Storage,
        access_api: WitanFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "PacksBucket",
            bucket_name=f"{config.name('datapacks')}-{Aws.ACCOUNT_ID}-{Aws.REGION}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,  # Object Lock protects object versions
            object_lock_enabled=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=storage.access_log_bucket,
            server_access_logs_prefix="datapacks-bucket/",
            removal_policy=RemovalPolicy.RETAIN,
            auto_delete_objects=False,
            # No CORS rule yet: pack files are uploaded by the CLI (a browser console would need one).
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                # An export is built for one caller (it may hold personal data they may read): a day.
                s3.LifecycleRule(
                    id="expire-exports",
                    prefix=EXPORTS_PREFIX,
                    expiration=Duration.days(1),
                    noncurrent_version_expiration=Duration.days(1),
                ),
                s3.LifecycleRule(
                    id="expire-replaced-draft-files",
                    prefix=DRAFTS_PREFIX,
                    noncurrent_version_expiration=Duration.days(30),
                ),
            ],
        )
        function = access_api.function
        function.add_environment(settings.DATAPACKS_BUCKET, self.bucket.bucket_name)
        function.add_environment(settings.DATAPACK_RETENTION_YEARS, str(config.datapack_retention_years))
        function.add_environment(settings.DATAPACK_LOCK_MODE, LOCK_MODE)
        prefixes = (DRAFTS_PREFIX, SEALED_PREFIX, EXPORTS_PREFIX)
        access_api.grant(
            "DatapackObjects",
            ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectRetention"),
            [self.bucket.arn_for_objects(f"{p}*") for p in prefixes],
        )
        # Older dataset versions and a run's input folder are found by listing datasets/ only.
        access_api.grant(
            "ListDatasetFolders",
            ("s3:ListBucket",),
            [storage.data_bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{settings.DATASETS_PREFIX}*"]}},
        )
        bucket = _arn(self.bucket)
        for key_prefix in prefixes:
            acknowledge(
                _policy(access_api),
                f"AwsSolutions-IAM5[Resource::{bucket}/{key_prefix}*]",
                f"{access_api.function_name} seals, exports and verifies packs; scoped to the {key_prefix} "
                "prefix of the packs bucket (no delete, no retention bypass)",
            )
