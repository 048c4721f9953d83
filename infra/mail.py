"""Outgoing email: the SES sender identity and a configuration set (TLS required, reputation metrics)."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_ses as ses
from constructs import Construct

from infra.config import WitanConfig


class Mail(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: WitanConfig) -> None:
        super().__init__(scope, construct_id)
        self.sender = config.ses_sender
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=config.name("mail"),
            reputation_metrics=True,
            sending_enabled=True,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        )
        self.identity = ses.EmailIdentity(
            self,
            "SenderIdentity",
            identity=ses.Identity.email(config.ses_sender),
            configuration_set=self.configuration_set,
        )
        self.configuration_set_name = self.configuration_set.configuration_set_name
        prefix = f"arn:{Aws.PARTITION}:ses:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        domain = config.ses_sender.rsplit("@", 1)[1]
        # SendEmail is authorised against the sending identity (the address, or its verified domain)
        # and the configuration set; nothing else.
        self.send_resources = [
            f"{prefix}:identity/{config.ses_sender}",
            f"{prefix}:identity/{domain}",
            f"{prefix}:configuration-set/{config.name('mail')}",
        ]
        self.send_conditions = {"StringEquals": {"ses:FromAddress": config.ses_sender}}
