"""`witan audit verify|digest`: check the audit table's hash chains (and, with the seal bucket and key,
the heads signed outside the table), or append a digest on demand.

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

    verify = commands.add_parser(
        "verify", help="verify every hash chain and digest in the audit table, and the signed seals"
    )
    _table_options(verify, required=False)
    verify.add_argument(
        "--stack",
        default=None,
        help="a deployed Witan stack (e.g. Witan-prod): table, seal bucket and key from its outputs",
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.add_argument(
        "--seal-bucket",
        default=None,
        help="the Object Lock bucket of signed seals (stack output AuditSealBucketName)",
    )
    verify.add_argument(
        "--seal-key",
        default=None,
        help="the KMS key that signs seals (stack output AuditSealKeyId); needs kms:Verify",
    )
    verify.add_argument(
        "--seals", type=int, default=3, help="how many of the newest seals to check (default 3)"
    )
    verify.add_argument(
        "--retention-days",
        type=int,
        default=None,
        help="the shortest audit retention ever configured: shorter expiries are reported "
        "(default: $AUDIT_RETENTION_DAYS or 2557)",
    )
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


def _table_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--table", required=required, help="audit table name (stack output AuditTableName)")
    parser.add_argument("--endpoint-url", default=None, help="DynamoDB endpoint, e.g. the embedded stack's")
    parser.add_argument("--region", default=None, help="AWS region (default: from the environment)")


def run_verify(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from witan.audit.records import AuditReadError
    from witan.aws.audit_seals import KmsSigner, S3SealStore, verify_sealed
    from witan.aws.audit_table import make_client, verify
    from witan.settings import Settings

    if args.stack:
        try:
            outputs = stack_outputs(args.stack, args.endpoint_url, args.region)
        except (ClientError, BotoCoreError) as exc:  # no such stack, no credentials, no network
            print(f"audit verify: stack {args.stack} unreadable: {exc}", file=sys.stderr)
            return 2
        args.table = args.table or outputs.get("AuditTableName")
        args.seal_bucket = args.seal_bucket or outputs.get("AuditSealBucketName")
        args.seal_key = args.seal_key or outputs.get("AuditSealKeyId")
    if not args.table:
        print("audit verify: give --table or --stack", file=sys.stderr)
        return 2
    if bool(args.seal_bucket) != bool(args.seal_key):
        print("audit verify: --seal-bucket and --seal-key go together", file=sys.stderr)
        return 2
    retention = args.retention_days or Settings.from_env().audit_retention_days
    client = make_client(args.endpoint_url, args.region)
    try:
        if args.seal_bucket:
            region = client.meta.region_name
            signer = KmsSigner(
                args.seal_key, boto3.client("kms", endpoint_url=args.endpoint_url, region_name=region)
            )
            store = S3SealStore(
                args.seal_bucket, boto3.client("s3", endpoint_url=args.endpoint_url, region_name=region)
            )
            result = verify_sealed(
                args.table, client, store, signer, retention_days=retention, count=max(1, args.seals)
            )
        else:
            result = verify(args.table, client, retention_days=retention)
    except AuditReadError as exc:
        print(f"audit verify: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        chains = ", ".join(f"{c}={n}" for c, n in sorted(result.chains.items())) or "none"
        print(f"audit table {args.table}: {result.items} items ({chains}); {result.digests} digests")
        if args.seal_bucket:
            print(f"checked against {result.seals} signed seal(s) in {args.seal_bucket}")
        else:
            print("no seal bucket given: a rebuilt chain or a changed head cannot be seen (--seal-bucket)")
        if result.expired_gaps:
            print(f"{result.expired_gaps} gap(s) explained by TTL expiry")
        for p in result.problems:
            print(f"PROBLEM {p.kind} chain={p.chain} seq={p.seq}: {p.message}")
        print("INTACT" if result.ok else f"TAMPERED: {len(result.problems)} problem(s)")
    return 0 if result.ok else 1


def stack_outputs(stack: str, endpoint_url: str | None, region: str | None) -> dict[str, str]:
    """A CloudFormation stack's outputs (OutputKey -> OutputValue)."""
    import boto3

    client = boto3.client("cloudformation", endpoint_url=endpoint_url, region_name=region)
    (described,) = client.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o.get("OutputValue", "") for o in described.get("Outputs", [])}


def run_digest(args: argparse.Namespace) -> int:
    from witan.audit.records import AuditWriteError
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
