"""Deploy the CDK-synthesized stack into moto: in-process (`mock_aws`) or a ThreadedMotoServer.

The same template the cloud gets: `infra.app.synth` -> file assets zipped into the bootstrap assets
bucket -> moto CloudFormation. Then what a person would do after a first deploy: verify the SES
sender and create demo users.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local import cfn_resources, lambda_runtime, outbox

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".witan-local"
DEFAULT_REGION = "eu-west-2"
MOTO_ACCOUNT = "123456789012"  # moto's default account
MOTO_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}}
# Sources that feed the synthesized template and its assets; a change in any of them re-synthesizes.
SYNTH_INPUTS = ("infra", "functions", "layers/shared/python", "schemas", "cdk.json")


@dataclass(frozen=True)
class DemoUser:
    """A local-only account. The passwords are published on purpose: they exist only in moto."""

    key: str
    email: str
    group: str
    password: str


DEMO_USERS: dict[str, DemoUser] = {
    user.key: user
    for user in (
        DemoUser("requester", "requester@camden.example", "org-camden", "Local-Requester-1!"),
        DemoUser("analyst", "analyst@hackney.example", "org-hackney", "Local-Analyst-1!"),
        DemoUser("admin", "admin@witan.example", "platform-admin", "Local-Admin-1!"),
    )
}


class DeployError(RuntimeError):
    """The stack did not reach CREATE_COMPLETE; the message carries CloudFormation's reasons."""


@dataclass
class Deployment:
    """A deployed embedded stack: its outputs and how to talk to it."""

    stack_name: str
    region: str
    endpoint_url: str | None  # None in-process
    outputs: dict[str, str]
    template: dict[str, Any]
    ignored_types: list[str]
    resource_counts: dict[str, int]
    synth_seconds: float = 0.0
    deploy_seconds: float = 0.0
    users: dict[str, DemoUser] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
        )

    def id_token(self, user_key: str) -> str:
        """An ID token for a demo user via USER_PASSWORD_AUTH (moto signs it with RS256)."""
        user = self.users[user_key]
        client_id = self.outputs["UserPoolClientId"]
        cognito = self.client("cognito-idp")
        parameters = {"USERNAME": user.email, "PASSWORD": user.password}
        secret = cognito.describe_user_pool_client(UserPoolId=self.outputs["UserPoolId"], ClientId=client_id)[
            "UserPoolClient"
        ].get("ClientSecret")
        if secret:
            digest = hmac.new(secret.encode(), (user.email + client_id).encode(), hashlib.sha256).digest()
            parameters["SECRET_HASH"] = base64.b64encode(digest).decode()
        result = cognito.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH", AuthParameters=parameters, ClientId=client_id
        )
        return str(result["AuthenticationResult"]["IdToken"])


# --- synth ----------------------------------------------------------------------------------------


def _inputs_digest(context: dict[str, Any] | None) -> str:
    digest = hashlib.sha256(json.dumps(context or {}, sort_keys=True).encode())
    for name in SYNTH_INPUTS:
        root = REPO_ROOT / name
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(REPO_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def synth(outdir: Path, context: dict[str, Any] | None = None) -> Path:
    """Synthesize the real stack with the data layer build skipped (placeholder asset)."""
    os.environ["WITAN_SKIP_LAYER_BUILD"] = "1"
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    if str(REPO_ROOT) not in sys.path:  # infra/ imports layers/ from the repo root
        sys.path.insert(0, str(REPO_ROOT))
    from infra.app import synth as infra_synth

    return Path(infra_synth(outdir, context))


def synth_cached(context: dict[str, Any] | None = None) -> tuple[Path, float]:
    """Synthesize once per change of the stack's sources (CDK synth takes ~15 s); returns (template, s).

    The synth runs in a child process: jsii's Node process (a few hundred MB) then does not live on in
    the demo, the tests or `witan local up`, and Ctrl-C there does not break it mid-flight."""
    target = CACHE_DIR / f"cdk.out-{_inputs_digest(context)}"
    marker = target / "template-path.txt"
    if marker.exists():
        return target / marker.read_text().strip(), 0.0
    CACHE_DIR.mkdir(exist_ok=True)
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=CACHE_DIR))
    try:
        command = [sys.executable, "-m", "local.deploy", "synth", str(staging), json.dumps(context or {})]
        result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DeployError(f"synth failed:\n{result.stderr[-4000:]}")
        (staging / "template-path.txt").write_text(result.stdout.strip().splitlines()[-1])
        with contextlib.suppress(OSError):  # another process may have won the race: use theirs
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune_cache(keep=target)
    return target / marker.read_text().strip(), time.perf_counter() - started


def _prune_cache(keep: Path, max_age_s: float = 3600.0) -> None:
    """Drop synth outputs of older sources (and abandoned staging dirs) after an hour."""
    now = time.time()
    for path in [*CACHE_DIR.glob("cdk.out-*"), *CACHE_DIR.glob("staging-*")]:
        if path != keep and now - path.stat().st_mtime > max_age_s:
            shutil.rmtree(path, ignore_errors=True)


# --- deploy ---------------------------------------------------------------------------------------


