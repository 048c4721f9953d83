"""Collect+Share requester routes (Cognito): requests to partners, their tracking, and Table Schemas.

`POST/GET /requests`, `GET /requests/{id}` (owner or admin; anyone else gets 404), close, cancel,
revoke/reissue one recipient's link; `POST/GET /schemas`. Bodies are pydantic models
(witan.api.bodies); a request body's field problems come back together, in the API's one validation
shape (422, `errors: [{location, type, message}]`, each `type` a code such as `past-date`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from witan.api.bodies import CreateCollectRequest, RequestChecks, StoredSchemaBody, free_json_problem
from witan.api.current import Current, current
from witan.api.deps import MAX_BODY_BYTES
from witan.api.errors import refusals
from witan.api.routes.collect import link_base, wiring
from witan.collect.requests.creation import NewRequest
from witan.collect.requests.records import Requester, RequestRecord
from witan.collect.requests.schemas import STORED_NAME, STORED_PREFIX
from witan.errors import (
    BadCursorError,
    BadSchemaNameError,
    CollectUnavailableError,
    DatasetDeletedError,
    DatasetNotWritableError,
    DestinationUnavailableError,
    EmailQuotaExceededError,
    InvalidSchemaError,
    JsonTooDeepError,
    JsonTooLargeError,
    JsonTooManyKeysError,
    NoDestinationError,
    NotFoundError,
    RequesterEmailRequiredError,
    RequestNotOpenError,
    SchemaExistsError,
    ShareNotAllowedError,
    UnknownDatasetError,
)
from witan.validation.schema import SchemaError, parse_schema

router = Router()
TAGS = ["collect (requesters)"]
_ID = r"^[A-Za-z0-9_-]{1,64}$"
RequestId = Annotated[str, Path(pattern=_ID, description="request id")]
SubmissionId = Annotated[str, Path(pattern=_ID, description="submission (recipient) id")]
MAX_SCHEMA_FIELDS = 500
# Emails (one per recipient invited or link reissued) a requester may have Witan send per UTC day:
# a stolen or careless account cannot make the council's sender spam partners.
RECIPIENTS_PER_DAY = 200


def _cur(resource: str | None = None) -> tuple[Current, Any]:
    cur = current(router.context)
    if resource:
        cur.record.resource = resource
    w = wiring(cur)
    return cur, w.service(link_base(cur, w.link_base_url))


def _take_email_quota(cur: Current, count: int) -> None:
    """Count `count` emails against the caller's day, or refuse (429) before anything is stored or sent."""
    if wiring(cur).email_quota.take(cur.sub, count, RECIPIENTS_PER_DAY, cur.now):
        return
    cur.record.deny("email-quota-exceeded")
    cur.record.detail["email_quota"] = RECIPIENTS_PER_DAY
    raise EmailQuotaExceededError(limit=RECIPIENTS_PER_DAY)


class _WriteAheadStore:
    """The request store, but `create` takes the email quota, then records the audit event (naming the
    new request), then stores it."""

    def __init__(self, inner: Any, cur: Current) -> None:
        self.inner, self.cur = inner, cur

    def create(self, new: NewRequest) -> None:
        record = self.cur.record
        record.resource, extra = creation_audit(new.request)
        record.detail.update(extra)
        _take_email_quota(self.cur, len(new.submissions))
        with self.cur.changing(201):
            self.inner.create(new)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def creation_audit(request: RequestRecord) -> tuple[str, dict[str, Any]]:
    """The resource and detail of a request's one creation event.

    A request that directs data into a dataset (named, or made for it here) is recorded against that
    dataset, so the dataset's own history (`GET /audit/events?dataset=ID`, the `by-resource` index, one
    key per event) shows where its versions will come from and, for a made one, when it was created.
    The request is named in the detail; a request with no destination is recorded against itself.
    """
    dataset_id = request.dataset_id
    if not dataset_id or not request.dataset_owner_org:
        return f"collect-request/{request.request_id}", {}
    detail = {
        "collect_request": request.request_id,
        "dataset_id": dataset_id,
        "dataset_created": request.dataset_created,
    }
    return f"dataset/{dataset_id}", detail


