"""SES adapter: send one composed email (plain text + HTML) from the configured sender."""

from __future__ import annotations

from typing import Any

import boto3

from witan.collect.uploads.notify import Email


def make_client(endpoint_url: str | None = None, region_name: str | None = None) -> Any:
    session = boto3.session.Session()
    return session.client("ses", endpoint_url=endpoint_url, region_name=region_name or session.region_name)


class SesMailer:
    """`Mailer` on SES (v1 SendEmail). `configuration_set` adds delivery/bounce event publishing."""

    def __init__(self, sender: str, client: Any = None, *, configuration_set: str = "") -> None:
        if not sender:
            raise ValueError("an SES sender address is required (SES_SENDER)")
        self.sender = sender
        self.configuration_set = configuration_set
        self.client = client if client is not None else make_client()

    def send(self, email: Email) -> str:
        kwargs: dict[str, Any] = {
            "Source": self.sender,
            "Destination": {"ToAddresses": [email.to]},
            "Message": {
                "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": email.text, "Charset": "UTF-8"},
                    "Html": {"Data": email.html, "Charset": "UTF-8"},
                },
            },
        }
        if self.configuration_set:
            kwargs["ConfigurationSetName"] = self.configuration_set
        return str(self.client.send_email(**kwargs)["MessageId"])
