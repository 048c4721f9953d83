"""The council console in the template: open GET routes for its files (served by access_api with a
strict CSP), Cognito managed login with a public client for the authorization-code flow with PKCE
whose callback is the console on the API's own origin, and access_api told both."""

from __future__ import annotations

import json
from typing import Any

from witan.console import console_config, console_headers

from infra.api import CONSOLE_AUTH_URL_ENV, CONSOLE_CLIENT_ID_ENV, STAGE_NAME

Tpl = dict[str, Any]


def _of_type(template: Tpl, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _paths(template: Tpl) -> dict[str, str]:
    """Resource logical id -> path, for the API's resources."""
    resources = _of_type(template, "AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in paths:
            properties = resources[logical_id]["Properties"]
            parent = properties["ParentId"]
            prefix = "" if "Fn::GetAtt" in parent else path_of(parent["Ref"])
            paths[logical_id] = f"{prefix}/{properties['PathPart']}"
        return paths[logical_id]

    return {logical_id: path_of(logical_id) for logical_id in resources}


def test_console_routes_are_open_gets_to_access_api(template: Tpl) -> None:
    paths = _paths(template)
    methods = {
        paths[m["Properties"]["ResourceId"]["Ref"]]: m["Properties"]
        for m in _of_type(template, "AWS::ApiGateway::Method").values()
        if "Ref" in m["Properties"]["ResourceId"]
        and paths.get(m["Properties"]["ResourceId"]["Ref"], "").startswith("/console")
    }
    assert set(methods) == {"/console", "/console/{proxy+}"}
    for properties in methods.values():
        assert properties["HttpMethod"] == "GET"
        assert properties["AuthorizationType"] == "NONE"  # the page loads before sign-in
        assert properties["Integration"]["Type"] == "AWS_PROXY"
        assert "AccessApi" in json.dumps(properties["Integration"]["Uri"])


def test_console_client_uses_the_code_flow_with_pkce_and_a_callback_on_the_api_origin(template: Tpl) -> None:
    clients = [
        c["Properties"]
        for c in _of_type(template, "AWS::Cognito::UserPoolClient").values()
        if c["Properties"].get("AllowedOAuthFlows")
    ]
    assert len(clients) == 1
    (client,) = clients
    assert client["AllowedOAuthFlows"] == ["code"]  # no implicit flow: tokens never in the URL
    assert client["GenerateSecret"] is False  # a public client: PKCE instead of a secret
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert set(client["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
    (callback,) = client["CallbackURLs"]
    parts = callback["Fn::Join"][1]
    assert parts[0] == "https://" and "execute-api" in json.dumps(parts)
    assert parts[-1].endswith(f"/{STAGE_NAME}/console/")
    assert client["LogoutURLs"] == client["CallbackURLs"]
    (domain,) = _of_type(template, "AWS::Cognito::UserPoolDomain").values()
    assert "console" in json.dumps(domain["Properties"]["Domain"])


def test_access_api_knows_the_managed_login_domain_and_client(template: Tpl) -> None:
    functions = [
        f["Properties"]
        for f in _of_type(template, "AWS::Lambda::Function").values()
        if CONSOLE_AUTH_URL_ENV in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert len(functions) == 1
    env = functions[0]["Environment"]["Variables"]
    assert "amazoncognito.com" in json.dumps(env[CONSOLE_AUTH_URL_ENV])
    assert "Ref" in env[CONSOLE_CLIENT_ID_ENV]


def test_console_csp_allows_only_its_own_scripts_and_styles() -> None:
    auth = "https://witan-prod-console-1.auth.eu-west-2.amazoncognito.com"
    upload = "https://witan-data.s3.eu-west-2.amazonaws.com"
    headers = console_headers("index.html", upload_origin=upload, auth_origin=auth)
    directives = dict(d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["connect-src"] == f"'self' {upload} {auth}"
    assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'none'"
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    config = json.loads(console_config(auth_url=auth, client_id="abc"))
    assert (
        config["authorizeUrl"] == f"{auth}/oauth2/authorize" and config["tokenUrl"] == f"{auth}/oauth2/token"
    )


def test_data_bucket_lets_the_console_read_outputs_from_the_api_origin(template: Tpl) -> None:
    """Charts fetch run outputs (CSV) from their presigned GETs: one GET rule for the API's origin."""
    rules = [
        rule
        for bucket in _of_type(template, "AWS::S3::Bucket").values()
        for rule in bucket["Properties"].get("CorsConfiguration", {}).get("CorsRules", [])
        if rule.get("Id") == "console-reads"
    ]
    assert len(rules) == 1
    (rule,) = rules
    assert rule["AllowedMethods"] == ["GET"]
    (origin,) = rule["AllowedOrigins"]
    assert "execute-api" in json.dumps(origin) and "*" not in json.dumps(origin)
    assert "AllowedHeaders" not in rule and "ExposedHeaders" not in rule
