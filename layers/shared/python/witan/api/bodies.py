"""Request and response bodies. Powertools validates requests against these and builds the OpenAPI
document from them. Strict: unknown fields are refused, no type coercion ("1" is not a number)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from witan.catalog.records import DATASET_ID_PATTERN, FILE_NAME_PATTERN
from witan.errors import JsonTooDeepError, JsonTooLargeError, JsonTooManyKeysError, WitanError

# Limits on free JSON (`structure`): deep enough for a Table Schema with constraints, far below
# DynamoDB's 32 levels and the parsers' recursion limits; keys counted over the whole value. The whole
# metadata, as stored, stays well inside a DynamoDB item (400 KB) whatever the text escapes to.
MAX_FREE_JSON_DEPTH = 12
MAX_FREE_JSON_KEYS = 2_000
MAX_FREE_JSON_BYTES = 64 * 1024
MAX_METADATA_BYTES = 300 * 1024


def free_json_problem(
    value: Any,
    where: str,
    max_bytes: int = MAX_FREE_JSON_BYTES,
    *,
    max_depth: int = MAX_FREE_JSON_DEPTH,
    max_keys: int = MAX_FREE_JSON_KEYS,
) -> WitanError | None:
    """The refusal when `value` is deeper, has more keys or is larger than the limits; else None.

    Walked without recursion, stopping at the first limit passed, so a hostile value costs little."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    keys = 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
            keys += len(item)
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return JsonTooDeepError(where=where, limit=max_depth)
        if keys > max_keys:
            return JsonTooManyKeysError(where=where, limit=max_keys)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > max_bytes:
        return JsonTooLargeError(where=where, size=size, limit=max_bytes)
    return None


# Schemas are built on first use, not at import: a cold start builds only what its request needs.
LAZY = ConfigDict(defer_build=True)
STRICT = ConfigDict(extra="forbid", strict=True, defer_build=True)


class Body(BaseModel):
    """Base of response bodies."""

    model_config = LAZY


Tag = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$", description="lower-case, digits, hyphens")]
Text = Annotated[str, Field(max_length=10_000)]
Short = Annotated[str, Field(max_length=500)]
IsoDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
IsoTime = Annotated[str, Field(description="ISO 8601 date-time with offset, e.g. 2026-01-31T00:00:00Z")]
OrgGroup = Annotated[str, Field(pattern=r"^org-[a-z0-9-]{1,60}$")]
FileName = Annotated[str, Field(pattern=FILE_NAME_PATTERN)]
ContentType = Annotated[str, Field(pattern=r"^[a-z]+/[a-zA-Z0-9.+-]{1,100}$", max_length=120)]
ActivityName = Literal["meta-visible", "meta-read", "meta-update", "file-read", "share"]
DatasetId = Annotated[str, Field(pattern=DATASET_ID_PATTERN)]


class TemporalCoverage(BaseModel):
    model_config = STRICT
    start: IsoDate | None = None
    end: IsoDate | None = None


class MetadataPatch(BaseModel):
    """Editable metadata; in a PATCH every field is optional and `null` clears it."""

    model_config = STRICT
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Text | None = None
    structure: dict[str, Any] | None = Field(None, description="columns / Table Schema of the files")
    licence: Short | None = None
    creator: Short | None = None
    maintainer: Short | None = None
    source: Short | None = None
    location: Short | None = Field(None, description="geography covered")
    temporal_coverage: TemporalCoverage | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    methodology: Text | None = None
    ethical_use: Text | None = Field(None, description="notes on ethical use")
    legal_use: Text | None = Field(None, description="legal basis and restrictions")
    personal_data: bool | None = Field(None, description="does the dataset hold personal data")


class CreateDatasetRequest(MetadataPatch):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    organisation: OrgGroup | None = Field(
        None, description="owning organisation; needed if you are in several"
    )
    file_name: FileName
    content_type: ContentType = "text/csv"
    size_bytes: Annotated[int, Field(ge=1)] | None = Field(None, description="upper bound for the upload")


class NewVersionRequest(BaseModel):
    model_config = STRICT
    file_name: FileName
    content_type: ContentType = "text/csv"
    size_bytes: Annotated[int, Field(ge=1)] | None = None


class Upload(Body):
    """A presigned POST: send a multipart form with `fields` then the file, to `url`, before `expires_at`."""

    url: str
    fields: dict[str, str]
    key: str
    version: int
    expires_at: str
    max_bytes: int


