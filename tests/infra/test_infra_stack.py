"""The synthesized Witan template: every resource of the issue and its security properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from witan.aws.table_shapes import TABLES

Tpl = dict[str, Any]

ENV = "local"
ORIGINS = ["http://127.0.0.1:8765", "http://localhost:8765"]
AUDIT_READ_APPEND = {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem", "dynamodb:Scan"}
AUDIT_STREAM_READ = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}


# --- helpers over the template dict -------------------------------------------------------------------


def resources(template: Tpl, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def props(template: Tpl, kind: str, **match: Any) -> dict[str, Any]:
    """Properties of the one resource of `kind` whose top-level properties equal `match`."""
    found = [
        v["Properties"]
        for v in resources(template, kind).values()
        if all(v["Properties"].get(k) == want for k, want in match.items())
    ]
    assert len(found) == 1, f"{kind} {match}: {len(found)} found"
    return found[0]


def logical_id(template: Tpl, kind: str, **match: Any) -> str:
    found = [
        k
        for k, v in resources(template, kind).items()
        if all(v["Properties"].get(k2) == want for k2, want in match.items())
    ]
    assert len(found) == 1, f"{kind} {match}: {len(found)} found"
    return found[0]


def refs(value: Any) -> set[str]:
    """Logical ids a value refers to through Ref or Fn::GetAtt."""
    text = json.dumps(value)
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Ref" in node and isinstance(node["Ref"], str):
                found.add(node["Ref"])
            if "Fn::GetAtt" in node:
                found.add(node["Fn::GetAtt"][0])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(json.loads(text))
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function(template: Tpl, folder: str) -> tuple[str, dict[str, Any]]:
    name = f"witan-{ENV}-{folder.replace('_', '-')}"
    return logical_id(template, "AWS::Lambda::Function", FunctionName=name), props(
        template, "AWS::Lambda::Function", FunctionName=name
    )


def role_statements(template: Tpl, folder: str) -> list[dict[str, Any]]:
    """Every IAM statement attached to a function's role."""
    _, fn = function(template, folder)
    (role_id,) = refs(fn["Role"])
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if role_id in refs(policy["Properties"]["Roles"]):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def statement(template: Tpl, folder: str, sid: str) -> dict[str, Any]:
    (found,) = [s for s in role_statements(template, folder) if s.get("Sid") == sid]
    return found


def s3_prefixes(resource: Any) -> set[str]:
    """The key prefixes of data-bucket object ARNs like {"Fn::Join": ["", [<bucket arn>, "/uploads/*"]]}."""
    result = set()
    for item in as_list(resource):
        parts = item["Fn::Join"][1]
        result.add(parts[-1].lstrip("/").removesuffix("*"))
    return result


