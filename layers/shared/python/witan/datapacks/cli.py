"""`witan datapack`: build, seal and export packs through the API; verify and re-run an exported zip.

    witan datapack [--endpoint URL --token TOKEN] create --title T [--summary S] [--conclusions FILE.md]
        [--licence L] [--tag T ...] [--organisation ORG] [--supersedes PACK]
    witan datapack ... add PACK --kind KIND --role ROLE [--caption C] [--dataset ID [--version N]]
        [--model-run RUN] [--file PATH]
    witan datapack ... seal PACK
    witan datapack ... export PACK [--output PACK.zip] [--purpose WHY]
    witan datapack verify PACK.zip [--json]          (exit 0: ok; 1: changed, missing or added files)
    witan datapack reproduce PACK.zip [--json]       (exit 0: every run reproduced; 1: not)

The API commands print JSON; endpoint and token may come from WITAN_API_URL and WITAN_TOKEN.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from witan.api.cli import ApiClient, add_endpoint_arguments, client_from, print_response, save_download

KINDS = ("dataset-file", "dataset-metadata", "model-run", "pack-file")
ROLES = ("input", "output", "script", "chart", "report", "other")
TIMEOUT_SECONDS = 60


def _client(args: argparse.Namespace) -> ApiClient:
    return client_from(args, "witan datapack")


def _pack_path(pack_id: str, tail: str = "") -> str:
    return f"/datapacks/{urllib.parse.quote(pack_id)}{tail}"


def cmd_create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"title": args.title}
    if args.conclusions:
        body["conclusions"] = Path(args.conclusions).read_text(encoding="utf-8")
    for name in ("summary", "licence", "organisation", "supersedes"):
        if getattr(args, name):
            body[name] = getattr(args, name)
    if args.tag:
        body["tags"] = args.tag
    return print_response(*_client(args).call("POST", "/datapacks", body=body))


def cmd_add(args: argparse.Namespace) -> int:
    from witan.api.cli import upload  # looked up per call: tests replace it

    body: dict[str, Any] = {"kind": args.kind, "role": args.role, "caption": args.caption or ""}
    path = Path(args.file) if args.file else None
    if args.dataset:
        body["dataset"] = args.dataset
    if args.version:
        body["version"] = args.version
    if args.model_run:
        body["model_run"] = args.model_run
    if args.kind == "pack-file":
        if path is None or not path.is_file():
            print("witan datapack: a pack file needs --file PATH (an existing file)", file=sys.stderr)
            return 2
        body["file_name"] = path.name
        body["content_type"] = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        body["size_bytes"] = path.stat().st_size or 1
    status, result = _client(args).call("POST", _pack_path(args.pack, "/members"), body=body)
    if status == 201 and path is not None and result.get("upload"):
        result["upload_status"] = upload(result["upload"], path)
    return print_response(status, result)


def cmd_seal(args: argparse.Namespace) -> int:
    return print_response(*_client(args).call("POST", _pack_path(args.pack, "/seal")))


def cmd_export(args: argparse.Namespace) -> int:
    status, result = _client(args).call(
        "GET", _pack_path(args.pack, "/export"), query={"purpose": args.purpose}
    )
    save_download(status, result, args.output, TIMEOUT_SECONDS)
    return print_response(status, result)


def cmd_verify(args: argparse.Namespace) -> int:
    from witan.datapacks.bundle import verify_zip

    path = Path(args.zip)
    if not path.is_file():
        print(f"witan datapack: no file {path}", file=sys.stderr)
        return 2
    report = verify_zip(path)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1


def cmd_reproduce(args: argparse.Namespace) -> int:
    from witan.datapacks.reproduce import reproduce_zip

    path = Path(args.zip)
    if not path.is_file():
        print(f"witan datapack: no file {path}", file=sys.stderr)
        return 2
    report = reproduce_zip(path, Path(args.work_dir) if args.work_dir else None)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1


def register(subparsers: Any) -> None:
    pack = subparsers.add_parser(
        "datapack",
        help="sealed, reproducible packs: create, add, seal, export (API); verify, reproduce (a zip)",
        description=(__doc__ or "").split("\n\n")[0],
    )
    add_endpoint_arguments(pack)
    actions = pack.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="start a draft pack")
    create.add_argument("--title", required=True)
    create.add_argument("--summary")
    create.add_argument("--conclusions", help="a Markdown file")
    create.add_argument("--licence")
    create.add_argument("--tag", action="append")
    create.add_argument("--organisation")
    create.add_argument("--supersedes", help="the sealed pack this edition replaces")
    create.set_defaults(func=cmd_create)

    add = actions.add_parser("add", help="add a member to a draft")
    add.add_argument("pack")
    add.add_argument("--kind", required=True, choices=KINDS)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--caption")
    add.add_argument("--dataset")
    add.add_argument("--version", type=int)
    add.add_argument("--model-run")
    add.add_argument("--file", help="a pack file: uploaded through the presigned POST")
    add.set_defaults(func=cmd_add)

    seal = actions.add_parser("seal", help="seal a draft: hash, lock, record the manifest's hash")
    seal.add_argument("pack")
    seal.set_defaults(func=cmd_seal)

    export = actions.add_parser("export", help="a zip of a sealed pack (presigned GET); --output saves it")
    export.add_argument("pack")
    export.add_argument("--output")
    export.add_argument("--purpose", help="why (recorded in the audit trail)")
    export.set_defaults(func=cmd_export)

    verify = actions.add_parser("verify", help="check every file of an exported zip against its manifest")
    verify.add_argument("zip")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(func=cmd_verify)

    reproduce = actions.add_parser("reproduce", help="re-run the zip's model runs and compare the outputs")
    reproduce.add_argument("zip")
    reproduce.add_argument("--json", action="store_true")
    reproduce.add_argument("--work-dir", help="keep the re-runs here (default: a temporary folder)")
    reproduce.set_defaults(func=cmd_reproduce)
