"""A local stand-in for the deployed REST API: HTTP request -> API Gateway proxy event -> access_api.

API Gateway is not emulated by moto, so this small server does its part, read from the same template:
routes and which need the Cognito authorizer (AWS::ApiGateway::Resource/Method), the gateway error
bodies (AWS::ApiGateway::GatewayResponse) and the stage name. A protected route without a valid ID
token gets 401 without the function running, as with a Cognito user pools authorizer; otherwise the
claims go to `requestContext.authorizer.claims` and the deployed function is invoked through moto's
Lambda Invoke (so it runs in-process, see local.lambda_runtime).

Binary payloads follow the RestApi's BinaryMediaTypes as API Gateway applies them to a Lambda proxy: a
request body whose Content-Type matches reaches the function base64-encoded (isBase64Encoded true); a
response with isBase64Encoded true is decoded to bytes only when the request's first Accept media type
matches, and otherwise reaches the client as the base64 text itself. A `*/*` entry matches any Accept,
including none (browsers' downloads send none).

Console sign-in: in AWS the console (GET /{stage}/console/) signs in through Cognito managed login
with the authorization-code flow and PKCE. moto has no managed login, so this gateway plays it under
/local/oauth2/: `authorize` is a sign-in page listing the demo users, `token` exchanges the code (after
checking the PKCE verifier against the challenge) for the user's moto ID token; and it answers the
console's config.json with these endpoints instead of the Cognito domain's.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import re
import secrets
import threading
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

from local.deploy import Deployment

logger = logging.getLogger(__name__)
DEFAULT_STAGE = "v1"
DEFAULT_ERROR_BODIES = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "DEFAULT_5XX": (502, "Internal server error"),
}
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")


class Unauthorized(Exception):
    """The token is missing or fails a check; the reason is for local logs, never the response."""


@dataclass(frozen=True)
class Route:
    path: str  # resource path as in API Gateway, e.g. "/collect/{proxy+}"
    methods: dict[str, bool]  # HTTP method (or ANY) -> needs the Cognito authorizer

    def match(self, path: str) -> dict[str, str] | None:
        """Path parameters if the request path fits this resource, else None."""
        pattern = "^"
        for part in self.path.strip("/").split("/") if self.path != "/" else []:
            if part.startswith("{") and part.endswith("+}"):
                pattern += f"/(?P<{part[1:-2]}>.+)"
            elif part.startswith("{"):
                pattern += f"/(?P<{part[1:-1]}>[^/]+)"
            else:
                pattern += "/" + re.escape(part)
        found = re.match(pattern + "/?$", path)
        return found.groupdict() if found else None

    @property
    def literal_length(self) -> int:
        return len(self.path.split("{", 1)[0])


def routes_from_template(template: dict[str, Any]) -> list[Route]:
    """Rebuild resource paths and methods (with their authorization type) from the template."""
    resources = template.get("Resources", {})
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in paths:
            properties = resources[logical_id]["Properties"]
            parent = properties["ParentId"]
            parent_path = "" if "Fn::GetAtt" in parent else path_of(parent["Ref"]).rstrip("/")
            paths[logical_id] = f"{parent_path}/{properties['PathPart']}"
        return paths[logical_id]

    by_path: dict[str, dict[str, bool]] = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::ApiGateway::Method":
            continue
        properties = resource["Properties"]
        target = properties["ResourceId"]
        path = "/" if "Fn::GetAtt" in target else path_of(target["Ref"])
        authorized = properties.get("AuthorizationType", "NONE") == "COGNITO_USER_POOLS"
        by_path.setdefault(path, {})[properties["HttpMethod"]] = authorized
    # Most specific first: literal paths before greedy ones, longer literal prefixes first.
    routes = [Route(path, methods) for path, methods in by_path.items()]
    return sorted(routes, key=lambda r: ("{" in r.path, -r.literal_length))


def gateway_responses(template: dict[str, Any]) -> dict[str, str]:
    """ResponseType -> application/json template, as customised in the stack."""
    found = {}
    for resource in template.get("Resources", {}).values():
        if resource["Type"] == "AWS::ApiGateway::GatewayResponse":
            properties = resource["Properties"]
            body = properties.get("ResponseTemplates", {}).get("application/json")
            if body:
                found[properties["ResponseType"]] = body
    return found


def stage_name(template: dict[str, Any]) -> str:
    for resource in template.get("Resources", {}).values():
        if resource["Type"] == "AWS::ApiGateway::Stage":
            return str(resource["Properties"].get("StageName", DEFAULT_STAGE))
    return DEFAULT_STAGE


def binary_media_types(template: dict[str, Any]) -> list[str]:
    for resource in template.get("Resources", {}).values():
        if resource["Type"] == "AWS::ApiGateway::RestApi":
            return list(resource["Properties"].get("BinaryMediaTypes", []))
    return []


def first_accept(headers: dict[str, str] | None) -> str:
    """The first media type of the Accept header (API Gateway honours only that one), lowercase and
    without parameters; "" when there is no Accept header."""
    value = next((v for k, v in (headers or {}).items() if k.lower() == "accept"), "")
    return value.split(",", 1)[0].split(";", 1)[0].strip().lower()


class CognitoVerifier:
    """The checks a Cognito user pools authorizer makes on an ID token."""

    def __init__(self, deployment: Deployment) -> None:
        self.pool_id = deployment.outputs["UserPoolId"]
        self.client_id = deployment.outputs["UserPoolClientId"]
        self.issuer = f"https://cognito-idp.{deployment.region}.amazonaws.com/{self.pool_id}"
        self._endpoint = deployment.endpoint_url
        self._keys: dict[str, Any] | None = None

    def _jwks(self) -> dict[str, Any]:
        if self._endpoint:  # server mode: the pool's JWKS endpoint, as the authorizer would fetch it
            url = f"{self._endpoint}/{self.pool_id}/.well-known/jwks.json"
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local moto server
                return dict(json.loads(response.read()))
        from moto.utilities.utils import load_resource  # in-process: the key moto signs with

        return dict(load_resource("cognitoidp/resources/jwks-public.json"))

    def keys(self) -> dict[str, Any]:
        if self._keys is None:
            self._keys = {key["kid"]: jwt.PyJWK(key).key for key in self._jwks()["keys"]}
        return self._keys

    def verify(self, header_value: str | None) -> dict[str, Any]:
        if not header_value:
            raise Unauthorized("no Authorization header")
        token = header_value.removeprefix("Bearer ").strip()
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys().get(kid)
            if key is None:
                raise Unauthorized(f"unknown key id {kid!r}")
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.client_id,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "token_use"]},
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(str(error)) from error
        if claims.get("token_use") != "id":
            raise Unauthorized("not an ID token")
        return dict(claims)


def authorizer_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as a REST API Cognito authorizer passes them: strings, groups comma-separated, times
    in API Gateway's date format."""
    result: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, list):
            result[name] = ",".join(str(v) for v in value)
        elif name in {"exp", "iat", "auth_time"} and isinstance(value, int | float):
            result[name] = datetime.fromtimestamp(value, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
        else:
            result[name] = str(value)
    return result


@dataclass(frozen=True)
class StageRequest:
    """One request to the stage, as the gateway received it (path without the stage prefix)."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    found: tuple[Route, dict[str, str]] | None  # the matched resource and its path parameters
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received: float = field(default_factory=time.time)


@dataclass
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    # For the access log: the gateway response type when API Gateway answered itself, and the Lambda
    # service's status when the function was invoked (None: no integration ran).
    error_type: str | None = None
    error_message: str | None = None
    integration_status: str | None = None


CONTEXT_VARIABLE = re.compile(r"\$context\.[A-Za-z0-9_.]+")


def render_access_log(log_format: str, values: dict[str, str]) -> str:
    """The stage's access-log format with its $context variables filled in ("-" when a request has
    none, as API Gateway writes), each value escaped for a JSON string."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(0)[len("$context.") :])
        return json.dumps(str(value))[1:-1] if value not in (None, "") else "-"

    return CONTEXT_VARIABLE.sub(fill, log_format)


