"""The local API gateway: Cognito ID token checks as the authorizer makes them, and the proxy event."""

# ruff: noqa: S310 - every URL opened here is the local gateway on 127.0.0.1

from __future__ import annotations

import functools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from gateway_stack import deployed, gateway_template
from moto.utilities.utils import load_resource

from local.deploy import Deployment
from local.gateway import LocalGateway, Route, authorizer_claims

ECHO = """
import json

def handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({
            "authorizer": event["requestContext"].get("authorizer"),
            "path": event["path"],
            "resource": event["resource"],
            "pathParameters": event["pathParameters"],
            "query": event["queryStringParameters"],
            "body": event["body"],
            "stage": event["requestContext"]["stage"],
            "requestId": event["requestContext"]["requestId"],
        }),
    }
"""


@pytest.fixture(scope="module", params=["in-process", "server"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    folder = Path(tmp_path_factory.mktemp("gateway"))
    with deployed(gateway_template(ECHO), folder, server=request.param == "server") as deployment:
        yield deployment


@pytest.fixture(scope="module")
def other_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def gateway(stack: Deployment) -> Iterator[LocalGateway]:
    with LocalGateway(stack) as running:
        yield running


def call(
    gateway: LocalGateway, path: str, token: str | None = None, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": token} if token else {}
    request = urllib.request.Request(gateway.url + path, headers=headers, **kwargs)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@functools.cache
def moto_signing_key() -> Any:
    """moto's own signing key (loading it takes ~0.3 s): tokens signed with it differ only in claims."""
    return jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key


def signed(claims: dict[str, Any], key: Any = None) -> str:
    return jwt.encode(claims, key or moto_signing_key(), algorithm="RS256", headers={"kid": "dummy"})


def valid_claims(stack: Deployment) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": f"https://cognito-idp.{stack.region}.amazonaws.com/{stack.outputs['UserPoolId']}",
        "aud": stack.outputs["UserPoolClientId"],
        "token_use": "id",
        "sub": "user-1",
        "iat": now,
        "exp": now + 600,
        "cognito:groups": ["org-camden"],
    }


def test_good_token_reaches_function_with_claims(stack: Deployment, gateway: LocalGateway) -> None:
    status, body = call(gateway, "datasets/abc?limit=5", token=stack.id_token("requester"))
    assert status == 200
    claims = body["authorizer"]["claims"]
    assert claims["cognito:groups"] == "org-camden"
    assert claims["token_use"] == "id"
    assert claims["email"] == "requester@camden.example"
    assert body["path"] == "/datasets/abc"
    assert body["resource"] == "/{proxy+}"
    assert body["pathParameters"] == {"proxy": "datasets/abc"}
    assert body["query"] == {"limit": "5"}
    assert body["stage"] == "v1"


def test_bearer_prefix_is_accepted(stack: Deployment, gateway: LocalGateway) -> None:
    assert call(gateway, "", token="Bearer " + stack.id_token("admin"))[0] == 200


@pytest.mark.parametrize(
    "case",
    ["missing", "expired", "wrong-signature", "wrong-audience", "wrong-issuer", "access-token", "garbage"],
)
def test_bad_tokens_get_401_without_invoking(
    stack: Deployment, gateway: LocalGateway, other_key: Any, case: str
) -> None:
    claims = valid_claims(stack)
    tokens: dict[str, str | None] = {
        "missing": None,
        "expired": signed({**claims, "iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600}),
        "wrong-signature": signed(claims, other_key),
        "wrong-audience": signed({**claims, "aud": stack.outputs["OtherClientId"]}),
        "wrong-issuer": signed({**claims, "iss": "https://cognito-idp.eu-west-2.amazonaws.com/other"}),
        "access-token": signed({**claims, "token_use": "access"}),
        "garbage": "not-a-jwt",
    }
    assert call(gateway, "datasets", token=signed(claims))[0] == 200  # control: only `case` differs
    before = gateway.invocations
    status, body = call(gateway, "datasets", token=tokens[case])
    assert status == 401
    assert body == {"code": "unauthorized", "message": "Unauthorized"}
    assert gateway.invocations == before


def test_collect_routes_need_no_token(gateway: LocalGateway) -> None:
    status, body = call(gateway, "collect/requests/r1/upload", data=b'{"a": 1}', method="POST")
    assert status == 200
    assert body["authorizer"] is None
    assert body["resource"] == "/collect/{proxy+}"
    assert body["pathParameters"] == {"proxy": "requests/r1/upload"}
    assert body["body"] == '{"a": 1}'


def test_paths_outside_stage_are_missing_token(gateway: LocalGateway) -> None:
    request = urllib.request.Request(gateway.url.replace("/v1/", "/nostage"))
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 403


def test_route_matching_and_claim_strings() -> None:
    assert Route("/collect/{proxy+}", {"ANY": False}).match("/collect/a/b") == {"proxy": "a/b"}
    assert Route("/collect/{proxy+}", {"ANY": False}).match("/collect") is None
    assert Route("/", {"ANY": True}).match("/") == {}
    claims = authorizer_claims({"cognito:groups": ["a", "b"], "exp": 0, "email_verified": True})
    assert claims == {
        "cognito:groups": "a,b",
        "exp": "Thu Jan 01 00:00:00 UTC 1970",
        "email_verified": "True",
    }
