"""The in-process Lambda runtime, with tiny function zips, against moto in-process."""

from __future__ import annotations

import io
import json
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import lambda_runtime

REGION = "eu-west-2"
ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, textwrap.dedent(text))
    return buffer.getvalue()


HANDLER_A = """
    import os
    import helper

    def lambda_handler(event, context):
        if event.get("boom"):
            raise ValueError("bad input: boom")
        print("hello from a")
        return {
            "who": helper.NAME,
            "colour": os.environ.get("COLOUR"),
            "function_name": context.function_name,
            "request_id": context.aws_request_id,
            "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn,
            "remaining_positive": context.get_remaining_time_in_millis() > 0,
            "event": event,
        }
"""


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        lambda_runtime.install()
        try:
            iam = boto3.client("iam", region_name=REGION)
            role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]
            yield {"role": role, "lambda": boto3.client("lambda", region_name=REGION)}
        finally:
            lambda_runtime.uninstall()


def create(aws: dict[str, Any], name: str, files: dict[str, str], **extra: Any) -> str:
    response = aws["lambda"].create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=aws["role"],
        Handler="handler.lambda_handler",
        Code={"ZipFile": make_zip(files)},
        **extra,
    )
    return response["FunctionArn"]


def invoke(aws: dict[str, Any], name: str, event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    response = aws["lambda"].invoke(FunctionName=name, Payload=json.dumps(event), LogType="Tail")
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def test_runs_handler_with_context_env_and_sibling_module(aws: dict[str, Any]) -> None:
    create(
        aws,
        "fn-a",
        {"handler.py": HANDLER_A, "helper.py": "NAME = 'a'\n"},
        Environment={"Variables": {"COLOUR": "green"}},
        MemorySize=256,
    )
    result, error = invoke(aws, "fn-a", {"x": 1})
    assert error is None
    assert result["who"] == "a"
    assert result["colour"] == "green"
    assert result["function_name"] == "fn-a"
    assert result["memory"] == 256
    assert result["arn"].endswith(":function:fn-a")
    assert result["remaining_positive"] is True
    assert result["event"] == {"x": 1}
    assert len(result["request_id"]) == 36
    # The function's environment and modules do not leak into the host process.
    assert "COLOUR" not in __import__("os").environ
    assert "handler" not in sys.modules
    assert "helper" not in sys.modules


def test_two_functions_with_same_module_names_stay_apart(aws: dict[str, Any]) -> None:
    create(aws, "fn-a", {"handler.py": HANDLER_A, "helper.py": "NAME = 'a'\n"})
    create(aws, "fn-b", {"handler.py": HANDLER_A, "helper.py": "NAME = 'b'\n"})
    assert invoke(aws, "fn-a", {})[0]["who"] == "a"
    assert invoke(aws, "fn-b", {})[0]["who"] == "b"
    assert invoke(aws, "fn-a", {})[0]["who"] == "a"


def test_exception_becomes_lambda_error_payload_and_logs(aws: dict[str, Any]) -> None:
    create(aws, "fn-a", {"handler.py": HANDLER_A, "helper.py": "NAME = 'a'\n"})
    result, error = invoke(aws, "fn-a", {"boom": True})
    assert error == "Handled"
    assert result["errorType"] == "ValueError"
    assert result["errorMessage"] == "bad input: boom"
    invoke(aws, "fn-a", {})
    logs = boto3.client("logs", region_name=REGION)
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/fn-a")["logStreams"]
    messages = [
        event["message"]
        for stream in streams
        for event in logs.get_log_events(
            logGroupName="/aws/lambda/fn-a", logStreamName=stream["logStreamName"]
        )["events"]
    ]
    assert "hello from a" in messages
    assert any("ValueError: bad input: boom" in m for m in messages)


def test_missing_handler_module_is_import_error(aws: dict[str, Any]) -> None:
    create(aws, "fn-missing", {"other.py": "X = 1\n"})
    result, error = invoke(aws, "fn-missing", {})
    assert error == "Handled"
    assert result["errorType"] == "Runtime.ImportModuleError"


def test_sqs_event_source_mapping_honours_batch_item_failures(aws: dict[str, Any]) -> None:
    handler = """
        def lambda_handler(event, context):
            failures = [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"
            ]
            return {"batchItemFailures": failures}
    """
    arn = create(aws, "consumer", {"handler.py": handler})
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws["lambda"].create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=arn, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    sqs.send_message(QueueUrl=url, MessageBody="good")
    sqs.send_message(QueueUrl=url, MessageBody="bad")
    assert lambda_runtime.wait_until_idle(30)
    # "good" was deleted; "bad" stays in flight until its visibility timeout, then gets retried.
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"


CUSTOM_RESOURCE_CODE = """
import json
import urllib.request

def handler(event, context):
    props = event["ResourceProperties"]
    body = json.dumps({
        "Status": "SUCCESS" if isinstance(props["Number"], str) else "FAILED",
        "Reason": "Number was not a string",
        "PhysicalResourceId": "thing-1",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Answer": props["Number"] + "!", "Flag": props["Flag"]},
    }).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT")
    with urllib.request.urlopen(request) as response:
        response.read()
"""


def test_custom_resource_gets_string_properties_and_response_reaches_moto(aws: dict[str, Any]) -> None:
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.13",
                    "Handler": "index.handler",
                    "Role": aws["role"],
                    "Code": {"ZipFile": CUSTOM_RESOURCE_CODE},
                },
            },
            "Thing": {
                "Type": "Custom::Thing",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, "Number": 42, "Flag": True},
            },
        },
        "Outputs": {
            "Answer": {"Value": {"Fn::GetAtt": ["Thing", "Answer"]}},
            "Flag": {"Value": {"Fn::GetAtt": ["Thing", "Flag"]}},
        },
    }
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName="custom", TemplateBody=json.dumps(template))
    stack = cfn.describe_stacks(StackName="custom")["Stacks"][0]
    for _ in range(100):
        if stack["StackStatus"] != "CREATE_IN_PROGRESS":
            break
        time.sleep(0.05)
        stack = cfn.describe_stacks(StackName="custom")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == {"Answer": "42!", "Flag": "true"}


