"""Request and response bodies. Powertools validates requests against these and builds the OpenAPI
document from them. Strict: unknown fields are refused, no type coercion ("1" is not a number)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from witan.catalog.records import DATASET_ID_PATTERN, FILE_NAME_PATTERN
from witan.collect.requests.records import Recipient, RequestSpec, ShareEntry
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


# -- Collect+Share bodies ---------------------------------------------------------------------------

MAX_RECIPIENTS = 40  # 1 request + 40 submissions + 40 tokens + 1 open-list item fit one 100-item transaction
MAX_TITLE = 200
MAX_MESSAGE = 5000
MAX_NAME = 120
MAX_EMAIL = 254
MAX_SCHEMA_NAME = 200
MAX_DUE_DAYS = 366  # a due date more than a year ahead is almost certainly a typo
MAX_SHARE_WITH = 20
MAX_GRANTEE = 128
_EMAIL = re.compile(
    r"^[^@\s<>(),;:\"\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_DATASET_ID = re.compile(r"^[0-9a-f]{32}$")
SHEET_PATTERN = r"^[^\[\]:*?/\\]{1,31}$"
_SHEET = re.compile(SHEET_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # in one-line fields (title, names, schema)
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # the message may keep line breaks


def valid_email(value: str) -> bool:
    return len(value) <= MAX_EMAIL and bool(_EMAIL.match(value))


class RecipientBody(BaseModel):
    model_config = STRICT
    email: Annotated[str, Field(max_length=MAX_EMAIL)]
    name: Annotated[str, Field(max_length=MAX_NAME)] = ""
    organisation: Annotated[str, Field(max_length=MAX_NAME)] = ""


class ShareBody(BaseModel):
    model_config = STRICT
    type: Literal["user", "group"]
    id: Annotated[str, Field(min_length=1, max_length=MAX_GRANTEE)]


@dataclass(frozen=True)
class RequestChecks:
    """What checking a request body needs besides the body: the requester's UTC date (a due date may
    be today, not earlier) and whether a schema name resolves (built-in or stored)."""

    today: date
    schema_exists: Callable[[str], bool]


class _Problems:
    """Every problem found in one body, each located (`recipients[2].email`) and with its own code."""

    def __init__(self) -> None:
        self.found: list[InitErrorDetails] = []

    def add(self, where: str, code: str, message: str) -> None:
        # The message goes in as a template argument: some contain braces.
        error = PydanticCustomError(code, "{message}", {"message": message})
        self.found.append(InitErrorDetails(type=error, loc=(where,) if where else (), input=None))

    def text(self, body: Mapping[str, Any], name: str, *, required: bool, limit: int, where: str = "") -> str:
        value = body.get(name)
        at = f"{where}.{name}" if where else name
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(at, "required", f"{name} is required")
            return ""
        if not isinstance(value, str):
            self.add(at, "wrong-type", f"{name} must be text")
            return ""
        text = value.strip()
        if len(text) > limit:
            self.add(at, "too-long", f"{name} has {len(text)} characters; at most {limit}")
        if (_CONTROL_MULTILINE if name == "message" else _CONTROL).search(text):
            self.add(at, "bad-characters", f"{name} contains control characters")
        return text

    def unknown(self, body: Mapping[str, Any], known: set[str], where: str = "") -> None:
        for k in sorted(set(body) - known):
            self.add(f"{where}.{k}" if where else k, "unknown-field", f"unknown field {k!r}")

    @staticmethod
    def day(value: Any) -> date | None:
        """A yyyy-mm-dd date, or None."""
        try:
            return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
        except ValueError:
            return None


class CreateCollectRequest(BaseModel):
    """`POST /requests`: a data request to partners. Checked as a whole, so a form can show every
    problem at once next to its input: each error's `location` names the field (`body.due_date`,
    `body.recipients[2].email`) and its `type` a code (`past-date`, `bad-email`, `duplicate-recipient`,
    `unknown-schema`, `unknown-field`, ...). Validate with `context=RequestChecks(...)`."""

    model_config = ConfigDict(extra="forbid", defer_build=True, populate_by_name=True)
    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]
    message: Annotated[str, Field(max_length=MAX_MESSAGE)] = ""
    schema_name: Annotated[
        str, Field(alias="schema", max_length=MAX_SCHEMA_NAME, description="built-in name or stored:{name}")
    ]
    due_date: date
    recipients: Annotated[list[RecipientBody], Field(min_length=1, max_length=MAX_RECIPIENTS)]
    dataset_id: DatasetId | None = Field(None, description="the dataset the valid uploads become versions of")
    share_with: Annotated[list[ShareBody], Field(max_length=MAX_SHARE_WITH)] = Field(default_factory=list)
    share_until: date | None = Field(None, description="grants made for share_with end with this day")
    sheet: Annotated[str, Field(pattern=SHEET_PATTERN)] | None = Field(None, description="xlsx worksheet")

    @model_validator(mode="wrap")
    @classmethod
    def _checked(cls, data: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo) -> Any:
        checks = info.context
        if not isinstance(data, Mapping) or not isinstance(checks, RequestChecks):
            return handler(data)  # not an object: pydantic's own error (or a programming error)
        problems = _Problems()
        cleaned = _request_fields(data, checks, problems)
        if problems.found:
            raise ValidationError.from_exception_data(cls.__name__, problems.found)
        return handler(cleaned)

    def spec(self) -> RequestSpec:
        return RequestSpec(
            title=self.title,
            schema=self.schema_name,
            recipients=tuple(Recipient(r.email, r.name, r.organisation) for r in self.recipients),
            due_date=self.due_date,
            message=self.message,
            dataset_id=self.dataset_id,
            share_with=tuple(ShareEntry(s.type, s.id) for s in self.share_with),
            sheet=self.sheet or None,
            share_until=self.share_until,
        )


def _request_fields(body: Mapping[str, Any], checks: RequestChecks, problems: _Problems) -> dict[str, Any]:
    """The body's fields, trimmed and typed, with every problem added to `problems`."""
    known = set(CreateCollectRequest.model_fields) - {"schema_name"} | {"schema"}
    problems.unknown(body, known)
    title = problems.text(body, "title", required=True, limit=MAX_TITLE)
    message = problems.text(body, "message", required=False, limit=MAX_MESSAGE)
    schema = problems.text(body, "schema", required=True, limit=MAX_SCHEMA_NAME)
    if schema and not checks.schema_exists(schema):
        problems.add("schema", "unknown-schema", f"no schema called {schema!r}")
    due = _due_date(body.get("due_date"), checks.today, problems)
    recipients = _recipients(body.get("recipients"), problems)
    dataset_id = body.get("dataset_id")
    if dataset_id is not None and (not isinstance(dataset_id, str) or not _DATASET_ID.match(dataset_id)):
        problems.add("dataset_id", "bad-dataset-id", "dataset_id must be 32 lowercase hex digits")
    share_with = _share_with(body.get("share_with"), problems)
    share_until = _share_until(body.get("share_until"), checks.today, problems)
    sheet = body.get("sheet")
    if sheet is not None and (not isinstance(sheet, str) or not _SHEET.match(sheet)):
        problems.add("sheet", "bad-sheet", "sheet must be a worksheet name of 1-31 characters")
    return {
        "title": title,
        "message": message,
        "schema": schema,
        "due_date": due,
        "recipients": recipients,
        "dataset_id": dataset_id,
        "share_with": share_with,
        "share_until": share_until,
        "sheet": sheet or None,
    }


