"""`witan audit verify|digest`: check the audit table's hash chains, or append a digest on demand.

Exit codes (verify): 0 intact, 1 tampered (problems listed), 2 the table could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="verify or digest the tamper-evident audit trail")
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    verify = commands.add_parser("verify", help="verify every hash chain and digest in the audit table")
    _table_options(verify)
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(func=run_verify)

    digest = commands.add_parser("digest", help="append a digest of every chain's head now")
    _table_options(digest)
    digest.add_argument(
        "--chains",
        type=int,
        default=None,
        help="number of event chains events#0..K-1 (default: $AUDIT_CHAINS or 8)",
    )
    digest.set_defaults(func=run_digest)


def _table_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", required=True, help="audit table name (stack output AuditTableName)")
    parser.add_argument("--endpoint-url", default=None, help="DynamoDB endpoint, e.g. the embedded stack's")
    parser.add_argument("--region", default=None, help="AWS region (default: from the environment)")


def run_verify(args: argparse.Namespace) -> int:
    from witan.aws.audit_table import AuditReadError, make_client, verify

    try:
        result = verify(args.table, make_client(args.endpoint_url, args.region))
    except AuditReadError as exc:
        print(f"audit verify: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        chains = ", ".join(f"{c}={n}" for c, n in sorted(result.chains.items())) or "none"
        print(f"audit table {args.table}: {result.items} items ({chains}); {result.digests} digests")
        if result.expired_gaps:
            print(f"{result.expired_gaps} gap(s) explained by TTL expiry")
        for p in result.problems:
            print(f"PROBLEM {p.kind} chain={p.chain} seq={p.seq}: {p.message}")
        print("INTACT" if result.ok else f"TAMPERED: {len(result.problems)} problem(s)")
    return 0 if result.ok else 1


def run_digest(args: argparse.Namespace) -> int:
    from witan.audit.model import AuditWriteError
    from witan.aws.audit_table import DynamoAuditTrail, make_client

    if args.chains is not None and args.chains < 1:
        print("audit digest: --chains must be at least 1", file=sys.stderr)
        return 2
    trail = DynamoAuditTrail(args.table, make_client(args.endpoint_url, args.region), chains=args.chains)
    try:
        digest_id = trail.write_digest()
    except AuditWriteError as exc:
        print(f"audit digest: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {digest_id}")
    return 0
