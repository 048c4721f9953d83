"""Identity (issue 15, item 2): a Cognito user cannot make the email claim say someone else's address.

A changed email takes effect only once the new address is verified (until then the token keeps the
original, verified one), and the app client cannot write `email` at all: only an administrator can
change it. The API uses the email only when the token says `email_verified`.
"""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template


def test_email_change_waits_for_verification(template: dict[str, Any]) -> None:
    Template.from_json(template).has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]},
            "AutoVerifiedAttributes": ["email"],
        },
    )


def test_app_clients_cannot_write_email(template: dict[str, Any]) -> None:
    clients = Template.from_json(template).find_resources("AWS::Cognito::UserPoolClient")
    assert clients, "the stack has an app client"
    for logical_id, client in clients.items():
        written = client["Properties"].get("WriteAttributes")
        # Absent WriteAttributes means every standard attribute is writable, email included.
        assert written is not None, f"{logical_id}: WriteAttributes must be set"
        assert "email" not in written and "email_verified" not in written, logical_id
        assert "email" in client["Properties"].get("ReadAttributes", ["email"]), logical_id


def test_template_matcher_sees_the_write_attributes(template: dict[str, Any]) -> None:
    Template.from_json(template).has_resource_properties(
        "AWS::Cognito::UserPoolClient", {"WriteAttributes": Match.not_(Match.array_with(["email"]))}
    )
