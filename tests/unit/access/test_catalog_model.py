"""Dataset records: metadata versions on every edit, file versions, soft delete, filters and page tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from witan.access.records import Principal
from witan.api.context import RequestRecord
from witan.api.identity import principal_from_event
from witan.catalog import records as catalog
from witan.errors import WitanError

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def make(i: int = 0, **metadata: object) -> catalog.Dataset:
    meta = {"title": f"Dataset {i}", **metadata}
    dataset, _, _ = catalog.create(
        f"{i:032x}", "org-camden", "u1", meta, "data.csv", "text/csv", 1000, NOW + timedelta(seconds=i)
    )
    return dataset


def test_create_is_version_one_with_file_key() -> None:
    dataset, meta, file = catalog.create(
        "a" * 32, "org-camden", "u1", {"title": "T"}, "x.csv", "text/csv", 10, NOW
    )
    assert dataset.metadata_version == meta.version == 1
    assert file.key == f"datasets/{'a' * 32}/1/x.csv"
    assert dataset.file == file


def test_patch_makes_a_new_version_and_lists_changes() -> None:
    dataset = make(tags=["send"], description="old")
    updated, meta = catalog.apply_patch(dataset, {"description": "new", "tags": ["send"]}, "u2", NOW)
    assert updated.metadata_version == meta.version == 2
    assert meta.changed == ("description",)
    assert meta.edited_by == "u2"
    assert dataset.metadata["description"] == "old"  # the old record is untouched
    cleared, _ = catalog.apply_patch(updated, {"description": None}, "u2", NOW)
    assert "description" not in cleared.metadata


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"description": "same"}, "no-change"),
        ({"owner_org": "x"}, "unknown-field"),
        ({"title": None}, "missing-field"),
    ],
)
def test_patch_refusals(changes: dict[str, object], code: str) -> None:
    with pytest.raises(WitanError) as info:
        catalog.apply_patch(make(description="same"), changes, "u1", NOW)
    assert info.value.code == code


def test_file_versions_count_up_and_delete_is_soft() -> None:
    dataset = make()
    dataset, file = catalog.add_file_version(dataset, "v2.csv", "text/csv", 5, "u1", NOW)
    assert file.version == 2 and dataset.file == file
    deleted = catalog.soft_delete(dataset, "u1", NOW)
    assert deleted.deleted and deleted.metadata == dataset.metadata
    with pytest.raises(WitanError) as info:
        catalog.soft_delete(deleted, "u1", NOW)
    assert info.value.code == "dataset-deleted"


def test_filters() -> None:
    a = make(1, tags=["send", "camden"], description="Special needs demand")
    b = make(2, tags=["housing"])
    assert catalog.ListFilter(tag="send").matches(a) and not catalog.ListFilter(tag="send").matches(b)
    assert catalog.ListFilter(text="NEEDS").matches(a) and not catalog.ListFilter(text="needs").matches(b)
    assert catalog.ListFilter(owner="u1", organisation="org-camden").matches(b)
    assert not catalog.ListFilter(organisation="org-barnet").matches(a)
    assert not catalog.ListFilter().matches(catalog.soft_delete(a, "u1", NOW))


def test_pages_cover_everything_once() -> None:
    items = [make(i) for i in range(7)]
    seen: list[str] = []
    token = None
    for _ in range(10):
        page, token = catalog.paginate(items, 3, token)
        seen += [d.id for d in page]
        if token is None:
            break
    assert seen == [d.id for d in items]


@pytest.mark.parametrize("token", ["not-base64!", "eyJ4IjogMX0", "bnVsbA"])
def test_foreign_tokens_are_refused(token: str) -> None:
    with pytest.raises(WitanError) as info:
        catalog.paginate([make()], 1, token)
    assert info.value.code == "invalid-token"


def test_principal_from_claims() -> None:
    event = {
        "requestContext": {
            "authorizer": {"claims": {"sub": "s1", "email": "e@x", "cognito:groups": "a,org-b"}}
        }
    }
    assert principal_from_event(event) == Principal("s1", "e@x", ("a", "org-b"))
    assert principal_from_event({}).anonymous
    assert principal_from_event({"requestContext": {"authorizer": None}}).anonymous


@pytest.mark.parametrize(
    ("decision", "status", "expected"),
    [
        (None, 200, "allow"),
        (None, 422, "deny"),
        ("deny", 403, "deny"),
        ("allow", 409, "deny"),
        ("allow", 500, "error"),
    ],
)
def test_record_decision_follows_status(decision: str | None, status: int, expected: str) -> None:
    record = RequestRecord(Principal("s"), "GET", "/x", decision=decision, reason="r")
    event = record.to_event(status, "conflict" if status >= 400 else None)
    assert event.decision == expected
    assert event.status == status
    if status >= 400:
        assert "conflict" in event.reason
