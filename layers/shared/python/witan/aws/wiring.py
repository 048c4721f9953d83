"""Each handler's services, built from `Settings` in one place.

This is the only module that turns configuration into adapters (boto3 clients, tables, buckets, the
mailer). A handler calls one function here and hands what it gets to the domain; routes and domain code
receive ports and never read the environment. An optional area (Collect+Share, model runs, datapacks)
is present or absent by type: None where the stack does not configure it.

Built once per configuration and kept for the life of the execution environment (tests run several
configurations in one process: `forget()` drops them). Adapters are imported inside the builders, so
importing this module costs nothing on the access_api's cold path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from witan.api.deps import ConsoleConfig, Services
from witan.settings import Settings

if TYPE_CHECKING:
    from witan.api.deps import CollectWiring, DatapackPorts, ModelRunPorts
    from witan.aws.audit_seals import KmsSigner, S3SealStore
    from witan.collect.uploads.check import UploadCheckService
    from witan.collect.uploads.ports import Mailer
    from witan.modelrun.records import RunRecord
    from witan.modelrun.steps import RunPorts

T = TypeVar("T")
_built: dict[tuple[str, Settings], Any] = {}


def _once(kind: str, settings: Settings, build: Callable[[Settings], T]) -> T:
    key = (kind, settings)
    if key not in _built:
        _built[key] = build(settings)
    return _built[key]  # type: ignore[no-any-return]  # stored by `build` under this kind


def forget() -> None:
    """Drop every wiring built so far (tests change the environment between cases)."""
    _built.clear()


def _dynamodb() -> Any:
    import boto3

    return boto3.client("dynamodb")


# --- access_api -------------------------------------------------------------------------------------------


def api_services(settings: Settings) -> Services:
    """The API's services: datastore tables, the data bucket, the audit trail, and each configured area."""
    return _once("api", settings, _build_api)


def _build_api(settings: Settings) -> Services:
    from witan.api.routes.collect import RedactingAuditTrail
    from witan.aws.audit_table import DynamoAuditReader, DynamoAuditTrail
    from witan.aws.catalog_table import DynamoCatalogStore, S3FileTransfer
    from witan.aws.grants_table import DynamoGrantStore

    dynamodb = _dynamodb()
    chains = settings.audit_chains
    trail = DynamoAuditTrail(
        settings.audit_table, dynamodb, retention_days=settings.audit_retention_days, chains=chains
    )
    return Services(
        catalog=DynamoCatalogStore(settings.catalog_table, dynamodb),
        grants=DynamoGrantStore(settings.grants_table, dynamodb),
        files=S3FileTransfer(settings.data_bucket),
        # Partner paths hold capability tokens: the trail records them redacted.
        audit=RedactingAuditTrail(trail),
        audit_reader=DynamoAuditReader(settings.audit_table, dynamodb, chains=chains),
        verify_audit=lambda: _verify_audit(settings, dynamodb),
        max_upload_bytes=settings.max_upload_bytes,
        collect=_collect(settings, dynamodb) if settings.requests_table else None,
        model_runs=cache(lambda: _model_runs(settings))
        if settings.model_runs_table and settings.state_machine_arn
        else None,
        datapacks=cache(lambda: _datapacks(settings))
        if settings.datapacks_bucket and settings.catalog_table
        else None,
        console=ConsoleConfig(auth_url=settings.console_auth_url, client_id=settings.console_client_id),
        admin_mfa_required=settings.admin_mfa_required,
    )


def _verify_audit(settings: Settings, dynamodb: Any) -> dict[str, Any]:
    """GET /audit/verify: the chains, their retention, and the heads signed in the newest seals
    (witan.audit.seal) when the stack has a seal bucket and key."""
    from witan.aws.audit_seals import verify_sealed
    from witan.aws.audit_table import verify

    retention = settings.audit_retention_days
    if not (settings.audit_seal_bucket and settings.audit_seal_key_id):
        return verify(settings.audit_table, dynamodb, retention_days=retention).as_dict()
    signer, store = _seal_ports(settings)
    return verify_sealed(settings.audit_table, dynamodb, store, signer, retention_days=retention).as_dict()


