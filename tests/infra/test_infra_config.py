"""infra/config.py: cdk.json context + env overrides -> validated WitanConfig, or one clear ConfigError."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.app import cdk_json_context
from infra.config import ConfigError, WitanConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
GOOD: dict[str, Any] = {
    "witan:environment": "dev",
    "witan:adminEmail": "admin@council.example.org",
    "witan:sesSender": "noreply@council.example.org",
    "witan:allowedOrigins": ["https://witan.example.org", "http://localhost:8765"],
    "witan:auditRetentionDays": 2557,
}


def test_cdk_json_context_is_a_valid_local_config() -> None:
    config = load_config(cdk_json_context(), {})
    assert config.environment == "local"
    assert config.stack_name == "Witan-local"
    assert config.name("audit") == "witan-local-audit"
    assert config.allowed_origins == ("http://127.0.0.1:8765", "http://localhost:8765")
    assert config.audit_retention_days == 2557
    assert config.map_max_concurrency == 10
    assert "org-camden" in config.organisation_groups


def test_context_values_are_read() -> None:
    config = load_config(GOOD, {})
    assert config == WitanConfig(
        environment="dev",
        admin_email="admin@council.example.org",
        ses_sender="noreply@council.example.org",
        allowed_origins=("https://witan.example.org", "http://localhost:8765"),
        audit_retention_days=2557,
        map_max_concurrency=10,
        organisation_groups=(),
    )


def test_environment_variables_override_context() -> None:
    env = {
        "WITAN_ENVIRONMENT": "prod",
        "WITAN_ADMIN_EMAIL": "ops@council.example.org",
        "WITAN_SES_SENDER": "witan@council.example.org",
        "WITAN_ALLOWED_ORIGINS": "https://a.example.org, https://b.example.org:8443",
    }
    config = load_config(GOOD, env)
    assert config.environment == "prod"
    assert config.admin_email == "ops@council.example.org"
    assert config.ses_sender == "witan@council.example.org"
    assert config.allowed_origins == ("https://a.example.org", "https://b.example.org:8443")


def test_empty_environment_variable_does_not_override() -> None:
    assert load_config(GOOD, {"WITAN_ADMIN_EMAIL": ""}).admin_email == "admin@council.example.org"


def test_numbers_from_cli_context_strings() -> None:
    config = load_config({**GOOD, "witan:auditRetentionDays": "30", "witan:mapMaxConcurrency": "40"}, {})
    assert (config.audit_retention_days, config.map_max_concurrency) == (30, 40)


@pytest.mark.parametrize(
    ("context_change", "env", "key"),
    [
        ({"witan:adminEmail": None}, {}, "witan:adminEmail"),
        ({"witan:adminEmail": ""}, {}, "witan:adminEmail"),
        ({"witan:adminEmail": "admin-at-council"}, {}, "witan:adminEmail"),
        ({"witan:adminEmail": "admin@localhost"}, {}, "witan:adminEmail"),
        ({}, {"WITAN_ADMIN_EMAIL": "Admin <admin@council.example.org>"}, "WITAN_ADMIN_EMAIL"),
        ({"witan:sesSender": "no reply@council.example.org"}, {}, "witan:sesSender"),
        ({"witan:allowedOrigins": ["https://witan.example.org/app"]}, {}, "witan:allowedOrigins"),
        ({"witan:allowedOrigins": ["https://witan.example.org/"]}, {}, "witan:allowedOrigins"),
        ({"witan:allowedOrigins": ["*"]}, {}, "witan:allowedOrigins"),
        ({"witan:allowedOrigins": ["https://*.example.org"]}, {}, "witan:allowedOrigins"),
        ({"witan:allowedOrigins": ["witan.example.org"]}, {}, "witan:allowedOrigins"),
        ({"witan:allowedOrigins": ["ftp://witan.example.org"]}, {}, "witan:allowedOrigins"),
        ({"witan:allowedOrigins": ["https://witan.example.org?x=1"]}, {}, "witan:allowedOrigins"),
        ({"witan:allowedOrigins": ["https://witan.example.org:99999"]}, {}, "witan:allowedOrigins"),
        ({"witan:allowedOrigins": []}, {}, "witan:allowedOrigins"),
        ({}, {"WITAN_ALLOWED_ORIGINS": "https://ok.example.org,localhost:8765"}, "WITAN_ALLOWED_ORIGINS"),
        ({"witan:environment": "Prod"}, {}, "witan:environment"),
        ({"witan:environment": "my_env"}, {}, "witan:environment"),
        ({"witan:environment": None}, {}, "witan:environment"),
        ({}, {"WITAN_ENVIRONMENT": "x" * 17}, "WITAN_ENVIRONMENT"),
        ({"witan:auditRetentionDays": 0}, {}, "witan:auditRetentionDays"),
        ({"witan:auditRetentionDays": "seven years"}, {}, "witan:auditRetentionDays"),
        ({"witan:mapMaxConcurrency": True}, {}, "witan:mapMaxConcurrency"),
        ({"witan:organisationGroups": ["platform-admin"]}, {}, "witan:organisationGroups"),
        ({"witan:organisationGroups": "org-camden"}, {}, "witan:organisationGroups"),
    ],
)
def test_bad_config_names_the_key(context_change: dict[str, Any], env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({**GOOD, **context_change}, env)
    message = str(raised.value)
    assert raised.value.key == key
    assert message.startswith(f"config {key}: expected ")
    assert "\n" not in message


def test_python_m_infra_app_reports_bad_config_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "WITAN_ADMIN_EMAIL": "not-an-email", "CDK_OUTDIR": str(tmp_path / "out")}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    result = subprocess.run(
        [sys.executable, "-m", "infra.app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "error: config WITAN_ADMIN_EMAIL: expected an email address like name@example.org, got 'not-an-email'"
    ]
