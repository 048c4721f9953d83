"""What a partner's browser needs from the stack: the data bucket's CORS rule for the API's own origin
(the partner page posts its presigned form straight to S3) and the binary media types that let the
xlsx template through API Gateway as bytes."""

from __future__ import annotations

import re
from graphlib import CycleError, TopologicalSorter
from typing import Any

from aws_cdk.assertions import Match, Template
from witan.collect.requests.page import partner_page_html

from infra.api import BINARY_MEDIA_TYPES, XLSX_TYPE

Tpl = dict[str, Any]


def _of_type(template: Tpl, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _rest_api_id(template: Tpl) -> str:
    (logical_id,) = _of_type(template, "AWS::ApiGateway::RestApi")
    return logical_id


def _api_origin(rest_api: str) -> dict[str, Any]:
    """https://{restApiId}.execute-api.{region}.{urlSuffix}, as the template spells it."""
    parts = [
        "https://",
        {"Ref": rest_api},
        ".execute-api.",
        {"Ref": "AWS::Region"},
        ".",
        {"Ref": "AWS::URLSuffix"},
    ]
    return {"Fn::Join": ["", parts]}


def _dependencies(node: Any, resources: set[str]) -> set[str]:
    """Resources a value refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("Ref"), str):
            found.add(node["Ref"])
        if "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else target.split(".")[0])
        if "Fn::Sub" in node:
            text = node["Fn::Sub"][0] if isinstance(node["Fn::Sub"], list) else node["Fn::Sub"]
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
        for child in node.values():
            found |= _dependencies(child, resources)
    elif isinstance(node, list):
        for child in node:
            found |= _dependencies(child, resources)
    return found & resources


def _graph(template: Tpl) -> dict[str, set[str]]:
    names = set(template["Resources"])
    graph = {}
    for logical_id, resource in template["Resources"].items():
        depends_on = resource.get("DependsOn", [])
        explicit = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        graph[logical_id] = _dependencies(resource.get("Properties", {}), names) | explicit
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return False


# --- CORS for the partner page ------------------------------------------------------------------------


def test_data_bucket_allows_presigned_posts_from_the_api_origin(template: Tpl) -> None:
    """One rule for the API's origin, built from the RestApi's Ref: POST only, no request headers
    beyond the CORS-safelisted ones, nothing exposed, and the preflight cached for an hour."""
    rule = {
        "Id": "partner-page-uploads",
        "AllowedMethods": ["POST"],
        "AllowedOrigins": [_api_origin(_rest_api_id(template))],
        "AllowedHeaders": Match.absent(),
        "ExposedHeaders": Match.absent(),
        "MaxAge": 3600,
    }
    Template.from_json(template).has_resource_properties(
        "AWS::S3::Bucket", {"CorsConfiguration": {"CorsRules": Match.array_with([rule])}}
    )


def test_no_cors_rule_uses_wildcard_origins(template: Tpl) -> None:
    for bucket in _of_type(template, "AWS::S3::Bucket").values():
        for rule in bucket["Properties"].get("CorsConfiguration", {}).get("CorsRules", []):
            assert all("*" not in str(origin) for origin in rule["AllowedOrigins"]), rule


def test_partner_links_and_cors_name_the_same_origin(template: Tpl) -> None:
    """The reminder emails' links (the rule's input) start with the origin the bucket trusts."""
    origin = _api_origin(_rest_api_id(template))
    # The reminders rule (the audit seal's schedule is the other one: test_infra_audit_seal.py).
    (rule,) = [
        r
        for r in _of_type(template, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
        and r["Properties"]["ScheduleExpression"].startswith("cron(")
    ]
    (target,) = rule["Properties"]["Targets"]
    parts = target["InputTransformer"]["InputTemplate"]["Fn::Join"][1]
    host = origin["Fn::Join"][1]
    assert parts[0].endswith('"link_base_url":"https://')
    assert parts[1 : len(host)] == host[1:]
    assert parts[len(host)].startswith("/v1")


def test_the_rule_makes_no_dependency_cycle(template: Tpl) -> None:
    """CloudFormation refuses a cycle: the bucket now refers to the RestApi, so the RestApi must not
    depend (directly or through anything) on the bucket; only its methods and deployment do."""
    graph = _graph(template)
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:  # pragma: no cover - the failure message names the cycle
        raise AssertionError(f"dependency cycle: {cycle.args[1]}") from None
    rest_api = _rest_api_id(template)
    (bucket,) = [
        k for k, v in _of_type(template, "AWS::S3::Bucket").items() if "CorsConfiguration" in v["Properties"]
    ]
    assert rest_api in graph[bucket]
    assert not _reaches(graph, rest_api, bucket)


def test_the_page_needs_only_what_the_rule_allows() -> None:
    """The rule is written for the page's upload: an XMLHttpRequest POST of a FormData (its
    multipart/form-data Content-Type is CORS-safelisted) that sets no request header and reads only
    the status. If the page starts sending headers or another method, the rule must change too."""
    page = partner_page_html()
    assert 'xhr.open("POST", target.url)' in page
    assert "xhr.send(form)" in page and "new FormData()" in page
    assert "setRequestHeader" not in page
    assert "getResponseHeader" not in page and "getAllResponseHeaders" not in page
    assert re.findall(r"xhr\.open\(\"(\w+)\"", page) == ["POST"]


# --- binary media types for the xlsx template -------------------------------------------------------


def test_rest_api_treats_xlsx_and_browser_accepts_as_binary(template: Tpl) -> None:
    Template.from_json(template).has_resource_properties(
        "AWS::ApiGateway::RestApi", {"BinaryMediaTypes": [XLSX_TYPE, "*/*"]}
    )
    assert list(BINARY_MEDIA_TYPES) == [XLSX_TYPE, "*/*"]


def test_xlsx_type_is_the_one_the_template_route_returns() -> None:
    from witan.api.routes import collect

    assert XLSX_TYPE == collect.XLSX_TYPE


def test_every_method_is_a_lambda_proxy(template: Tpl) -> None:
    """*/* as a binary media type breaks MOCK integrations (their mapping templates cannot transform a
    binary body: CORS preflight methods answer 500); there must be none."""
    methods = _of_type(template, "AWS::ApiGateway::Method").values()
    assert methods
    assert {m["Properties"]["Integration"]["Type"] for m in methods} == {"AWS_PROXY"}
