"""Partner-facing pieces: field explanations, upload keys, history, the static page."""

from __future__ import annotations

import re

import pytest
from cr_items import check, meta, submission
from witan.collect.requests.page import partner_page_headers, partner_page_html
from witan.collect.requests.partner import explain_schema, partner_view, submission_history, upload_target
from witan.errors import WitanError
from witan.validation.schema import parse_schema

SCHEMA = parse_schema(
    {
        "fields": [
            {"name": "id", "type": "integer", "constraints": {"required": True, "minimum": 1}},
            {"name": "dob", "type": "date", "format": "%d/%m/%Y"},
            {"name": "school", "type": "string", "constraints": {"enum": ["A", "B"]}},
        ]
    }
)


def test_schema_explained_in_words() -> None:
    fields = {f["name"]: f for f in explain_schema(SCHEMA)["fields"]}
    assert fields["id"]["required"] is True and fields["id"]["type_words"] == "a whole number"
    assert fields["id"]["minimum"] == "1"
    assert fields["dob"]["type_words"] == "a date (dd/mm/yyyy)" and fields["dob"]["format"] == "%d/%m/%Y"
    assert fields["school"]["allowed_values"] == ["A", "B"] and fields["school"]["required"] is False


def test_partner_view_shows_only_own_recipient() -> None:
    view = partner_view(
        meta(message="hi"),
        submission("s1", "a@x.example"),
        SCHEMA,
        max_upload_bytes=1000,
        link_expires_at="2026-12-16T00:00:00+00:00",
    )
    assert view["request"]["title"] == "School <census>" and view["accepts_uploads"] is True
    assert view["recipient"]["email"] == "a@x.example"
    assert view["upload"] == {"max_bytes": 1000, "file_types": [".csv", ".xlsx"]}
    assert "requester_sub" not in str(view) and "request_id" not in view["request"]
    assert (
        partner_view(
            meta(status="closed"),
            submission("s1", "a@x.example"),
            SCHEMA,
            max_upload_bytes=1,
            link_expires_at="",
        )["accepts_uploads"]
        is False
    )


@pytest.mark.parametrize(
    ("name", "key", "ctype"),
    [
        ("pupils.csv", "uploads/r1/s1/pupils.csv", "text/csv"),
        (
            "C:\\Users\\me\\Census 2026.XLSX",
            "uploads/r1/s1/Census 2026.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("../../etc/x#y?.csv", "uploads/r1/s1/x_y_.csv", "text/csv"),
    ],
)
def test_upload_target(name: str, key: str, ctype: str) -> None:
    target = upload_target("r1", "s1", name)
    assert (target.key, target.content_type) == (key, ctype)


@pytest.mark.parametrize("name", ["data.xls", "script.js", "", None, "noext"])
def test_upload_target_refuses(name: object) -> None:
    with pytest.raises(WitanError) as info:
        upload_target("r1", "s1", name)
    assert info.value.code in ("unsupported-file-type", "bad-file-name")


def test_history_newest_first_with_plain_numbers() -> None:
    from decimal import Decimal

    from witan.aws.submissions import check_from_item, check_item

    # The store hands back ints: DynamoDB's Decimals stop at the adapter.
    stored = check_item(check("s1", "v1", "valid", "2026-11-22T00:00:00+00:00", rows=3))
    v1 = check_from_item(stored | {"rows": Decimal(3)})
    v2 = check_from_item(
        check_item(check("s1", "v2", "invalid", "2026-11-24T00:00:00+00:00"))
        | {"counts": {"type-error": Decimal(2)}}
    )
    sub = submission("s1", "a@x.example", status="invalid", status_at="2026-11-24T00:00:00+00:00")
    out = submission_history(sub, [v1, v2])
    assert out["status"] == "invalid"
    assert [s["version_key"] for s in out["submissions"]] == ["v2", "v1"]
    assert out["submissions"][0]["counts"] == {"type-error": 2} and out["submissions"][1]["rows"] == 3
    assert type(out["submissions"][1]["rows"]) is int
    assert type(out["submissions"][0]["counts"]["type-error"]) is int


def test_static_page_is_self_contained() -> None:
    page = partner_page_html()
    assert not re.search(r"""(src|href)\s*=\s*["']https?:""", page)  # no CDNs, no external assets
    assert "XMLHttpRequest" in page and "upload.onprogress" in page
    for path in ('base + "/template.xlsx"', 'base + "/uploads"', 'base + "/submissions"'):
        assert path in page
    assert ".innerHTML" not in page  # values are written with textContent only


def test_page_headers_pin_inline_code_by_hash() -> None:
    headers = partner_page_headers("https://bucket.s3.eu-west-2.amazonaws.com")
    csp = headers["Content-Security-Policy"]
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+';", csp)
    assert "connect-src 'self' https://bucket.s3.eu-west-2.amazonaws.com" in csp
    assert "unsafe-inline" not in csp and headers["Referrer-Policy"] == "no-referrer"
