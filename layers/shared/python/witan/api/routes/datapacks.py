"""Datapacks: draft, fill, seal, share, export, verify.

Access to a pack uses the datastore's activities, grants, purposes and expiry (witan.access.policy) on
the pack itself: meta-visible (listed), meta-read (description, members, verify), meta-update (edit the
draft, add and remove members, seal), file-read (export), share (grants). Members are checked against
their own sources: only what the author may read can be added (a dataset's file: file-read; its
metadata only: meta-read; a model run: may see the run and file-read every dataset it read), and a
personal-data member's bytes go into an export only for a caller holding file-read on its dataset.
Re-running a pack (`POST .../reproduce`) needs file-read on the pack: the runs read the inputs where
they were sealed from, after checking they still hash to the sealed bytes (which the pack already lets
the caller read); a personal input also needs the caller's own file-read on its dataset.
Each route's `operation_id` is its audit action; changes are recorded before they are made, and the
seal's event carries the manifest's SHA-256, so the audit chain vouches for the seal.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from witan.access.policy import decide, decide_revoke, held_activities
from witan.access.records import Activity, Grant, GranteeType
from witan.api.bodies import (
    STRICT,
    AccessEntryView,
    Body,
    ContentType,
    DatasetId,
    FileName,
    Granted,
    GrantRequest,
    OrgGroup,
    RevokedGrant,
    RevokeRequest,
    Tag,
    with_success,
)
from witan.api.current import EVERYTHING, Current, current, iso
from witan.api.deps import DOWNLOAD_EXPIRY_SECONDS, UPLOAD_EXPIRY_SECONDS, DatapackPorts
from witan.api.errors import refusals
from witan.api.routes.grants import access_entries, granted, requested_grant
from witan.catalog.records import Dataset
from witan.datapacks import records as packs
from witan.datapacks.gather import draft_key, run_sources
from witan.datapacks.records import Member, MemberKind, Pack, Role
from witan.errors import (
    ConflictError,
    DatapacksUnavailableError,
    DatasetDeletedError,
    DuplicateMemberError,
    DuplicatePathError,
    EmptyPackError,
    FileTooLargeError,
    ForbiddenError,
    GrantNotFoundError,
    InputChangedError,
    InvalidMemberError,
    MemberFileMissingError,
    MemberNotFoundError,
    MissingFieldError,
    ModelRunsUnavailableError,
    NoChangeError,
    NoFileError,
    NoModelRunError,
    NotFoundError,
    OrganisationRequiredError,
    PackNotSealedError,
    PackSealedError,
    PackTooLargeError,
    RunInputsUnknownError,
    RunNotFinishedError,
    TooManyMembersError,
)
from witan.modelrun.records import RunRecord
from witan.settings import DATASETS_PREFIX

router = Router()
TAGS = ["datapacks"]
PACK_ID_PATTERN = packs.PACK_ID_PATTERN
PackId = Annotated[str, Field(pattern=PACK_ID_PATTERN)]
PathPackId = Annotated[PackId, Path(description="pack id (32 hex characters)")]
MemberId = Annotated[str, Path(pattern=packs.MEMBER_ID_PATTERN, description="member id, e.g. m3")]
RunId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,80}$")]
SEAL_ACTION = "datapack.seal"


# --- bodies -------------------------------------------------------------------------------------------


class CreatePackRequest(BaseModel):
    model_config = STRICT
    title: Annotated[str, Field(min_length=1, max_length=200)]
    summary: Annotated[str, Field(max_length=10_000)] = ""
    conclusions: Annotated[str, Field(max_length=50_000, description="Markdown")] = ""
    licence: Annotated[str, Field(max_length=200)] = ""
    tags: Annotated[list[Tag], Field(max_length=20)] = Field(default_factory=list)
    organisation: OrgGroup | None = Field(None, description="owner; needed if you are in several")
    supersedes: PackId | None = Field(None, description="the sealed pack this edition replaces")


class PackPatch(BaseModel):
    model_config = STRICT
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    summary: Annotated[str, Field(max_length=10_000)] | None = None
    conclusions: Annotated[str, Field(max_length=50_000)] | None = None
    licence: Annotated[str, Field(max_length=200)] | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None


class AddMemberRequest(BaseModel):
    """One member: a dataset's file version (`dataset`, `version`), its metadata only (`dataset`), a
    model run (`model_run`), or a file of the pack's own (`file_name`: you get a presigned POST)."""

    model_config = STRICT
    kind: Literal["dataset-file", "dataset-metadata", "model-run", "pack-file"]
    role: Literal["input", "output", "script", "chart", "report", "other"]
    caption: Annotated[str, Field(max_length=2000)] = ""
    dataset: DatasetId | None = None
    version: Annotated[int, Field(ge=1, le=999_999)] | None = Field(None, description="default: the latest")
    model_run: RunId | None = None
    file_name: FileName | None = None
    content_type: ContentType | None = None
    size_bytes: Annotated[int, Field(ge=1)] | None = None


class MemberView(Body):
    id: str
    kind: str
    role: str
    caption: str
    added_by: str
    added_at: str
    personal: bool
    dataset_id: str | None = None
    version: int | None = None
    s3_version_id: str | None = None
    run_id: str | None = None
    file_name: str | None = None
    metadata: dict[str, Any] | None = None