def _substitute(text: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", MOTO_ACCOUNT)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def upload_assets(assembly_dir: Path, stack_name: str, deployment: Deployment) -> int:
    """Upload every file asset of the stack (folders zipped) where its template expects it."""
    manifest_path = assembly_dir / f"{stack_name}.assets.json"
    if not manifest_path.exists():  # a hand-written template (tests) has no assets
        return 0
    manifest = json.loads(manifest_path.read_text())
    s3 = deployment.client("s3")
    buckets: set[str] = set()
    count = 0
    for asset in manifest.get("files", {}).values():
        source = assembly_dir / asset["source"]["path"]
        if source.suffix == ".json" and source.name.startswith(stack_name):
            continue  # the template itself goes in as TemplateBody
        body = _zip_folder(source) if asset["source"].get("packaging") == "zip" else source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = _substitute(destination["bucketName"], deployment.region)
            if bucket not in buckets:
                with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                    s3.create_bucket(
                        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": deployment.region}
                    )
                buckets.add(bucket)
            s3.put_object(
                Bucket=bucket, Key=_substitute(destination["objectKey"], deployment.region), Body=body
            )
            count += 1
    return count


def prepare_template(template: dict[str, Any]) -> dict[str, Any]:
    """Drop what only the CDK bootstrap stack can satisfy (BootstrapVersion parameter and its rule)."""
    prepared = json.loads(json.dumps(template))
    prepared.get("Parameters", {}).pop("BootstrapVersion", None)
    prepared.get("Rules", {}).pop("CheckBootstrapVersion", None)
    for key in ("Parameters", "Rules"):
        if key in prepared and not prepared[key]:
            del prepared[key]
    for resource in prepared.get("Resources", {}).values():
        # moto 5.2.5's AWS::ApiGateway::Method reads Integration.IntegrationHttpMethod and Uri
        # unconditionally; CORS preflight methods have a MOCK integration without them. (API Gateway
        # itself is served by local.gateway from the template; moto's copy only has to exist.)
        integration = resource.get("Properties", {}).get("Integration")
        is_method = resource["Type"] == "AWS::ApiGateway::Method"
        if is_method and isinstance(integration, dict) and integration.get("Type") == "MOCK":
            integration.setdefault("IntegrationHttpMethod", "POST")
            integration.setdefault("Uri", "")
    return prepared


def _stack_region(assembly_dir: Path, stack_name: str) -> str:
    manifest_path = assembly_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    environment = manifest.get("artifacts", {}).get(stack_name, {}).get("environment", "")
    region = environment.rsplit("/", 1)[-1] if environment else ""
    return region if region and region != "unknown-region" else os.environ.get("AWS_REGION", DEFAULT_REGION)


def _wait_for_stack(cfn: Any, stack_name: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return dict(stack)
        if not status.endswith("IN_PROGRESS") or time.monotonic() > deadline:
            events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
            reasons = [
                f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"
                for e in events
                if "FAILED" in e.get("ResourceStatus", "")
            ]
            raise DeployError(
                f"stack {stack_name} is {status} after deploy: {'; '.join(reasons) or 'no reason'}"
            )
        time.sleep(0.1)


def deploy_template(
    template_path: Path, *, endpoint_url: str | None = None, timeout_s: float = 60.0
) -> Deployment:
    """Create the stack from a synthesized template (moto must already be running/mocked)."""
    started = time.perf_counter()
    assembly_dir = template_path.parent
    stack_name = template_path.name.removesuffix(".template.json")
    region = _stack_region(assembly_dir, stack_name)
    template = json.loads(template_path.read_text())
    deployment = Deployment(
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        outputs={},
        template=template,
        ignored_types=cfn_resources.ignored_types(template),
        resource_counts=dict(Counter(r["Type"] for r in template.get("Resources", {}).values())),
    )
    # Ref/GetAtt on a type moto lacks would fail the whole stack: give those a placeholder.
    cfn_resources.placeholders_for(
        [t for t in deployment.ignored_types if not t.startswith("AWS::CloudFormation::")]
    )
    upload_assets(assembly_dir, stack_name, deployment)
    cfn = deployment.client("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(prepare_template(template)),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = _wait_for_stack(cfn, stack_name, timeout_s)
    deployment.outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    apply_object_lock(deployment)
    verify_ses_senders(deployment)
    deployment.users = create_demo_users(deployment)
    deployment.deploy_seconds = time.perf_counter() - started
    return deployment


def apply_object_lock(deployment: Deployment) -> list[str]:
    """Turn on versioning and Object Lock (with any default retention) on the buckets whose template
    asks for them: moto's CloudFormation creates buckets without either. Returns the buckets done."""
    cfn, s3 = deployment.client("cloudformation"), deployment.client("s3")
    # moto lists some resources (API methods, Lambda permissions) without a physical id.
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=deployment.stack_name)["StackResources"]
        if r.get("PhysicalResourceId")
    }
    done = []
    for logical, resource in deployment.template.get("Resources", {}).items():
        props = resource.get("Properties") or {}
        if (
            resource.get("Type") != "AWS::S3::Bucket"
            or not props.get("ObjectLockEnabled")
            or logical not in physical
        ):
            continue
        bucket = physical[logical]
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        config: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
        rule = (props.get("ObjectLockConfiguration") or {}).get("Rule")
        if rule:
            config["Rule"] = rule
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)
        done.append(bucket)
    return done