class FileInfo(Body):
    version: int
    file_name: str
    content_type: str
    created_by: str
    created_at: str


class DatasetView(Body):
    id: str
    owner_org: str
    created_by: str
    created_at: str
    updated_at: str
    metadata: dict[str, Any]
    metadata_version: int
    file: FileInfo | None = None
    deleted_at: str | None = None
    access: list[str] = Field(description="what the caller may do")


class DatasetSummary(Body):
    """A listing row. With meta-visible only, just enough to know the dataset exists."""

    id: str
    title: str
    owner_org: str
    access: list[str]
    tags: list[str] | None = None
    description: str | None = None
    metadata_version: int | None = None
    updated_at: str | None = None


class DatasetCreated(Body):
    dataset: DatasetView
    upload: Upload


class VersionCreated(Body):
    dataset_id: str
    upload: Upload


class DatasetList(Body):
    items: list[DatasetSummary]
    next_token: str | None = None


class HistoryEntry(Body):
    version: int
    metadata: dict[str, Any]
    changed: list[str]
    edited_by: str
    edited_at: str


class History(Body):
    dataset_id: str
    versions: list[HistoryEntry]


class Download(Body):
    url: str
    key: str
    version: int
    expires_at: str


class PurposeBody(BaseModel):
    model_config = STRICT
    code: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,60}$")]
    text: Annotated[str, Field(max_length=1000)] = ""


class GrantRequest(BaseModel):
    model_config = STRICT
    grantee_type: Literal["user", "group"]
    grantee: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9:@._+-]+$")]
    activities: Annotated[list[ActivityName], Field(min_length=1, max_length=5)]
    purpose: PurposeBody | None = None
    expires_at: IsoTime | None = None


class RevokeRequest(BaseModel):
    model_config = STRICT
    grantee_type: Literal["user", "group"]
    grantee: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9:@._+-]+$")]


class Granted(Body):
    """One grant as the API shows it, on a dataset (GrantView) or a datapack."""

    grantee_type: str
    grantee: str
    activities: list[str]
    granted_by: str
    granted_at: str
    purpose: dict[str, str] | None = None
    expires_at: str | None = None


class GrantView(Granted):
    dataset_id: str


class RevokedGrant(Body):
    grantee_type: str
    grantee: str
    revoked: bool


class Revoked(RevokedGrant):
    dataset_id: str


class AccessEntryView(Body):
    grantee_type: str
    grantee: str
    activities: list[str]
    via: str
    purpose: dict[str, str] | None = None
    expires_at: str | None = None
    expired: bool = False
    notes: list[str] = Field(default_factory=list)


class AccessList(Body):
    dataset_id: str
    entries: list[AccessEntryView]


class Deleted(Body):
    id: str
    deleted_at: str


class AuditEvents(Body):
    items: list[dict[str, Any]]
    next_token: str | None = None


class ErrorBody(Body):
    code: str = Field(description="machine-readable, e.g. not-found, unknown-field, audit-unavailable")
    message: str


def error_responses(descriptions: dict[int, str]) -> dict[int, Any]:
    """OpenAPI `responses` for error statuses, each with the error body schema."""
    return {
        status: {"description": text, "content": {"application/json": {"model": ErrorBody}}}
        for status, text in descriptions.items()
    }


def with_success(errors: dict[int, Any], status: int = 200, description: str = "Success") -> dict[int, Any]:
    """Powertools documents only the listed responses once any are given: add the success one back."""
    return {status: {"description": description}, **errors}


class UsageRowView(Body):
    day: str
    dataset: str
    actor_sub: str
    actor_email: str
    reads: int
    downloads: int
    denied: int


class UsageReport(Body):
    rows: list[UsageRowView]


class SubjectExportView(Body):
    subject: str
    email: str | None = None
    generated_at: str
    count: int
    events: list[dict[str, Any]]


class VerifyReport(Body):
    ok: bool
    items: int
    digests: int
    chains: dict[str, int]
    expired_gaps: int
    seals: int = Field(
        0, description="signed seals (outside the table, docs/audit.md) the chains were checked against"
    )
    problems: list[dict[str, Any]]


def json_or_csv(model: type[BaseModel], description: str) -> dict[int, Any]:
    """Documentation of a 200 that is JSON (this model) or, with ?format=csv, CSV text."""
    return {
        200: {
            "description": description,
            "content": {"application/json": {"model": model}, "text/csv": {"schema": {"type": "string"}}},
        }
    }