def _json(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _owned(cur: Current, call: Any) -> Any:
    """Run a domain call on one request; a refusal is answered as it is, and a
    request the caller may not see is named in the audit."""
    try:
        result = call()
    except NotFoundError:
        cur.record.deny("not-owner-or-missing")
        raise
    cur.record.allow("admin:platform-admin" if cur.principal.is_admin else "owner")
    return result


@router.post(
    "/requests",
    operation_id="collect.request.create",
    tags=TAGS,
    status_code=201,
    summary="Ask partners for data: each recipient is emailed a capability link to an upload page",
    responses={
        201: {"description": "Created; recipients say whether their invitation was sent"},
        **refusals(
            CollectUnavailableError,
            RequesterEmailRequiredError,
            UnknownDatasetError,
            DatasetDeletedError,
            DatasetNotWritableError,
            ShareNotAllowedError,
            NoDestinationError,
            DestinationUnavailableError,
            EmailQuotaExceededError,
        ),
    },
)
def create_request(
    body: Annotated[
        dict[str, Any],
        Body(
            description='{"title", "message"?, "schema", "due_date": "yyyy-mm-dd", '
            '"recipients": [{"email", "name"?, "organisation"?}], "dataset_id"?, '
            '"share_with"?: [{"type": "user"|"group", "id"}], "share_until"?: "yyyy-mm-dd" '
            '(grants made by deliveries end then, or when your own right to share ends), "sheet"?}'
        ),
    ],
) -> Response[Any]:
    cur, service = _cur()
    principal = cur.principal
    # Check reports (partners' data) are emailed here: only an address the token vouches for.
    email = principal.verified_email
    if not email:
        cur.record.deny("no-verified-email-claim")
        raise RequesterEmailRequiredError()
    # Groups decide whether a destination dataset may be used (owner organisation, admin, grants).
    requester = Requester(sub=cur.sub, email=email, name="", groups=principal.groups)
    cur.record.allow("signed-in")
    recipients = body.get("recipients")
    cur.record.detail["recipients"] = len(recipients) if isinstance(recipients, list) else 0
    # Checked here, not by Powertools: the checks need the service's date and schemas. A refusal is
    # recorded with its 422; the audit event is written just before the request is stored, once its id
    # is known.
    checks = RequestChecks(today=service.today(), schema_exists=service.schema_exists)
    spec = CreateCollectRequest.model_validate(body, context=checks).spec()
    audited = dataclasses.replace(service, store=_WriteAheadStore(service.store, cur))
    created = audited.create(spec, requester)
    return _json(201, created)


@router.get(
    "/requests",
    operation_id="collect.request.list",
    tags=TAGS,
    summary="Your requests, newest first",
    responses={
        200: {"description": "requests and next_cursor"},
        **refusals(CollectUnavailableError, BadCursorError),
    },
)
def list_requests(
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response[Any]:
    cur, service = _cur()
    listing = service.list_requests(cur.sub, limit=limit, cursor=cursor)
    cur.record.allow("own-requests")
    cur.record.detail["returned"] = len(listing["requests"])
    return _json(200, listing)


@router.get(
    "/requests/<request_id>",
    operation_id="collect.request.read",
    tags=TAGS,
    summary="Tracking: per recipient invited, opened, submitted, valid/invalid, last upload, error counts",
    responses={200: {"description": "request, totals and recipients"}, **refusals(CollectUnavailableError)},
)
def read_request(request_id: RequestId) -> Response[Any]:
    cur, service = _cur(f"collect-request/{request_id}")
    admin = cur.principal.is_admin
    return _json(200, _owned(cur, lambda: service.tracking(request_id, cur.sub, is_admin=admin)))


def _owner_action(
    resource: str, request_id: str, action: Callable[[Current, Any, bool], Any], *, emails: int = 0
) -> Any:
    """Run a requester's change to their own request: ownership checked before the audit write
    (someone else's request is NotFound and leaves a deny), the email quota taken for `emails`, then
    the write-ahead, then the change (a refused change is recorded as the outcome too)."""
    cur, service = _cur(resource)
    admin = cur.principal.is_admin
    _owned(cur, lambda: service.owned_request(request_id, cur.sub, admin))
    if emails:
        _take_email_quota(cur, emails)
    with cur.changing(200):
        return _owned(cur, lambda: action(cur, service, admin))


def _cancel(request_id: str) -> Response[Any]:
    def change(cur: Current, service: Any, admin: bool) -> Any:
        return service.cancel(request_id, cur.sub, is_admin=admin)

    return _json(200, _owner_action(f"collect-request/{request_id}", request_id, change))


@router.post(
    "/requests/<request_id>/close",
    operation_id="collect.request.close",
    tags=TAGS,
    summary="Stop taking uploads (partners still see their history)",
    responses={
        200: {"description": "request summary"},
        **refusals(CollectUnavailableError, RequestNotOpenError),
    },
)
def close_request(request_id: RequestId) -> Response[Any]:
    """The requester, an admin, or a member of the destination dataset's owner organisation (who may
    stop deliveries into their dataset from a request they did not make)."""
    cur, service = _cur(f"collect-request/{request_id}")
    admin, groups = cur.principal.is_admin, tuple(cur.principal.groups)
    _owned(cur, lambda: service.closable_request(request_id, cur.sub, groups, is_admin=admin))
    with cur.changing(200):
        return _json(
            200, _owned(cur, lambda: service.close(request_id, cur.sub, is_admin=admin, groups=groups))
        )


@router.post(
    "/requests/<request_id>/cancel",
    operation_id="collect.request.cancel",
    tags=TAGS,
    summary="Cancel: every link stops working",
    responses={
        200: {"description": "request summary"},
        **refusals(CollectUnavailableError, RequestNotOpenError),
    },
)
def cancel_request(request_id: RequestId) -> Response[Any]:
    return _cancel(request_id)


@router.post(
    "/requests/<request_id>/recipients/<submission_id>/revoke",
    operation_id="collect.recipient.revoke",
    tags=TAGS,
    summary="Revoke every link of one recipient",
    responses={200: {"description": "number of links revoked"}, **refusals(CollectUnavailableError)},
)
def revoke_recipient(request_id: RequestId, submission_id: SubmissionId) -> Response[Any]:
    revoked = _owner_action(
        f"collect-request/{request_id}/submission/{submission_id}",
        request_id,
        lambda cur, service, admin: service.revoke_link(request_id, submission_id, cur.sub, is_admin=admin),
    )
    return _json(200, {"revoked": revoked})


@router.post(
    "/requests/<request_id>/recipients/<submission_id>/reissue",
    operation_id="collect.recipient.reissue",
    tags=TAGS,
    summary="Revoke one recipient's links and email a new one",
    responses={
        200: {"description": "whether the email was accepted"},
        **refusals(CollectUnavailableError, RequestNotOpenError, EmailQuotaExceededError),
    },
)
def reissue_recipient(request_id: RequestId, submission_id: SubmissionId) -> Response[Any]:
    sent = _owner_action(
        f"collect-request/{request_id}/submission/{submission_id}",
        request_id,
        lambda cur, service, admin: service.reissue_link(request_id, submission_id, cur.sub, is_admin=admin),
        emails=1,
    )
    return _json(200, {"emailed": sent})


# -- schemas ----------------------------------------------------------------------------------------


@router.post(
    "/schemas",
    operation_id="collect.schema.create",
    tags=TAGS,
    status_code=201,
    summary="Store a Table Schema (validated) for requests to name as stored:{name}; immutable",
    responses={
        201: {"description": "Created"},
        **refusals(
            CollectUnavailableError,
            BadSchemaNameError,
            InvalidSchemaError,
            SchemaExistsError,
            JsonTooDeepError,
            JsonTooManyKeysError,
            JsonTooLargeError,
        ),
    },
)
def create_schema(body: StoredSchemaBody) -> Response[Any]:
    cur = current(router.context)
    w = wiring(cur)
    name, descriptor = body.name, body.descriptor
    if not STORED_NAME.match(name):
        raise BadSchemaNameError()
    # Stored for good and read by every request naming it: no deeper than other free JSON. Keys and
    # size are bounded by the body limit and the field count.
    problem = free_json_problem(descriptor, "schema", MAX_BODY_BYTES, max_keys=MAX_BODY_BYTES)
    if problem is not None:
        raise problem
    fields = descriptor.get("fields")
    if isinstance(fields, list) and len(fields) > MAX_SCHEMA_FIELDS:
        raise InvalidSchemaError(f"at most {MAX_SCHEMA_FIELDS} fields")
    try:
        parsed = parse_schema(descriptor, source=f"{STORED_PREFIX}{name}")
    except SchemaError as exc:
        raise InvalidSchemaError(re.sub(r"\s+", " ", str(exc))[:500]) from None
    if w.put_schema is None:
        raise CollectUnavailableError("stored schemas are not configured")
    cur.record.resource = f"collect-schema/{name}"
    cur.record.allow("signed-in")
    with cur.changing(201):
        if not w.put_schema(name, descriptor, cur.sub):
            raise SchemaExistsError(name=name)
    return _json(201, {"name": f"{STORED_PREFIX}{name}", "fields": parsed.field_names})


@router.get(
    "/schemas",
    operation_id="collect.schema.list",
    tags=TAGS,
    summary="Schemas a request may name: the built-ins and the stored ones",
    responses={200: {"description": "schemas"}, **refusals(CollectUnavailableError)},
)
def list_schemas() -> Response[Any]:
    cur = current(router.context)
    w = wiring(cur)
    listed = [{"name": n, "kind": "built-in"} for n in w.builtin_schema_names()]
    stored = w.list_stored_schemas() if w.list_stored_schemas else []
    listed += [
        {"name": f"{STORED_PREFIX}{s.name}", "created_by": s.created_by, "kind": "stored"} for s in stored
    ]
    cur.record.allow("signed-in")
    return _json(200, {"schemas": listed})