def state_machine_definition(template: Tpl) -> dict[str, Any]:
    """The ASL with CloudFormation intrinsics replaced by readable placeholders."""
    sm = props(template, "AWS::StepFunctions::StateMachine")
    parts = sm["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "<ref:" + ",".join(sorted(refs(p))) + ">" for p in parts)
    return json.loads(text)


@pytest.fixture(scope="module")
def assertions(template: Tpl) -> Template:
    return Template.from_json(template)


# --- storage ------------------------------------------------------------------------------------------


def test_two_buckets_encrypted_private_versioned_with_lifecycle(template: Tpl) -> None:
    # The storage construct's two (the audit seal bucket has its own test: test_infra_audit_seal.py).
    buckets = {k: v for k, v in resources(template, "AWS::S3::Bucket").items() if k.startswith("Storage")}
    assert len(buckets) == 2
    for bucket in buckets.values():
        p = bucket["Properties"]
        (rule,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert p["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert p["VersioningConfiguration"] == {"Status": "Enabled"}
        assert p["LifecycleConfiguration"]["Rules"]
        assert all(r["Status"] == "Enabled" for r in p["LifecycleConfiguration"]["Rules"])
        assert bucket.get("DeletionPolicy") == "Retain"


def test_every_bucket_policy_denies_plain_http(template: Tpl) -> None:
    policies = resources(template, "AWS::S3::BucketPolicy")
    covered = set()
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        deny = [
            s
            for s in statements
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert deny and deny[0]["Action"] == "s3:*" and deny[0]["Principal"] == {"AWS": "*"}
        covered |= refs(policy["Properties"]["Bucket"])
    assert covered == set(resources(template, "AWS::S3::Bucket"))


def test_data_bucket_cors_logging_and_lifecycle(template: Tpl) -> None:
    data_id = next(
        k for k, v in resources(template, "AWS::S3::Bucket").items() if "CorsConfiguration" in v["Properties"]
    )
    data = template["Resources"][data_id]["Properties"]
    assert json.dumps(data["BucketName"]).count(f"witan-{ENV}-data-") == 1
    # The configured origins' rule; the API origin's rule is in test_infra_browser_access.py.
    (cors,) = [r for r in data["CorsConfiguration"]["CorsRules"] if r["AllowedOrigins"] == ORIGINS]
    assert "POST" in cors["AllowedMethods"] and "PUT" not in cors["AllowedMethods"]
    (log_bucket_id,) = [
        k
        for k, v in resources(template, "AWS::S3::Bucket").items()
        if "access-logs" in json.dumps(v["Properties"].get("BucketName"))
    ]
    assert refs(data["LoggingConfiguration"]["DestinationBucketName"]) == {log_bucket_id}
    rules = {r["Id"]: r for r in data["LifecycleConfiguration"]["Rules"]}
    assert (
        rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        == 7
    )
    assert rules["uploads-to-infrequent-access"]["Prefix"] == "uploads/"
    assert "ExpirationInDays" not in json.dumps(rules)  # current objects are never expired: nothing is lost


def test_tables_keys_billing_pitr_sse_ttl(template: Tpl) -> None:
    tables = {
        p["TableName"]: p
        for p in (v["Properties"] for v in resources(template, "AWS::DynamoDB::Table").values())
    }
    expected = {f"witan-{ENV}-{n}" for n in ("audit", "catalog", "grants", "requests", "model-runs")}
    assert set(tables) == expected
    for name, table in tables.items():
        assert table["BillingMode"] == "PAY_PER_REQUEST", name
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert table["SSESpecification"]["SSEEnabled"] is True, name
        assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}, name
    audit = tables[f"witan-{ENV}-audit"]
    assert audit["KeySchema"] == [
        {"AttributeName": "chain", "KeyType": "HASH"},
        {"AttributeName": "seq", "KeyType": "RANGE"},
    ]
    types = {a["AttributeName"]: a["AttributeType"] for a in audit["AttributeDefinitions"]}
    assert types["chain"] == "S" and types["seq"] == "N"
    gsis = {
        g["IndexName"]: [k["AttributeName"] for k in g["KeySchema"]] for g in audit["GlobalSecondaryIndexes"]
    }
    assert gsis == {"by-actor": ["actor_sub", "time"], "by-resource": ["resource", "time"]}
    for short in ("catalog", "grants", "requests", "model-runs"):
        table = tables[f"witan-{ENV}-{short}"]
        assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
        (gsi,) = table["GlobalSecondaryIndexes"]
        assert gsi["IndexName"] == "gsi1"
        assert [k["AttributeName"] for k in gsi["KeySchema"]] == ["gsi1pk", "gsi1sk"]
    for table in resources(template, "AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Retain"


def test_tables_are_the_shapes_the_tests_make_them_from(template: Tpl) -> None:
    """The stack's tables and the tests' moto tables come from one declaration (witan.aws.table_shapes):
    keys, key types, indexes and TTL as declared, nothing added beside it in infra/storage.py."""
    tables = {
        p["TableName"]: p
        for p in (v["Properties"] for v in resources(template, "AWS::DynamoDB::Table").values())
    }
    assert set(tables) == {f"witan-{ENV}-{name}" for name in TABLES}
    for name, shape in TABLES.items():
        table = tables[f"witan-{ENV}-{name}"]
        keys = [shape.partition, shape.sort, *(k for i in shape.indexes for k in (i.partition, i.sort))]
        assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
            k.name: k.type for k in keys
        }, name
        assert [k["AttributeName"] for k in table["KeySchema"]] == [shape.partition.name, shape.sort.name]
        assert [
            (g["IndexName"], [k["AttributeName"] for k in g["KeySchema"]], g["Projection"])
            for g in table["GlobalSecondaryIndexes"]
        ] == [(i.name, [i.partition.name, i.sort.name], {"ProjectionType": "ALL"}) for i in shape.indexes], (
            name
        )
        assert table["TimeToLiveSpecification"] == {"AttributeName": shape.ttl_attribute, "Enabled": True}


def test_audit_table_is_append_only_for_every_role(template: Tpl) -> None:
    audit_id = logical_id(template, "AWS::DynamoDB::Table", TableName=f"witan-{ENV}-audit")
    touching = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        for s in policy["Properties"]["PolicyDocument"]["Statement"]:
            if audit_id in refs(s["Resource"]):
                actions = set(as_list(s["Action"]))
                if json.dumps(s["Resource"]) == json.dumps({"Fn::GetAtt": [audit_id, "StreamArn"]}):
                    assert actions <= AUDIT_STREAM_READ, actions  # the audit sealer reads the stream
                    continue
                assert actions <= AUDIT_READ_APPEND, actions
                touching.append(actions)
            assert not {"dynamodb:*", "*"} & set(as_list(s["Action"]))
    assert len(touching) >= 3  # upload_validator, access_api (x2: table + indexes), model_run
    # Belt and braces: the table's own resource policy denies changing or deleting events to everyone.
    audit = template["Resources"][audit_id]["Properties"]
    (deny,) = audit["ResourcePolicy"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    assert {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} <= set(deny["Action"])
    assert "dynamodb:PutItem" not in deny["Action"]


# --- collect ------------------------------------------------------------------------------------------


def test_upload_queue_encrypted_tls_only_with_dead_letter_queue(template: Tpl) -> None:
    queue_id = logical_id(template, "AWS::SQS::Queue", QueueName=f"witan-{ENV}-uploads")
    dlq_id = logical_id(template, "AWS::SQS::Queue", QueueName=f"witan-{ENV}-uploads-dlq")
    queue = template["Resources"][queue_id]["Properties"]
    assert refs(queue["RedrivePolicy"]["deadLetterTargetArn"]) == {dlq_id}
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
    assert queue["VisibilityTimeout"] >= 6 * function(template, "upload_validator")[1]["Timeout"]
    for qid in (queue_id, dlq_id):
        assert template["Resources"][qid]["Properties"]["SqsManagedSseEnabled"] is True
    tls_only = set()
    for policy in resources(template, "AWS::SQS::QueuePolicy").values():
        for s in policy["Properties"]["PolicyDocument"]["Statement"]:
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                tls_only |= refs(policy["Properties"]["Queues"])
    assert tls_only == {queue_id, dlq_id}


def test_uploads_prefix_notifies_the_queue(template: Tpl) -> None:
    (notification,) = resources(template, "Custom::S3BucketNotifications").values()
    (config,) = notification["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert config["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "uploads/"}]
    assert refs(config["QueueArn"]) == {
        logical_id(template, "AWS::SQS::Queue", QueueName=f"witan-{ENV}-uploads")
    }


def test_validator_consumes_queue_with_partial_batch_failures(template: Tpl) -> None:
    (mapping,) = [
        m
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if "StreamArn" not in json.dumps(m["Properties"]["EventSourceArn"])  # the audit sealer's
    ]
    p = mapping["Properties"]
    assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert refs(p["EventSourceArn"]) == {
        logical_id(template, "AWS::SQS::Queue", QueueName=f"witan-{ENV}-uploads")
    }
    assert refs(p["FunctionName"]) == {function(template, "upload_validator")[0]}


# --- functions ----------------------------------------------------------------------------------------

ENV_VARS = {
    "upload_validator": {
        "WITAN_ENV", "DATA_BUCKET", "REQUESTS_TABLE", "CATALOG_TABLE", "GRANTS_TABLE", "AUDIT_TABLE",
        "AUDIT_RETENTION_DAYS", "SES_SENDER", "SES_CONFIGURATION_SET", "MAX_UPLOAD_BYTES",
    },
    "access_api": {
        "WITAN_ENV", "DATA_BUCKET", "AUDIT_TABLE", "CATALOG_TABLE", "GRANTS_TABLE", "REQUESTS_TABLE",
        "MODEL_RUNS_TABLE", "STATE_MACHINE_ARN", "AUDIT_RETENTION_DAYS", "SES_SENDER",
        "SES_CONFIGURATION_SET", "MAX_UPLOAD_BYTES", "CONSOLE_AUTH_URL", "CONSOLE_CLIENT_ID",
        "AUDIT_SEAL_BUCKET", "AUDIT_SEAL_KEY_ID", "ADMIN_MFA", "DATAPACKS_BUCKET", "DATAPACK_RETENTION_YEARS",
        "DATAPACK_LOCK_MODE",
    },
    "model_run": {
        "WITAN_ENV", "DATA_BUCKET", "MODEL_RUNS_TABLE", "AUDIT_TABLE", "AUDIT_RETENTION_DAYS",
        "SES_SENDER", "SES_CONFIGURATION_SET", "MPLCONFIGDIR",
    },
}  # fmt: skip
POWERTOOLS = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "LOG_LEVEL",
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE",
}


@pytest.mark.parametrize(
    ("folder", "layers", "memory", "timeout"),
    [("upload_validator", 3, 2048, 300), ("access_api", 2, 1024, 29), ("model_run", 3, 2048, 900)],
)
def test_function_runtime_tracing_logging_and_env(
    template: Tpl, folder: str, layers: int, memory: int, timeout: int
) -> None:
    _, fn = function(template, folder)
    assert fn["Runtime"] == "python3.13"
    assert fn["Handler"] == "handler.lambda_handler"
    assert fn["TracingConfig"] == {"Mode": "Active"}
    assert (fn["MemorySize"], fn["Timeout"]) == (memory, timeout)
    assert len(fn["Layers"]) == layers
    env = fn["Environment"]["Variables"]
    assert set(env) == ENV_VARS[folder] | POWERTOOLS
    assert env["POWERTOOLS_SERVICE_NAME"] == folder
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Witan"
    assert env["WITAN_ENV"] == ENV
    (log_group_id,) = refs(fn["LoggingConfig"]["LogGroup"])
    log_group = template["Resources"][log_group_id]["Properties"]
    assert log_group["LogGroupName"] == f"/aws/lambda/witan-{ENV}-{folder.replace('_', '-')}"
    assert log_group["RetentionInDays"] == 90


def test_layers_are_shared_base_and_data(template: Tpl) -> None:
    layers = {
        p["LayerName"]: lid
        for lid, p in (
            (k, v["Properties"]) for k, v in resources(template, "AWS::Lambda::LayerVersion").items()
        )
    }
    assert set(layers) == {f"witan-{ENV}-shared", f"witan-{ENV}-base", f"witan-{ENV}-data"}
    for layer in resources(template, "AWS::Lambda::LayerVersion").values():
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    data = layers[f"witan-{ENV}-data"]
    assert data not in refs(function(template, "access_api")[1]["Layers"])  # light cold start
    assert data in refs(function(template, "model_run")[1]["Layers"])


def _asset_dir(template_path: Path, code: dict[str, Any]) -> Path:
    """The staged asset folder of a Code/Content block, found through the stack's asset manifest."""
    manifest = json.loads(
        template_path.with_name(template_path.name.replace(".template.json", ".assets.json")).read_text()
    )
    key = code["S3Key"]
    (source,) = [
        f["source"]["path"]
        for f in manifest["files"].values()
        if any(d["objectKey"] == key for d in f["destinations"].values())
    ]
    return template_path.parent / source


def test_assets_shared_layer_holds_witan_and_placeholders_stand_in(
    template: Tpl, template_path: Path
) -> None:
    by_name = {
        v["Properties"]["LayerName"]: v["Properties"]
        for v in resources(template, "AWS::Lambda::LayerVersion").values()
    }
    shared = _asset_dir(template_path, by_name[f"witan-{ENV}-shared"]["Content"])
    assert (shared / "python" / "witan" / "settings.py").is_file()
    assert not list(shared.rglob("__pycache__"))
    for name in ("base", "data"):
        asset = _asset_dir(template_path, by_name[f"witan-{ENV}-{name}"]["Content"])
        assert (asset / "python" / "WITAN_PLACEHOLDER.txt").is_file()
    code_dirs = {_asset_dir(template_path, function(template, f)[1]["Code"]) for f in ENV_VARS}
    assert len(code_dirs) == 3  # each function its own folder asset


def test_no_nodejs_custom_resources(template: Tpl) -> None:
    runtimes = {
        v["Properties"].get("Runtime", "") for v in resources(template, "AWS::Lambda::Function").values()
    }
    assert not any(r.startswith("nodejs") for r in runtimes)
    custom = {v["Type"] for v in template["Resources"].values() if v["Type"].startswith("Custom::")}
    assert custom == {"Custom::S3BucketNotifications"}


# --- least privilege ----------------------------------------------------------------------------------


def test_upload_validator_permissions(template: Tpl) -> None:
    assert s3_prefixes(statement(template, "upload_validator", "ReadUploads")["Resource"]) == {"uploads/"}
    write = statement(template, "upload_validator", "WriteReportsAndCurated")
    assert write["Action"] == "s3:PutObject" and s3_prefixes(write["Resource"]) == {"reports/", "curated/"}
    requests_id = logical_id(template, "AWS::DynamoDB::Table", TableName=f"witan-{ENV}-requests")
    assert refs(statement(template, "upload_validator", "ReadWriteRequests")["Resource"]) == {requests_id}
    catalog_id = logical_id(template, "AWS::DynamoDB::Table", TableName=f"witan-{ENV}-catalog")
    grants_id = logical_id(template, "AWS::DynamoDB::Table", TableName=f"witan-{ENV}-grants")
    tables_touched = set()
    for s in role_statements(template, "upload_validator"):
        tables_touched |= refs(s["Resource"]) & set(resources(template, "AWS::DynamoDB::Table"))
    assert tables_touched == {
        requests_id,
        catalog_id,
        grants_id,
        logical_id(template, "AWS::DynamoDB::Table", TableName=f"witan-{ENV}-audit"),
    }
    # Collected dataset versions: the CSV under datasets/ only; the catalog and grants tables themselves
    # (no index, no Scan, no Delete): the version, its SOURCE marker and the request's grants.
    versions = statement(template, "upload_validator", "WriteCollectedVersions")
    assert versions["Action"] == "s3:PutObject" and s3_prefixes(versions["Resource"]) == {"datasets/"}
    catalog = statement(template, "upload_validator", "AddCollectedVersions")
    assert set(catalog["Action"]) == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert refs(catalog["Resource"]) == {catalog_id} and "index" not in json.dumps(catalog["Resource"])
    share = statement(template, "upload_validator", "ShareCollectedVersions")
    assert share["Action"] == "dynamodb:PutItem"  # narrowed further: test_infra_least_privilege.py
    assert refs(share["Resource"]) == {grants_id} and "index" not in json.dumps(share["Resource"])
    for s in role_statements(template, "upload_validator"):
        assert not {"dynamodb:DeleteItem", "dynamodb:Scan", "s3:DeleteObject"} & set(as_list(s["Action"]))
    assert not any(
        "states:" in json.dumps(s["Action"]) for s in role_statements(template, "upload_validator")
    )
    audit = statement(template, "upload_validator", "AppendAuditEvents")
    assert audit["Action"] == ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem"]
    (bucket_id,) = refs(statement(template, "upload_validator", "ListDataBucket")["Resource"])
    assert template["Resources"][bucket_id]["Type"] == "AWS::S3::Bucket"


def test_access_api_permissions(template: Tpl) -> None:
    # S3 rights per prefix and action: test_infra_least_privilege.py.
    start = statement(template, "access_api", "StartModelRuns")
    assert start["Action"] == "states:StartExecution"
    assert refs(start["Resource"]) == set(resources(template, "AWS::StepFunctions::StateMachine"))
    assert statement(template, "access_api", "VerifyAuditChains")["Action"] == "dynamodb:Scan"
    tables = statement(template, "access_api", "ReadWriteApiTables")
    names = {"catalog", "grants", "requests", "model-runs"}
    assert refs(tables["Resource"]) == {
        logical_id(template, "AWS::DynamoDB::Table", TableName=f"witan-{ENV}-{n}") for n in names
    }


def test_model_run_permissions(template: Tpl) -> None:
    read = statement(template, "model_run", "ReadModelInputs")
    assert s3_prefixes(read["Resource"]) == {"curated/", "datasets/", "models/"}
    assert s3_prefixes(statement(template, "model_run", "WriteModelOutputs")["Resource"]) == {"models/"}
    model_runs = logical_id(template, "AWS::DynamoDB::Table", TableName=f"witan-{ENV}-model-runs")
    assert refs(statement(template, "model_run", "ReadWriteModelRuns")["Resource"]) == {model_runs}


@pytest.mark.parametrize("folder", ["upload_validator", "access_api", "model_run"])
def test_roles_have_no_service_wildcards_and_scoped_email(template: Tpl, folder: str) -> None:
    for s in role_statements(template, folder):
        actions = as_list(s["Action"])
        assert not any(a == "*" or a.endswith(":*") for a in actions), s
        if s["Resource"] == "*":
            assert set(actions) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, s
    email = statement(template, folder, "SendEmail")
    assert "ses:SendEmail" in email["Action"]
    assert email["Condition"] == {"StringEquals": {"ses:FromAddress": "noreply@witan.local"}}
    assert all(
        "identity/" in json.dumps(r) or "configuration-set/" in json.dumps(r) for r in email["Resource"]
    )
    logs = statement(template, folder, "WriteOwnLogs")
    assert set(logs["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_no_function_role_uses_managed_policies(template: Tpl) -> None:
    for folder in ("upload_validator", "access_api", "model_run"):
        (role_id,) = refs(function(template, folder)[1]["Role"])
        assert "ManagedPolicyArns" not in template["Resources"][role_id]["Properties"]


# --- api ----------------------------------------------------------------------------------------------


def _methods(template: Tpl) -> dict[tuple[str, str], dict[str, Any]]:
    """(path, http method) -> method properties, path rebuilt from the resource tree."""
    api_resources = resources(template, "AWS::ApiGateway::Resource")

    def path_of(ref: Any) -> str:
        ids = refs(ref)
        if not ids or not ids & set(api_resources):
            return ""
        (rid,) = ids
        r = api_resources[rid]["Properties"]
        return path_of(r["ParentId"]) + "/" + r["PathPart"]

    result = {}
    for m in resources(template, "AWS::ApiGateway::Method").values():
        p = m["Properties"]
        result[(path_of(p["ResourceId"]) or "/", p["HttpMethod"])] = p
    return result


def test_routes_and_authorizers(template: Tpl) -> None:
    methods = _methods(template)
    (authorizer_id,) = resources(template, "AWS::ApiGateway::Authorizer")
    (validator_id,) = resources(template, "AWS::ApiGateway::RequestValidator")
    for key in (("/", "ANY"), ("/{proxy+}", "ANY")):
        m = methods[key]
        assert m["AuthorizationType"] == "COGNITO_USER_POOLS", key
        assert refs(m["AuthorizerId"]) == {authorizer_id}
        assert m["RequestParameters"] == {"method.request.header.Authorization": True}
    for key in (("/openapi.json", "GET"), ("/collect/{proxy+}", "ANY")):
        m = methods[key]
        assert m["AuthorizationType"] == "NONE", key
        assert "AuthorizerId" not in m
    access_api_id = function(template, "access_api")[0]
    # The console's static files: open GETs to access_api too (tests/infra/test_infra_console.py).
    console = (("/console", "GET"), ("/console/{proxy+}", "GET"))
    for key in (
        ("/", "ANY"),
        ("/{proxy+}", "ANY"),
        ("/openapi.json", "GET"),
        ("/collect/{proxy+}", "ANY"),
        *console,
    ):
        m = methods[key]
        assert refs(m["RequestValidatorId"]) == {validator_id}
        assert m["Integration"]["Type"] == "AWS_PROXY"
        assert access_api_id in refs(m["Integration"]["Uri"])
    # No MOCK integrations (moto's CloudFormation cannot create them): every method goes to access_api.
    assert set(methods) == {
        ("/", "ANY"),
        ("/{proxy+}", "ANY"),
        ("/openapi.json", "GET"),
        ("/collect/{proxy+}", "ANY"),
        *console,
    }
    authorizer = template["Resources"][authorizer_id]["Properties"]
    assert authorizer["Type"] == "COGNITO_USER_POOLS"
    assert refs(authorizer["ProviderARNs"]) == set(resources(template, "AWS::Cognito::UserPool"))
    validator = template["Resources"][validator_id]["Properties"]
    assert validator["ValidateRequestParameters"] is True


def test_gateway_refusals_reach_access_api_from_the_access_log(template: Tpl) -> None:
    """Requests refused before the function ran are audited: the stage's access log, filtered to records
    without an integration, is subscribed to access_api, which only logs.amazonaws.com may invoke for it."""
    stage = props(template, "AWS::ApiGateway::Stage")
    (log_group_id,) = refs(stage["AccessLogSetting"]["DestinationArn"])
    record_format = json.loads(stage["AccessLogSetting"]["Format"])
    assert {"integrationStatus", "errorResponseType", "userAgent", "ip", "requestId", "status"} <= set(
        record_format
    )
    # No request path in the log: partner paths carry capability tokens.
    assert "$context.path" not in stage["AccessLogSetting"]["Format"]
    (subscription,) = resources(template, "AWS::Logs::SubscriptionFilter").values()
    fn_id, _ = function(template, "access_api")
    properties = subscription["Properties"]
    assert properties["FilterPattern"] == '{ $.integrationStatus = "-" }'
    assert refs(properties["LogGroupName"]) == {log_group_id}
    assert refs(properties["DestinationArn"]) == {fn_id}
    permissions = [
        p
        for p in (r["Properties"] for r in resources(template, "AWS::Lambda::Permission").values())
        if p["Principal"] == "logs.amazonaws.com"
    ]
    assert len(permissions) == 1
    assert refs(permissions[0]["FunctionName"]) == {fn_id}
    assert refs(permissions[0]["SourceArn"]) == {log_group_id}


def test_stage_logging_tracing_throttling(assertions: Template, template: Tpl) -> None:
    stage = props(template, "AWS::ApiGateway::Stage")
    assert stage["StageName"] == "v1"
    assert stage["TracingEnabled"] is False  # partner paths hold tokens: test_infra_least_privilege.py
    (log_group_id,) = refs(stage["AccessLogSetting"]["DestinationArn"])
    assert template["Resources"][log_group_id]["Type"] == "AWS::Logs::LogGroup"
    assert "$context.requestId" in stage["AccessLogSetting"]["Format"]
    (settings,) = stage["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == 50 and settings["ThrottlingBurstLimit"] == 100
    assert settings["DataTraceEnabled"] is False
    assertions.has_resource_properties(
        "AWS::ApiGateway::GatewayResponse",
        {
            "ResponseType": "UNAUTHORIZED",
            "ResponseTemplates": {"application/json": Match.string_like_regexp('"code": "unauthorized"')},
        },
    )


def test_user_pool_groups_and_demo_client(template: Tpl) -> None:
    pool = props(template, "AWS::Cognito::UserPool")
    assert pool["UserPoolName"] == f"witan-{ENV}-users"
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    groups = {
        v["Properties"]["GroupName"] for v in resources(template, "AWS::Cognito::UserPoolGroup").values()
    }
    assert groups == {"platform-admin", "org-camden", "org-hackney"}
    # The demo's client; the console has its own (managed login, tests/infra/test_infra_console.py).
    client = props(template, "AWS::Cognito::UserPoolClient", ClientName=f"witan-{ENV}-web")
    assert "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]
    assert client["GenerateSecret"] is False


# --- models -------------------------------------------------------------------------------------------


def test_state_machine_plan_distributed_map_aggregate(template: Tpl) -> None:
    asl = state_machine_definition(template)
    states = asl["States"]
    model_run_id = function(template, "model_run")[0]
    assert asl["StartAt"] == "MarkPlan"
    assert states["MarkPlan"] == {"Type": "Pass", "Result": "plan", "ResultPath": "$.step", "Next": "Plan"}
    assert states["Plan"]["Next"] == "Chunks" and "Parameters" not in states["Plan"]  # whole input
    chunks = states["Chunks"]
    assert chunks["Type"] == "Map" and chunks["ResultPath"] is None and chunks["Next"] == "Aggregate"
    assert chunks["MaxConcurrency"] == 10
    assert chunks["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    reader = chunks["ItemReader"]
    assert reader["Resource"].endswith(":states:::s3:getObject")
    assert reader["ReaderConfig"] == {"InputType": "JSON"}
    assert reader["Parameters"]["Key.$"] == "$.manifest_key"
    chunk = chunks["ItemProcessor"]["States"]["Chunk"]
    assert "Parameters" not in chunk and chunk["ResultPath"] is None  # items already carry "step": "chunk"
    assert states["Aggregate"]["Parameters"] == {
        "step": "aggregate",
        "run_id.$": "$.run_id",
        "manifest_bucket.$": "$.manifest_bucket",
        "manifest_key.$": "$.manifest_key",
    }
    for name in ("Plan", "Chunks", "Aggregate"):
        assert states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}
        ]
    assert states["RecordFailure"]["Parameters"] == {
        "step": "fail",
        "run_id.$": "$.run_id",
        "error.$": "$.error",
    }
    assert states["RecordFailure"]["Next"] == "Failed" and states["Failed"]["Type"] == "Fail"
    tasks = [states["Plan"], chunk, states["Aggregate"], states["RecordFailure"]]
    for task in tasks:
        assert task["Resource"] == f"<ref:{model_run_id}>"  # one function for every step
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        assert {
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
        } <= retried


def test_state_machine_logging_and_tracing(template: Tpl) -> None:
    sm = props(template, "AWS::StepFunctions::StateMachine")
    assert sm["StateMachineName"] == f"witan-{ENV}-model-run"
    assert sm["LoggingConfiguration"]["Level"] == "ALL"
    (destination,) = sm["LoggingConfiguration"]["Destinations"]
    (log_group_id,) = refs(destination)
    assert template["Resources"][log_group_id]["Type"] == "AWS::Logs::LogGroup"
    assert sm["TracingConfiguration"] == {"Enabled": True}


# --- mail, monitoring, outputs, tags ------------------------------------------------------------------


def test_ses_configuration_set_and_sender_identity(template: Tpl) -> None:
    config_set = props(template, "AWS::SES::ConfigurationSet")
    assert config_set["Name"] == f"witan-{ENV}-mail"
    identity = props(template, "AWS::SES::EmailIdentity")
    assert identity["EmailIdentity"] == "noreply@witan.local"


def test_alarms_email_the_admin(template: Tpl) -> None:
    topic_id = logical_id(template, "AWS::SNS::Topic", TopicName=f"witan-{ENV}-alarms")
    subscription = props(template, "AWS::SNS::Subscription")
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "admin@witan.local")
    assert refs(subscription["TopicArn"]) == {topic_id}
    alarms = {
        v["Properties"]["AlarmName"]: v["Properties"]
        for v in resources(template, "AWS::CloudWatch::Alarm").values()
    }
    expected = {
        f"witan-{ENV}-uploads-dlq-not-empty": "ApproximateNumberOfMessagesVisible",
        f"witan-{ENV}-api-5xx": "5XXError",
        f"witan-{ENV}-model-runs-failed": "ExecutionsFailed",
        f"witan-{ENV}-upload-validator-errors": "Errors",
        f"witan-{ENV}-access-api-errors": "Errors",
        f"witan-{ENV}-model-run-errors": "Errors",
        f"witan-{ENV}-audit-sealer-errors": "Errors",
        f"witan-{ENV}-audit-tampered": "AuditTamperAlerts",
        f"witan-{ENV}-audit-seals-missing": "AuditSealsWritten",
    }

    def metric_name(alarm: dict[str, Any]) -> str:
        if "MetricName" in alarm:
            return str(alarm["MetricName"])
        return str(alarm["Metrics"][0]["MetricStat"]["Metric"]["MetricName"])  # a labelled metric

    assert {name: metric_name(alarm) for name, alarm in alarms.items()} == expected
    for alarm in alarms.values():
        assert refs(alarm["AlarmActions"]) == {topic_id}
        assert alarm["Threshold"] == 1


def test_dashboard_shows_uploads_api_models_and_dlq(template: Tpl) -> None:
    dashboard = props(template, "AWS::CloudWatch::Dashboard")
    assert dashboard["DashboardName"] == f"witan-{ENV}-overview"
    body = json.dumps(dashboard["DashboardBody"])
    for needle in (
        '\\"Witan\\",\\"UploadsChecked\\",\\"service\\",\\"upload_validator\\"',
        "UploadsInvalid", "4XXError", "5XXError", "Latency", "ExecutionsSucceeded", "ExecutionsFailed",
        "ApproximateNumberOfMessagesVisible",
    ):  # fmt: skip
        assert needle in body, needle


def test_outputs_match_the_contract(template: Tpl) -> None:
    assert set(template["Outputs"]) == {
        "DataBucketName", "AccessLogBucketName", "AuditTableName", "CatalogTableName", "GrantsTableName",
        "RequestsTableName", "ModelRunsTableName", "UploadQueueUrl", "UploadDeadLetterQueueUrl", "UserPoolId",
        "UserPoolClientId", "ApiUrl", "StateMachineArn", "AlarmTopicArn", "UploadValidatorFunctionName",
        "AccessApiFunctionName", "ModelRunFunctionName", "AuditSealBucketName", "AuditSealKeyId",
        "AuditSealerFunctionName",
    }  # fmt: skip
    assert refs(template["Outputs"]["AuditTableName"]["Value"]) == {
        logical_id(template, "AWS::DynamoDB::Table", TableName=f"witan-{ENV}-audit")
    }


@pytest.mark.parametrize(
    "kind",
    [
        "AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Lambda::Function", "AWS::SQS::Queue",
        "AWS::StepFunctions::StateMachine", "AWS::SNS::Topic", "AWS::IAM::Role", "AWS::Logs::LogGroup",
    ],
)  # fmt: skip
def test_resources_are_tagged(template: Tpl, kind: str) -> None:
    for lid, resource in resources(template, kind).items():
        tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
        assert tags.get("Project") == "Witan" and tags.get("Environment") == ENV, lid


def test_cfn_lint_finds_no_errors(template_path: Path) -> None:
    """cfn-lint checks every property against the CloudFormation resource specs (catches invalid ASL
    fields or properties that only fail at deploy time). Warnings such as CDK's redundant DependsOn
    are tolerated; errors are not."""
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(template_path, ManualArgs(regions=["eu-west-2"]))
    errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