@dataclass(frozen=True)
class AccessLogSetting:
    log_group_logical_id: str
    log_format: str


def access_log_setting(template: dict[str, Any]) -> AccessLogSetting | None:
    """The stage's access log (destination log group and record format), if the stage has one."""
    for resource in template.get("Resources", {}).values():
        if resource["Type"] != "AWS::ApiGateway::Stage":
            continue
        setting = resource["Properties"].get("AccessLogSetting") or {}
        destination = setting.get("DestinationArn")
        if isinstance(destination, dict) and "Fn::GetAtt" in destination and setting.get("Format"):
            return AccessLogSetting(destination["Fn::GetAtt"][0], str(setting["Format"]))
    return None


class AccessLog:
    """Writes one record per request to the stage's log group in the stage's format, as API Gateway
    does; moto then delivers it to the group's subscriptions (access_api audits refused requests)."""

    def __init__(self, deployment: Deployment, setting: AccessLogSetting) -> None:
        self.format = setting.log_format
        cloudformation = deployment.client("cloudformation")
        self.group = cloudformation.describe_stack_resource(
            StackName=deployment.stack_name, LogicalResourceId=setting.log_group_logical_id
        )["StackResourceDetail"]["PhysicalResourceId"]
        self.stream = f"local-gateway-{uuid.uuid4().hex[:12]}"
        self._logs = deployment.client("logs")
        self._logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        self._lock = threading.Lock()

    def write(self, values: dict[str, str]) -> None:
        record = render_access_log(self.format, values)
        with self._lock:  # one writer at a time, as records in a stream are ordered
            self._logs.put_log_events(
                logGroupName=self.group,
                logStreamName=self.stream,
                logEvents=[{"timestamp": int(time.time() * 1000), "message": record}],
            )