def test_cfn_state_machine_executes_lambda_task(aws: dict[str, Any]) -> None:
    handler = """
        def lambda_handler(event, context):
            return {"doubled": event["n"] * 2}
    """
    arn = create(aws, "doubler", {"handler.py": handler})
    definition = {
        "StartAt": "Double",
        "States": {"Double": {"Type": "Task", "Resource": arn, "End": True}},
    }
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"DefinitionString": json.dumps(definition), "RoleArn": aws["role"]},
            }
        },
        "Outputs": {"Arn": {"Value": {"Ref": "Machine"}}},
    }
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName="machine", TemplateBody=json.dumps(template))
    machine_arn = cfn.describe_stacks(StackName="machine")["Stacks"][0]["Outputs"][0]["OutputValue"]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps({"n": 21}))["executionArn"]
    description = sfn.describe_execution(executionArn=execution)
    for _ in range(200):
        if description["status"] != "RUNNING":
            break
        time.sleep(0.05)
        description = sfn.describe_execution(executionArn=execution)
    assert description["status"] == "SUCCEEDED"
    assert json.loads(description["output"]) == {"doubled": 42}


def test_s3_notifications_carry_sequencer_and_version_id(aws: dict[str, Any]) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket="witan-events", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket="witan-events", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket="witan-events",
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    versions = [
        s3.put_object(Bucket="witan-events", Key="a b.csv", Body=body)["VersionId"] for body in (b"1", b"2")
    ]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    records = [r for m in messages for r in json.loads(m["Body"]).get("Records", [])]
    objects = [r["s3"]["object"] for r in records]
    assert [o["versionId"] for o in objects] == versions
    assert objects[0]["key"] == "a+b.csv"  # URL-encoded, as S3 sends it
    first, second = (int(o["sequencer"], 16) for o in objects)
    assert second > first


PROBE_MODULE = "_witan_test_environment_probe"

# Waits (briefly) for a reader thread of the test's to finish a whole-environment read, and reports
# whether that read finished while this function's environment was on os.environ.
HANDLER_WAITS_FOR_READER = f"""
    import sys

    def lambda_handler(event, context):
        probe = sys.modules["{PROBE_MODULE}"]
        probe.running.set()
        probe.reader_done.wait(timeout=0.5)
        return {{"reader_finished_during_call": probe.reader_done.is_set()}}
"""


def test_whole_environment_reads_in_other_threads_wait_for_the_running_function(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore reads the whole environment for proxies whenever a client is made (Step Functions
    makes one per Lambda task, outside any function). Run during a call, that read races the
    deletion of the function's variables (a chunk once failed with KeyError 'DATA_BUCKET'); it must
    wait for the function and see the host's environment, never the function's."""
    import threading
    import types

    import botocore.utils

    probe = types.SimpleNamespace(running=threading.Event(), reader_done=threading.Event(), proxies=None)
    monkeypatch.setitem(sys.modules, PROBE_MODULE, probe)
    create(
        aws,
        "fn-slow",
        {"handler.py": HANDLER_WAITS_FOR_READER},
        Environment={"Variables": {"https_proxy": "http://function-only.invalid:3128"}},
    )

    def read_proxies_while_the_function_runs() -> None:
        assert probe.running.wait(timeout=30)
        probe.proxies = botocore.utils.get_environ_proxies("https://lambda.eu-west-2.amazonaws.com")
        probe.reader_done.set()

    reader = threading.Thread(target=read_proxies_while_the_function_runs)
    reader.start()
    result, error = invoke(aws, "fn-slow", {})
    reader.join(timeout=30)
    assert error is None
    assert result == {"reader_finished_during_call": False}
    assert probe.reader_done.is_set()
    assert "function-only.invalid" not in json.dumps(probe.proxies)
    assert "https_proxy" not in __import__("os").environ