def verify_ses_senders(deployment: Deployment) -> list[str]:
    """Verify every function's SES sender (and create its configuration set) as a first deploy would."""
    ses = deployment.client("ses")
    senders: set[str] = set()
    config_sets: set[str] = set()
    for function in deployment.client("lambda").list_functions()["Functions"]:
        variables = function.get("Environment", {}).get("Variables", {})
        if variables.get("SES_SENDER"):
            senders.add(variables["SES_SENDER"])
        if variables.get("SES_CONFIGURATION_SET"):
            config_sets.add(variables["SES_CONFIGURATION_SET"])
    for sender in sorted(senders):
        ses.verify_email_identity(EmailAddress=sender)
    existing = {c["Name"] for c in ses.list_configuration_sets().get("ConfigurationSets", [])}
    for name in sorted(config_sets - existing):
        ses.create_configuration_set(ConfigurationSet={"Name": name})
    return sorted(senders)


def create_demo_users(deployment: Deployment) -> dict[str, DemoUser]:
    """The three demo accounts, confirmed, each in its group (groups created if the stack has none)."""
    pool_id = deployment.outputs.get("UserPoolId")
    if not pool_id:
        return {}
    cognito = deployment.client("cognito-idp")
    groups = {g["GroupName"] for g in cognito.list_groups(UserPoolId=pool_id)["Groups"]}
    for user in DEMO_USERS.values():
        if user.group not in groups:
            cognito.create_group(UserPoolId=pool_id, GroupName=user.group)
            groups.add(user.group)
        cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=user.email,
            UserAttributes=[
                {"Name": "email", "Value": user.email},
                {"Name": "email_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",
        )
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username=user.email, Password=user.password, Permanent=True
        )
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=user.email, GroupName=user.group)
    return dict(DEMO_USERS)


# --- the embedded stack ---------------------------------------------------------------------------


def _start_server(port: int) -> tuple[Any, str, Callable[[], None]]:
    """Start moto on 127.0.0.1; returns (server, url, a function undoing our process-wide settings)."""
    from moto.server import ThreadedMotoServer

    # werkzeug logs one line per request at INFO; the level is restored when the server stops.
    werkzeug = logging.getLogger("werkzeug")
    server_log_level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    url = f"http://{host}:{bound_port}"
    config_url = f"{url}/moto-api/config"  # our own server on 127.0.0.1
    request = urllib.request.Request(config_url, data=json.dumps(MOTO_CONFIG).encode(), method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own local server
        response.read()
    # moto's Step Functions parser calls Lambda and S3 at localhost:$MOTO_PORT when not mocking.
    previous_port = os.environ.get("MOTO_PORT")
    os.environ["MOTO_PORT"] = str(bound_port)

    def restore() -> None:
        werkzeug.setLevel(server_log_level)
        if previous_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = previous_port

    return server, url, restore


@contextlib.contextmanager
def embedded_stack(
    *,
    server: bool = False,
    port: int = 0,
    outbox_dir: Path | None = None,
    context: dict[str, Any] | None = None,
    template_path: Path | None = None,
) -> Iterator[Deployment]:
    """Synthesize (cached), start moto, deploy, and yield the deployment; everything stops on exit."""
    synth_seconds = 0.0
    if template_path is None:
        template_path, synth_seconds = synth_cached(context)
    cfn_resources.install()
    if outbox_dir is not None:
        outbox.install(outbox_dir)
    try:
        if server:
            moto_server, url, restore = _start_server(port)
            try:
                lambda_runtime.install(endpoint_url=url)
                deployment = deploy_template(template_path, endpoint_url=url)
                deployment.synth_seconds = synth_seconds
                yield deployment
            finally:
                lambda_runtime.uninstall()  # stop the poller before the server goes
                moto_server.stop()
                restore()
        else:
            from moto import mock_aws

            with mock_aws(config=MOTO_CONFIG):
                try:
                    lambda_runtime.install()
                    deployment = deploy_template(template_path)
                    deployment.synth_seconds = synth_seconds
                    yield deployment
                finally:
                    lambda_runtime.uninstall()  # no handler may run once the mock is gone
    finally:
        if outbox_dir is not None:  # only this stack's own outbox: others may still be running
            outbox.uninstall(outbox_dir)
        cfn_resources.uninstall()


if __name__ == "__main__":  # `python -m local.deploy synth OUTDIR [CONTEXT_JSON]`: used by synth_cached
    if len(sys.argv) < 3 or sys.argv[1] != "synth":
        sys.exit("usage: python -m local.deploy synth OUTDIR [CONTEXT_JSON]")
    out = Path(sys.argv[2])
    template_file = synth(out, json.loads(sys.argv[3]) if len(sys.argv) > 3 else None)
    print(template_file.relative_to(out.resolve()) if template_file.is_absolute() else template_file)