def _share_until(value: Any, today: date, problems: _Problems) -> date | None:
    """Optional last day of the grants made for share_with (yyyy-mm-dd, today or later)."""
    if value is None or value == "":
        return None
    day = problems.day(value)
    if day is None:
        problems.add("share_until", "bad-date", f"share_until {value!r} is not a date (yyyy-mm-dd)")
    elif day < today:
        problems.add("share_until", "past-date", f"share_until {day} is in the past")
    return day


def _due_date(value: Any, today: date, problems: _Problems) -> date | None:
    if value is None or value == "":
        problems.add("due_date", "required", "due_date is required (yyyy-mm-dd)")
        return None
    due = problems.day(value)
    if due is None:
        problems.add("due_date", "bad-date", f"due_date {value!r} is not a date (yyyy-mm-dd)")
        return None
    if due < today:
        problems.add("due_date", "past-date", f"due_date {due.isoformat()} is in the past")
    elif due > today + timedelta(days=MAX_DUE_DAYS):
        problems.add("due_date", "too-far", f"due_date is more than {MAX_DUE_DAYS} days ahead")
    return due


def _recipients(value: Any, problems: _Problems) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        problems.add("recipients", "required", "recipients must be a non-empty list")
        return []
    if len(value) > MAX_RECIPIENTS:
        count = f"{len(value)} recipients; at most {MAX_RECIPIENTS} per request"
        problems.add("recipients", "too-many-recipients", count)
    out: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(value):
        where = f"recipients[{i}]"
        if not isinstance(raw, Mapping):
            problems.add(where, "wrong-type", "each recipient must be an object")
            continue
        problems.unknown(raw, set(RecipientBody.model_fields), where)
        email = problems.text(raw, "email", required=True, limit=MAX_EMAIL, where=where)
        name = problems.text(raw, "name", required=False, limit=MAX_NAME, where=where)
        org = problems.text(raw, "organisation", required=False, limit=MAX_NAME, where=where)
        if email and not valid_email(email):
            problems.add(f"{where}.email", "bad-email", f"{email!r} is not an email address")
            continue
        key = email.lower()
        if email and key in seen:
            problems.add(f"{where}.email", "duplicate-recipient", f"{email} is already recipient {seen[key]}")
            continue
        seen[key] = i
        out.append({"email": email, "name": name, "organisation": org})
    return out


def _share_with(value: Any, problems: _Problems) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_SHARE_WITH:
        problems.add("share_with", "wrong-type", f"share_with must be a list of at most {MAX_SHARE_WITH}")
        return []
    out: list[dict[str, str]] = []
    for i, raw in enumerate(value):
        kind = raw.get("type") if isinstance(raw, Mapping) else None
        ident = raw.get("id") if isinstance(raw, Mapping) else None
        if kind not in ("user", "group") or not isinstance(ident, str) or not 0 < len(ident) <= MAX_GRANTEE:
            problems.add(f"share_with[{i}]", "bad-grantee", 'expected {"type": "user"|"group", "id": "..."}')
            continue
        out.append({"type": str(kind), "id": ident})
    return out


class PresignUploadBody(BaseModel):
    """`POST /collect/{token}/uploads`: the file a partner is about to upload. The name is checked by
    the domain (an unsafe or unsupported one is a 400 with its own code); the size, if given, against
    the upload limit."""

    model_config = STRICT
    file_name: str = ""
    size: Annotated[int, Field(ge=0)] | None = Field(None, description="bytes, as the browser reports")


class StoredSchemaBody(BaseModel):
    """`POST /schemas`: a Table Schema to keep for requests to name as `stored:{name}`."""

    model_config = STRICT
    name: str = Field(description="lowercase letters, digits and -, at most 63")
    descriptor: dict[str, Any] = Field(alias="schema", description="a Table Schema descriptor")
