"""Subject access exports match by `sub` (issue 15, item 2). An email claim is used only when the token
says `email_verified`, and a self-service export never reaches another `sub`'s events through it."""

from __future__ import annotations

from typing import Any

from api_harness import ADMIN, OWNER, Api, Persona
from witan.audit.records import AuditEvent
from witan.aws.audit_table import DynamoAuditTrail

EMAIL = "victim@example.org"


class Claimed(Persona):
    """A persona whose token carries a chosen email and email_verified claim."""

    def __init__(self, name: str, sub: str, email: str, verified: str | None) -> None:
        super().__init__(name, sub, "[org-barnet]")
        object.__setattr__(self, "_email", email)
        object.__setattr__(self, "_verified", verified)

    @property
    def claims(self) -> dict[str, str] | None:
        claims = {"sub": self.sub or "", "email": self._email, "cognito:groups": self.groups}  # type: ignore[attr-defined]
        if self._verified is not None:  # type: ignore[attr-defined]
            claims["email_verified"] = self._verified  # type: ignore[attr-defined]
        return claims


VICTIM = Claimed("victim", "victim-1", EMAIL, "true")
# The same address in an unverified token (a changed email not yet confirmed, or a forged claim).
UNVERIFIED = Claimed("unverified", "attacker-2", EMAIL, "false")
NO_CLAIM = Claimed("no-claim", "attacker-3", EMAIL, None)
# The same address, verified, on another account (an address that moved to a new account).
SECOND_ACCOUNT = Claimed("second", "newcomer-4", EMAIL, "true")


def _trail(api: Api) -> DynamoAuditTrail:
    return DynamoAuditTrail(api.tables["AUDIT_TABLE"], api.ddb)


def _seed(api: Api) -> None:
    """The victim's own activity, an event about their address by a partner link (no sub), and one
    about their address by another signed-in user."""
    status, _, _ = api.call("GET", "/datasets", VICTIM)
    assert status == 200
    trail = _trail(api)
    trail.record(
        AuditEvent(
            "collect.partner.open", "allow", "token", 200, detail={"subject": EMAIL, "note": "partner"}
        )
    )
    trail.record(
        AuditEvent(
            "collect.request.create",
            "allow",
            "signed-in",
            201,
            actor_sub="requester-5",
            actor_email="requester@example.org",
            detail={"subject": EMAIL, "note": "invited"},
        )
    )


def _export(api: Api, persona: Persona, query: dict[str, str] | None = None) -> dict[str, Any]:
    status, export, _ = api.call("GET", f"/audit/subjects/{persona.sub}", persona, query=query)
    assert status == 200, export
    return export


def _notes(export: dict[str, Any]) -> set[str]:
    return {str(e["detail"].get("note")) for e in export["events"] if e["detail"].get("note")}


def _subs(export: dict[str, Any]) -> set[str | None]:
    return {e.get("actor_sub") for e in export["events"]}


def test_unverified_email_reaches_nothing(api: Api) -> None:
    _seed(api)
    for persona in (UNVERIFIED, NO_CLAIM):
        export = _export(api, persona)
        assert VICTIM.sub not in _subs(export)
        assert _notes(export) == set()
        assert export["email"] is None
        assert _subs(export) <= {persona.sub}


def test_verified_email_never_reaches_another_subs_events(api: Api) -> None:
    _seed(api)
    export = _export(api, SECOND_ACCOUNT)
    assert _subs(export) <= {SECOND_ACCOUNT.sub, None}
    assert "invited" not in _notes(export)  # made by another signed-in user


def test_verified_self_export_has_own_events_and_those_about_the_address(api: Api) -> None:
    _seed(api)
    export = _export(api, VICTIM)
    assert export["email"] == EMAIL
    assert VICTIM.sub in _subs(export)
    assert _notes(export) == {"partner"}


def test_self_export_keeps_what_others_did_naming_the_sub(api: Api) -> None:
    dataset_id = api.seed_dataset(with_grants=False)
    body = {"grantee_type": "user", "grantee": UNVERIFIED.sub, "activities": ["meta-read"]}
    status, _, _ = api.call("PUT", f"/datasets/{dataset_id}/grants", OWNER, body=body)
    assert status == 200
    export = _export(api, UNVERIFIED)
    grants = [e for e in export["events"] if e["action"] == "grant.put"]
    assert [e["actor_sub"] for e in grants] == [OWNER.sub]


def test_admin_export_by_sub_and_given_email(api: Api) -> None:
    _seed(api)
    by_sub = _export(api, ADMIN, None)
    assert by_sub["subject"] == ADMIN.sub
    status, export, _ = api.call("GET", f"/audit/subjects/{VICTIM.sub}", ADMIN, query={"email": EMAIL})
    assert status == 200
    assert VICTIM.sub in _subs(export)
    assert _notes(export) == {"partner", "invited"}


def test_trail_records_only_a_verified_email(api: Api) -> None:
    """An unverified claim is not written as the actor's email, so no report or export by that address
    (an admin's `?email=`, the usage report) attributes the caller's actions to its real owner."""
    status, _, _ = api.call("GET", "/datasets", UNVERIFIED)
    assert status == 200
    assert api.the_event().get("actor_email") is None
    status, _, _ = api.call("GET", "/datasets", VICTIM)
    assert status == 200
    assert api.the_event()["actor_email"] == EMAIL
    status, export, _ = api.call("GET", f"/audit/subjects/{VICTIM.sub}", ADMIN, query={"email": EMAIL})
    assert status == 200
    assert UNVERIFIED.sub not in _subs(export)