class PackView(Body):
    id: str
    owner_org: str
    title: str
    summary: str
    conclusions: str
    licence: str
    tags: list[str]
    status: str = Field(description="draft or sealed")
    supersedes: str | None = None
    created_by: str
    created_at: str
    updated_at: str
    sealed_at: str | None = None
    sealed_by: str | None = None
    manifest_sha256: str | None = None
    seal_event_id: str | None = None
    members: list[MemberView] = Field(default_factory=list)
    access: list[str] = Field(default_factory=list)


class PackSummary(Body):
    id: str
    owner_org: str
    title: str
    status: str
    access: list[str]
    sealed_at: str | None = None


class PackList(Body):
    items: list[PackSummary]


class UploadView(Body):
    url: str
    fields: dict[str, str]
    key: str
    expires_at: str
    max_bytes: int


class MemberAdded(Body):
    pack: PackView
    member: MemberView
    upload: UploadView | None = Field(None, description="pack files: POST the file here (15 minutes)")


class MemberRemoved(Body):
    pack_id: str
    member_id: str
    removed: bool


class Sealed(Body):
    pack: PackView
    manifest_sha256: str
    files: int
    withheld: int = Field(description="personal-data files kept in their datasets (pinned by hash)")
    retain_until: str


class ExportLink(Body):
    url: str = Field(description="presigned GET of the zip, valid at most 5 minutes")
    key: str
    expires_at: str
    bytes: int
    withheld: list[str] = Field(description="personal-data files exported as references, without bytes")


class VerifyResult(Body):
    ok: bool
    manifest_sha256: str | None = None
    recorded_sha256: str | None = Field(None, description="the hash the seal's audit event holds")
    audit_event_id: str | None = None
    checked: int
    changed: list[str]
    missing: list[str]
    added: list[str]
    withheld: list[str]
    problems: list[str]


class PackGrantView(Granted):
    pack_id: str


class PackRevoked(RevokedGrant):
    pack_id: str


class PackAccessList(Body):
    pack_id: str
    entries: list[AccessEntryView]


# --- ports --------------------------------------------------------------------------------------------


def ports(cur: Current) -> DatapackPorts:
    if cur.services.datapacks is None:
        raise DatapacksUnavailableError()
    return cur.services.datapacks()


# --- helpers ------------------------------------------------------------------------------------------


def _cur() -> Current:
    return current(router.context)


def _member_view(member: Member) -> MemberView:
    return MemberView(
        id=member.id,
        kind=member.kind.value,
        role=member.role.value,
        caption=member.caption,
        added_by=member.added_by,
        added_at=member.added_at.isoformat(),
        personal=member.personal,
        dataset_id=member.dataset_id,
        version=member.version,
        s3_version_id=member.s3_version_id,
        run_id=member.run_id,
        file_name=member.file_name,
        metadata=member.metadata,
    )


def _held(cur: Current, pack: Pack, grants: list[Grant]) -> list[str]:
    if cur.principal.is_admin or pack.owner_org in cur.principal.organisations:
        return list(EVERYTHING)
    return sorted(a.value for a in held_activities(cur.principal, pack.owner_org, grants, cur.now))


def _view(cur: Current, pack: Pack, grants: list[Grant]) -> PackView:
    return PackView(
        id=pack.id,
        owner_org=pack.owner_org,
        title=pack.title,
        summary=pack.summary,
        conclusions=pack.conclusions,
        licence=pack.licence,
        tags=list(pack.tags),
        status=pack.status.value,
        supersedes=pack.supersedes,
        created_by=pack.created_by,
        created_at=pack.created_at.isoformat(),
        updated_at=pack.updated_at.isoformat(),
        sealed_at=iso(pack.sealed_at),
        sealed_by=pack.sealed_by,
        manifest_sha256=pack.manifest_sha256,
        seal_event_id=pack.seal_event_id,
        members=[_member_view(m) for m in pack.members],
        access=_held(cur, pack, grants),
    )


def _pack(cur: Current, pack_id: str, activity: Activity) -> tuple[Pack, int, list[Grant]]:
    """Load the pack and apply the policy on it; refuse (and say why in the audit)."""
    cur.record.resource = f"datapack/{pack_id}"
    store = ports(cur).packs
    found = store.get_with_rev(pack_id)
    if found is None:
        cur.record.deny("no-such-pack")
        raise NotFoundError(f"no pack {pack_id}")
    pack, rev = found
    grants = store.grants_for(pack_id)
    decision = decide(cur.principal, activity, pack.owner_org, grants, cur.now)
    cur.record.detail["activity"] = activity.value
    if decision.grant is not None and decision.grant.purpose is not None:
        cur.record.detail["grant_purpose"] = decision.grant.purpose.code
    if not decision.allowed:
        cur.record.deny(decision.reason)
        if not decision.visible:
            raise NotFoundError(f"no pack {pack_id}")
        raise ForbiddenError(f"you may not {activity.value} this pack")
    cur.record.allow(decision.reason)
    return pack, rev, grants


def _may_dataset(cur: Current, dataset_id: str, activity: Activity, why: str) -> Dataset:
    """The caller's right on a member's dataset (the pack stays the audited resource)."""
    dataset = cur.services.catalog.get(dataset_id)
    grants = cur.services.grants.grants_for(dataset_id) if dataset is not None else []
    decision = (
        decide(cur.principal, activity, dataset.owner_org, grants, cur.now) if dataset is not None else None
    )
    checks = cur.record.detail.setdefault("member_checks", [])
    checks.append({"dataset": dataset_id, "activity": activity.value, "reason": decision and decision.reason})
    if dataset is None or decision is None or not decision.allowed:
        cur.record.deny(f"{why}:{dataset_id}:{decision.reason if decision else 'no-such-dataset'}")
        if dataset is None or decision is None or not decision.visible:
            raise NotFoundError(f"no dataset {dataset_id}")
        raise ForbiddenError(f"you may not {activity.value} dataset {dataset_id}")
    if dataset.deleted:
        raise DatasetDeletedError(dataset_id=dataset_id)
    return dataset


