"""The API app: a Powertools REST resolver with our error contract and exactly one audit event per request.

`handle(event, context, services)` is what the Lambda handler calls. It
1. reads the caller from the Cognito claims and finds the route (its operation_id is the audit action);
2. refuses oversized bodies (413) and anonymous callers (401) before routing;
3. lets Powertools route and validate (pydantic models in witan.api.bodies);
4. records one AuditEvent for the request, allowed or not. Mutating routes record it before they change
   anything (`Current.write_ahead`); everything else is recorded here after the response is built and
   before it is returned, so if the audit write fails the caller gets 503 and nothing else (fail closed).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC
from importlib import import_module
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Route
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as NoRoute
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from pydantic import ValidationError

from witan import errors as catalogue
from witan.api.context import RequestRecord
from witan.api.current import CONTEXT_KEY, Current
from witan.api.deps import MAX_BODY_BYTES, Services
from witan.api.errors import status_of
from witan.api.identity import principal_from_event
from witan.audit.records import AuditWriteError
from witan.catalog.records import valid_dataset_id

logger = logging.getLogger(__name__)

# Each area's Router modules (witan.api.routes.*), by the first segment of the paths they serve. An area
# is imported and included the first time a request reaches it, so a cold start pays only for its own
# area (benchmarks/bench_api.py). The documentation needs every route, so it loads them all.
AREAS: dict[str, tuple[str, ...]] = {
    "datasets": ("datasets", "grants"),
    "audit": ("audit",),
    "requests": ("requests",),  # Collect+Share, requesters
    "schemas": ("requests",),
    "collect": ("collect",),  # Collect+Share, partners by capability token
    "models": ("model_runs",),  # the registered models
    "model-runs": ("model_runs",),  # runs of any model
    "datapacks": ("datapacks",),  # sealed, reproducible bundles
    "console": ("console",),  # the council console's static files (witan.console)
}
AREAS["openapi.json"] = ("docs", *dict.fromkeys(m for ms in AREAS.values() for m in ms))
# Actions answered without claims: each route module lists its own in PUBLIC_ACTIONS (the documentation;
# the partner routes, whose capability token is checked in the route). Filled as areas load.
PUBLIC_ACTIONS: set[str] = set()
NOT_FOUND_ACTION = "api.not-found"
METHOD_NOT_ALLOWED_ACTION = "api.method-not-allowed"
MAX_LISTED_ERRORS = 20


class WitanResolver(APIGatewayRestResolver):
    """Powertools' resolver plus route lookup (for the audit action and for 405 versus 404)."""

    def match(self, method: str, path: str) -> tuple[Route | None, list[str]]:
        """The route for (method, path), and every method the path accepts (empty: unknown path)."""
        # Powertools keeps its routes in these lists and matches in this order; we only read them.
        routes: list[Route] = self._static_routes + self._dynamic_routes
        allowed: list[str] = []
        found: Route | None = None
        for route in routes:
            if route.rule.match(path):
                allowed.append(route.method)
                if route.method == method and found is None:
                    found = route
        return found, sorted(set(allowed))


app = WitanResolver(enable_validation=True)
_included: set[str] = set()
_including = threading.Lock()  # the local gateway may serve requests from several threads


def include_routes(path: str) -> None:
    """Make sure the routes of the area that `path` belongs to are in `app` (no-op once they are)."""
    segment = path.strip("/").split("/", 1)[0]
    for module_name in AREAS.get(segment, ()):
        if module_name not in _included:
            _include(module_name)


def include_all_routes() -> None:
    for module_name in AREAS["openapi.json"]:
        _include(module_name)


def _include(module_name: str) -> None:
    with _including:
        if module_name in _included:
            return
        module = import_module(f"witan.api.routes.{module_name}")
        app.include_router(module.router)
        PUBLIC_ACTIONS.update(getattr(module, "PUBLIC_ACTIONS", ()))
        _included.add(module_name)


def _current() -> Current | None:
    value = app.context.get(CONTEXT_KEY)
    return value if isinstance(value, Current) else None


def error_response(error: catalogue.WitanError) -> Response[Any]:
    """Any catalogue error as its status (witan.api.errors.STATUS) and body; its code goes in the audit."""
    current = _current()
    if current is not None:
        current.record.detail["error"] = error.code
    return Response(
        status_code=status_of(error),
        content_type=content_types.APPLICATION_JSON,
        body={"code": error.code, "message": error.message, **error.extra},
    )


