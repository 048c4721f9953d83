"""The xlsx template through the gateway, as a partner gets it: the embedded stack's RestApi has the
binary media types of infra/api.py, the gateway converts the function's base64 answer as API Gateway
does, and what arrives opens in openpyxl with the schema's header row.

Once over plain HTTP with the Accept headers browsers send, and once in headless Chromium clicking the
page's own download link (which sends no Accept header at all)."""

# ruff: noqa: S310 - every URL opened here is the local gateway on 127.0.0.1

from __future__ import annotations

import io
import json
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from .test_e2e_partner_page import Cdp, _api, _link_for

pytestmark = pytest.mark.xdist_group("e2e")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NAVIGATION_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def partner_link(e2e_stack: Any) -> str:
    address = "template@school.example"
    status, created = _api(
        e2e_stack,
        "POST",
        "requests",
        "requester",
        {
            "title": "Template download",
            "schema": "population-by-age",
            "due_date": (date.today() + timedelta(days=10)).isoformat(),
            "recipients": [{"email": address, "name": "Tam", "organisation": "School T"}],
        },
    )
    assert status == 201, created
    return _link_for(e2e_stack, address)


def _get(url: str, accept: str | None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, dict(response.headers.items()), response.read()


def _field_names(link: str) -> list[str]:
    status, _, body = _get(link, "application/json")
    assert status == 200
    return [field["name"] for field in json.loads(body)["schema"]["fields"]]


def _check_workbook(data: bytes, fields: list[str]) -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook["Data"]
    assert [cell.value for cell in sheet[1]] == fields
    assert sheet.data_validations.dataValidation, "the template's data validations are missing"


@pytest.mark.parametrize("accept", [None, NAVIGATION_ACCEPT, XLSX], ids=["no-accept", "navigation", "xlsx"])
def test_template_arrives_as_a_workbook(partner_link: str, accept: str | None) -> None:
    status, headers, data = _get(partner_link + "/template.xlsx", accept)
    assert status == 200
    assert headers["Content-Type"] == XLSX
    assert headers["Content-Disposition"] == 'attachment; filename="population-by-age-template.xlsx"'
    assert data[:4] == b"PK\x03\x04"  # a zip, not base64 text
    assert int(headers["Content-Length"]) == len(data)
    _check_workbook(data, _field_names(partner_link))


def test_chromium_downloads_the_template_from_the_page(
    e2e_stack: Any, partner_link: str, browser: Cdp, tmp_path: Path
) -> None:
    """Click the page's download link; the file Chromium saves opens as the template. The Accept
    header Chromium sent is recorded: it is why the RestApi lists */* as a binary media type."""
    gateway = e2e_stack.gateway
    seen: list[str | None] = []
    handle = gateway.handle

    def recording(method: str, raw_path: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
        if raw_path.endswith("/template.xlsx"):
            seen.append(next((v for k, v in headers if k.lower() == "accept"), None))
        return handle(method, raw_path, headers, *rest)

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    gateway.handle = recording
    try:
        cdp = browser
        cdp.send(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}, browser=True
        )
        cdp.send("Page.enable")
        cdp.send("Page.navigate", {"url": partner_link})
        deadline = time.monotonic() + TIMEOUT_S
        while not cdp.evaluate("(document.getElementById('title') || {}).textContent"):
            assert time.monotonic() < deadline, cdp.evaluate("document.body.innerText")
            time.sleep(0.2)
        href = cdp.evaluate("document.getElementById('template').href")
        assert href == partner_link + "/template.xlsx"
        cdp.evaluate("document.getElementById('template').click()")
        saved: list[Path] = []
        while not saved:
            assert time.monotonic() < deadline, f"no download in {downloads}: {list(downloads.iterdir())}"
            saved = [p for p in downloads.iterdir() if p.suffix == ".xlsx"]  # not .crdownload
            time.sleep(0.2)
    finally:
        del gateway.handle  # back to the class's method
    (path,) = saved
    assert path.name == "population-by-age-template.xlsx"
    _check_workbook(path.read_bytes(), _field_names(partner_link))
    assert seen, "the download did not go through the gateway"
    # Measured: Chromium sends no Accept header for a download link, so only */* can match it.
    print(f"Chromium's Accept for the template download: {seen!r}; {path.stat().st_size} bytes")
