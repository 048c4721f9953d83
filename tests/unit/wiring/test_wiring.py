"""One way to wire (issue 16): every handler's services come from `witan.aws.wiring`, built from Settings;
an optional area is present or absent by type; nothing but Settings reads the stack's environment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from witan.api.deps import Services
from witan.aws import wiring
from witan.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
WITAN = ROOT / "layers" / "shared" / "python" / "witan"
BASE = {
    "DATA_BUCKET": "data",
    "AUDIT_TABLE": "audit",
    "CATALOG_TABLE": "catalog",
    "GRANTS_TABLE": "grants",
    "SES_SENDER": "witan@example.org",
}
# Where reading the process environment is right: Settings (the stack's configuration), the command-line
# tools (the caller's endpoint and token), where the layer's built-in schemas are, and matplotlib's cache.
ENV_READERS = {
    "settings.py",
    "api/cli.py",
    "datapacks/cli.py",
    "validation/schema.py",
    "modelrun/charts.py",
    "models/cic/charts.py",
    "aws/lambda_logs.py",  # whether this is the Lambda runtime
}
_ENV = re.compile(r"\bos\.(environ|getenv)\b")


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    wiring.forget()
    yield
    wiring.forget()


def test_optional_areas_are_absent_where_the_stack_has_none() -> None:
    services = wiring.api_services(Settings.from_env(BASE))
    assert isinstance(services, Services)
    assert services.collect is None and services.model_runs is None and services.datapacks is None
    assert services.console.auth_url == "" and services.admin_mfa_required is False


def test_each_configured_area_is_present_and_built_once_per_configuration() -> None:
    env = {
        **BASE,
        "REQUESTS_TABLE": "requests",
        "MODEL_RUNS_TABLE": "runs",
        "STATE_MACHINE_ARN": "arn:aws:states:eu-west-2:123456789012:stateMachine:m",
        "DATAPACKS_BUCKET": "packs",
        "DATAPACK_RETENTION_YEARS": "3",
        "DATAPACK_LOCK_MODE": "GOVERNANCE",
        "CONSOLE_AUTH_URL": "https://login.example",
        "CONSOLE_CLIENT_ID": "client",
        "ADMIN_MFA": "required",
    }
    services = wiring.api_services(Settings.from_env(env))
    assert services.collect is not None and services.model_runs is not None
    assert services.datapacks is not None
    packs = services.datapacks()
    assert packs.objects.retention_years == 3 and packs.objects.lock_mode == "GOVERNANCE"
    assert services.datapacks() is packs  # built on first use, then kept
    assert services.model_runs().runs is not None
    assert services.console.client_id == "client" and services.admin_mfa_required is True
    assert wiring.api_services(Settings.from_env(env)) is services
    assert wiring.api_services(Settings.from_env({**env, "CATALOG_TABLE": "other"})) is not services


def test_model_runs_need_both_their_table_and_the_state_machine() -> None:
    only_table = wiring.api_services(Settings.from_env({**BASE, "MODEL_RUNS_TABLE": "runs"}))
    assert only_table.model_runs is None


def test_the_model_run_steps_get_no_mailer_without_a_sender() -> None:
    env = {**BASE, "MODEL_RUNS_TABLE": "runs", "SES_SENDER": ""}
    assert wiring.model_run_services(Settings.from_env(env)).mailer is None
    assert wiring.model_run_services(Settings.from_env({**env, "SES_SENDER": "a@b.org"})).mailer is not None


def test_the_sealer_refuses_to_start_without_its_key_and_bucket() -> None:
    with pytest.raises(RuntimeError, match="AUDIT_SEAL_BUCKET"):
        wiring.sealer_services(Settings.from_env(BASE))


def test_only_settings_reads_the_environment() -> None:
    readers = {
        path.relative_to(WITAN).as_posix()
        for path in WITAN.rglob("*.py")
        if _ENV.search(path.read_text(encoding="utf-8"))
    }
    assert sorted(readers - ENV_READERS) == []
    runtime_only = ("PYDANTIC_DISABLE_PLUGINS", "AWS_LAMBDA_FUNCTION_NAME")  # tuning, not configuration
    for handler in (ROOT / "functions").glob("*/handler.py"):
        for line in handler.read_text(encoding="utf-8").splitlines():
            if _ENV.search(line):
                assert any(name in line for name in runtime_only), f"{handler}: {line.strip()}"


def test_routes_find_their_areas_by_type_not_by_probing() -> None:
    for path in (WITAN / "api").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "getattr(cur.services" not in text and "getattr(current(" not in text, path
        assert "Settings.from_env" not in text, path


def test_the_domain_never_imports_the_aws_sdk() -> None:
    """boto3/botocore only in the adapters (witan/aws/) and the command-line tools that talk to a stack."""
    sdk = re.compile(r"^\s*(import|from)\s+(boto3|botocore)\b", re.M)
    importers = {
        path.relative_to(WITAN).as_posix()
        for path in WITAN.rglob("*.py")
        if sdk.search(path.read_text(encoding="utf-8"))
    }
    assert sorted(p for p in importers if not p.startswith("aws/") and not p.endswith("cli.py")) == []


def test_no_handler_or_route_builds_storage_keys() -> None:
    """DynamoDB keys and types belong to the adapters (witan/aws/)."""
    keys = re.compile(r"""["'](pk|sk|gsi1pk|gsi1sk)["']|\{"S":|TypeSerializer|TypeDeserializer""")
    places = [*(ROOT / "functions").glob("*/handler.py"), *(p for p in WITAN.rglob("*.py"))]
    found = sorted(
        str(path.relative_to(ROOT))
        for path in places
        if "aws" not in path.relative_to(ROOT).parts and keys.search(path.read_text(encoding="utf-8"))
    )
    assert found == []
