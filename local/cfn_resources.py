"""CloudFormation resource types that moto 5.2.5 cannot create but the embedded stack needs.

moto's CloudFormation skips types it has no model for (Ref then resolves to nothing, GetAtt fails the
stack), and it has none for Cognito, SES or log subscriptions (and makes every KMS key symmetric).
Each class here creates the resource in moto's own backend, so the template stays the single
definition of the stack; other unknown types get a Placeholder. `install()` wraps moto's type lookup
(`parsing.get_model_map`) while an embedded stack runs and `uninstall()` restores it. The classes
derive from `_LocalModel`, not directly from CloudFormationModel: moto lists direct subclasses as
supported types, and these must not leak into other uses of moto in the same process.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cognitoidp.models import cognitoidp_backends
from moto.core.common_models import CloudFormationModel
from moto.kms.models import kms_backends
from moto.logs.models import logs_backends
from moto.ses.models import ses_backends


class _LocalModel(CloudFormationModel):
    """Base of the models below; its own type name never appears in a template."""

    @staticmethod
    def cloudformation_type() -> str:
        return "Witan::Local::Model"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""


class CognitoUserPool(_LocalModel):
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPool"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "UserPoolName"

    @property
    def physical_resource_id(self) -> str:
        return str(self.pool.id)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in {"Arn", "ProviderName", "ProviderURL", "UserPoolId"}

    def get_cfn_attribute(self, attribute_name: str) -> str:
        region = self.pool.region
        values = {
            "Arn": str(self.pool.arn),
            "ProviderName": f"cognito-idp.{region}.amazonaws.com/{self.pool.id}",
            "ProviderURL": f"https://cognito-idp.{region}.amazonaws.com/{self.pool.id}",
            "UserPoolId": str(self.pool.id),
        }
        if attribute_name not in values:
            raise UnformattedGetAttTemplateException()
        return values[attribute_name]

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc,override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CognitoUserPool:
        properties = dict(cloudformation_json.get("Properties", {}))
        name = properties.pop("UserPoolName", resource_name)
        properties.pop("UserPoolTags", None)
        backend = cognitoidp_backends[account_id][region_name]
        return cls(backend.create_user_pool(name, properties))


class CognitoUserPoolClient(_LocalModel):
    def __init__(self, client: Any) -> None:
        self.client = client

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolClient"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "ClientName"

    @property
    def physical_resource_id(self) -> str:
        return str(self.client.id)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in {"ClientId", "ClientSecret", "Name"}

    def get_cfn_attribute(self, attribute_name: str) -> str:
        values = {
            "ClientId": str(self.client.id),
            "ClientSecret": str(self.client.secret) if self.client.generate_secret else "",
            "Name": str(self.client.extended_config.get("ClientName", "")),
        }
        if attribute_name not in values:
            raise UnformattedGetAttTemplateException()
        return values[attribute_name]

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc,override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CognitoUserPoolClient:
        properties = dict(cloudformation_json.get("Properties", {}))
        pool_id = properties.pop("UserPoolId")
        generate_secret = bool(properties.pop("GenerateSecret", False))
        properties.setdefault("ClientName", resource_name)
        backend = cognitoidp_backends[account_id][region_name]
        return cls(backend.create_user_pool_client(pool_id, generate_secret, properties))


class CognitoUserPoolGroup(_LocalModel):
    def __init__(self, group: Any) -> None:
        self.group = group

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolGroup"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "GroupName"

    @property
    def physical_resource_id(self) -> str:
        return str(self.group.group_name)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc,override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CognitoUserPoolGroup:
        properties = cloudformation_json.get("Properties", {})
        backend = cognitoidp_backends[account_id][region_name]
        group = backend.create_group(
            properties["UserPoolId"],
            properties.get("GroupName", resource_name),
            properties.get("Description", ""),
            properties.get("RoleArn", ""),
            int(properties.get("Precedence", 0)),
        )
        return cls(group)


class SesEmailIdentity(_LocalModel):
    """An email identity; moto verifies email addresses immediately, as the sandbox would on click."""

    def __init__(self, identity: str) -> None:
        self.identity = identity

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SES::EmailIdentity"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "EmailIdentity"

    @property
    def physical_resource_id(self) -> str:
        return self.identity

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc,override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> SesEmailIdentity:
        identity = cloudformation_json.get("Properties", {}).get("EmailIdentity", resource_name)
        backend = ses_backends[account_id][region_name]
        if "@" in identity:
            backend.verify_email_identity(identity)
        else:
            backend.verify_domain(identity)
        return cls(identity)


class SesConfigurationSet(_LocalModel):
    def __init__(self, name: str) -> None:
        self.name = name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SES::ConfigurationSet"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc,override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> SesConfigurationSet:
        name = cloudformation_json.get("Properties", {}).get("Name", resource_name)
        ses_backends[account_id][region_name].create_configuration_set(configuration_set_name=name)
        return cls(name)


class LogsSubscriptionFilter(_LocalModel):
    """A log group's subscription: moto then hands each record written to the group to the destination
    (for a Lambda function, an `awslogs` event; moto applies no filter pattern, so all records go)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Logs::SubscriptionFilter"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "FilterName"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc,override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LogsSubscriptionFilter:
        properties = cloudformation_json.get("Properties", {})
        name = properties.get("FilterName", resource_name)
        logs_backends[account_id][region_name].put_subscription_filter(
            log_group_name=properties["LogGroupName"],
            filter_name=name,
            filter_pattern=properties.get("FilterPattern", ""),
            destination_arn=properties["DestinationArn"],
            role_arn=properties.get("RoleArn", ""),
        )
        return cls(name)


