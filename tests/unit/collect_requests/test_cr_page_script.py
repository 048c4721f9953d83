"""The partner page's script, run in Node against a DOM stand-in (partner_page_harness.js): it loads
the request, renders the fields, presigns, posts the file to S3 last in the form with progress, polls
until the check is final and shows the errors. Node is already required by the CDK toolchain."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from witan.collect.requests import page

HARNESS = Path(__file__).with_name("partner_page_harness.js")
PAGE = Path(page.__file__).with_name("static") / "partner.html"


def test_page_flow_in_node() -> None:
    node = shutil.which("node")
    assert node, "node is required (it is also needed to synthesize the CDK app)"
    run = subprocess.run(
        [node, str(HARNESS), str(PAGE)], capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(run.stdout)
    assert out["title"] == "Census <b>"  # set as text, not markup
    assert out["template"] == "/prod/collect/TOK/template.xlsx"
    assert out["fieldRows"] == [["id", "yes", "a whole number", ""], ["school", "no", "text", "one of: A, B"]]
    assert out["uploadHidden"] is False
    assert out["xhr"] == {
        "method": "POST",
        "url": "https://bucket.s3.example/",
        "form": ["key", "policy", "file"],
    }
    assert out["progressMid"] == 50
    assert [c[:2] for c in out["calls"]] == [
        ["GET", "/prod/collect/TOK"],
        ["GET", "/prod/collect/TOK/submissions"],
        ["POST", "/prod/collect/TOK/uploads"],
        ["GET", "/prod/collect/TOK/submissions"],
        ["GET", "/prod/collect/TOK/submissions"],
        ["GET", "/prod/collect/TOK/submissions"],  # polling stops once the check is final
    ]
    assert all(c[2] == "application/json" for c in out["calls"])
    assert json.loads(out["calls"][2][3]) == {"file_name": "a.csv", "size": 10}
    assert out["banner"][0][0] == "banner bad" and "1 error in 2 rows" in out["banner"][0][1]
    assert out["errorRows"] == [["3", "A", "id", "x", "not a whole number"]] and out["errorsHidden"] is False
