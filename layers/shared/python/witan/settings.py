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
CONSOLE_AUTH_URL = "CONSOLE_AUTH_URL"  # the Cognito managed login domain the console signs in at
CONSOLE_CLIENT_ID = "CONSOLE_CLIENT_ID"  # the console's app client
AUDIT_CHAINS = "AUDIT_CHAINS"  # K hash chains; the same for writers and readers, and never lowered

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
DEFAULT_DATAPACK_LOCK_MODE = "COMPLIANCE"
DEFAULT_AUDIT_CHAINS = 8


@dataclass(frozen=True)
class Settings:
    """What a handler needs to know about the deployed stack; empty strings where not configured.

    Read once, here; `witan.aws.wiring` turns it into each handler's services. Nothing else reads the
    environment."""

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
    audit_chains: int = DEFAULT_AUDIT_CHAINS
    audit_seal_bucket: str = ""
    audit_seal_key_id: str = ""
    datapacks_bucket: str = ""
    datapack_retention_years: int = DEFAULT_DATAPACK_RETENTION_YEARS
    datapack_lock_mode: str = DEFAULT_DATAPACK_LOCK_MODE
    admin_mfa_required: bool = False
    console_auth_url: str = ""
    console_client_id: str = ""

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
            audit_chains=int(env.get(AUDIT_CHAINS, DEFAULT_AUDIT_CHAINS)),
            audit_seal_bucket=env.get(AUDIT_SEAL_BUCKET, ""),
            audit_seal_key_id=env.get(AUDIT_SEAL_KEY_ID, ""),
            datapacks_bucket=env.get(DATAPACKS_BUCKET, ""),
            datapack_retention_years=int(env.get(DATAPACK_RETENTION_YEARS, DEFAULT_DATAPACK_RETENTION_YEARS)),
            datapack_lock_mode=env.get(DATAPACK_LOCK_MODE, DEFAULT_DATAPACK_LOCK_MODE),
            admin_mfa_required=env.get(ADMIN_MFA, "").strip().lower() == "required",
            console_auth_url=env.get(CONSOLE_AUTH_URL, ""),
            console_client_id=env.get(CONSOLE_CLIENT_ID, ""),
        )