class KmsKey(_LocalModel):
    """AWS::KMS::Key with its KeySpec and KeyUsage: moto's own model always makes a symmetric
    encryption key, which cannot sign (the audit seal key is ECC_NIST_P256 for SIGN_VERIFY)."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::KMS::Key"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in {"Arn", "KeyId"}

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc,override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        key = kms_backends[account_id][region_name].create_key(
            # moto enforces a key policy it can parse; IAM is not emulated here (local/README.md).
            policy=None,
            key_usage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=properties.get("Description", ""),
            # CloudFormation spells tags Key/Value, the KMS API TagKey/TagValue.
            tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])],
        )
        key.enabled = properties.get("Enabled", True)
        return key


class Placeholder(_LocalModel):
    """Stands in for a type moto cannot create (alarms, bucket policies, ...) so that Ref and GetAtt on
    it resolve; nothing is emulated. `placeholders_for` makes one subclass per type."""

    type_name = "AWS::Placeholder::Resource"

    def __init__(self, physical_id: str, arn: str) -> None:
        self.physical_id = physical_id
        self.arn = arn

    @classmethod
    def cloudformation_type(cls) -> str:  # type: ignore[override]
        return cls.type_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn if attribute_name == "Arn" else self.physical_id

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc,override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Placeholder:
        service = cls.type_name.split("::")[1].lower()
        kind = cls.type_name.split("::")[2].lower()
        return cls(resource_name, f"arn:aws:{service}:{region_name}:{account_id}:{kind}/{resource_name}")


_placeholders: dict[str, type[Placeholder]] = {}
_original: dict[str, Any] = {}
_installs = 0


def placeholders_for(types: list[str]) -> None:
    """Answer each given type with a Placeholder subclass (idempotent)."""
    for type_name in types:
        if type_name not in _placeholders:
            name = "Placeholder_" + type_name.replace("::", "_")
            _placeholders[type_name] = type(name, (Placeholder,), {"type_name": type_name})


MODELS: tuple[type[_LocalModel], ...] = (
    CognitoUserPool,
    CognitoUserPoolClient,
    CognitoUserPoolGroup,
    SesEmailIdentity,
    SesConfigurationSet,
    LogsSubscriptionFilter,
    KmsKey,
)


def _model_map() -> dict[str, type[CloudFormationModel]]:
    combined = dict(_original["get_model_map"]())
    combined.update({model.cloudformation_type(): model for model in MODELS})
    combined.update(_placeholders)
    return combined


def install() -> None:
    """Let moto's CloudFormation create the types above (nested installs are counted)."""
    global _installs
    _installs += 1
    if _installs == 1:
        _original["get_model_map"] = parsing.get_model_map
        parsing.get_model_map = _model_map  # type: ignore[assignment]


def uninstall() -> None:
    global _installs
    if _installs == 0:
        return
    _installs -= 1
    if _installs == 0:
        parsing.get_model_map = _original.pop("get_model_map")
        _placeholders.clear()


def ignored_types(template: dict[str, Any]) -> list[str]:
    """Resource types in the template that moto's CloudFormation cannot create, even with MODELS."""
    original = _original.get("get_model_map", parsing.get_model_map)
    known = set(original()) | {model.cloudformation_type() for model in MODELS}
    types = {resource["Type"] for resource in template.get("Resources", {}).values()}
    return sorted(
        t for t in types if not t.startswith("Custom::") and (t not in known or t in parsing.NULL_MODELS)
    )
