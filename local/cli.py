"""`witan local up` (embedded stack + local API until Ctrl-C) and `witan local token USER`.

Imports of moto, boto3 and the CDK happen inside the commands: `witan` builds every area's parser
at start-up and must stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

STATE_FILE = Path(__file__).resolve().parent.parent / ".witan-local" / "local-up.json"


def register(subparsers: Any) -> None:
    local = subparsers.add_parser("local", help="run the stack on embedded AWS (moto) with a local API")
    commands = local.add_subparsers(dest="local_command", required=True, metavar="SUBCOMMAND")
    up = commands.add_parser("up", help="deploy into a local moto server and serve the API until Ctrl-C")
    up.add_argument("--port", type=int, default=0, help="API port on 127.0.0.1 (default: any free port)")
    up.add_argument("--outbox", type=Path, default=None, help="folder for sent emails (.eml)")
    up.set_defaults(func=run_up)
    token = commands.add_parser("token", help="print an ID token for a demo user of the running stack")
    token.add_argument("user", choices=["requester", "analyst", "admin"])
    token.set_defaults(func=run_token)


def run_up(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Deploy, serve, print how to use it, and wait for Ctrl-C (or `stop`, for tests)."""
    from local.deploy import embedded_stack
    from local.gateway import LocalGateway

    outbox_dir = (args.outbox or STATE_FILE.parent / "outbox").resolve()
    stop = stop or threading.Event()
    with (
        embedded_stack(server=True, outbox_dir=outbox_dir) as deployment,
        LocalGateway(deployment, port=args.port) as gateway,
    ):
        STATE_FILE.parent.mkdir(exist_ok=True)
        state = {
            "endpoint_url": deployment.endpoint_url,
            "region": deployment.region,
            "api_url": gateway.url,
            "outputs": deployment.outputs,
            "pid": os.getpid(),
        }
        STATE_FILE.write_text(json.dumps(state, indent=2))
        print(
            f"moto endpoint: {deployment.endpoint_url}  "
            f"(AWS_ENDPOINT_URL for boto3 or the aws cli; region {deployment.region})"
        )
        print(f"API endpoint:  {gateway.url}")
        print(f"console:       {gateway.url}console/  (sign in as a demo user below)")
        print(f"outbox:        {outbox_dir}")
        print(
            f"deployed {deployment.stack_name} in {deployment.deploy_seconds:.1f}s; demo users (local only):"
        )
        for user in deployment.users.values():
            print(f"  {user.key:<10} {user.email:<28} group {user.group:<15} password {user.password}")
        print("get a token:   witan local token requester")
        print(f'try:           curl -H "Authorization: $(witan local token requester)" {gateway.url}datasets')
        print("Ctrl-C to stop.", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            print("\nstopping")
        finally:
            STATE_FILE.unlink(missing_ok=True)
    return 0


def run_token(args: argparse.Namespace) -> int:
    if not STATE_FILE.exists():
        print("no running stack: start one with `witan local up`", file=sys.stderr)
        return 2
    state = json.loads(STATE_FILE.read_text())
    from local.deploy import DEMO_USERS, Deployment

    deployment = Deployment(
        stack_name="",
        region=state["region"],
        endpoint_url=state["endpoint_url"],
        outputs=state["outputs"],
        template={},
        ignored_types=[],
        resource_counts={},
        users=dict(DEMO_USERS),
    )
    try:
        print(deployment.id_token(args.user))
    except Exception as error:  # e.g. the server has stopped: say so, no traceback
        print(f"could not get a token from {state['endpoint_url']}: {error}", file=sys.stderr)
        return 1
    return 0