LOCAL_SIGN_IN_PREFIX = "/local/oauth2/"
CODE_LIFETIME_S = 300


class LocalSignIn:
    """Cognito managed login's part for the console, locally: a sign-in page for the demo users and
    the authorization-code exchange with PKCE (S256). Codes are single-use and short-lived."""

    def __init__(self, deployment: Deployment, gateway: LocalGateway) -> None:
        self.deployment = deployment
        self.gateway = gateway
        self._codes: dict[str, tuple[str, str, str, float]] = {}  # code -> user, challenge, redirect, at
        self._lock = threading.Lock()

    def _origin(self) -> str:
        return self.gateway.url.rsplit(f"/{self.gateway.stage}/", 1)[0]

    def config(self) -> dict[str, str]:
        base = f"{self._origin()}{LOCAL_SIGN_IN_PREFIX}"
        return {
            "signIn": "local",
            "authorizeUrl": f"{base}authorize",
            "tokenUrl": f"{base}token",
            "logoutUrl": "",
            "clientId": "local-console",
            "scope": "openid email profile",
        }

    def handle(self, method: str, split: urllib.parse.SplitResult, body: bytes) -> GatewayResponse:
        name = split.path.removeprefix(LOCAL_SIGN_IN_PREFIX)
        query = dict(urllib.parse.parse_qsl(split.query))
        if split.path.endswith("/console/config.json"):
            return self._json(200, self.config())
        if name == "authorize" and method == "GET":
            return self._page(query)
        if name == "approve" and method == "GET":
            return self._approve(query)
        if name == "token" and method == "POST":
            return self._token(dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"))))
        return self._json(404, {"error": "not_found"})

    @staticmethod
    def _json(status: int, value: dict[str, Any]) -> GatewayResponse:
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        return GatewayResponse(status, headers, json.dumps(value).encode())

    def _page(self, query: dict[str, str]) -> GatewayResponse:
        problem = None
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            problem = "The console must ask for a code with a PKCE S256 challenge."
        elif not query.get("code_challenge") or not query.get("redirect_uri", "").startswith(self._origin()):
            problem = "The sign-in request has no challenge, or a redirect to another site."
        stylesheet = f"/{self.gateway.stage}/console/govuk-frontend.min.css"
        items = []
        for key, user in self.deployment.users.items():
            approve = html.escape("approve?" + urllib.parse.urlencode({**query, "user": key}))
            items.append(
                f'<li><a class="govuk-button" href="{approve}">Sign in as {html.escape(key)}'
                f'<span class="govuk-visually-hidden"> ({html.escape(user.email)})</span></a> '
                f'<span class="govuk-body">{html.escape(user.email)}, '
                f"group {html.escape(user.group)}</span></li>"
            )
        users = "".join(items)
        body = (
            '<!DOCTYPE html><html lang="en" class="govuk-template"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>Sign in (local) – Witan</title><link rel="stylesheet" href="{stylesheet}"></head>'
            '<body class="govuk-template__body"><div class="govuk-width-container">'
            '<main class="govuk-main-wrapper" id="main-content"><h1 class="govuk-heading-l">Sign in</h1>'
            + (
                '<div class="govuk-error-summary" role="alert">'
                f'<p class="govuk-body">{html.escape(problem)}</p></div>'
                if problem
                else '<p class="govuk-body">This embedded stack has no Cognito managed login: choose a demo '
                "user (they exist only in this local stack).</p>"
                f'<ul class="govuk-list govuk-list--spaced">{users}</ul>'
            )
            + "</main></div></body></html>"
        )
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-store"),
            (
                "Content-Security-Policy",
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'none'; "
                "base-uri 'none'; frame-ancestors 'none'",
            ),
        ]
        return GatewayResponse(200 if problem is None else 400, headers, body.encode())

    def _approve(self, query: dict[str, str]) -> GatewayResponse:
        user, redirect = query.get("user", ""), query.get("redirect_uri", "")
        if user not in self.deployment.users or not redirect.startswith(self._origin()):
            return self._json(400, {"error": "invalid_request"})
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = (user, query.get("code_challenge", ""), redirect, time.time())
        location = redirect + "?" + urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
        return GatewayResponse(302, [("Location", location), ("Cache-Control", "no-store")], b"")

    def _token(self, form: dict[str, str]) -> GatewayResponse:
        with self._lock:
            found = self._codes.pop(form.get("code", ""), None)  # single use
        if found is None or form.get("grant_type") != "authorization_code":
            return self._json(400, {"error": "invalid_grant"})
        user, challenge, redirect, issued = found
        verifier = form.get("code_verifier", "")
        computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if (
            time.time() - issued > CODE_LIFETIME_S
            or form.get("redirect_uri") != redirect
            or not secrets.compare_digest(computed, challenge)
        ):
            return self._json(400, {"error": "invalid_grant"})
        token = self.deployment.id_token(user)
        return self._json(
            200, {"id_token": token, "access_token": token, "token_type": "Bearer", "expires_in": 3600}
        )