def _location(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def validation_response(errors: Sequence[Mapping[str, Any]], prefix: tuple[str, ...] = ()) -> Response[Any]:
    """Pydantic/Powertools errors as one code (from the first error) and a short list of all of them."""
    listed = [
        {
            "location": _location(prefix + tuple(e.get("loc", ()))),
            "type": str(e.get("type", "")),
            "message": str(e.get("msg", "")),
        }
        for e in errors[:MAX_LISTED_ERRORS]
    ]
    first = listed[0] if listed else {"location": "body", "type": "", "message": "invalid request"}
    kind, where = first["type"], first["location"].split(".")[0]
    error: type[catalogue.WitanError]
    if kind == "json_invalid":
        error = catalogue.InvalidJsonError
    elif where == "path":
        error = catalogue.MalformedIdError
    elif where == "query":
        error = catalogue.InvalidQueryError
    elif kind == "extra_forbidden":
        error = catalogue.UnknownFieldError
    elif kind == "missing":
        error = catalogue.MissingFieldError
    elif first["location"] == "body" and kind.endswith("_type"):
        error = catalogue.InvalidBodyError
    elif kind.endswith("_type") or kind.endswith("_parsing"):
        error = catalogue.WrongTypeError
    else:
        error = catalogue.InvalidValueError
    message = "; ".join(f"{e['location']}: {e['message']}" for e in listed[:5])
    return error_response(error(message, extra={"errors": listed}))


@app.exception_handler(catalogue.WitanError)
def _refused(exc: catalogue.WitanError) -> Response[Any]:
    return error_response(exc)


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported(exc: RequestUnsupportedContentType) -> Response[Any]:
    return error_response(catalogue.UnsupportedMediaTypeError())


@app.exception_handler(RequestValidationError)
def _request_invalid(exc: RequestValidationError) -> Response[Any]:
    return validation_response(exc.errors())


@app.exception_handler(ResponseValidationError)
def _response_invalid(exc: ResponseValidationError) -> Response[Any]:
    # Our bug, not the caller's: never a 4xx, never the details.
    logger.error("response failed validation: %s", [e.get("loc") for e in exc.errors()])
    return error_response(catalogue.InternalError())


@app.exception_handler(ValidationError)
def _body_invalid(exc: ValidationError) -> Response[Any]:
    # Bodies validated inside a route (e.g. the optional DELETE body) rather than by Powertools.
    return validation_response(exc.errors(include_input=False), prefix=("body",))


@app.exception_handler(AuditWriteError)
def _audit_down(exc: AuditWriteError) -> Response[Any]:
    # Not named in the audit detail: the request's own event will not be written either.
    logger.error("audit write failed: %s", type(exc).__name__)
    return Response(
        status_code=status_of(exc), content_type=content_types.APPLICATION_JSON, body=exc.to_dict()
    )


@app.not_found
def _not_found(exc: NoRoute) -> Response[Any]:
    event = app.current_event
    _, allowed = app.match(event.http_method.upper(), event.path)
    if allowed:
        response = error_response(
            catalogue.MethodNotAllowedError(method=event.http_method, allowed=", ".join(allowed))
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return error_response(catalogue.NotFoundError(f"no route {event.path}"))


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response[Any]:
    # A bug or an AWS failure: log the type and where, never send a stack trace to the caller.
    logger.exception("unhandled %s", type(exc).__name__)
    return error_response(catalogue.InternalError())


def _json(error: catalogue.WitanError) -> dict[str, Any]:
    """A refusal answered before or outside routing, as a proxy response."""
    return {
        "statusCode": status_of(error),
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(error.to_dict()),
        "isBase64Encoded": False,
    }


def _body_size(event: Mapping[str, Any]) -> int:
    body = event.get("body") or ""
    size = len(body.encode("utf-8")) if isinstance(body, str) else len(body)
    return size * 3 // 4 if event.get("isBase64Encoded") else size


def handle(event: Mapping[str, Any], context: Any, services: Services) -> dict[str, Any]:
    """One API Gateway proxy event in, one proxy response out, exactly one audit event recorded."""
    principal = principal_from_event(event, admin_mfa_required=services.admin_mfa_required)
    record = RequestRecord.from_event(event, principal)
    current = Current(services=services, record=record, now=services.clock().astimezone(UTC))
    include_routes(record.path)
    route, allowed = app.match(record.method, record.path)
    if route is not None:
        record.action = route.operation_id or f"{record.method} {route.path}"
        matched = route.rule.match(record.path)
        dataset_id = matched.groupdict().get("dataset_id") if matched else None
        if dataset_id and valid_dataset_id(dataset_id):
            # Name the dataset even when the request fails validation, for the owner's reports.
            record.resource = f"dataset/{dataset_id}"
    else:
        record.action = METHOD_NOT_ALLOWED_ACTION if allowed else NOT_FOUND_ACTION

    if _body_size(event) > MAX_BODY_BYTES:
        record.detail["error"] = catalogue.BodyTooLargeError.code
        response = _json(catalogue.BodyTooLargeError(limit=MAX_BODY_BYTES))
    elif principal.anonymous and record.action not in PUBLIC_ACTIONS:
        record.deny("anonymous")
        record.detail["error"] = catalogue.UnauthenticatedError.code
        response = _json(catalogue.UnauthenticatedError())
    else:
        app.append_context(**{CONTEXT_KEY: current})  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        try:
            response = app.resolve(dict(event), context)
        except Exception as exc:  # Powertools re-raises what no handler took; answer, never leak
            logger.exception("unhandled %s outside routes", type(exc).__name__)
            record.detail["error"] = catalogue.InternalError.code
            response = _json(catalogue.InternalError())

    # A change announced by a write-ahead event that then failed (in a route not using `changing`):
    # its outcome follows, so the trail never says it succeeded. Recorded at most once.
    if record.recorded_id is not None and int(response["statusCode"]) >= 400:
        current.record_outcome(int(response["statusCode"]), record.detail.get("error"))
    if current.audit_failed:
        return _json(AuditWriteError())
    if record.recorded_id is None:
        try:
            record.recorded_id = services.audit.record(
                record.to_event(int(response["statusCode"]), record.detail.get("error"))
            )
        except Exception as exc:  # AuditWriteError or anything else: fail closed, nothing leaves
            logger.error("audit write failed: %s", type(exc).__name__)
            return _json(AuditWriteError())
    return response


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of every route, as served at GET /openapi.json and kept in docs/openapi.json."""
    from witan.api.routes import docs

    include_all_routes()
    return docs.document(app)
