"""The error catalogue: every refusal the platform can give, one small class per stable code.

Each class has a kebab-case `code` (machine-readable, never changes), a `title` (what kind of refusal)
and a message `template` filled with the parameters the raise site gives (`str.format`, named). The
default template is `{note}`: a site whose wording is its own passes it as the first argument. `extra`
carries machine-readable details (field errors, a column) that the API puts beside code and message.

`CATALOGUE` maps each code to its class; a class registers by naming a `code` in its body, and a code
may be named once. Subclasses that only narrow a catalogue error for catching (e.g.
witan.audit.records.AuditReadError) inherit its code. HTTP statuses are the API's business:
witan.api.errors.STATUS. AWS-free and light: the API's cold start imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

CATALOGUE: dict[str, type[WitanError]] = {}


class WitanError(Exception):
    """A refusal with a stable code; `message` is for people, `extra` for machines."""

    code: ClassVar[str] = ""
    title: ClassVar[str] = ""
    template: ClassVar[str] = "{note}"
    note: ClassVar[str] = ""  # the `{note}` used when a site gives none

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            if cls.code in CATALOGUE:
                raise TypeError(f"error code {cls.code} is already {CATALOGUE[cls.code].__name__}'s")
            CATALOGUE[cls.code] = cls

    def __init__(self, note: str = "", /, *, extra: Mapping[str, Any] | None = None, **params: Any) -> None:
        self.params: dict[str, Any] = {"note": note or self.note, **params}
        self.message: str = self.template.format(**self.params)
        self.extra: dict[str, Any] = dict(extra or {})
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """The API's error body: `{"code", "message", ...extra}`."""
        return {"code": self.code, "message": self.message, **self.extra}


# -- every route: identity, access, routing, request shape -------------------------------------------


class UnauthenticatedError(WitanError):
    code, title = "unauthenticated", "No identity"
    template = "sign in: no identity in the request"


class ForbiddenError(WitanError):
    code, title = "forbidden", "Not allowed"


class NotFoundError(WitanError):
    code, title = "not-found", "Not found"
    note = "not found"


class MethodNotAllowedError(WitanError):
    code, title = "method-not-allowed", "Method not allowed"
    template = "{method} is not allowed here; use {allowed}"


class BodyTooLargeError(WitanError):
    code, title = "body-too-large", "Body too large"
    template = "bodies are limited to {limit} bytes"


class UnsupportedMediaTypeError(WitanError):
    code, title = "unsupported-media-type", "Unsupported media type"
    template = "send the body as application/json"


class InternalError(WitanError):
    code, title = "internal-error", "Internal error"
    template = "something went wrong on our side; it has been logged"


class AuditUnavailableError(WitanError):
    """People are told only `message`; `reason`, the exception's text (for logs and the operator's CLI),
    says which store failed and how."""

    code, title = "audit-unavailable", "Audit trail unavailable"
    template = "the audit trail is unavailable; try again later"

    def __init__(self, reason: str = "") -> None:
        super().__init__()
        self.reason = reason
        self.args = (reason or self.message,)


class InvalidJsonError(WitanError):
    code, title = "invalid-json", "Body is not JSON"


class MalformedIdError(WitanError):
    code, title = "malformed-id", "Malformed id in the path"


class InvalidQueryError(WitanError):
    code, title = "invalid-query", "Invalid query parameter"


class UnknownFieldError(WitanError):
    code, title = "unknown-field", "Unknown field"


class MissingFieldError(WitanError):
    code, title = "missing-field", "Missing field"


class InvalidBodyError(WitanError):
    code, title = "invalid-body", "Body of the wrong kind"


class WrongTypeError(WitanError):
    code, title = "wrong-type", "Value of the wrong type"


class InvalidValueError(WitanError):
    code, title = "invalid-value", "Invalid value"


class JsonTooDeepError(WitanError):
    code, title = "json-too-deep", "JSON nested too deep"
    template = "{where}: nested deeper than {limit} levels"


class JsonTooManyKeysError(WitanError):
    code, title = "json-too-many-keys", "JSON with too many keys"
    template = "{where}: more than {limit} keys in all"


class JsonTooLargeError(WitanError):
    code, title = "json-too-large", "JSON too large"
    template = "{where}: {size} bytes as JSON, more than {limit}"


class ConflictError(WitanError):
    """Someone else changed the record first (optimistic concurrency)."""

    code, title = "conflict", "Changed meanwhile"
    note = "the dataset was changed by another request; retry"


class NoChangeError(WitanError):
    code, title = "no-change", "Nothing to change"


class OrganisationRequiredError(WitanError):
    code, title = "organisation-required", "Organisation required"
    template = "say which of your organisations {purpose}"


class FileTooLargeError(WitanError):
    code, title = "file-too-large", "File too large"


# -- datasets and grants ------------------------------------------------------------------------------


class DatasetDeletedError(WitanError):
    code, title = "dataset-deleted", "Dataset deleted"
    template = "dataset {dataset_id} was deleted"


class InvalidTokenError(WitanError):
    code, title = "invalid-token", "Invalid page token"
    template = "next_token is not one this API issued"


class NoFileError(WitanError):
    code, title = "no-file", "No file"


class GrantNotFoundError(WitanError):
    code, title = "grant-not-found", "No such grant"
    template = "no grant to {grantee}"


# -- the audit trail's queries ------------------------------------------------------------------------


class InvalidTimeError(WitanError):
    code, title = "invalid-time", "Invalid time"


class InvalidNextTokenError(WitanError):
    code, title = "invalid-next-token", "Invalid page token"