def _collect(settings: Settings, dynamodb: Any) -> CollectWiring:
    """Collect+Share: requests table, SES, presigned POSTs to uploads/, schemas built-in or stored."""
    from witan.api.deps import CollectWiring
    from witan.aws.catalog_table import DynamoCatalogStore
    from witan.aws.email_quota import DynamoEmailQuota
    from witan.aws.grants_table import DynamoGrantStore
    from witan.aws.s3 import make_client as make_s3_client
    from witan.aws.submissions import DynamoRequestStore, S3UploadPresigner, read_json_report
    from witan.collect.requests.schemas import SchemaResolver
    from witan.collect.requests.service import CollectRequestService
    from witan.validation.schema import builtin_schema_names

    s3 = make_s3_client()
    store = DynamoRequestStore(settings.requests_table, dynamodb)
    presigner = S3UploadPresigner(settings.data_bucket, s3)
    mailer = _mailer(settings)
    resolver = SchemaResolver(get_stored=store.get_stored_schema)
    # The datastore, to check a request's destination dataset (may the requester add versions, share?)
    # and to make one for a request that names none.
    catalog = DynamoCatalogStore(settings.catalog_table, dynamodb) if settings.catalog_table else None
    grants = DynamoGrantStore(settings.grants_table, dynamodb) if settings.grants_table else None

    def service(link_base_url: str) -> CollectRequestService:
        return CollectRequestService(
            store=store,
            mailer=mailer,
            presign=presigner,
            resolve_schema=resolver,
            link_base_url=link_base_url,
            max_upload_bytes=settings.max_upload_bytes,
            read_report=read_json_report(s3, settings.data_bucket),
            catalog=catalog,
            grants=grants,
        )

    @cache
    def upload_origin() -> str:
        # Computed locally by botocore (no call): the origin presigned POSTs go to, for the page's CSP.
        url = presigner(key="uploads/r/s/f.csv", content_type="text/csv", max_bytes=1, expires_in=60)["url"]
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    return CollectWiring(
        service=service,
        email_quota=DynamoEmailQuota(settings.requests_table, dynamodb),
        upload_origin=upload_origin,
        put_schema=lambda name, descriptor, owner: store.put_stored_schema(
            name, descriptor, created_by=owner
        ),
        list_stored_schemas=store.list_stored_schemas,
        builtin_schema_names=builtin_schema_names,
    )


def _model_runs(settings: Settings) -> ModelRunPorts:
    from witan.api.deps import ModelRunPorts
    from witan.aws import model_runs as aws

    return ModelRunPorts(
        runs=aws.ModelRunsTable(settings.model_runs_table),
        start=aws.StepFunctionsStarter(settings.state_machine_arn),
    )


def _datapacks(settings: Settings) -> DatapackPorts:
    from witan.api.deps import DatapackPorts
    from witan.aws.datapacks_table import DynamoPackStore, S3PackObjects

    get_run: Callable[[str], RunRecord | None] = lambda run_id: None  # noqa: E731  no runs table
    if settings.model_runs_table:
        from witan.aws.model_runs import ModelRunsTable

        get_run = ModelRunsTable(settings.model_runs_table).get
    return DatapackPorts(
        packs=DynamoPackStore(settings.catalog_table),
        objects=S3PackObjects(
            settings.data_bucket,
            settings.datapacks_bucket,
            retention_years=settings.datapack_retention_years,
            lock_mode=settings.datapack_lock_mode,
        ),
        get_run=get_run,
    )


def _mailer(settings: Settings) -> Mailer:
    from witan.aws.ses import SesMailer

    return SesMailer(settings.ses_sender, configuration_set=settings.ses_configuration_set)


# --- upload_validator -------------------------------------------------------------------------------------


def upload_check_service(settings: Settings) -> UploadCheckService:
    """The upload check, on the requests table, the data bucket, SES, the audit trail and the datastore."""
    return _once("upload_validator", settings, _build_upload_check)


