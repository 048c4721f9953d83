"""The council console (witan.console): GET /console/ serves the single-page app, GET /console/{file}
its scripts, styles and images, and GET /console/config.json how to sign in. Open routes (the page
must load before anyone has signed in); the app itself calls the API with the user's token and holds
no rights of its own."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from witan.api.current import current
from witan.errors import (
    NotFoundError,
)

router = Router()
PAGE_ACTION = "console.page"
FILE_ACTION = "console.file"
CONFIG_ACTION = "console.config"
PUBLIC_ACTIONS = frozenset({PAGE_ACTION, FILE_ACTION, CONFIG_ACTION})
CONFIG_NAME = "config.json"


def _serve(name: str) -> Response[Any]:
    from witan.console import console_config, console_file, console_headers

    cur = current(router.context)
    cur.record.allow("public")
    services = cur.services
    auth_url = services.console.auth_url or None
    upload_origin = services.collect.upload_origin() if services.collect is not None else ""
    headers = console_headers(name, upload_origin=upload_origin, auth_origin=auth_url)
    if name == CONFIG_NAME:
        body = console_config(auth_url=auth_url, client_id=services.console.client_id or None)
        headers["Cache-Control"] = "no-store"
        return Response(200, content_types.APPLICATION_JSON, body, headers=headers)
    found = console_file(name)
    if found is None:
        raise NotFoundError(f"the console has no file {name}")
    data, content_type = found
    return Response(200, content_type, data.decode("utf-8"), headers=headers)


@router.get("/console", operation_id=PAGE_ACTION, include_in_schema=False)
def console_page() -> Response[Any]:
    from witan.console import INDEX

    return _serve(INDEX)


@router.get("/console/config.json", operation_id=CONFIG_ACTION, include_in_schema=False)
def console_config_json() -> Response[Any]:
    return _serve(CONFIG_NAME)


@router.get("/console/<name>", operation_id=FILE_ACTION, include_in_schema=False)
def console_asset(name: str) -> Response[Any]:
    return _serve(name)
