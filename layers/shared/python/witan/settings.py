"""Runtime settings for the Lambda functions, read from environment variables set by the stack.

The names here are the contract between infra/ (which sets them) and the handlers (which read them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Environment variable names, set by infra/ on every function that needs them.
ENV_NAME = "WITAN_ENV"
DATA_BUCKET = "DATA_BUCKET"
AUDIT_TABLE = "AUDIT_TABLE"
CATALOG_TABLE = "CATALOG_TABLE"
GRANTS_TABLE = "GRANTS_TABLE"
REQUESTS_TABLE = "REQUESTS_TABLE"
MODEL_RUNS_TABLE = "MODEL_RUNS_TABLE"
SES_SENDER = "SES_SENDER"
SES_CONFIGURATION_SET = "SES_CONFIGURATION_SET"
STATE_MACHINE_ARN = "STATE_MACHINE_ARN"
AUDIT_RETENTION_DAYS = "AUDIT_RETENTION_DAYS"
MAX_UPLOAD_BYTES = "MAX_UPLOAD_BYTES"
DATAPACKS_BUCKET = "DATAPACKS_BUCKET"  # sealed packs (S3 Object Lock), drafts' own files, exports
DATAPACK_RETENTION_YEARS = "DATAPACK_RETENTION_YEARS"  # Object Lock retention of sealed files
DATAPACK_LOCK_MODE = "DATAPACK_LOCK_MODE"  # COMPLIANCE (AWS) or GOVERNANCE
AUDIT_SEAL_BUCKET = "AUDIT_SEAL_BUCKET"  # signed seals of the audit chains (S3 Object Lock)
AUDIT_SEAL_KEY_ID = "AUDIT_SEAL_KEY_ID"  # the KMS key that signs them (sealer: Sign; readers: Verify)
# "required": platform-admin rights only with a token whose `amr` claim says MFA (witan.api.identity).
ADMIN_MFA = "ADMIN_MFA"

# S3 key prefixes inside the data bucket.
UPLOADS_PREFIX = "uploads/"  # uploads/{request_id}/{submission_id}/{file_name}
REPORTS_PREFIX = "reports/"  # reports/{request_id}/{submission_id}/{version_id}/report.{json,csv,xlsx}
CURATED_PREFIX = "curated/"  # curated/{dataset_id}/{version}/data.parquet
DATASETS_PREFIX = "datasets/"  # datasets/{dataset_id}/{version}/{file_name}
MODELS_PREFIX = "models/"  # models/{run_id}/...

ADMIN_GROUP = "platform-admin"
DEFAULT_AUDIT_RETENTION_DAYS = 2557  # 7 years
DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024
DEFAULT_DATAPACK_RETENTION_YEARS = 7


@dataclass(frozen=True)
class Settings:
    """What a handler needs to know about the deployed stack; empty strings where not configured."""

    env_name: str
    data_bucket: str
    audit_table: str
    catalog_table: str
    grants_table: str
    requests_table: str
    model_runs_table: str
    ses_sender: str
    ses_configuration_set: str
    state_machine_arn: str
    audit_retention_days: int
    max_upload_bytes: int

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            env_name=env.get(ENV_NAME, "local"),
            data_bucket=env.get(DATA_BUCKET, ""),
            audit_table=env.get(AUDIT_TABLE, ""),
            catalog_table=env.get(CATALOG_TABLE, ""),
            grants_table=env.get(GRANTS_TABLE, ""),
            requests_table=env.get(REQUESTS_TABLE, ""),
            model_runs_table=env.get(MODEL_RUNS_TABLE, ""),
            ses_sender=env.get(SES_SENDER, ""),
            ses_configuration_set=env.get(SES_CONFIGURATION_SET, ""),
            state_machine_arn=env.get(STATE_MACHINE_ARN, ""),
            audit_retention_days=int(env.get(AUDIT_RETENTION_DAYS, DEFAULT_AUDIT_RETENTION_DAYS)),
            max_upload_bytes=int(env.get(MAX_UPLOAD_BYTES, DEFAULT_MAX_UPLOAD_BYTES)),
        )