def _personal(dataset: Dataset) -> bool:
    return dataset.metadata.get("personal_data") is True


def _visible_run(cur: Current, run_id: str) -> RunRecord:
    from witan.api.routes.model_runs import visibility

    run = ports(cur).get_run(run_id)
    reason = visibility(cur.principal, run) if run else None
    if run is None or reason is None:
        cur.record.deny(f"run-not-visible:{run_id}")
        raise NotFoundError(f"no model run {run_id}")
    return run


def _run_readable(cur: Current, run_id: str, depth: int = 0) -> tuple[RunRecord, set[str]]:
    """The run, if the caller may see it and read every dataset it read (following runs it took
    inputs from); and the ids of those datasets that hold personal data."""
    run = _visible_run(cur, run_id)
    if not run.succeeded:
        raise RunNotFinishedError(f"run {run_id} is {run.status}")
    sources = run_sources(run.inputs)
    if not sources.datasets and not sources.runs:
        raise RunInputsUnknownError(
            f"run {run_id} does not record its inputs: it cannot be re-run from a pack"
        )
    personal: set[str] = set()
    for dataset_id, _ in sources.datasets:
        if _personal(_may_dataset(cur, dataset_id, Activity.FILE_READ, "run-input-not-readable")):
            personal.add(dataset_id)
    for source_run in sources.runs:
        if depth < 5:  # chains are short; a loop in records must not spin
            _visible_run(cur, source_run)
    return run, personal


def _save(cur: Current, pack: Pack, rev: int) -> None:
    ports(cur).packs.save(pack, rev)


# --- packs --------------------------------------------------------------------------------------------


@router.post(
    "/datapacks",
    operation_id="datapack.create",
    tags=TAGS,
    status_code=201,
    summary="Start a draft pack (title, summary, conclusions in Markdown, licence, tags)",
    responses=with_success(
        refusals(
            DatapacksUnavailableError,
            ForbiddenError,
            OrganisationRequiredError,
            PackNotSealedError,
            ConflictError,
        ),
        201,
        "Created",
    ),
)
def create_pack(body: CreatePackRequest) -> PackView:
    cur = _cur()
    principal = cur.principal
    org = body.organisation
    if org is None:
        if len(principal.organisations) != 1:
            cur.record.deny("organisation-required")
            raise OrganisationRequiredError(purpose="owns the pack")
        org = principal.organisations[0]
    if org not in principal.organisations and not principal.is_admin:
        cur.record.deny(f"not-member:{org}")
        raise ForbiddenError(f"you are not a member of {org}")
    if body.supersedes is not None:
        old, _, _ = _pack(cur, body.supersedes, Activity.META_READ)
        if not old.sealed:
            raise PackNotSealedError("a new edition supersedes a sealed pack")
    pack_id = packs.new_pack_id()
    pack = packs.create(
        pack_id,
        org,
        cur.sub,
        cur.now,
        title=body.title,
        summary=body.summary,
        conclusions=body.conclusions,
        licence=body.licence,
        tags=tuple(body.tags),
        supersedes=body.supersedes,
    )
    cur.record.resource = f"datapack/{pack_id}"
    cur.record.allow(f"admin:{org}" if org not in principal.organisations else f"member:{org}")
    cur.record.detail.update({"organisation": org, "supersedes": body.supersedes})
    store = ports(cur).packs
    with cur.changing(201):
        store.create(pack)
    return _view(cur, pack, [])


