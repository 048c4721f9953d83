"""Stack configuration: read from cdk.json context, overridable by environment variables, validated.

Pure (no CDK import), so it is unit-tested on its own. Anything wrong stops synth with a one-line
ConfigError naming the key and what is expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CTX_ENVIRONMENT = "witan:environment"
CTX_ADMIN_EMAIL = "witan:adminEmail"
CTX_SES_SENDER = "witan:sesSender"
CTX_ALLOWED_ORIGINS = "witan:allowedOrigins"
CTX_AUDIT_RETENTION_DAYS = "witan:auditRetentionDays"
CTX_MAP_MAX_CONCURRENCY = "witan:mapMaxConcurrency"
CTX_ORGANISATION_GROUPS = "witan:organisationGroups"
CTX_DATAPACK_RETENTION_YEARS = "witan:datapackRetentionYears"

ENV_ENVIRONMENT = "WITAN_ENVIRONMENT"
ENV_ADMIN_EMAIL = "WITAN_ADMIN_EMAIL"
ENV_SES_SENDER = "WITAN_SES_SENDER"
ENV_ALLOWED_ORIGINS = "WITAN_ALLOWED_ORIGINS"

DEFAULT_AUDIT_RETENTION_DAYS = 2557  # 7 years
DEFAULT_MAP_MAX_CONCURRENCY = 10
DEFAULT_DATAPACK_RETENTION_YEARS = 7  # sealed packs' Object Lock retention

# Resource names are witan-{env}-{thing}; S3 bucket names allow lowercase, digits and hyphens only.
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,14}[a-z0-9]$|^[a-z]$")
# Deliberately plain: one @, a dotted domain, no spaces or angle brackets.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
_GROUP = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ADMIN_GROUP = "platform-admin"
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


class ConfigError(ValueError):
    """Bad stack configuration; the message is one line naming the key and what is expected."""

    def __init__(self, key: str, expected: str, got: object) -> None:
        self.key = key
        super().__init__(f"config {key}: expected {expected}, got {got!r}")


@dataclass(frozen=True)
class WitanConfig:
    environment: str
    admin_email: str
    ses_sender: str
    allowed_origins: tuple[str, ...]
    audit_retention_days: int
    map_max_concurrency: int
    organisation_groups: tuple[str, ...] = ()
    datapack_retention_years: int = DEFAULT_DATAPACK_RETENTION_YEARS

    def name(self, suffix: str) -> str:
        """Console-friendly resource name: witan-{env}-{suffix}."""
        return f"witan-{self.environment}-{suffix}"

    @property
    def stack_name(self) -> str:
        return f"Witan-{self.environment}"


def _key(ctx_key: str, env_key: str | None, environ: Mapping[str, str]) -> str:
    """The name to report: the env var when it supplied the value, else the context key."""
    return env_key if env_key and environ.get(env_key) else ctx_key


def _pick(ctx: Mapping[str, Any], environ: Mapping[str, str], ctx_key: str, env_key: str | None) -> Any:
    if env_key and environ.get(env_key):
        return environ[env_key]
    return ctx.get(ctx_key)


def _email(value: Any, key: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigError(key, "an email address (it is required)", value)
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise ConfigError(key, "an email address like name@example.org", value)
    return value.strip()


def _origin(value: Any, key: str) -> str:
    """A browser origin: scheme://host[:port], nothing else (CORS compares origins exactly)."""
    expected = "origins like https://app.example.org or http://localhost:8765 (scheme, host, optional port)"
    if not isinstance(value, str) or "*" in value:
        raise ConfigError(key, expected + ", no wildcards", value)
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(key, expected, value) from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not _HOST.match(parts.hostname)
        or parts.path not in ("",)
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise ConfigError(key, expected, value)
    origin = f"{parts.scheme}://{parts.hostname}"
    return origin + (f":{port}" if port is not None else "")


def _origins(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(key, "a non-empty list of origins (comma-separated in the env var)", value)
    return tuple(dict.fromkeys(_origin(item, key) for item in value))


def _positive_int(value: Any, key: str, default: int, maximum: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(key, f"a whole number from 1 to {maximum}", value)
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(key, f"a whole number from 1 to {maximum}", value) from None
    if not 1 <= number <= maximum:
        raise ConfigError(key, f"a whole number from 1 to {maximum}", value)
    return number


def _groups(value: Any, key: str) -> tuple[str, ...]:
    expected = f"a list of Cognito group names (lowercase letters, digits, hyphens; not {ADMIN_GROUP})"
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise ConfigError(key, expected, value)
    for group in value:
        if not isinstance(group, str) or not _GROUP.match(group) or group == ADMIN_GROUP:
            raise ConfigError(key, expected, group)
    return tuple(dict.fromkeys(value))


def load_config(context: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> WitanConfig:
    """Build the validated configuration from CDK context values and env-var overrides."""
    env: Mapping[str, str] = environ if environ is not None else {}

    key = _key(CTX_ENVIRONMENT, ENV_ENVIRONMENT, env)
    environment = _pick(context, env, CTX_ENVIRONMENT, ENV_ENVIRONMENT)
    if not isinstance(environment, str) or not _ENV_NAME.match(environment):
        raise ConfigError(
            key, "an environment name of 1-16 lowercase letters, digits or hyphens", environment
        )

    admin_key = _key(CTX_ADMIN_EMAIL, ENV_ADMIN_EMAIL, env)
    admin_email = _email(_pick(context, env, CTX_ADMIN_EMAIL, ENV_ADMIN_EMAIL), admin_key)
    sender_key = _key(CTX_SES_SENDER, ENV_SES_SENDER, env)
    ses_sender = _email(_pick(context, env, CTX_SES_SENDER, ENV_SES_SENDER), sender_key)
    origins_key = _key(CTX_ALLOWED_ORIGINS, ENV_ALLOWED_ORIGINS, env)
    origins = _origins(_pick(context, env, CTX_ALLOWED_ORIGINS, ENV_ALLOWED_ORIGINS), origins_key)
    retention = _positive_int(
        context.get(CTX_AUDIT_RETENTION_DAYS), CTX_AUDIT_RETENTION_DAYS, DEFAULT_AUDIT_RETENTION_DAYS, 36500
    )
    concurrency = _positive_int(
        context.get(CTX_MAP_MAX_CONCURRENCY), CTX_MAP_MAX_CONCURRENCY, DEFAULT_MAP_MAX_CONCURRENCY, 10000
    )
    groups = _groups(context.get(CTX_ORGANISATION_GROUPS), CTX_ORGANISATION_GROUPS)
    pack_years = _positive_int(
        context.get(CTX_DATAPACK_RETENTION_YEARS),
        CTX_DATAPACK_RETENTION_YEARS,
        DEFAULT_DATAPACK_RETENTION_YEARS,
        100,
    )
    return WitanConfig(
        environment=environment,
        admin_email=admin_email,
        ses_sender=ses_sender,
        allowed_origins=origins,
        audit_retention_days=retention,
        map_max_concurrency=concurrency,
        organisation_groups=groups,
        datapack_retention_years=pack_years,
    )