class ConflictingFiltersError(WitanError):
    code, title = "conflicting-filters", "Conflicting filters"
    template = "give either dataset or resource, not both"


class InvalidLimitError(WitanError):
    code, title = "invalid-limit", "Invalid limit"
    template = "limit must be an integer from 1 to {limit}"


class InvalidSubjectError(WitanError):
    code, title = "invalid-subject", "Invalid subject"
    template = "subject is required"


# -- model runs ---------------------------------------------------------------------------------------


class ModelRunsUnavailableError(WitanError):
    code, title = "model-runs-unavailable", "Model runs unavailable"


class InvalidInputError(WitanError):
    """A model input that cannot be modelled (witan.modelrun.errors.ModelInputError). Its instances
    carry the finer input-problem code (missing-column, invalid-scenario...) that runs and the CLI report:
    a row-level vocabulary of its own, answered with this class's status."""

    code, title = "invalid-input", "Invalid model input"


class MissingInputError(WitanError):
    code, title = "missing-input", "Missing input"


class UnknownInputError(WitanError):
    code, title = "unknown-input", "Unknown input"


class UnsupportedInputError(WitanError):
    code, title = "unsupported-input", "Unsupported input"


class RunNotFinishedError(WitanError):
    code, title = "run-not-finished", "Run not finished"


class RunTooLargeError(WitanError):
    code, title = "run-too-large", "Run too large"


# -- datapacks ----------------------------------------------------------------------------------------


class DatapacksUnavailableError(WitanError):
    code, title = "datapacks-unavailable", "Datapacks unavailable"
    template = "datapacks are not configured on this stack"


class PackSealedError(WitanError):
    code, title = "pack-sealed", "Pack sealed"
    note = "a sealed pack never changes: make a new pack that supersedes it"


class PackNotSealedError(WitanError):
    code, title = "pack-not-sealed", "Pack not sealed"


class EmptyPackError(WitanError):
    code, title = "empty-pack", "Empty pack"
    template = "add at least one member before sealing"


class TooManyMembersError(WitanError):
    code, title = "too-many-members", "Too many members"
    template = "a pack holds at most {limit} members"


class DuplicateMemberError(WitanError):
    code, title = "duplicate-member", "Member already in the pack"


class MemberNotFoundError(WitanError):
    code, title = "member-not-found", "No such member"
    template = "no member {member_id}"


class InvalidMemberError(WitanError):
    code, title = "invalid-member", "Invalid member"


class DuplicatePathError(WitanError):
    code, title = "duplicate-path", "Two members, one path"
    template = "two members put a file at {paths}"


class MemberFileMissingError(WitanError):
    code, title = "member-file-missing", "Member file missing"


class RunInputsUnknownError(WitanError):
    code, title = "run-inputs-unknown", "Run inputs unknown"


class PackTooLargeError(WitanError):
    code, title = "pack-too-large", "Pack too large"


class InputChangedError(WitanError):
    code, title = "input-changed", "Input changed"
    template = "{path}: its source {key} no longer holds the sealed bytes"


class NoModelRunError(WitanError):
    code, title = "no-model-run", "No model run"
    template = "the pack holds no model run"


# -- Collect+Share: requests, partners, destinations ----------------------------------------------------


class CollectUnavailableError(WitanError):
    code, title = "collect-unavailable", "Collect+Share unavailable"


class RequesterEmailRequiredError(WitanError):
    code, title = "requester-email-required", "Requester email required"
    template = "your account has no verified email address for replies"


class EmailQuotaExceededError(WitanError):
    code, title = "email-quota-exceeded", "Email quota exceeded"
    template = (
        "at most {limit} emails a day may be sent for your requests (recipients invited and links "
        "reissued); try again tomorrow or ask an admin"
    )


class BadSchemaNameError(WitanError):
    code, title = "bad-schema-name", "Bad schema name"
    template = "name: lowercase letters, digits and -, at most 63"


class InvalidSchemaError(WitanError):
    code, title = "invalid-schema", "Invalid Table Schema"


class SchemaExistsError(WitanError):
    code, title = "schema-exists", "Schema exists"
    template = "a schema named {name} exists; stored schemas cannot change"


class RequestNotOpenError(WitanError):
    code, title = "request-not-open", "Request not open"


class BadCursorError(WitanError):
    code, title = "bad-cursor", "Bad cursor"
    template = "cursor is not valid"


class BadFileNameError(WitanError):
    code, title = "bad-file-name", "Bad file name"
    template = "file_name is required"


class UnsupportedFileTypeError(WitanError):
    code, title = "unsupported-file-type", "Unsupported file type"
    template = "only {types} files are accepted"


class UnknownDatasetError(WitanError):
    code, title = "unknown-dataset", "Unknown dataset"
    template = "no dataset {dataset_id} that you can see"


class DatasetNotWritableError(WitanError):
    code, title = "dataset-not-writable", "Dataset not writable"
    template = "you may not add versions to dataset {dataset_id} (meta-update is needed)"


class ShareNotAllowedError(WitanError):
    code, title = "share-not-allowed", "Share not allowed"
    template = "you may not share dataset {dataset_id} (share_with needs share, meta-read and file-read)"


class NoDestinationError(WitanError):
    code, title = "no-destination", "No destination"
    template = (
        "share_with needs a destination dataset: give dataset_id, or ask as a member of exactly one "
        "organisation so that one can be made for the request"
    )


class DestinationUnavailableError(WitanError):
    code, title = "destination-unavailable", "Destinations unavailable"
    template = "destination datasets are not configured on this deployment"
