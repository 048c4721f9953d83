"""Every error an API test sees must be documented for its route (witan.api.errors.refusals), with the
status the catalogue gives its code: call_rest_api checks each answer, so any API test that provokes
an undocumented refusal fails."""

from __future__ import annotations

from typing import Any

from witan.api.app import app, include_routes
from witan.api.errors import SHARED, STATUS, documented_codes
from witan.errors import CATALOGUE, InvalidInputError

SHARED_CODES = frozenset(error.code for error in SHARED)


def route_codes(method: str, path: str) -> frozenset[str]:
    """The codes documented for the route serving (method, path); the shared ones for no route."""
    include_routes(path)
    route, _ = app.match(method, path)
    documented = documented_codes(route.responses) if route is not None else set()
    return frozenset(documented) or SHARED_CODES


def undocumented_error(method: str, path: str, status: int, body: Any) -> str | None:
    """Why this answer breaks the contract, or None: a JSON error body whose code is in the catalogue
    (or is a model input's finer code, documented as invalid-input), at the catalogue's status, and
    listed for its route."""
    if status < 400 or not isinstance(body, dict) or "code" not in body:
        return None
    code = str(body["code"])
    catalogue_code = code if code in CATALOGUE else InvalidInputError.code
    if STATUS[catalogue_code] != status:
        return f"{method} {path} answered {status} {code}; the catalogue says {STATUS[catalogue_code]}"
    if catalogue_code not in route_codes(method, path):
        return f"{method} {path} answered {code}, which its route does not document"
    return None