@router.get(
    "/datapacks",
    operation_id="datapack.list",
    tags=TAGS,
    summary="Packs you may see",
    responses=with_success(refusals(DatapacksUnavailableError)),
)
def list_packs(
    status: Annotated[Literal["draft", "sealed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> PackList:
    cur = _cur()
    items = []
    for pack, grants in ports(cur).packs.list_with_grants():
        if status is not None and pack.status.value != status:
            continue
        if not decide(cur.principal, Activity.META_VISIBLE, pack.owner_org, grants, cur.now).allowed:
            continue
        items.append(
            PackSummary(
                id=pack.id,
                owner_org=pack.owner_org,
                title=pack.title,
                status=pack.status.value,
                access=_held(cur, pack, grants),
                sealed_at=iso(pack.sealed_at),
            )
        )
    items = items[:limit]
    cur.record.allow("admin:platform-admin" if cur.principal.is_admin else "policy-filtered")
    cur.record.detail.update({"returned": len(items), "status": status})
    return PackList(items=items)


@router.get(
    "/datapacks/<pack_id>",
    operation_id="datapack.read",
    tags=TAGS,
    summary="A pack: description, members, seal",
    responses=with_success(refusals(DatapacksUnavailableError, ForbiddenError)),
)
def get_pack(pack_id: PathPackId) -> PackView:
    cur = _cur()
    pack, _, grants = _pack(cur, pack_id, Activity.META_READ)
    return _view(cur, pack, grants)


@router.patch(
    "/datapacks/<pack_id>",
    operation_id="datapack.update",
    tags=TAGS,
    summary="Edit a draft's description",
    responses=with_success(
        refusals(DatapacksUnavailableError, ForbiddenError, NoChangeError, PackSealedError, ConflictError)
    ),
)
def patch_pack(pack_id: PathPackId, body: PackPatch) -> PackView:
    cur = _cur()
    pack, rev, grants = _pack(cur, pack_id, Activity.META_UPDATE)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise NoChangeError("the patch names no field")
    updated = packs.edit(pack, changes, cur.now)
    cur.record.detail["changed"] = sorted(changes)
    with cur.changing(200):
        _save(cur, updated, rev)
    return _view(cur, updated, grants)


# --- members ------------------------------------------------------------------------------------------


def _dataset_member(cur: Current, body: AddMemberRequest) -> Member:
    if body.dataset is None:
        raise MissingFieldError("dataset is required for this kind")
    base = Member(
        id="",
        kind=MemberKind(body.kind),
        role=Role(body.role),
        caption=body.caption,
        added_by=cur.sub,
        added_at=cur.now,
        dataset_id=body.dataset,
    )
    if body.kind == MemberKind.DATASET_METADATA.value:
        dataset = _may_dataset(cur, body.dataset, Activity.META_READ, "member-not-readable")
        return replace(base, metadata=dict(dataset.metadata), personal=_personal(dataset))
    dataset = _may_dataset(cur, body.dataset, Activity.FILE_READ, "member-not-readable")
    if dataset.file is None or not dataset.file.key.startswith(DATASETS_PREFIX):
        raise NoFileError(f"dataset {body.dataset} has no file yet")
    version = body.version or dataset.file.version
    objects = ports(cur).objects
    if version == dataset.file.version:
        key = dataset.file.key
    elif version < dataset.file.version:
        keys = objects.list_data(f"{DATASETS_PREFIX}{dataset.id}/{version}/")
        if len(keys) != 1:
            raise NoFileError(f"dataset {dataset.id} version {version} has no single file")
        key = keys[0]
    else:
        raise NotFoundError(f"dataset {dataset.id} has no version {version}")
    version_id = objects.data_version_id(key)
    if version_id is None:
        raise NoFileError(f"dataset {dataset.id} version {version}: the file was never uploaded")
    return replace(
        base,
        version=version,
        key=key,
        s3_version_id=version_id,
        file_name=key.rsplit("/", 1)[-1],
        personal=_personal(dataset),
    )


@router.post(
    "/datapacks/<pack_id>/members",
    operation_id="datapack.member.add",
    tags=TAGS,
    status_code=201,
    summary="Add a member to a draft: a dataset file version, a dataset's metadata, a model run, or a "
    "file of the pack's own (presigned POST)",
    responses=with_success(
        refusals(
            DatapacksUnavailableError,
            ForbiddenError,
            DatasetDeletedError,
            DuplicateMemberError,
            FileTooLargeError,
            NoFileError,
            PackSealedError,
            RunInputsUnknownError,
            RunNotFinishedError,
            TooManyMembersError,
            ConflictError,
        ),
        201,
        "Created",
    ),
)
def add_member(pack_id: PathPackId, body: AddMemberRequest) -> MemberAdded:
    cur = _cur()
    pack, rev, grants = _pack(cur, pack_id, Activity.META_UPDATE)
    if pack.sealed:
        raise PackSealedError("a sealed pack never changes: make a new pack that supersedes it")
    upload: UploadView | None = None
    if body.kind in (MemberKind.DATASET_FILE.value, MemberKind.DATASET_METADATA.value):
        member = _dataset_member(cur, body)
    elif body.kind == MemberKind.MODEL_RUN.value:
        if body.model_run is None:
            raise MissingFieldError("model_run is required for a model-run member")
        _, personal = _run_readable(cur, body.model_run)
        member = Member(
            id="",
            kind=MemberKind.MODEL_RUN,
            role=Role(body.role),
            caption=body.caption,
            added_by=cur.sub,
            added_at=cur.now,
            run_id=body.model_run,
            personal=bool(personal),
        )
    else:
        if body.file_name is None:
            raise MissingFieldError("file_name is required for a pack file")
        member = Member(
            id="",
            kind=MemberKind.PACK_FILE,
            role=Role(body.role),
            caption=body.caption,
            added_by=cur.sub,
            added_at=cur.now,
            file_name=packs.safe_name(body.file_name),
            content_type=body.content_type or "application/octet-stream",
        )
    updated = packs.add_member(pack, member, cur.now)
    added = updated.members[-1]
    cur.record.detail.update({"member": added.id, "kind": added.kind.value, "personal": added.personal})
    for name in ("dataset_id", "version", "s3_version_id", "run_id", "file_name"):
        if getattr(added, name) is not None:
            cur.record.detail[name] = getattr(added, name)
    with cur.changing(201):
        _save(cur, updated, rev)
    if added.kind is MemberKind.PACK_FILE:
        limit = cur.services.max_upload_bytes
        if body.size_bytes is not None and body.size_bytes > limit:
            raise FileTooLargeError(f"size_bytes exceeds the limit of {limit} bytes")
        post = ports(cur).objects.presign_post(
            draft_key(pack.id, added),
            added.content_type or "",
            body.size_bytes or limit,
            UPLOAD_EXPIRY_SECONDS,
        )
        upload = UploadView(
            url=post.url,
            fields=post.fields,
            key=post.key,
            expires_at=post.expires_at.isoformat(),
            max_bytes=body.size_bytes or limit,
        )
    return MemberAdded(pack=_view(cur, updated, grants), member=_member_view(added), upload=upload)


@router.delete(
    "/datapacks/<pack_id>/members/<member_id>",
    operation_id="datapack.member.remove",
    tags=TAGS,
    summary="Remove a member from a draft",
    responses=with_success(
        refusals(
            DatapacksUnavailableError, ForbiddenError, MemberNotFoundError, PackSealedError, ConflictError
        )
    ),
)
def remove_member(pack_id: PathPackId, member_id: MemberId) -> MemberRemoved:
    cur = _cur()
    pack, rev, _ = _pack(cur, pack_id, Activity.META_UPDATE)
    updated, member = packs.remove_member(pack, member_id, cur.now)
    cur.record.detail.update({"member": member.id, "kind": member.kind.value})
    with cur.changing(200):
        _save(cur, updated, rev)
    return MemberRemoved(pack_id=pack_id, member_id=member_id, removed=True)


# --- seal, export, verify -----------------------------------------------------------------------------


def _member_sources(cur: Current, pack: Pack) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """Re-check, at seal time, that the sealer may still read every member; the personal datasets, and
    the Table Schema of each dataset file member whose `structure` is one."""
    from witan.datapacks.gather import dataset_schema

    personal: set[str] = set()
    schemas: dict[str, dict[str, Any]] = {}
    for member in pack.members:
        if member.kind is MemberKind.DATASET_FILE and member.dataset_id:
            dataset = _may_dataset(cur, member.dataset_id, Activity.FILE_READ, "member-not-readable")
            if _personal(dataset):
                personal.add(member.dataset_id)
            schema = dataset_schema(dataset.metadata)
            if schema is not None:
                schemas[member.dataset_id] = schema
        elif member.kind is MemberKind.MODEL_RUN and member.run_id:
            personal |= _run_readable(cur, member.run_id)[1]
    return personal, schemas


@router.post(
    "/datapacks/<pack_id>/seal",
    operation_id=SEAL_ACTION,
    tags=TAGS,
    summary="Seal: hash every member's bytes, copy the non-personal ones under Object Lock, write the "
    "manifest; its SHA-256 is recorded in the audit trail",
    responses=with_success(
        refusals(
            DatapacksUnavailableError,
            ForbiddenError,
            DatasetDeletedError,
            EmptyPackError,
            PackSealedError,
            RunInputsUnknownError,
            RunNotFinishedError,
            MemberFileMissingError,
            PackTooLargeError,
            DuplicatePathError,
            InvalidMemberError,
            ConflictError,
        )
    ),
)
def seal_pack(pack_id: PathPackId) -> Sealed:
    from witan.datapacks.gather import manifest_key, member_files, sealed_key
    from witan.datapacks.manifest import MANIFEST_NAME, build_manifest, manifest_bytes, media_type, sha256_hex

    cur = _cur()
    pack, rev, grants = _pack(cur, pack_id, Activity.META_UPDATE)
    if pack.sealed:
        raise PackSealedError("the pack is sealed already")
    if not pack.members:
        raise EmptyPackError()
    p = ports(cur)
    personal, schemas = _member_sources(cur, pack)
    files, runs = member_files(pack, p.objects, personal, schemas)
    manifest = build_manifest(pack, files, runs, cur.sub, cur.now)
    sealed = packs.mark_sealed(pack, "", cur.sub, cur.now)
    body = manifest_bytes(manifest)
    digest = sha256_hex(body)
    kept = [f for f in files if not f.personal]
    cur.record.detail.update(
        {
            "manifest_sha256": digest,
            "files": len(files),
            "withheld": len(files) - len(kept),
            "bytes": sum(len(f.data) for f in files),
            "members": [m.id for m in pack.members],
        }
    )
    with cur.changing(200):
        versions = {
            f.path: p.objects.put_sealed(sealed_key(pack.id, f.path), f.data, media_type(f.path), cur.now)
            for f in kept
        }
        versions[MANIFEST_NAME] = p.objects.put_sealed(
            manifest_key(pack.id), body, "application/json", cur.now
        )
        sealed = replace(
            sealed,
            manifest_sha256=digest,
            seal_event_id=cur.record.recorded_id,
            extra={**sealed.extra, "sealed_versions": versions},
        )
        _save(cur, sealed, rev)
    return Sealed(
        pack=_view(cur, sealed, grants),
        manifest_sha256=digest,
        files=len(files),
        withheld=len(files) - len(kept),
        retain_until=p.objects.retain_until(cur.now).isoformat(),
    )


def _sealed_version(pack: Pack, path: str) -> str | None:
    """The object version the seal wrote (later writes at the same key are never read)."""
    versions = pack.extra.get("sealed_versions") or {}
    return versions.get(path) if isinstance(versions, dict) else None


def _sealed_file(cur: Current, pack: Pack, path: str) -> bytes | None:
    from witan.datapacks.gather import sealed_key

    data: bytes | None = ports(cur).objects.pack_object(
        sealed_key(pack.id, path), _sealed_version(pack, path)
    )
    return data


def _sealed_manifest(cur: Current, pack: Pack) -> tuple[bytes, dict[str, Any]]:
    from witan.datapacks.gather import manifest_key

    if not pack.sealed:
        raise PackNotSealedError("seal the pack first")
    body = ports(cur).objects.pack_object(manifest_key(pack.id), _sealed_version(pack, "manifest.json"))
    if body is None:
        raise MemberFileMissingError("the sealed manifest is missing from the packs bucket")
    return body, json.loads(body)


def _personal_bytes(cur: Current, entry: dict[str, Any]) -> bytes | None:
    """A personal file's bytes from its own dataset (pinned object version where there is one)."""
    source = entry.get("source") or {}
    key = source.get("key")
    if not isinstance(key, str):
        return None
    data: bytes | None = ports(cur).objects.data_object(key, source.get("s3_version_id"))
    return data


def _may_read_personal(cur: Current, entry: dict[str, Any], cache: dict[str, bool]) -> bool:
    dataset_id = str((entry.get("source") or {}).get("dataset_id") or "")
    if dataset_id not in cache:
        dataset = cur.services.catalog.get(dataset_id) if dataset_id else None
        grants = cur.services.grants.grants_for(dataset_id) if dataset is not None else []
        cache[dataset_id] = (
            dataset is not None
            and decide(cur.principal, Activity.FILE_READ, dataset.owner_org, grants, cur.now).allowed
        )
    return cache[dataset_id]


@router.get(
    "/datapacks/<pack_id>/export",
    operation_id="datapack.export",
    tags=TAGS,
    summary="A zip of the sealed pack (datapackage.json, ro-crate-metadata.json, README.md, manifest, "
    "files): presigned GET; personal-data files only for callers with their own grant",
    responses=with_success(
        refusals(DatapacksUnavailableError, ForbiddenError, MemberFileMissingError, PackNotSealedError)
    ),
)
def export_pack(
    pack_id: PathPackId,
    purpose: Annotated[str | None, Query(min_length=3, max_length=500, description="why (recorded)")] = None,
) -> ExportLink:
    from witan.datapacks.bundle import export_zip
    from witan.datapacks.gather import EXPORTS_PREFIX

    cur = _cur()
    cur.record.purpose = purpose
    pack, _, _ = _pack(cur, pack_id, Activity.FILE_READ)
    _, manifest = _sealed_manifest(cur, pack)
    objects = ports(cur).objects
    contents: dict[str, bytes] = {}
    cache: dict[str, bool] = {}
    for entry in manifest["files"]:
        if entry.get("personal"):
            if not _may_read_personal(cur, entry, cache):
                continue
            data = _personal_bytes(cur, entry)
        else:
            data = _sealed_file(cur, pack, entry["path"])
        if data is None:
            raise MemberFileMissingError(f"{entry['path']} is missing from its store")
        contents[entry["path"]] = data
    zip_bytes, withheld = export_zip(manifest, pack.seal_event_id, contents)
    key = f"{EXPORTS_PREFIX}{pack.id}/{uuid.uuid4().hex}.zip"
    objects.put_export(key, zip_bytes)
    signed = objects.presign_get(key, f"datapack-{pack.id}.zip", DOWNLOAD_EXPIRY_SECONDS)
    cur.record.detail.update(
        {
            "key": key,
            "bytes": len(zip_bytes),
            "withheld": withheld,
            "personal_included": sorted(
                p for p in contents if any(e["path"] == p and e.get("personal") for e in manifest["files"])
            ),
        }
    )
    return ExportLink(
        url=signed.url,
        key=key,
        expires_at=signed.expires_at.isoformat(),
        bytes=len(zip_bytes),
        withheld=withheld,
    )


def _recorded_hash(cur: Current, pack: Pack) -> tuple[str | None, str | None]:
    """The manifest hash the seal's audit event holds, and that event's id."""
    page = cur.services.audit_reader.query_index(
        "by-resource",
        f"datapack/{pack.id}",
        since=None,
        until=None,
        filters={"action": SEAL_ACTION},
        limit=100,
        start_key=None,
    )
    for item in page.items:
        detail = item.get("detail")
        if isinstance(detail, str):
            try:
                detail = json.loads(detail)
            except ValueError:
                detail = {}
        event_id = f"{item.get('chain')}/{item.get('seq')}"
        if isinstance(detail, dict) and detail.get("manifest_sha256") and event_id == pack.seal_event_id:
            return str(detail["manifest_sha256"]), event_id
    return None, None


@router.get(
    "/datapacks/<pack_id>/verify",
    operation_id="datapack.verify",
    tags=TAGS,
    summary="Recompute every sealed file's hash against the manifest, and the manifest's against the "
    "audit trail's seal event",
    responses=with_success(
        refusals(DatapacksUnavailableError, ForbiddenError, MemberFileMissingError, PackNotSealedError)
    ),
)
def verify_pack(pack_id: PathPackId) -> VerifyResult:
    from witan.datapacks.bundle import verify_files
    from witan.datapacks.describe import generated_files
    from witan.datapacks.manifest import SEAL_NAME, seal_document, sha256_hex

    cur = _cur()
    pack, _, _ = _pack(cur, pack_id, Activity.META_READ)
    body, manifest = _sealed_manifest(cur, pack)
    files: dict[str, bytes] = {}
    for entry in manifest["files"]:
        # Personal files are checked where they live (their dataset); their bytes stay in this function.
        path = entry["path"]
        data = _personal_bytes(cur, entry) if entry.get("personal") else _sealed_file(cur, pack, path)
        if data is not None:
            files[entry["path"]] = data
    included = {e["path"] for e in manifest["files"]}
    files.update(generated_files(manifest, included))
    recorded, event_id = _recorded_hash(cur, pack)
    seal = seal_document(manifest, pack.manifest_sha256 or "", pack.seal_event_id)
    report = verify_files(body, seal, files, recorded_sha256=recorded, personal_may_be_withheld=False)
    if recorded is None:
        report.problems.append(f"no {SEAL_ACTION} audit event records this pack's manifest hash")
    cur.record.detail.update({"ok": report.ok, "manifest_sha256": sha256_hex(body), "seal_event": event_id})
    del files
    result = report.as_dict()
    result["problems"] = [p.replace(SEAL_NAME, "the pack record") for p in result["problems"]]
    return VerifyResult(**result, recorded_sha256=recorded, audit_event_id=event_id)


# --- reproduce ----------------------------------------------------------------------------------------


class Reproduction(Body):
    sealed_run: str
    run: str = Field(description="the new run, started on the state machine with the sealed run's request")
    check: str = Field(description="GET this once the run has finished: its outputs against the sealed ones")


class ReproduceStarted(Body):
    pack_id: str
    runs: list[Reproduction]


class OutputCheck(Body):
    path: str
    status: str
    ok: bool


class ReproduceCheck(Body):
    ok: bool
    status: str = Field(description="the new run's status: RUNNING, SUCCEEDED or FAILED")
    sealed_run: str
    run: str
    same_inputs: bool | None = None
    same_code: bool | None = None
    sealed_code_version: dict[str, Any] | None = None
    current_code_version: dict[str, Any] | None = None
    outputs: list[OutputCheck] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


PathRunId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,80}$", description="model run id")]


def _inputs_as_sealed(cur: Current, pack: Pack, run: dict[str, Any], files: dict[str, Any]) -> None:
    """Every input of a sealed run still holds, where the run reads it, the bytes the pack sealed; and
    the caller may read the personal ones."""
    from witan.datapacks.manifest import sha256_hex

    cache: dict[str, bool] = {}
    for spec in run["inputs"].values():
        for path in spec["files"]:
            entry = files[path]
            if entry.get("personal") and not _may_read_personal(cur, entry, cache):
                cur.record.deny(f"personal-input-not-readable:{path}")
                raise ForbiddenError(f"{path} is personal data you may not read: ask its owner")
            key = (entry.get("source") or {}).get("key")
            data = ports(cur).objects.data_object(str(key)) if key else None
            if data is None or sha256_hex(data) != entry["sha256"]:
                raise InputChangedError(path=path, key=key)


@router.post(
    "/datapacks/<pack_id>/reproduce",
    operation_id="datapack.reproduce",
    tags=TAGS,
    status_code=202,
    summary="Re-run every model run of a sealed pack on the state machine, from the sealed inputs "
    "(checked by hash where the runs read them), parameters, scenarios and seed",
    responses=with_success(
        refusals(
            DatapacksUnavailableError,
            ForbiddenError,
            InputChangedError,
            MemberFileMissingError,
            ModelRunsUnavailableError,
            NoModelRunError,
            PackNotSealedError,
        ),
        202,
        "Accepted: the runs are started",
    ),
)
def reproduce_pack(pack_id: PathPackId) -> ReproduceStarted:
    from witan.api.routes import model_runs
    from witan.modelrun.definition import BASELINE

    cur = _cur()
    pack, _, _ = _pack(cur, pack_id, Activity.FILE_READ)
    _, manifest = _sealed_manifest(cur, pack)
    if not manifest["runs"]:
        raise NoModelRunError()
    files = {e["path"]: e for e in manifest["files"]}
    for run in manifest["runs"]:
        _inputs_as_sealed(cur, pack, run, files)
    principal = cur.principal
    organisation = principal.organisations[0] if principal.organisations else pack.owner_org
    p = model_runs.ports(cur)
    started: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    for run in manifest["runs"]:
        new_id = uuid.uuid4().hex
        scenarios = [s["definition"] for s in run.get("scenarios") or [] if s.get("name") != BASELINE]
        started.append(
            (
                run,
                new_id,
                {
                    "run_id": new_id,
                    "model": run["model"],
                    "inputs": run["input_sources"],
                    "parameters": run["parameters"],
                    "scenarios": scenarios,
                    "simulations": run["simulations"],
                    "chunk_size": run["chunk_size"],
                    "seed": run["seed"],
                },
            )
        )
    cur.record.detail["reproductions"] = [{"sealed_run": r["run_id"], "run": n} for r, n, _ in started]
    cur.write_ahead(202)
    for run, new_id, run_input in started:
        p.runs.requested(
            new_id,
            model=run["model"],
            simulations=run["simulations"],
            seed=run["seed"],
            scenarios=[s["name"] for s in run_input["scenarios"]],
            requested_by=cur.sub,
            organisation=organisation,
            email=None,
            inputs=run["input_sources"],
            projection_years=(run.get("parameters") or {}).get("projection_years"),
        )
        try:
            arn = p.start(new_id, run_input)
        except Exception as exc:
            p.runs.failed(new_id, {"code": "start-failed", "message": type(exc).__name__})
            cur.record_outcome(503, "model-runs-unavailable")
            raise ModelRunsUnavailableError("a run could not be started; try again later") from exc
        p.runs.set_execution(new_id, arn)
    return ReproduceStarted(
        pack_id=pack_id,
        runs=[
            Reproduction(
                sealed_run=run["run_id"],
                run=new_id,
                check=f"/datapacks/{pack_id}/reproduce/{run['run_id']}/{new_id}",
            )
            for run, new_id, _ in started
        ],
    )


@router.get(
    "/datapacks/<pack_id>/reproduce/<sealed_run>/<run_id>",
    operation_id="datapack.reproduce.check",
    tags=TAGS,
    summary="A re-run's outputs against the sealed run's (identical bytes for CSV and Parquet, or CSV "
    "numbers equal to 1e-12), with the code version of both",
    responses=with_success(
        refusals(DatapacksUnavailableError, ForbiddenError, MemberFileMissingError, PackNotSealedError)
    ),
)
def check_reproduction(pack_id: PathPackId, sealed_run: PathRunId, run_id: PathRunId) -> ReproduceCheck:
    from witan.api.routes.model_runs import visibility
    from witan.datapacks.reproduce import compare_output_plain
    from witan.settings import MODELS_PREFIX

    cur = _cur()
    pack, _, _ = _pack(cur, pack_id, Activity.FILE_READ)
    _, manifest = _sealed_manifest(cur, pack)
    sealed = next((r for r in manifest["runs"] if r["run_id"] == sealed_run), None)
    if sealed is None:
        raise NotFoundError(f"the pack holds no run {sealed_run}")
    record = ports(cur).get_run(run_id)
    if record is None or visibility(cur.principal, record) is None:
        cur.record.deny(f"run-not-visible:{run_id}")
        raise NotFoundError(f"no model run {run_id}")
    cur.record.detail.update({"sealed_run": sealed_run, "run": run_id})
    status = record.status
    result = ReproduceCheck(ok=False, status=status, sealed_run=sealed_run, run=run_id)
    if status != "SUCCEEDED":
        return result
    objects = ports(cur).objects
    plan_bytes = objects.data_object(f"{MODELS_PREFIX}{run_id}/plan.json")
    plan = json.loads(plan_bytes) if plan_bytes else {}
    result.same_inputs = plan.get("input_hashes") == sealed.get("input_hashes")
    result.sealed_code_version = sealed.get("code_version")
    result.current_code_version = plan.get("code_version")
    result.same_code = result.sealed_code_version == result.current_code_version
    for name in ("model", "parameters", "seed", "simulations"):
        if plan.get(name) != sealed.get(name):
            result.problems.append(f"the run's {name} is not the sealed run's")
    if not result.same_inputs:
        result.problems.append("the run did not read the sealed inputs (their hashes differ)")
    prefix = f"runs/{sealed_run}/outputs/"
    for path in sealed["outputs"]:
        sealed_bytes = _sealed_file(cur, pack, path)
        if sealed_bytes is None:
            result.problems.append(f"{path} is missing from the packs bucket")
            continue
        rerun = objects.data_object(f"{MODELS_PREFIX}{run_id}/{path[len(prefix) :]}")
        compared = compare_output_plain(path, sealed_bytes, rerun)
        result.outputs.append(OutputCheck(path=path, status=compared.status, ok=compared.ok))
    result.ok = not result.problems and all(o.ok for o in result.outputs)
    cur.record.detail["ok"] = result.ok
    return result


# --- sharing ------------------------------------------------------------------------------------------


def _grant_view(pack_id: str, grant: Grant) -> PackGrantView:
    return PackGrantView(pack_id=pack_id, **granted(grant))


@router.put(
    "/datapacks/<pack_id>/grants",
    operation_id="datapack.grant.put",
    tags=TAGS,
    summary="Share the pack: add or replace one grantee's grant (members' personal data is never shared "
    "by this)",
    responses=with_success(refusals(DatapacksUnavailableError, ForbiddenError, ConflictError)),
)
def put_pack_grant(pack_id: PathPackId, body: GrantRequest) -> PackGrantView:
    cur = _cur()
    pack, _, grants = _pack(cur, pack_id, Activity.SHARE)
    grant, _ = requested_grant(cur, body, pack_id, pack.owner_org, grants)
    with cur.changing(200):
        ports(cur).packs.put_grant(pack, grant)
    return _grant_view(pack_id, grant)


@router.delete(
    "/datapacks/<pack_id>/grants",
    operation_id="datapack.grant.revoke",
    tags=TAGS,
    summary="Revoke one grantee's grant on the pack",
    responses=with_success(
        refusals(DatapacksUnavailableError, ForbiddenError, GrantNotFoundError, ConflictError)
    ),
)
def revoke_pack_grant(
    pack_id: PathPackId,
    grantee_type: Annotated[Literal["user", "group"], Query()],
    grantee: Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9:@._+-]+$")],
) -> PackRevoked:
    cur = _cur()
    pack, _, grants = _pack(cur, pack_id, Activity.SHARE)
    RevokeRequest(grantee_type=grantee_type, grantee=grantee)  # same rules as the datasets' revoke
    kind = GranteeType(grantee_type)
    target = next((g for g in grants if g.grantee_type is kind and g.grantee == grantee), None)
    cur.record.detail["grantee"] = f"{kind.value}:{grantee}"
    if target is None:
        raise GrantNotFoundError(grantee=f"{kind.value}:{grantee}")
    decision = decide_revoke(cur.principal, target, pack.owner_org, grants, cur.now)
    if not decision.allowed:
        cur.record.deny(decision.reason)
        raise ForbiddenError("you may not revoke this grant")
    with cur.changing(200):
        removed = ports(cur).packs.delete_grant(pack_id, kind, grantee)
    return PackRevoked(pack_id=pack_id, grantee_type=kind.value, grantee=grantee, revoked=removed)


@router.get(
    "/datapacks/<pack_id>/access",
    operation_id="datapack.access",
    tags=TAGS,
    summary="Who can do what on the pack, and through which grant",
    responses=with_success(refusals(DatapacksUnavailableError, ForbiddenError)),
)
def pack_access(pack_id: PathPackId) -> PackAccessList:
    cur = _cur()
    pack, _, grants = _pack(cur, pack_id, Activity.SHARE)
    return PackAccessList(pack_id=pack_id, entries=access_entries(pack.owner_org, grants, cur.now))