class LocalGateway:
    """ThreadingHTTPServer on 127.0.0.1 serving the stack's REST API at /{stage}/."""

    def __init__(self, deployment: Deployment, port: int = 0) -> None:
        self.deployment = deployment
        self.routes = routes_from_template(deployment.template)
        self.error_templates = gateway_responses(deployment.template)
        self.stage = stage_name(deployment.template)
        self.binary_types = binary_media_types(deployment.template)
        self.verifier = CognitoVerifier(deployment)
        self.function_name = deployment.outputs["AccessApiFunctionName"]
        self._lambda = deployment.client("lambda")
        setting = access_log_setting(deployment.template)
        self.access_log = AccessLog(deployment, setting) if setting else None
        self.invocations = 0
        self.sign_in = LocalSignIn(deployment, self)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                response = gateway.handle(
                    self.command, self.path, list(self.headers.items()), body, self.client_address[0]
                )
                self.send_response(response.status)
                for name, value in response.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet: no tokens in logs
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread: threading.Thread | None = None
        self._trust_local_origin()

    def _trust_local_origin(self) -> None:
        """The data bucket's CORS rules name the API's origin (`https://{api}.execute-api...`), where
        the partner page and the console come from in AWS; here they come from this gateway, so each
        such rule also names its origin: a browser on `witan local up` can then post partner uploads
        to moto's S3 and the console can read run outputs from it. moto's CloudFormation does not apply
        a bucket's CorsConfiguration: then the template's rules are applied, for this origin."""
        bucket = self.deployment.outputs.get("DataBucketName")
        if not bucket:
            return
        s3 = self.deployment.client("s3")
        origin = self.url.rsplit(f"/{self.stage}/", 1)[0]
        try:
            rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        except Exception:  # no CORS configuration (moto's CloudFormation skips it): the template's
            rules = []
            for resource in self.deployment.template.get("Resources", {}).values():
                cors = (
                    resource.get("Properties", {}).get("CorsConfiguration")
                    if resource["Type"] == "AWS::S3::Bucket"
                    else None
                )
                for rule in (cors or {}).get("CorsRules", []):
                    local_rule: dict[str, Any] = {"AllowedMethods": list(rule["AllowedMethods"])}
                    if rule.get("Id"):
                        local_rule["ID"] = str(rule["Id"])
                    for key, s3_key in (
                        ("AllowedHeaders", "AllowedHeaders"),
                        ("ExposedHeaders", "ExposeHeaders"),
                    ):
                        if rule.get(key):
                            local_rule[s3_key] = list(rule[key])
                    if "MaxAge" in rule:
                        local_rule["MaxAgeSeconds"] = int(rule["MaxAge"])
                    rules.append(local_rule)
        for rule in rules:
            origins = rule.setdefault("AllowedOrigins", [])
            if (not origins or any(".execute-api." in o for o in origins)) and origin not in origins:
                origins.append(origin)
        try:
            if rules:
                s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
        except Exception:  # a convenience for browsers: never a reason not to serve the API
            logger.warning("could not add %s to the data bucket's CORS rules", origin, exc_info=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/{self.stage}/"

    def start(self) -> LocalGateway:
        self._thread = threading.Thread(target=self._server.serve_forever, name="witan-gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- request handling -------------------------------------------------------------------------

    def error(self, response_type: str, message: str | None = None) -> GatewayResponse:
        fallback = "DEFAULT_5XX" if response_type == "DEFAULT_5XX" else "DEFAULT_4XX"
        status, default_message = DEFAULT_ERROR_BODIES.get(response_type, (400, "Bad Request"))
        message = message or default_message
        template = self.error_templates.get(response_type) or self.error_templates.get(fallback)
        if template:
            body = template.replace("$context.error.messageString", json.dumps(message))
        else:
            body = json.dumps({"message": message})
        return GatewayResponse(
            status, [("Content-Type", "application/json")], body.encode(), response_type, message
        )

    def _find_route(self, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(path)
            if params is not None:
                return route, params
        return None

    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> GatewayResponse:
        split = urllib.parse.urlsplit(raw_path)
        if split.path.startswith(LOCAL_SIGN_IN_PREFIX) or split.path == f"/{self.stage}/console/config.json":
            return self.sign_in.handle(method, split, body)
        stage_prefix = f"/{self.stage}"
        if not (split.path == stage_prefix or split.path.startswith(stage_prefix + "/")):
            return self.error("MISSING_AUTHENTICATION_TOKEN")  # no stage: no stage access log either
        path = split.path[len(stage_prefix) :] or "/"
        request = StageRequest(method, path, split.query, headers, body, source_ip, self._find_route(path))
        response = self._serve_stage(request)
        if self.access_log is not None:
            self.access_log.write(self._access_values(request, response))
        return response

    def _access_values(self, request: StageRequest, response: GatewayResponse) -> dict[str, str]:
        """$context variables of one request, by their names after `$context.`."""
        user_agent = next((v for k, v in request.headers if k.lower() == "user-agent"), "")
        return {
            "requestId": request.request_id,
            "extendedRequestId": request.request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request.received)),
            "requestTimeEpoch": str(int(request.received * 1000)),
            "httpMethod": request.method,
            "resourcePath": request.found[0].path if request.found else "",
            "protocol": "HTTP/1.1",
            "status": str(response.status),
            "responseLength": str(len(response.body)),
            "identity.sourceIp": request.source_ip,
            "identity.userAgent": user_agent,
            "error.responseType": response.error_type or "",
            "error.message": response.error_message or "",
            "error.messageString": json.dumps(response.error_message) if response.error_message else "",
            "integrationStatus": response.integration_status or "",
            "stage": self.stage,
        }

    def _serve_stage(self, request: StageRequest) -> GatewayResponse:
        if request.method == "OPTIONS" and request.found:  # CORS preflight is answered by API Gateway
            return GatewayResponse(
                204, [("Access-Control-Allow-Methods", "OPTIONS,GET,PUT,POST,DELETE,PATCH,HEAD")], b""
            )
        if request.found is None:
            return self.error("MISSING_AUTHENTICATION_TOKEN")
        route, params = request.found
        authorized = route.methods.get(request.method, route.methods.get("ANY"))
        if authorized is None:
            return self.error("MISSING_AUTHENTICATION_TOKEN")
        header_map = {name.lower(): value for name, value in request.headers}
        claims = None
        if authorized:
            try:
                claims = self.verifier.verify(header_map.get("authorization"))
            except Unauthorized as refused:
                # The reason, never the token.
                logger.info("401 for %s %s: %s", request.method, request.path, refused)
                return self.error("UNAUTHORIZED")
        return self.invoke(self.event(request, route, params, claims))

    def event(
        self, request: StageRequest, route: Route, params: dict[str, str], claims: dict[str, Any] | None
    ) -> dict[str, Any]:
        single_headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            single_headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        pairs = urllib.parse.parse_qsl(request.query, keep_blank_values=True)
        multi_query: dict[str, list[str]] = {}
        for name, value in pairs:
            multi_query.setdefault(name, []).append(value)
        content_type = single_headers.get("Content-Type") or single_headers.get("content-type") or ""
        body = request.body
        encoded = self._is_binary(content_type, body)
        request_context: dict[str, Any] = {
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": request.method,
            "extendedRequestId": request.request_id,
            "requestTime": formatdate(request.received, usegmt=True),
            "path": f"/{self.stage}{request.path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": self.stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(request.received * 1000),
            "requestId": request.request_id,
            "identity": {"sourceIp": request.source_ip, "userAgent": single_headers.get("User-Agent", "")},
            "domainName": "localhost",
            "apiId": "local",
        }
        if claims is not None:
            request_context["authorizer"] = {"claims": authorizer_claims(claims)}
        return {
            "resource": route.path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": single_headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": dict(pairs) or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": request_context,
            "body": (base64.b64encode(body).decode() if encoded else body.decode()) if body else None,
            "isBase64Encoded": encoded,
        }

    def _binary_media(self, media: str) -> bool:
        """Whether a media type (lowercase, no parameters) is one of the API's binary media types."""
        for pattern in self.binary_types:
            pattern = pattern.lower()
            if (
                pattern == "*/*"
                or pattern == media
                or (pattern.endswith("/*") and media.startswith(pattern[:-1]))
            ):
                return True
        return False

    def _is_binary(self, content_type: str, body: bytes) -> bool:
        if self._binary_media(content_type.split(";", 1)[0].strip().lower()):
            return True
        try:
            body.decode()
        except UnicodeDecodeError:
            return True
        return False

    def invoke(self, event: dict[str, Any]) -> GatewayResponse:
        self.invocations += 1
        response = self._lambda.invoke(FunctionName=self.function_name, Payload=json.dumps(event).encode())
        payload = response["Payload"].read()
        integration_status = str(response.get("StatusCode", 200))
        if response.get("FunctionError"):
            return replace(self.error("DEFAULT_5XX"), integration_status=integration_status)
        try:
            result = json.loads(payload)
            status = int(result["statusCode"])
        except (ValueError, KeyError, TypeError):  # API Gateway: "Malformed Lambda proxy response"
            return replace(self.error("DEFAULT_5XX"), integration_status=integration_status)
        pairs: list[tuple[str, str]] = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            pairs.extend((name, str(v)) for v in values)
        raw = result.get("body") or ""
        if result.get("isBase64Encoded") and self._binary_media(first_accept(event.get("headers"))):
            body = base64.b64decode(raw)
        else:  # text, or base64 that API Gateway would not convert: passed through as it is
            body = str(raw).encode()
        return GatewayResponse(status, pairs, body, integration_status=integration_status)
