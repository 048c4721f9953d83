"""Datasets: metadata (versioned), file versions through presigned POST, downloads through presigned GET.

Each route's `operation_id` is also its audit action.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from witan.access.policy import decide
from witan.access.records import Activity, Grant, GranteeType
from witan.api.bodies import (
    MAX_FREE_JSON_DEPTH,
    MAX_FREE_JSON_KEYS,
    MAX_METADATA_BYTES,
    CreateDatasetRequest,
    DatasetCreated,
    DatasetId,
    DatasetList,
    DatasetSummary,
    DatasetView,
    Deleted,
    Download,
    FileInfo,
    History,
    HistoryEntry,
    MetadataPatch,
    NewVersionRequest,
    OrgGroup,
    Tag,
    Upload,
    VersionCreated,
    free_json_problem,
    with_success,
)
from witan.api.current import Current, current, iso
from witan.api.deps import DOWNLOAD_EXPIRY_SECONDS, UPLOAD_EXPIRY_SECONDS
from witan.api.errors import refusals
from witan.catalog import records as catalog
from witan.catalog.records import Dataset, FileVersion
from witan.errors import (
    ConflictError,
    DatasetDeletedError,
    FileTooLargeError,
    ForbiddenError,
    InvalidTokenError,
    JsonTooDeepError,
    JsonTooLargeError,
    JsonTooManyKeysError,
    NoChangeError,
    NoFileError,
    OrganisationRequiredError,
)
from witan.settings import DATASETS_PREFIX

router = Router()
TAGS = ["datasets"]
PathId = Annotated[DatasetId, Path(description="dataset id (32 hex characters)")]


def _cur() -> Current:
    return current(router.context)


def _file_info(file: FileVersion | None) -> FileInfo | None:
    if file is None:
        return None
    return FileInfo(
        version=file.version,
        file_name=file.file_name,
        content_type=file.content_type,
        created_by=file.created_by,
        created_at=file.created_at.isoformat(),
    )


def _view(dataset: Dataset, access: list[str]) -> DatasetView:
    return DatasetView(
        id=dataset.id,
        owner_org=dataset.owner_org,
        created_by=dataset.created_by,
        created_at=dataset.created_at.isoformat(),
        updated_at=dataset.updated_at.isoformat(),
        metadata=dataset.metadata,
        metadata_version=dataset.metadata_version,
        file=_file_info(dataset.file),
        deleted_at=iso(dataset.deleted_at),
        access=access,
    )


def _upload_limit(cur: Current, size_bytes: int | None) -> int:
    limit = cur.services.max_upload_bytes
    if size_bytes is not None and size_bytes > limit:
        raise FileTooLargeError(f"size_bytes exceeds the limit of {limit} bytes")
    return size_bytes or limit


def _check_free_json(cur: Current, structure: Any, metadata: dict[str, Any] | None = None) -> None:
    """Refuse (422, a code per limit) free JSON past the limits, before anything is written: stored, it
    would make every page of the dataset fail."""
    problem = None if structure is None else free_json_problem(structure, "structure")
    if problem is None and metadata is not None:
        # The metadata holds `structure` one level down, beside a few fixed fields (under 50 keys).
        problem = free_json_problem(
            metadata,
            "metadata",
            MAX_METADATA_BYTES,
            max_depth=MAX_FREE_JSON_DEPTH + 1,
            max_keys=MAX_FREE_JSON_KEYS + 50,
        )
    if problem is not None:
        cur.record.deny(problem.code)
        raise problem


def _title_only(dataset: Dataset) -> Dataset:
    """The dataset as a meta-visible caller knows it: a filter on it cannot see more."""
    return replace(dataset, metadata={"title": dataset.title})


def _presign(cur: Current, file: FileVersion) -> Upload:
    post = cur.services.files.presign_post(file.key, file.content_type, file.max_bytes, UPLOAD_EXPIRY_SECONDS)
    return Upload(
        url=post.url,
        fields=post.fields,
        key=post.key,
        version=file.version,
        expires_at=post.expires_at.isoformat(),
        max_bytes=file.max_bytes,
    )


@router.post(
    "/datasets",
    operation_id="dataset.create",
    tags=TAGS,
    status_code=201,
    summary="Describe a new dataset and get a presigned POST for its first file",
    responses=with_success(
        refusals(
            ForbiddenError,
            OrganisationRequiredError,
            FileTooLargeError,
            JsonTooDeepError,
            JsonTooManyKeysError,
            JsonTooLargeError,
            ConflictError,
        ),
        201,
        "Created",
    ),
)
def create_dataset(body: CreateDatasetRequest) -> DatasetCreated:
    cur = _cur()
    principal = cur.principal
    organisations = principal.organisations
    org = body.organisation
    if org is None:
        if len(organisations) != 1:
            cur.record.deny("organisation-required")
            raise OrganisationRequiredError(purpose="owns the dataset")
        org = organisations[0]
    if org not in organisations and not principal.is_admin:
        cur.record.deny(f"not-member:{org}")
        raise ForbiddenError(f"you are not a member of {org}")
    max_bytes = _upload_limit(cur, body.size_bytes)
    metadata = body.model_dump(
        exclude_none=True, exclude={"organisation", "file_name", "content_type", "size_bytes"}
    )
    _check_free_json(cur, metadata.get("structure"), metadata)
    dataset_id = cur.services.new_id()
    dataset, meta, file = catalog.create(
        dataset_id, org, cur.sub, metadata, body.file_name, body.content_type, max_bytes, cur.now
    )
    cur.record.resource = f"dataset/{dataset_id}"
    cur.record.allow(f"admin:{org}" if org not in organisations else f"member:{org}")
    cur.record.detail.update({"file_version": 1, "key": file.key})
    with cur.changing(201):
        cur.services.catalog.create(dataset, meta)
    upload = _presign(cur, file)
    return DatasetCreated(dataset=_view(dataset, cur.held(dataset, [])), upload=upload)


@router.get(
    "/datasets",
    operation_id="dataset.list",
    tags=TAGS,
    summary="Datasets you may see",
    responses={
        200: {"description": "Success", "content": {"application/json": {"model": DatasetList}}},
        **refusals(InvalidTokenError),
    },
)
def list_datasets(
    tag: Annotated[Tag | None, Query()] = None,
    organisation: Annotated[OrgGroup | None, Query()] = None,
    owner: Annotated[str | None, Query(max_length=128)] = None,
    text: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response[Any]:
    cur = _cur()
    principal = cur.principal
    wanted = catalog.ListFilter(tag=tag, organisation=organisation, owner=owner, text=text or None)
    # Filters read only what the caller may read: on a dataset they may only see listed (meta-visible:
    # id, title, owner organisation) `text` matches the title alone and `tag`/`owner` match nothing;
    # otherwise whether it is listed for `text=...` would tell them its description, tags or creator.
    visible_only = catalog.ListFilter(organisation=organisation, text=text or None)
    blind = tag is not None or owner is not None
    candidates = [d for d in cur.services.catalog.list_all() if not d.deleted]
    granted: dict[str, list[Grant]] = {}
    if not principal.is_admin:
        grantees = [(GranteeType.USER, cur.sub)] + [(GranteeType.GROUP, g) for g in principal.groups]
        granted = cur.services.grants.datasets_granted_to(grantees)
    own = set(principal.organisations)

    def may(d: Dataset, activity: Activity) -> bool:
        return (
            principal.is_admin
            or d.owner_org in own
            or (d.id in granted and decide(principal, activity, d.owner_org, granted[d.id], cur.now).allowed)
        )

    def listed(d: Dataset) -> bool:
        if not may(d, Activity.META_VISIBLE):
            return False
        if may(d, Activity.META_READ):
            return wanted.matches(d)
        return not blind and visible_only.matches(_title_only(d))

    visible = [d for d in candidates if listed(d)]
    page, token = catalog.paginate(visible, limit, next_token)
    items = []
    for d in page:
        access = cur.held(d, granted.get(d.id, []))
        if Activity.META_READ.value in access:
            items.append(
                DatasetSummary(
                    id=d.id,
                    title=d.title,
                    owner_org=d.owner_org,
                    access=access,
                    tags=list(d.tags),
                    description=str(d.metadata.get("description", "")),
                    metadata_version=d.metadata_version,
                    updated_at=d.updated_at.isoformat(),
                )
            )
        else:  # meta-visible only: the dataset exists, nothing more
            items.append(DatasetSummary(id=d.id, title=d.title, owner_org=d.owner_org, access=access))
    cur.record.allow("admin:platform-admin" if principal.is_admin else "policy-filtered")
    cur.record.detail.update({"returned": len(items), "filters": wanted.__dict__})
    # Built as a model (so it is valid) and serialised by pydantic-core in one go: listings are the
    # largest bodies, and Powertools' generic encoder walks them in Python. Documented in `responses`.
    listing = DatasetList(items=items, next_token=token)
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=listing.model_dump_json()
    )


@router.get(
    "/datasets/<dataset_id>",
    operation_id="dataset.read",
    tags=TAGS,
    summary="Dataset metadata",
    responses=with_success(refusals(ForbiddenError, DatasetDeletedError)),
)
def get_dataset(dataset_id: PathId) -> DatasetView:
    cur = _cur()
    dataset, grants = cur.dataset(dataset_id, Activity.META_READ)
    return _view(dataset, cur.held(dataset, grants))


@router.patch(
    "/datasets/<dataset_id>",
    operation_id="dataset.update",
    tags=TAGS,
    summary="Edit metadata (each edit is a new metadata version)",
    responses=with_success(
        refusals(
            ForbiddenError,
            DatasetDeletedError,
            NoChangeError,
            JsonTooDeepError,
            JsonTooManyKeysError,
            JsonTooLargeError,
            ConflictError,
        )
    ),
)
def patch_dataset(dataset_id: PathId, body: MetadataPatch) -> DatasetView:
    cur = _cur()
    dataset, grants = cur.dataset(dataset_id, Activity.META_UPDATE, live=True)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise NoChangeError("the patch names no field")
    _check_free_json(cur, changes.get("structure"))
    updated, meta = catalog.apply_patch(dataset, changes, cur.sub, cur.now)
    _check_free_json(cur, None, updated.metadata)
    cur.record.detail.update({"metadata_version": meta.version, "changed": list(meta.changed)})
    with cur.changing(200):
        cur.services.catalog.save_metadata(updated, meta)
    return _view(updated, cur.held(updated, grants))


@router.get(
    "/datasets/<dataset_id>/history",
    operation_id="dataset.history",
    tags=TAGS,
    summary="Every metadata version, oldest first",
    responses=with_success(refusals(ForbiddenError, DatasetDeletedError)),
)
def dataset_history(dataset_id: PathId) -> History:
    cur = _cur()
    cur.dataset(dataset_id, Activity.META_READ)
    versions = [
        HistoryEntry(
            version=m.version,
            metadata=m.metadata,
            changed=list(m.changed),
            edited_by=m.edited_by,
            edited_at=m.edited_at.isoformat(),
        )
        for m in cur.services.catalog.history(dataset_id)
    ]
    return History(dataset_id=dataset_id, versions=versions)


@router.post(
    "/datasets/<dataset_id>/versions",
    operation_id="dataset.version.create",
    tags=TAGS,
    status_code=201,
    summary="A new file version: presigned POST",
    responses=with_success(
        refusals(ForbiddenError, DatasetDeletedError, FileTooLargeError, ConflictError), 201, "Created"
    ),
)
def new_version(dataset_id: PathId, body: NewVersionRequest) -> VersionCreated:
    cur = _cur()
    dataset, _ = cur.dataset(dataset_id, Activity.META_UPDATE, live=True)
    max_bytes = _upload_limit(cur, body.size_bytes)
    updated, file = catalog.add_file_version(
        dataset, body.file_name, body.content_type, max_bytes, cur.sub, cur.now
    )
    cur.record.detail.update({"file_version": file.version, "key": file.key})
    with cur.changing(201):
        cur.services.catalog.save_file_version(updated, file)
    return VersionCreated(dataset_id=dataset_id, upload=_presign(cur, file))


@router.get(
    "/datasets/<dataset_id>/download",
    operation_id="dataset.download",
    tags=TAGS,
    summary="A presigned GET for the latest file (valid at most 5 minutes); the purpose is recorded",
    responses=with_success(refusals(ForbiddenError, DatasetDeletedError, NoFileError)),
)
def download(
    dataset_id: PathId,
    purpose: Annotated[str, Query(min_length=3, max_length=500, description="why you need the data")],
) -> Download:
    cur = _cur()
    cur.record.purpose = purpose
    dataset, _ = cur.dataset(dataset_id, Activity.FILE_READ, live=True)
    if dataset.file is None:
        raise NoFileError("the dataset has no file yet")
    key = dataset.file.key
    if not key.startswith(DATASETS_PREFIX):
        raise NoFileError("the dataset's file is not in the datasets area")
    signed = cur.services.files.presign_get(key, dataset.file.file_name, DOWNLOAD_EXPIRY_SECONDS)
    cur.record.detail.update({"file_version": dataset.file.version, "key": key})
    return Download(
        url=signed.url, key=key, version=dataset.file.version, expires_at=signed.expires_at.isoformat()
    )


@router.delete(
    "/datasets/<dataset_id>",
    operation_id="dataset.delete",
    tags=TAGS,
    summary="Soft delete: hidden from listings, no downloads; records and files kept",
    responses=with_success(refusals(ForbiddenError, DatasetDeletedError, ConflictError)),
)
def delete_dataset(dataset_id: PathId) -> Deleted:
    cur = _cur()
    dataset, _ = cur.dataset(dataset_id, Activity.META_UPDATE)
    principal = cur.principal
    if not principal.is_admin and dataset.owner_org not in principal.organisations:
        cur.record.deny("owner-only")
        raise ForbiddenError("only the owning organisation may delete a dataset")
    deleted = catalog.soft_delete(dataset, cur.sub, cur.now)
    with cur.changing(200):
        cur.services.catalog.save_deleted(deleted)
    return Deleted(id=dataset_id, deleted_at=iso(deleted.deleted_at) or "")
