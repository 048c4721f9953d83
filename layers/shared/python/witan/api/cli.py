"""`witan api`: a small client for the datastore API (the local gateway or the deployed one).

    witan api --endpoint URL --token TOKEN datasets list [--tag T] [--text Q]
    witan api ... datasets create --title T --file data.csv [--organisation org-x] [--tag t]
    witan api ... datasets get ID
    witan api ... datasets share ID (--user SUB | --group G) --activity file-read [--purpose-code C]
    witan api ... datasets download ID --purpose "why" [--output data.csv]
    witan api openapi [--output docs/openapi.json]      (no endpoint: generated from the code)

Prints JSON. The endpoint and token may come from WITAN_API_URL and WITAN_TOKEN; the token is sent as
the Authorization header (a Cognito ID token) and never printed.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ACTIVITIES = ("meta-visible", "meta-read", "meta-update", "file-read", "share")
TIMEOUT_SECONDS = 30


class ApiClient:
    def __init__(self, endpoint: str, token: str | None) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError("the endpoint must be an http(s) URL")
        self.endpoint = endpoint.rstrip("/")
        self.token = token

    def call(
        self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.endpoint + path + (("?" + urllib.parse.urlencode(params)) if params else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) checked above
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", self.token)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read())


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode("utf-8", "replace")


def upload(post: dict[str, Any], path: Path) -> int:
    """Send a file to a presigned POST as multipart/form-data (fields first, the file last)."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in post["fields"].items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    content_type = post["fields"].get("Content-Type", "application/octet-stream")
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(post["url"], data=b"".join(parts), method="POST")  # noqa: S310
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def print_response(status: int, body: Any) -> int:
    """Print an API answer as JSON; the exit code: 0 for a 2xx status, else 1."""
    print(json.dumps({"status": status, "body": body}, indent=2, sort_keys=True))
    return 0 if 200 <= status < 300 else 1


def client_from(args: argparse.Namespace, program: str) -> ApiClient:
    """The client of a command's --endpoint and --token (else WITAN_API_URL and WITAN_TOKEN)."""
    endpoint = args.endpoint or os.environ.get("WITAN_API_URL")
    if not endpoint:
        raise SystemExit(f"{program}: give --endpoint or set WITAN_API_URL")
    return ApiClient(endpoint, args.token or os.environ.get("WITAN_TOKEN"))


def save_download(status: int, result: Any, output: str | None, timeout: int = TIMEOUT_SECONDS) -> None:
    """With `output`, save the file behind a 200 answer's presigned `url` there and say so in `result`."""
    if status == 200 and output:
        with urllib.request.urlopen(result["url"], timeout=timeout) as response:  # noqa: S310
            Path(output).write_bytes(response.read())
        result["saved_to"] = output


def add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """--endpoint and --token, which client_from reads."""
    parser.add_argument("--endpoint", help="API base URL (or WITAN_API_URL)")
    parser.add_argument("--token", help="Cognito ID token (or WITAN_TOKEN)")


def _client(args: argparse.Namespace) -> ApiClient:
    return client_from(args, "witan api")


def cmd_list(args: argparse.Namespace) -> int:
    query = {"tag": args.tag, "organisation": args.organisation, "text": args.text, "limit": args.limit}
    query["next_token"] = args.next_token
    return print_response(*_client(args).call("GET", "/datasets", query=query))


def cmd_create(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"witan api: no file {path}", file=sys.stderr)
        return 2
    content_type = args.content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    body: dict[str, Any] = {
        "title": args.title,
        "file_name": path.name,
        "content_type": content_type,
        "size_bytes": path.stat().st_size or 1,
    }
    for name in ("organisation", "description", "licence"):
        if getattr(args, name):
            body[name] = getattr(args, name)
    if args.tag:
        body["tags"] = args.tag
    status, result = _client(args).call("POST", "/datasets", body=body)
    if status == 201 and not args.no_upload:
        result["upload_status"] = upload(result["upload"], path)
    return print_response(status, result)


def cmd_get(args: argparse.Namespace) -> int:
    return print_response(*_client(args).call("GET", f"/datasets/{urllib.parse.quote(args.id)}"))


def cmd_share(args: argparse.Namespace) -> int:
    grantee_type, grantee = ("user", args.user) if args.user else ("group", args.group)
    body: dict[str, Any] = {"grantee_type": grantee_type, "grantee": grantee, "activities": args.activity}
    if args.purpose_code:
        body["purpose"] = {"code": args.purpose_code, "text": args.purpose_text or ""}
    if args.expires:
        body["expires_at"] = args.expires
    return print_response(
        *_client(args).call("PUT", f"/datasets/{urllib.parse.quote(args.id)}/grants", body=body)
    )


def cmd_download(args: argparse.Namespace) -> int:
    status, result = _client(args).call(
        "GET", f"/datasets/{urllib.parse.quote(args.id)}/download", query={"purpose": args.purpose}
    )
    save_download(status, result, args.output)
    return print_response(status, result)


def cmd_openapi(args: argparse.Namespace) -> int:
    from witan.api.app import openapi_document

    text = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def register(subparsers: Any) -> None:
    api = subparsers.add_parser(
        "api", help="talk to the datastore API", description=(__doc__ or "").split("\n\n")[0]
    )
    add_endpoint_arguments(api)
    areas = api.add_subparsers(dest="area", required=True, metavar="AREA")

    openapi = areas.add_parser("openapi", help="print or write the OpenAPI document (from the code)")
    openapi.add_argument("--output", help="write to this file instead of stdout")
    openapi.set_defaults(func=cmd_openapi)

    datasets = areas.add_parser("datasets", help="datasets: list, create, get, share, download")
    actions = datasets.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="datasets you may see")
    listing.add_argument("--tag")
    listing.add_argument("--organisation")
    listing.add_argument("--text")
    listing.add_argument("--limit", type=int)
    listing.add_argument("--next-token")
    listing.set_defaults(func=cmd_list)

    create = actions.add_parser("create", help="describe a dataset and upload its first file")
    create.add_argument("--title", required=True)
    create.add_argument("--file", required=True)
    create.add_argument("--organisation")
    create.add_argument("--description")
    create.add_argument("--licence")
    create.add_argument("--tag", action="append")
    create.add_argument("--content-type")
    create.add_argument("--no-upload", action="store_true", help="only create; print the presigned POST")
    create.set_defaults(func=cmd_create)

    get = actions.add_parser("get", help="one dataset's metadata")
    get.add_argument("id")
    get.set_defaults(func=cmd_get)

    share = actions.add_parser("share", help="grant activities to a user or group")
    share.add_argument("id")
    who = share.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="Cognito sub")
    who.add_argument("--group", help="Cognito group, e.g. org-camden")
    share.add_argument("--activity", action="append", required=True, choices=ACTIVITIES)
    share.add_argument("--purpose-code")
    share.add_argument("--purpose-text")
    share.add_argument("--expires", help="ISO 8601 date-time with offset")
    share.set_defaults(func=cmd_share)

    download = actions.add_parser("download", help="a presigned GET (5 minutes); --output saves the file")
    download.add_argument("id")
    download.add_argument("--purpose", required=True, help="why you need the data (recorded)")
    download.add_argument("--output")
    download.set_defaults(func=cmd_download)