def _build_upload_check(settings: Settings) -> UploadCheckService:
    from witan.aws.audit_table import DynamoAuditTrail
    from witan.aws.catalog_table import CollectedVersions, DynamoCatalogStore
    from witan.aws.grants_table import DynamoGrantStore
    from witan.aws.s3 import S3ObjectStore
    from witan.aws.submissions import DynamoCheckStore, DynamoRequestStore
    from witan.collect.requests.schemas import SchemaResolver
    from witan.collect.uploads.check import UploadCheckService
    from witan.collect.uploads.deliver import DatasetDelivery
    from witan.validation import check_file

    dynamodb = _dynamodb()
    objects = S3ObjectStore()
    # Required: every check (and every collected dataset version) leaves an audit event.
    audit = DynamoAuditTrail(
        settings.audit_table,
        dynamodb,
        retention_days=settings.audit_retention_days,
        chains=settings.audit_chains,
    )
    delivery = None
    if settings.catalog_table and settings.grants_table:  # valid uploads become dataset versions
        delivery = DatasetDelivery(
            catalog=CollectedVersions(DynamoCatalogStore(settings.catalog_table, dynamodb)),
            grants=DynamoGrantStore(settings.grants_table, dynamodb),
            objects=objects,
            bucket=settings.data_bucket,
            audit=audit,
        )
    return UploadCheckService(
        store=DynamoCheckStore(settings.requests_table, dynamodb),
        objects=objects,
        mailer=_mailer(settings),
        check_file=check_file,
        # Built-in and stored (`stored:NAME`) schemas, read as the Collect+Share API reads them.
        load_schema=SchemaResolver(
            get_stored=DynamoRequestStore(settings.requests_table, dynamodb).get_stored_schema
        ),
        reports_bucket=settings.data_bucket,
        max_upload_bytes=settings.max_upload_bytes,
        audit=audit,
        delivery=delivery,
    )


# --- model_run --------------------------------------------------------------------------------------------


def model_run_services(settings: Settings) -> RunPorts:
    """The model-run steps' ports: the model-runs table, the data bucket, SES (if a sender is set)."""
    return _once("model_run", settings, _build_model_run)


def _build_model_run(settings: Settings) -> RunPorts:
    from witan.aws.model_runs import ModelRunsTable, S3RunStorage, read_input_files
    from witan.modelrun.steps import RunPorts

    return RunPorts(
        data_bucket=settings.data_bucket,
        runs=ModelRunsTable(settings.model_runs_table),
        storage=S3RunStorage,
        read_inputs=lambda inputs, definition: read_input_files(settings.data_bucket, inputs, definition),
        mailer=_mailer(settings) if settings.ses_sender else None,
    )


# --- audit_sealer -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealerServices:
    """The sealer's needs: the audit table, the signing key and the seal bucket."""

    audit_table: str
    dynamodb: Any
    signer: KmsSigner
    seals: S3SealStore
    retention_days: int
    chains: int


def sealer_services(settings: Settings) -> SealerServices:
    return _once("audit_sealer", settings, _build_sealer)


def _build_sealer(settings: Settings) -> SealerServices:
    if not (settings.audit_seal_bucket and settings.audit_seal_key_id):
        raise RuntimeError("the sealer needs AUDIT_SEAL_BUCKET and AUDIT_SEAL_KEY_ID")
    signer, seals = _seal_ports(settings)
    return SealerServices(
        audit_table=settings.audit_table,
        dynamodb=_dynamodb(),
        signer=signer,
        seals=seals,
        retention_days=settings.audit_retention_days,
        chains=settings.audit_chains,
    )


def _seal_ports(settings: Settings) -> tuple[KmsSigner, S3SealStore]:
    import boto3

    from witan.aws.audit_seals import KmsSigner, S3SealStore

    return (
        KmsSigner(settings.audit_seal_key_id, boto3.client("kms")),
        S3SealStore(settings.audit_seal_bucket, boto3.client("s3")),
    )
