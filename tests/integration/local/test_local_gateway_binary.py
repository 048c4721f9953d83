"""The local gateway converts binary payloads as API Gateway does for a Lambda proxy, by the RestApi's
BinaryMediaTypes: request bodies by Content-Type, base64 responses by the first Accept media type."""

# ruff: noqa: S310 - every URL opened here is the local gateway on 127.0.0.1

from __future__ import annotations

import base64
import dataclasses
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_stack import deployed, gateway_template

from local.deploy import Deployment
from local.gateway import LocalGateway, first_accept

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A zip header and bytes that are not UTF-8: any text conversion on the way would change them.
PAYLOAD = b"PK\x03\x04" + bytes(range(256)) * 4
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FUNCTION = f"""
import base64
import json

PAYLOAD = {PAYLOAD!r}

def handler(event, context):
    if event["path"].endswith(".xlsx"):
        return {{
            "statusCode": 200,
            "headers": {{"Content-Type": "{XLSX}"}},
            "body": base64.b64encode(PAYLOAD).decode(),
            "isBase64Encoded": True,
        }}
    return {{
        "statusCode": 200,
        "headers": {{"Content-Type": "application/json"}},
        "body": json.dumps({{"body": event["body"], "isBase64Encoded": event["isBase64Encoded"]}}),
        "isBase64Encoded": False,
    }}
"""


def template(binary_media_types: list[str]) -> dict[str, Any]:
    return gateway_template(FUNCTION, signed_in_routes=False, binary_media_types=binary_media_types)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Deployed with the stack's own choice (the xlsx type and */*); other lists are the same
    deployment seen through a gateway that reads a different template."""
    with deployed(template([XLSX, "*/*"]), Path(tmp_path_factory.mktemp("binary"))) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def gateways(stack: Deployment) -> Iterator[dict[str, LocalGateway]]:
    variants = {"stack": [XLSX, "*/*"], "xlsx-only": [XLSX], "none": []}
    running = {
        name: LocalGateway(dataclasses.replace(stack, template=template(types))).start()
        for name, types in variants.items()
    }
    yield running
    for gateway in running.values():
        gateway.stop()


def get(gateway: LocalGateway, path: str, accept: str | None = None, **kwargs: Any) -> tuple[str, bytes]:
    headers = {"Accept": accept} if accept is not None else {}
    headers.update(kwargs.pop("headers", {}))
    request = urllib.request.Request(gateway.url + path, headers=headers, **kwargs)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["Content-Type"], response.read()


@pytest.mark.parametrize("accept", [None, BROWSER_ACCEPT, "*/*", XLSX, "application/json"])
def test_stack_types_deliver_the_workbook_bytes_whatever_the_accept(
    gateways: dict[str, LocalGateway], accept: str | None
) -> None:
    content_type, body = get(gateways["stack"], "collect/t0k3n/template.xlsx", accept)
    assert content_type == XLSX
    assert body == PAYLOAD


@pytest.mark.parametrize(
    ("accept", "decoded"),
    [(XLSX, True), (f"{XLSX};q=0.9, */*", True), (BROWSER_ACCEPT, False), ("*/*", False), (None, False)],
)
def test_a_specific_type_decodes_only_when_it_is_the_first_accept(
    gateways: dict[str, LocalGateway], accept: str | None, decoded: bool
) -> None:
    """Without */* a browser's download (text/html first, or no Accept at all) gets base64 text."""
    _, body = get(gateways["xlsx-only"], "collect/t0k3n/template.xlsx", accept)
    assert body == (PAYLOAD if decoded else base64.b64encode(PAYLOAD))


def test_no_binary_types_pass_base64_through(gateways: dict[str, LocalGateway]) -> None:
    _, body = get(gateways["none"], "collect/t0k3n/template.xlsx", XLSX)
    assert body == base64.b64encode(PAYLOAD)


def test_json_bodies_arrive_base64_under_any_type_and_answers_stay_text(
    gateways: dict[str, LocalGateway],
) -> None:
    sent = {"file_name": "pupils.csv", "size": 12}
    post = {
        "data": json.dumps(sent).encode(),
        "headers": {"Content-Type": "application/json"},
        "method": "POST",
    }
    _, raw = get(gateways["stack"], "collect/t0k3n/uploads", "application/json", **post)
    seen = json.loads(raw)  # the function's JSON answer (isBase64Encoded false) is unchanged
    assert seen["isBase64Encoded"] is True
    assert json.loads(base64.b64decode(seen["body"])) == sent

    _, raw = get(gateways["xlsx-only"], "collect/t0k3n/uploads", "application/json", **post)
    seen = json.loads(raw)
    assert seen == {"body": json.dumps(sent), "isBase64Encoded": False}


@pytest.mark.parametrize(
    ("headers", "first"),
    [
        (None, ""),
        ({}, ""),
        ({"accept": "Text/HTML, application/xml;q=0.9"}, "text/html"),
        ({"Accept": f" {XLSX} ;q=1"}, XLSX),
        ({"User-Agent": "x"}, ""),
    ],
)
def test_first_accept(headers: dict[str, str] | None, first: str) -> None:
    assert first_accept(headers) == first
