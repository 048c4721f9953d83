"""The Datastore story of `make demo` (local/story_datastore.py) on the embedded stack of this package.

The steps assert for themselves (they raise StepFailed); these tests run them in order, check what
they leave behind independently (S3, the audit table), and show that a step does fail when what it
shows no longer holds. The story runs as its own org-hackney analyst (see `_with_own_analyst`).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from local.deploy import DemoUser, Deployment
from local.story import Demo, StepFailed
from local.story_datastore import (
    DATASTORE_STEPS,
    DOWNLOAD_PURPOSE,
    FACTS,
    FILE_TEXT,
    step_analyst_reads_metadata_not_file,
    step_owner_views_access,
)

pytestmark = pytest.mark.xdist_group("e2e")
_deserializer = TypeDeserializer()


@dataclass
class Story:
    demo: Demo
    printed: str


def _with_own_analyst(deployment: Deployment) -> Deployment:
    """The deployment with a fresh org-hackney account as "analyst", for this module only.

    The stack is shared by the package's e2e tests, and audit events are per person: the story's
    reads, refusals and downloads must not become another test's "analyst" history (nor theirs ours).
    """
    user = DemoUser(
        "analyst", f"analyst-{uuid.uuid4().hex[:8]}@hackney.example", "org-hackney", "Local-Story-Analyst-1!"
    )
    cognito, pool = deployment.client("cognito-idp"), deployment.outputs["UserPoolId"]
    cognito.admin_create_user(
        UserPoolId=pool,
        Username=user.email,
        UserAttributes=[{"Name": "email", "Value": user.email}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(
        UserPoolId=pool, Username=user.email, Password=user.password, Permanent=True
    )
    cognito.admin_add_user_to_group(UserPoolId=pool, Username=user.email, GroupName=user.group)
    return dataclasses.replace(deployment, users={**deployment.users, "analyst": user})


@pytest.fixture(scope="module")
def story(e2e_stack: Any) -> Story:
    deployment = _with_own_analyst(e2e_stack.deployment)
    demo = Demo(deployment, e2e_stack.gateway, e2e_stack.outbox_dir)
    said: list[str] = []
    # What the steps print, kept per instance: sys.stdout is swapped by the in-process Lambda runtime
    # while functions run on other threads, so redirecting it here would not be reliable.
    demo.say = said.append  # type: ignore[method-assign]
    for _title, step in DATASTORE_STEPS:
        step(demo)  # a StepFailed here fails every test of this module, with its reason
    return Story(demo, "\n".join(said))


def _dataset_events(demo: Demo, dataset_id: str) -> list[dict[str, Any]]:
    client = demo.deployment.client("dynamodb")
    items = [
        {k: _deserializer.deserialize(v) for k, v in item.items()}
        for page in client.get_paginator("scan").paginate(TableName=demo.deployment.outputs["AuditTableName"])
        for item in page["Items"]
    ]
    return [e for e in items if e.get("resource") == f"dataset/{dataset_id}"]


def test_the_story_runs_and_leaves_the_file_and_the_trail_behind(story: Story) -> None:
    facts = story.demo.facts[FACTS]
    d = story.demo.deployment
    stored = d.client("s3").get_object(Bucket=d.outputs["DataBucketName"], Key=facts["key"])
    assert stored["Body"].read() == FILE_TEXT.encode()
    assert facts["key"].startswith(f"datasets/{facts['dataset_id']}/1/")

    events = _dataset_events(story.demo, facts["dataset_id"])
    downloads = sorted(
        (e["decision"], e.get("purpose")) for e in events if e.get("action") == "dataset.download"
    )
    assert downloads == [("allow", DOWNLOAD_PURPOSE), ("deny", DOWNLOAD_PURPOSE)]
    grants = [e for e in events if e.get("action") == "grant.put"]
    assert sorted(e.get("purpose") for e in grants) == ["send-benchmarking", "send-planning"]


def test_the_story_prints_each_outcome(story: Story) -> None:
    printed = story.printed
    assert "requester (org-camden) POST /datasets -> 201" in printed
    assert "to the presigned URL -> 204" in printed
    assert "/download?purpose=" in printed and "-> 403 forbidden" in printed
    assert "the bytes match the upload" in printed
    assert "[metadata only: the data itself is not shared]" in printed
    assert "verify: ok=True" in printed
    assert f"{story.demo.deployment.users['analyst'].email} dataset.download deny" in printed
    assert "CSV: " in printed and "audit.subject" in printed


def test_a_step_fails_plainly_when_what_it_shows_no_longer_holds(story: Story) -> None:
    # The analyst now holds file-read, so "metadata but not the file" is no longer true.
    with pytest.raises(StepFailed, match="already holds file-read"):
        step_analyst_reads_metadata_not_file(story.demo)


def test_a_step_without_its_earlier_steps_fails_plainly(story: Story) -> None:
    fresh = Demo(story.demo.deployment, story.demo.gateway, story.demo.outbox_dir)
    with pytest.raises(StepFailed, match="an earlier Datastore step did not finish"):
        step_owner_views_access(fresh)
