"""Lambda layers and the one way this stack makes a function (runtime, logging, tracing, role)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import WitanConfig
from layers.build import FUNCTION_LAYERS, THIRD_PARTY_LAYERS, code_asset_dir, layer_asset_dir

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
SHARED_LAYER_DIR = ROOT / "layers" / "shared"
RUNTIME = lambda_.Runtime.PYTHON_3_13
HANDLER = "handler.lambda_handler"
METRICS_NAMESPACE = "Witan"
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
_ASSET_EXCLUDE = ["**/__pycache__", "**/*.pyc", "**/tests", "*.egg-info"]


def code_asset(source: Path, name: str, *, skip_build: bool) -> lambda_.Code:
    """Our own code as an asset: the source folder for local synths, else a copy with bytecode."""
    if skip_build:
        return lambda_.Code.from_asset(str(source), exclude=_ASSET_EXCLUDE)
    # The built copy holds only what ships, bytecode included (so no *.pyc exclusion here).
    return lambda_.Code.from_asset(str(code_asset_dir(source, name, skip_build=False)))


class Layers(Construct):
    """The shared-code layer (the `witan` package) and the third-party layers (built by layers/build.py)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: WitanConfig, skip_build: bool) -> None:
        super().__init__(scope, construct_id)
        self.skip_build = skip_build
        self.by_name: dict[str, lambda_.LayerVersion] = {
            "shared": lambda_.LayerVersion(
                self,
                "Shared",
                layer_version_name=config.name("shared"),
                description="Witan domain package (witan)",
                code=code_asset(SHARED_LAYER_DIR, "shared", skip_build=skip_build),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[lambda_.Architecture.X86_64],
            )
        }
        descriptions = {
            "base": "Powertools (logger, metrics, tracer), X-Ray SDK, jsonschema",
            "data": "pyarrow, numpy, python-calamine, openpyxl, matplotlib",
        }
        for name in THIRD_PARTY_LAYERS:
            self.by_name[name] = lambda_.LayerVersion(
                self,
                name.capitalize(),
                layer_version_name=config.name(name),
                description=descriptions[name],
                code=lambda_.Code.from_asset(str(layer_asset_dir(name, skip_build=skip_build))),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[lambda_.Architecture.X86_64],
            )

    def for_function(self, function: str) -> list[lambda_.ILayerVersion]:
        return [self.by_name[name] for name in FUNCTION_LAYERS[function]]


class WitanFunction(Construct):
    """A handler folder as a function: python3.13, Powertools env, active tracing, its own log group
    and its own role holding only log writing; callers add exactly the permissions it uses."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: WitanConfig,
        folder: str,
        layers: Layers,
        description: str,
        environment: Mapping[str, str],
        memory_mb: int,
        timeout: Duration,
        ephemeral_storage_mb: int = 512,
    ) -> None:
        super().__init__(scope, construct_id)
        self.folder = folder
        self.function_name = config.name(folder.replace("_", "-"))
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{self.function_name}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Own role instead of AWSLambdaBasicExecutionRole: log writing scoped to this log group only.
        self.role = iam.Role(
            self,
            "Role",
            role_name=f"{self.function_name}-role",
            description=f"Execution role of {self.function_name}",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=self.function_name,
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=HANDLER,
            code=code_asset(FUNCTIONS_DIR / folder, f"function-{folder}", skip_build=layers.skip_build),
            layers=layers.for_function(folder),
            memory_size=memory_mb,
            timeout=timeout,
            ephemeral_storage_size=Size.mebibytes(ephemeral_storage_mb),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            role=self.role,
            environment={
                "POWERTOOLS_SERVICE_NAME": folder,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "LOG_LEVEL": "INFO",
                # Responses can hold presigned URLs (bearer credentials): keep them out of X-Ray.
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                **environment,
            },
        )

    def grant(
        self,
        sid: str,
        actions: Sequence[str],
        resources: Sequence[str],
        conditions: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        """Add one named statement to this function's role."""
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid=sid,
                actions=list(actions),
                resources=list(resources),
                conditions=dict(conditions) if conditions else None,
            )
        )
