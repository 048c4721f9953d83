"""`witan api` against the real handler behind a minimal HTTP gateway on 127.0.0.1 (moto behind it).

The gateway does what API Gateway and the Cognito authorizer would: it turns the HTTP request into a
proxy event and puts the caller's claims in requestContext.authorizer.claims (here a test token
names a persona instead of a signed JWT, which is the local gateway's job, not the client's).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

import pytest
from api_harness import MEMBER, OTHER, OWNER, Api, Persona
from aws_stack import LambdaContext
from witan.cli import main

TOKENS: dict[str, Persona] = {"owner-token": OWNER, "member-token": MEMBER, "other-token": OTHER}


@pytest.fixture
def gateway(api: Api) -> Iterator[str]:
    lock = threading.Lock()  # moto and the handler are used from one thread at a time

    class Gateway(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else None
            persona = TOKENS.get(self.headers.get("Authorization", ""))
            context: dict[str, Any] = {"requestId": f"cli-{id(self)}", "identity": {"sourceIp": "127.0.0.1"}}
            if persona is not None and persona.claims is not None:
                context["authorizer"] = {"claims": persona.claims}
            event = {
                "httpMethod": self.command,
                "path": url.path,
                "headers": dict(self.headers),
                "queryStringParameters": dict(parse_qsl(url.query)) or None,
                "body": body,
                "isBase64Encoded": False,
                "requestContext": context,
            }
            with lock:
                response = api.module.lambda_handler(event, LambdaContext())
            payload = (response.get("body") or "").encode()
            self.send_response(response["statusCode"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


def test_cli_create_share_list_get_download(
    gateway: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "send.csv"
    data.write_text("school,pupils\nA,10\n", encoding="utf-8")
    owner = ["api", "--endpoint", gateway, "--token", "owner-token", "datasets"]
    code, out = run(
        capsys,
        *owner,
        "create",
        "--title",
        "SEND demand",
        "--file",
        str(data),
        "--tag",
        "send",
        "--no-upload",
    )
    assert code == 0 and out["status"] == 201
    dataset_id = out["body"]["dataset"]["id"]
    assert out["body"]["upload"]["key"] == f"datasets/{dataset_id}/1/send.csv"
    policy_fields = out["body"]["upload"]["fields"]
    assert policy_fields["Content-Type"] == "text/csv"

    other = ["api", "--endpoint", gateway, "--token", "other-token", "datasets"]
    code, out = run(capsys, *other, "get", dataset_id)
    assert (code, out["status"], out["body"]["code"]) == (1, 404, "not-found")

    code, out = run(
        capsys,
        *owner,
        "share",
        dataset_id,
        "--group",
        "org-islington",
        "--activity",
        "file-read",
        "--purpose-code",
        "send-benchmarking",
    )
    assert code == 0 and out["body"]["activities"] == ["file-read"]

    code, out = run(capsys, *other, "list", "--tag", "send")
    assert [item["id"] for item in out["body"]["items"]] == [dataset_id]
    code, out = run(capsys, *other, "download", dataset_id, "--purpose", "benchmark SEND demand")
    assert code == 0 and "X-Amz-Expires=300" in out["body"]["url"]

    code, out = run(capsys, "api", "--endpoint", gateway, "datasets", "list")  # no token: refused
    assert (code, out["status"], out["body"]["code"]) == (1, 401, "unauthenticated")


def test_cli_openapi_matches_committed_document(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    target = tmp_path / "openapi.json"
    assert main(["api", "openapi", "--output", str(target)]) == 0
    committed = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
    assert target.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")


def test_cli_needs_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WITAN_API_URL", raising=False)
    with pytest.raises(SystemExit, match="endpoint"):
        main(["api", "datasets", "list"])
