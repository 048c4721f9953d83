"""Platform admins hold admin rights only with a token that says MFA was used (issue 15, item 7):
Cognito cannot require MFA for one group, so the API checks the ID token's `amr` claim."""

from __future__ import annotations

from typing import Any

import pytest
from witan.api.identity import mfa_used, principal_from_event
from witan.settings import Settings


def _event(groups: str, amr: Any = None) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": "u-1", "cognito:groups": groups}
    if amr is not None:
        claims["amr"] = amr
    return {"requestContext": {"authorizer": {"claims": claims}}}


@pytest.mark.parametrize(
    ("raw", "used"),
    [
        (None, False),
        ("", False),
        ("[pwd]", False),
        ('["pwd"]', False),
        (["pwd", "otp"], False),  # a one-time code alone can be a passwordless single factor
        ("[pwd, otp, mfa]", True),
        ('["pwd","otp","mfa"]', True),
        (["pwd", "hwk", "mfa"], True),
        (7, False),
    ],
)
def test_mfa_used(raw: Any, used: bool) -> None:
    assert mfa_used(raw) is used


def test_admin_without_mfa_loses_admin_rights_only_when_required() -> None:
    def principal(event: dict[str, Any], required: bool = True) -> Any:
        return principal_from_event(event, admin_mfa_required=required)

    without = principal(_event("platform-admin,org-camden", "[pwd]"))
    assert not without.is_admin and without.organisations == ("org-camden",)
    assert not principal(_event("platform-admin")).is_admin  # no amr claim at all
    assert principal(_event("platform-admin", "[pwd, otp, mfa]")).is_admin
    # Other users are not asked for MFA.
    assert principal(_event("org-camden", "[pwd]")).groups == ("org-camden",)
    assert principal(_event("platform-admin", "[pwd]"), required=False).is_admin
    assert principal_from_event(_event("platform-admin")).is_admin  # not required unless the stack says


@pytest.mark.parametrize(("value", "required"), [("required", True), (" Required ", True), ("off", False)])
def test_admin_mfa_setting_is_read_once_from_the_stack(value: str, required: bool) -> None:
    assert Settings.from_env({"ADMIN_MFA": value}).admin_mfa_required is required
    assert Settings.from_env({}).admin_mfa_required is False
