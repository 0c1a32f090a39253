"""SigV4 (and OAuth) at the local runtime's front door, verified as strictly as AgentCore does.

Every refusal is checked on the wire: 403, the AWS error type in ``x-amzn-errortype``, a JSON
body with a ``message``, a request id, and proof that the agent never ran (a counting agent
registered under a fresh name, plus the runtime's own record of the request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import botocore.exceptions
import pytest
from bedrock_agentcore.runtime import BedrockAgentCoreApp, RequestContext
from raw_http import RawRequest, RawResponse, send, signed_request

from agentcore_bridge.local import LocalCredentials, LocalRuntime

pytestmark = pytest.mark.network

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
SESSION_ID = "sigv4-test-session-0000000000000000000001"  # 41 chars, valid


@dataclass
class CountingAgent:
    """An agent that records every call it receives (payload and headers)."""

    app: BedrockAgentCoreApp
    calls: list[tuple[Any, dict[str, str]]] = field(default_factory=list)


def counting_agent() -> CountingAgent:
    agent = CountingAgent(BedrockAgentCoreApp())

    @agent.app.entrypoint
    async def handler(payload: Any, context: RequestContext) -> dict[str, Any]:
        headers = dict(context.request.headers) if context.request is not None else {}
        agent.calls.append((payload, headers))
        return {"ok": True, "payload": payload}

    return agent


@dataclass
class Target:
    arn: str
    agent: CountingAgent


@pytest.fixture
def target(fresh_arn: Callable[..., str]) -> Target:
    """A fresh SigV4 runtime (qualifiers DEFAULT and prod) whose agent counts its calls."""
    agent = counting_agent()
    return Target(fresh_arn(agent.app, qualifiers=("prod",)), agent)


def assert_refused(
    local: LocalRuntime,
    response: RawResponse,
    target: Target,
    error_type: str,
    *,
    status: int = 403,
    message_contains: str | None = None,
) -> None:
    assert response.status == status, (response.status, response.body)
    assert response.headers.get("x-amzn-errortype") == error_type, response.headers
    assert response.headers.get("x-amzn-requestid"), response.headers
    assert response.headers.get("content-type") == "application/json"
    body = response.json()
    assert isinstance(body.get("message"), str) and body["message"], body
    if message_contains is not None:
        assert message_contains in body["message"], body["message"]
    # The agent never ran, and the runtime recorded the refusal (and nothing else) for it.
    assert target.agent.calls == []
    seen = [i for i in local.invocations if i.runtime_arn == target.arn]
    assert seen, "the runtime did not record the request"
    assert [(i.status, i.error_type) for i in seen] == [(status, error_type)] * len(seen)


def bearer_request(local: LocalRuntime, arn: str, token: str, body: bytes = b"{}") -> RawRequest:
    """An unsigned request carrying only ``Authorization: Bearer <token>`` (OAuth runtimes)."""
    return RawRequest(
        "POST",
        f"/runtimes/{quote(arn, safe='')}/invocations",
        {
            "Host": f"127.0.0.1:{local.port}",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            SESSION_HEADER: SESSION_ID,
        },
        body,
    )


# --- positive control ------------------------------------------------------------------------


def test_correctly_signed_request_reaches_agent(runtime: Any, target: Target) -> None:
    local = runtime.local
    response = send(local, signed_request(local, target.arn, {"prompt": "control"}))
    assert response.status == 200, response.body
    assert response.json() == {"ok": True, "payload": {"prompt": "control"}}
    assert response.headers.get("x-amzn-requestid")
    assert [payload for payload, _ in target.agent.calls] == [{"prompt": "control"}]
    # AgentCore does not pass the caller's SigV4 credentials on to the container.
    forwarded = target.agent.calls[0][1]
    assert "authorization" not in forwarded and "x-amz-date" not in forwarded
    seen = [i for i in local.invocations if i.runtime_arn == target.arn]
    assert [(i.status, i.error_type) for i in seen] == [(200, None)]


# --- wrong credentials -----------------------------------------------------------------------


def test_wrong_secret_is_invalid_signature(runtime: Any, target: Target) -> None:
    local = runtime.local
    request = signed_request(local, target.arn, secret_key="not-the-right-secret-key-000000000")
    assert_refused(
        local,
        send(local, request),
        target,
        "InvalidSignatureException",
        message_contains="signature we calculated does not match",
    )


def test_unknown_key_id_is_unrecognized_client(runtime: Any, target: Target) -> None:
    local = runtime.local
    request = signed_request(local, target.arn, access_key="AKIAUNKNOWNKEY000001")
    assert_refused(local, send(local, request), target, "UnrecognizedClientException")


def test_wrong_region_in_scope_is_invalid_signature(runtime: Any, target: Target) -> None:
    local = runtime.local
    assert local.region != "eu-central-1"
    request = signed_request(local, target.arn, region="eu-central-1")
    assert "/eu-central-1/bedrock-agentcore/" in request.headers["Authorization"]
    assert_refused(
        local, send(local, request), target, "InvalidSignatureException", message_contains="region"
    )


def test_wrong_service_name_is_invalid_signature(runtime: Any, target: Target) -> None:
    local = runtime.local
    request = signed_request(local, target.arn, service="bedrock")
    assert "/bedrock/aws4_request" in request.headers["Authorization"]
    assert_refused(
        local,
        send(local, request),
        target,
        "InvalidSignatureException",
        message_contains="service",
    )


# --- the request changed after signing -------------------------------------------------------


def test_body_tampered_after_signing_is_invalid_signature(runtime: Any, target: Target) -> None:
    local = runtime.local
    request = signed_request(local, target.arn, {"prompt": "pay 10"})
    request.body = b'{"prompt": "pay 99"}'  # same length, different bytes
    assert_refused(local, send(local, request), target, "InvalidSignatureException")


def test_query_tampered_after_signing_is_invalid_signature(runtime: Any, target: Target) -> None:
    local = runtime.local
    request = signed_request(local, target.arn, query="qualifier=prod")
    assert request.path.endswith("?qualifier=prod")
    # Both qualifiers exist on the runtime: only the signature can catch the change.
    request.path = request.path.replace("qualifier=prod", "qualifier=DEFAULT")
    assert_refused(local, send(local, request), target, "InvalidSignatureException")


def test_colon_sent_unescaped_in_path_is_invalid_signature(runtime: Any, target: Target) -> None:
    """The aiohttp/yarl trap: signed over ``%3A``, sent ``:``. The runtime verifies the raw path."""
    local = runtime.local
    request = signed_request(local, target.arn)
    assert "%3A" in request.path
    request.path = request.path.replace("%3A", ":")
    assert ":" in request.path and "%3A" not in request.path
    assert_refused(local, send(local, request), target, "InvalidSignatureException")


def test_signed_header_dropped_is_invalid_signature(runtime: Any, target: Target) -> None:
    local = runtime.local
    request = signed_request(local, target.arn, headers={SESSION_HEADER: SESSION_ID})
    assert SESSION_HEADER.lower() in request.headers["Authorization"]  # it was signed
    del request.headers[SESSION_HEADER]
    assert_refused(local, send(local, request), target, "InvalidSignatureException")


def test_signed_header_altered_is_invalid_signature(runtime: Any, target: Target) -> None:
    local = runtime.local
    request = signed_request(local, target.arn, headers={SESSION_HEADER: SESSION_ID})
    request.headers[SESSION_HEADER] = SESSION_ID.replace("0001", "0002")
    assert_refused(local, send(local, request), target, "InvalidSignatureException")


# --- clock skew ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("skew", "wording"),
    [
        (timedelta(minutes=-6), "Signature expired"),
        (timedelta(minutes=6), "not yet current"),
    ],
    ids=["past", "future"],
)
def test_clock_skew_over_five_minutes_is_refused(
    runtime: Any, target: Target, skew: timedelta, wording: str
) -> None:
    local = runtime.local
    request = signed_request(local, target.arn, when=datetime.now(UTC) + skew)
    assert_refused(
        local, send(local, request), target, "InvalidSignatureException", message_contains=wording
    )


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=-4), timedelta(minutes=4)], ids=["past", "future"]
)
def test_clock_skew_of_four_minutes_is_accepted(
    runtime: Any, target: Target, skew: timedelta
) -> None:
    local = runtime.local
    request = signed_request(local, target.arn, {"prompt": "skewed"}, when=datetime.now(UTC) + skew)
    response = send(local, request)
    assert response.status == 200, response.body
    assert [payload for payload, _ in target.agent.calls] == [{"prompt": "skewed"}]


# --- missing or malformed Authorization ------------------------------------------------------


def test_no_authorization_header_is_missing_token(runtime: Any, target: Target) -> None:
    local = runtime.local
    request = signed_request(local, target.arn)
    del request.headers["Authorization"]
    assert_refused(
        local,
        send(local, request),
        target,
        "MissingAuthenticationTokenException",
        message_contains="Missing Authentication Token",
    )


@pytest.mark.parametrize(
    "authorization",
    [
        "garbage",
        "AWS4-HMAC-SHA256 garbage",
        "AWS4-HMAC-SHA256 Credential=AKIALOCALAGENTCORE01/20250101/us-west-2, Signature=abc",
    ],
)
def test_garbage_authorization_header_is_incomplete_signature(
    runtime: Any, target: Target, authorization: str
) -> None:
    local = runtime.local
    request = signed_request(local, target.arn)
    request.headers["Authorization"] = authorization
    assert_refused(local, send(local, request), target, "IncompleteSignatureException")


# --- authentication comes first ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "error_type"),
    [
        ("unsigned", "MissingAuthenticationTokenException"),
        ("wrong-secret", "InvalidSignatureException"),
    ],
)
def test_authentication_precedes_runtime_lookup(runtime: Any, how: str, error_type: str) -> None:
    local = runtime.local
    arn = f"arn:aws:bedrock-agentcore:{local.region}:{local.account_id}:runtime/not-registered-x"
    assert arn not in local.dataplane.runtimes
    request = signed_request(local, arn, secret_key="wrong-secret-0000000000000000000000000")
    if how == "unsigned":
        del request.headers["Authorization"]
    response = send(local, request)
    assert response.status == 403, (response.status, response.body)
    assert response.headers.get("x-amzn-errortype") == error_type


# --- temporary credentials (session token) ---------------------------------------------------

TOKEN_KEY_ID = "AKIATOKENTEST0000001"
TOKEN_SECRET = "secret-token-test"
TOKEN = "tok-123"


@pytest.fixture(scope="module")
def token_runtime() -> Iterator[tuple[LocalRuntime, Target]]:
    agent = counting_agent()
    credentials = [LocalCredentials(TOKEN_KEY_ID, TOKEN_SECRET, session_token=TOKEN)]
    with LocalRuntime(credentials=credentials) as local:
        yield local, Target(local.add_agent("token-agent", agent.app), agent)


@pytest.fixture
def token_target(token_runtime: tuple[LocalRuntime, Target]) -> tuple[LocalRuntime, Target]:
    local, target = token_runtime
    target.agent.calls.clear()
    local.invocations.clear()
    return local, target


def test_session_token_credentials_accept_the_right_token(
    token_target: tuple[LocalRuntime, Target],
) -> None:
    local, target = token_target
    assert local.credentials.access_key_id == TOKEN_KEY_ID
    request = signed_request(local, target.arn, {"prompt": "tok"}, token=TOKEN)
    assert request.headers["X-Amz-Security-Token"] == TOKEN
    response = send(local, request)
    assert response.status == 200, response.body
    assert [payload for payload, _ in target.agent.calls] == [{"prompt": "tok"}]
    # The token is a credential: it is not passed on to the agent.
    assert "x-amz-security-token" not in target.agent.calls[0][1]


@pytest.mark.parametrize("token", [None, "tok-999"], ids=["missing", "wrong"])
def test_session_token_credentials_refuse_missing_or_wrong_token(
    token_target: tuple[LocalRuntime, Target], token: str | None
) -> None:
    local, target = token_target
    request = signed_request(local, target.arn, token=token)
    assert_refused(local, send(local, request), target, "UnrecognizedClientException")


def test_default_credentials_are_unknown_to_token_runtime(
    runtime: Any, token_target: tuple[LocalRuntime, Target]
) -> None:
    local, target = token_target
    request = signed_request(
        local,
        target.arn,
        access_key=runtime.local.credentials.access_key_id,
        secret_key=runtime.local.credentials.secret_access_key,
    )
    assert_refused(local, send(local, request), target, "UnrecognizedClientException")


# --- OAuth runtimes --------------------------------------------------------------------------


@pytest.fixture
def oauth_target(fresh_arn: Callable[..., str]) -> Target:
    agent = counting_agent()
    return Target(fresh_arn(agent.app, bearer_tokens=("good-token",)), agent)


def test_oauth_runtime_accepts_good_bearer_token_and_forwards_it(runtime: Any) -> None:
    local = runtime.local
    response = send(local, bearer_request(local, runtime.oauth, "good-token", b'{"prompt": "o"}'))
    assert response.status == 200, response.body
    answer = response.json()
    assert answer["payload"] == {"prompt": "o"}
    assert answer["headers"].get("authorization") == "Bearer good-token"
    assert response.headers[SESSION_HEADER.lower()] == SESSION_ID


def test_oauth_runtime_refuses_wrong_bearer_token(runtime: Any, oauth_target: Target) -> None:
    local = runtime.local
    response = send(local, bearer_request(local, oauth_target.arn, "bad-token"))
    assert_refused(local, response, oauth_target, "AccessDeniedException")


def test_oauth_runtime_refuses_sigv4(runtime: Any, oauth_target: Target) -> None:
    local = runtime.local
    response = send(local, signed_request(local, oauth_target.arn))
    assert_refused(
        local,
        response,
        oauth_target,
        "AccessDeniedException",
        message_contains="Authorization method mismatch",
    )


def test_sigv4_runtime_refuses_bearer_token(runtime: Any, target: Target) -> None:
    local = runtime.local
    response = send(local, bearer_request(local, target.arn, "good-token"))
    assert_refused(local, response, target, "AccessDeniedException")


# --- the official client ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "error_code"),
    [
        (
            {"aws_secret_access_key": "wrong-secret-0000000000000000000000000"},
            "InvalidSignatureException",
        ),
        ({"aws_access_key_id": "AKIAUNKNOWNKEY000002"}, "UnrecognizedClientException"),
    ],
    ids=["wrong-secret", "unknown-key"],
)
def test_boto3_client_sees_the_aws_error_code(
    runtime: Any, target: Target, override: dict[str, str], error_code: str
) -> None:
    local = runtime.local
    client = boto3.client("bedrock-agentcore", **{**local.boto3_kwargs(), **override})
    try:
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            client.invoke_agent_runtime(
                agentRuntimeArn=target.arn, runtimeSessionId=SESSION_ID, payload=b"{}"
            )
    finally:
        client.close()
    error = caught.value.response
    assert error["Error"]["Code"] == error_code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Message"]
    assert target.agent.calls == []
    seen = [i for i in local.invocations if i.runtime_arn == target.arn]
    assert seen and all(i.status == 403 for i in seen)


def test_boto3_client_with_right_credentials_succeeds(runtime: Any, target: Target) -> None:
    """Control for the test above: the same call with the runtime's own credentials works."""
    client = boto3.client("bedrock-agentcore", **runtime.local.boto3_kwargs())
    try:
        answer = client.invoke_agent_runtime(
            agentRuntimeArn=target.arn, runtimeSessionId=SESSION_ID, payload=b'{"prompt": "b"}'
        )
        body = answer["response"].read()
        answer["response"].close()
    finally:
        client.close()
    assert answer["runtimeSessionId"] == SESSION_ID
    assert b'"prompt": "b"' in body
    assert [payload for payload, _ in target.agent.calls] == [{"prompt": "b"}]
