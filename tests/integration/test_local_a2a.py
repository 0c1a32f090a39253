"""A2A runtimes on the local runtime: JSON-RPC through InvokeAgentRuntime, the agent card, auth,
JSON-RPC platform errors at their real statuses, faults, and both demo A2A agents hosted
in-process and one process per session."""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from raw_http import RawRequest, RawResponse, open_stream, send
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from support.local_cli import running_cli
from support.served_app import served
from support.signed_requests import runtime_path, signed_headers
from support.sigv4_httpx import SigV4HttpxAuth

from agentcore_bridge.local import Fault, LocalRuntime
from agentcore_bridge.local.agents import a2a_echo, a2a_strands, echo, mcp_tools
from agentcore_bridge.local.protocols import MAX_ID_SCAN_BYTES

pytestmark = pytest.mark.network

SESSION_HEADER = "x-amzn-bedrock-agentcore-runtime-session-id"
SESSION = "a2a-session-" + "0" * 30  # 42 chars, a valid runtime session id
OTHER_SESSION = "a2a-session-" + "1" * 30
ECHO_MODULE = "agentcore_bridge.local.agents.a2a_echo:app"
STRANDS_MODULE = "agentcore_bridge.local.agents.a2a_strands:app"


class A2ARuntimes:
    def __init__(self, local: LocalRuntime) -> None:
        self.local = local
        self.echo = local.add_agent(
            "a2a-echo", a2a_echo.build_app(), protocol="a2a", qualifiers=("prod",)
        )
        self.oauth = local.add_agent(
            "a2a-oauth", a2a_echo.build_app(), protocol="a2a", bearer_tokens=("good-token",)
        )
        self.strands = local.add_agent("a2a-strands", a2a_strands.build_app(), protocol="a2a")
        self.http_echo = local.add_agent("http-echo", echo.app)
        self._count = 0

    def fresh(self, agent: Any = None, **kwargs: Any) -> str:
        """A runtime of its own (faults and sessions stay the test's)."""
        self._count += 1
        kwargs.setdefault("protocol", "a2a")
        return self.local.add_agent(
            f"a2a-fresh-{self._count}",
            agent if agent is not None or "url" in kwargs else a2a_echo.build_app(),
            **kwargs,
        )


@pytest.fixture(scope="module")
def a2a() -> Iterator[A2ARuntimes]:
    with LocalRuntime() as local:
        yield A2ARuntimes(local)


# --- requests --------------------------------------------------------------------------------


def message(
    text: str, *, context_id: str = SESSION, task_id: str | None = None, number: int = 1
) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "kind": "message",
        "messageId": f"msg-{number}-{time.monotonic_ns()}",
        "role": "user",
        "parts": [{"kind": "text", "text": text}],
        "contextId": context_id,
    }
    if task_id is not None:
        msg["taskId"] = task_id
    return msg


def rpc(text: str, method: str = "message/send", request_id: Any = 1, **kwargs: Any) -> bytes:
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": method,
        "params": {"message": message(text, **kwargs)},
    }
    return json.dumps(body).encode()


def a2a_request(
    local: LocalRuntime,
    arn: str,
    body: bytes,
    *,
    session: str | None = SESSION,
    slash: bool = True,
    query: str = "",
    headers: dict[str, str] | None = None,
    unsigned: bool = False,
    bearer: str | None = None,
    region: str | None = None,
) -> RawRequest:
    path = runtime_path(arn, "/invocations/" if slash else "/invocations")
    path += f"?{query}" if query else ""
    extra = {"Content-Type": "application/json", "Accept": "application/json"}
    extra.update(headers or {})
    if session is not None:
        extra["X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"] = session
    if unsigned or bearer is not None:
        all_headers = {"Host": f"127.0.0.1:{local.port}", **extra}
        if bearer is not None:
            all_headers["Authorization"] = f"Bearer {bearer}"
    else:
        all_headers = signed_headers(local, "POST", path, body, extra, region=region)
    return RawRequest("POST", path, all_headers, body)


def call(local: LocalRuntime, arn: str, text: str, **kwargs: Any) -> RawResponse:
    method = kwargs.pop("method", "message/send")
    rpc_args = {k: kwargs.pop(k) for k in ("context_id", "task_id") if k in kwargs}
    return send(local, a2a_request(local, arn, rpc(text, method, **rpc_args), **kwargs))


def card_request(
    local: LocalRuntime,
    arn: str,
    *,
    session: str | None = None,
    query: str = "",
    bearer: str | None = None,
) -> RawRequest:
    path = runtime_path(arn, "/invocations/.well-known/agent-card.json")
    path += f"?{query}" if query else ""
    extra = {"Accept": "application/json"}
    if session is not None:
        extra["X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"] = session
    if bearer is not None:
        headers = {"Host": f"127.0.0.1:{local.port}", "Authorization": f"Bearer {bearer}", **extra}
    else:
        headers = signed_headers(local, "GET", path, b"", extra)
    return RawRequest("GET", path, headers, b"")


def sse_results(body: bytes) -> list[dict[str, Any]]:
    """The JSON-RPC ``result`` of each ``data:`` event of an A2A stream."""
    results = []
    for line in body.decode().splitlines():
        if line.startswith("data:"):
            results.append(json.loads(line[5:])["result"])
    return results


def result_of(response: RawResponse) -> dict[str, Any]:
    assert response.status == 200, (response.status, response.body)
    payload = response.json()
    assert "error" not in payload, payload
    return payload["result"]


def text_of(parts: list[dict[str, Any]]) -> str:
    return "".join(p["text"] for p in parts if p.get("kind") == "text")


def assert_jsonrpc_error(
    response: RawResponse, status: int, code: int, error_type: str, request_id: Any = 1
) -> str:
    assert response.status == status, (response.status, response.body)
    assert response.headers.get("x-amzn-errortype") == error_type, response.headers
    assert response.headers.get("content-type") == "application/json"
    payload = response.json()
    assert set(payload) == {"jsonrpc", "id", "error"}, payload
    assert payload["jsonrpc"] == "2.0"
    assert payload["id"] == request_id
    assert payload["error"]["code"] == code
    assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
    return payload["error"]["message"]


def assert_plain_aws_error(response: RawResponse, status: int, error_type: str) -> None:
    assert response.status == status, (response.status, response.body)
    assert response.headers.get("x-amzn-errortype") == error_type, response.headers
    payload = response.json()
    assert "jsonrpc" not in payload and isinstance(payload["message"], str), payload


# --- the demo agent's cases ------------------------------------------------------------------


def test_plain_message_answer_carries_the_session_as_context(a2a: A2ARuntimes) -> None:
    response = call(a2a.local, a2a.echo, "hello there")
    assert response.headers[SESSION_HEADER] == SESSION
    result = result_of(response)
    assert result["kind"] == "message"
    assert result["role"] == "agent"
    assert text_of(result["parts"]) == "Echo: hello there"
    received = result["metadata"]["received"]
    assert received["contextId"] == SESSION
    assert received["texts"] == ["hello there"]
    assert received["headers"][SESSION_HEADER] == SESSION


def test_invocations_path_with_and_without_trailing_slash(a2a: A2ARuntimes) -> None:
    for slash in (True, False):
        result = result_of(call(a2a.local, a2a.echo, f"slash={slash}", slash=slash))
        assert text_of(result["parts"]) == f"Echo: slash={slash}"
    paths = [i.path for i in a2a.local.invocations if i.runtime_arn == a2a.echo][-2:]
    assert [p.endswith("/invocations/") for p in paths] == [True, False]


def test_missing_session_header_is_generated_and_returned(a2a: A2ARuntimes) -> None:
    response = call(a2a.local, a2a.echo, "who am i", session=None)
    session_id = response.headers[SESSION_HEADER]
    assert 33 <= len(session_id) <= 256
    received = result_of(response)["metadata"]["received"]
    assert received["headers"][SESSION_HEADER] == session_id


def test_streamed_task_arrives_as_artifact_chunks_then_completed(a2a: A2ARuntimes) -> None:
    response = call(
        a2a.local, a2a.echo, "stream please", method="message/stream",
        headers={"Accept": "text/event-stream"},
    )  # fmt: skip
    assert response.status == 200, response.body
    assert response.headers["content-type"].startswith("text/event-stream")
    results = sse_results(response.body)
    kinds = [r["kind"] for r in results]
    assert kinds[0] == "task" and results[0]["status"]["state"] == "submitted"
    chunks = [r for r in results if r["kind"] == "artifact-update"]
    assert [text_of(c["artifact"]["parts"]) for c in chunks] == list(a2a_echo.STREAM_CHUNKS)
    assert [c["append"] for c in chunks] == [False, True, True]
    assert [c["lastChunk"] for c in chunks] == [False, False, True]
    assert chunks[0]["artifact"]["metadata"]["received"]["contextId"] == SESSION
    last = results[-1]
    assert last["kind"] == "status-update"
    assert last["status"]["state"] == "completed" and last["final"] is True
    assert {r["contextId"] for r in results} == {SESSION}


def test_stream_events_are_handed_on_as_they_arrive(a2a: A2ARuntimes) -> None:
    request = a2a_request(
        a2a.local, a2a.echo, rpc("slow", "message/stream"),
        headers={"Accept": "text/event-stream"},
    )  # fmt: skip
    started = time.monotonic()
    conn, response = open_stream(a2a.local, request, timeout=30)
    try:
        assert response.status == 200
        arrivals: list[tuple[float, str]] = []
        while True:
            line = response.readline()
            if not line:
                break
            if line.startswith(b"data:"):
                kind = json.loads(line[5:])["result"]["kind"]
                arrivals.append((time.monotonic() - started, kind))
    finally:
        conn.close()
    chunk_times = [t for t, kind in arrivals if kind == "artifact-update"]
    assert len(chunk_times) == len(a2a_echo.STREAM_CHUNKS)
    # The agent waits SLOW_CHUNK_DELAY before each chunk: the first must not wait for the last.
    assert chunk_times[-1] - chunk_times[0] >= a2a_echo.SLOW_CHUNK_DELAY * 1.5, arrivals


def test_message_send_of_a_streamed_task_returns_the_whole_artifact(a2a: A2ARuntimes) -> None:
    task = result_of(call(a2a.local, a2a.echo, "stream"))
    assert task["kind"] == "task"
    assert task["status"]["state"] == "completed"
    assert [text_of(a["parts"]) for a in task["artifacts"]] == ["Streamed answer for you."]


def test_status_message_only_task(a2a: A2ARuntimes) -> None:
    task = result_of(call(a2a.local, a2a.echo, "status"))
    assert task["status"]["state"] == "completed"
    assert not task.get("artifacts")
    assert text_of(task["status"]["message"]["parts"]) == "Status-only answer."


def test_input_required_then_completed_by_a_follow_up_carrying_only_the_new_turn(
    a2a: A2ARuntimes,
) -> None:
    first = result_of(call(a2a.local, a2a.echo, "input"))
    assert first["status"]["state"] == "input-required"
    assert text_of(first["status"]["message"]["parts"]) == a2a_echo.INPUT_QUESTION
    task_id = first["id"]

    second = result_of(call(a2a.local, a2a.echo, "Ada", task_id=task_id))
    assert second["id"] == task_id
    assert second["contextId"] == SESSION
    assert second["status"]["state"] == "completed"
    assert [text_of(a["parts"]) for a in second["artifacts"]] == ["Hello, Ada."]
    received = second["status"]["message"]["metadata"]["received"]
    assert received == {**received, "taskId": task_id, "contextId": SESSION}
    assert received["existingTask"] is True
    assert received["texts"] == ["Ada"]  # turn 2 carries only the new turn
    sent = json.loads(
        next(i for i in reversed(a2a.local.invocations) if i.runtime_arn == a2a.echo).body
    )
    assert sent["params"]["message"]["taskId"] == task_id


def test_failed_task_with_a_status_message(a2a: A2ARuntimes) -> None:
    task = result_of(call(a2a.local, a2a.echo, "fail now"))
    assert task["status"]["state"] == "failed"
    assert text_of(task["status"]["message"]["parts"]) == a2a_echo.FAILURE_TEXT


def test_agent_jsonrpc_error_is_passed_on_at_http_200(a2a: A2ARuntimes) -> None:
    response = call(a2a.local, a2a.echo, "error please")
    assert response.status == 200
    assert "x-amzn-errortype" not in response.headers  # the agent's error, not the platform's
    payload = response.json()
    assert payload["id"] == 1
    assert payload["error"]["code"] == a2a_echo.AGENT_ERROR_CODE
    assert payload["error"]["data"]["contextId"] == SESSION


def test_invocation_log_records_what_the_agent_received(a2a: A2ARuntimes) -> None:
    arn = a2a.fresh()
    body = rpc("logged", request_id="req-7")
    send(a2a.local, a2a_request(a2a.local, arn, body, headers={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}))  # fmt: skip
    (seen,) = [i for i in a2a.local.invocations if i.runtime_arn == arn]
    assert seen.operation == "invocations" and seen.method == "POST"
    assert seen.path == runtime_path(arn, "/invocations/")
    assert seen.protocol == "a2a" and seen.status == 200
    assert seen.body == body
    assert seen.agent_path == "/"
    assert seen.agent_headers[SESSION_HEADER] == SESSION
    assert seen.agent_headers["traceparent"].startswith("00-111")


# --- the agent card --------------------------------------------------------------------------


def test_agent_card_url_is_rewritten_to_the_runtime_invocation_url(a2a: A2ARuntimes) -> None:
    response = send(a2a.local, card_request(a2a.local, a2a.echo, session=SESSION))
    assert response.status == 200, response.body
    assert response.headers[SESSION_HEADER] == SESSION
    card = response.json()
    assert card["name"] == "a2a-echo"
    assert card["capabilities"]["streaming"] is True
    assert card["url"] == a2a.local.invocation_url(a2a.echo)
    assert card["url"].endswith("/invocations/")
    (seen,) = [
        i for i in a2a.local.invocations
        if i.runtime_arn == a2a.echo and i.operation == "agent-card"
    ][-1:]  # fmt: skip
    assert seen.method == "GET" and seen.agent_path == "/.well-known/agent-card.json"


def test_agent_card_without_session_gets_one_and_keeps_the_qualifier(a2a: A2ARuntimes) -> None:
    response = send(a2a.local, card_request(a2a.local, a2a.echo, query="qualifier=prod"))
    assert response.status == 200, response.body
    assert len(response.headers[SESSION_HEADER]) >= 33
    assert response.json()["url"] == a2a.local.invocation_url(a2a.echo, "prod")
    assert response.json()["url"].endswith("/invocations/?qualifier=prod")
    missing = send(a2a.local, card_request(a2a.local, a2a.echo, query="qualifier=staging"))
    assert_plain_aws_error(missing, 404, "ResourceNotFoundException")


def test_agent_card_of_a_non_a2a_runtime_is_not_found(a2a: A2ARuntimes) -> None:
    response = send(a2a.local, card_request(a2a.local, a2a.http_echo))
    assert_plain_aws_error(response, 404, "ResourceNotFoundException")


def test_agent_card_larger_than_the_bound_is_a_runtime_client_error(a2a: A2ARuntimes) -> None:
    async def huge_card(request: Request) -> JSONResponse:
        return JSONResponse({"name": "huge", "url": "x", "padding": "x" * 1_100_000})

    arn = a2a.fresh(Starlette(routes=[Route("/.well-known/agent-card.json", huge_card)]))
    response = send(a2a.local, card_request(a2a.local, arn))
    # GetAgentCard is a REST operation, not JSON-RPC: its errors are AWS JSON.
    assert_plain_aws_error(response, 424, "RuntimeClientError")


def test_boto3_invoke_agent_runtime_and_get_agent_card(a2a: A2ARuntimes) -> None:
    client = boto3.client("bedrock-agentcore", **a2a.local.boto3_kwargs())
    try:
        response = client.invoke_agent_runtime(
            agentRuntimeArn=a2a.echo,
            runtimeSessionId=SESSION,
            contentType="application/json",
            accept="application/json",
            payload=rpc("via boto3"),
        )
        assert response["runtimeSessionId"] == SESSION
        answer = json.loads(response["response"].read())
        assert text_of(answer["result"]["parts"]) == "Echo: via boto3"

        stream = client.invoke_agent_runtime(
            agentRuntimeArn=a2a.echo,
            runtimeSessionId=SESSION,
            accept="text/event-stream",
            payload=rpc("stream", "message/stream"),
        )
        assert stream["contentType"].startswith("text/event-stream")
        events = sse_results(stream["response"].read())
        assert events[-1]["status"]["state"] == "completed"

        card = client.get_agent_card(agentRuntimeArn=a2a.echo, runtimeSessionId=SESSION)
        assert card["statusCode"] == 200
        assert card["runtimeSessionId"] == SESSION
        assert card["agentCard"]["url"] == a2a.local.invocation_url(a2a.echo)

        with pytest.raises(ClientError) as caught:
            client.get_agent_card(agentRuntimeArn=a2a.http_echo)
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    finally:
        client.close()


# --- auth ------------------------------------------------------------------------------------


def test_unsigned_and_badly_signed_calls_are_plain_403s(a2a: A2ARuntimes) -> None:
    unsigned = send(a2a.local, a2a_request(a2a.local, a2a.echo, rpc("x"), unsigned=True))
    assert_plain_aws_error(unsigned, 403, "MissingAuthenticationTokenException")
    wrong_region = send(
        a2a.local, a2a_request(a2a.local, a2a.echo, rpc("x"), region="eu-central-1")
    )
    assert_plain_aws_error(wrong_region, 403, "InvalidSignatureException")
    unsigned_card = card_request(a2a.local, a2a.echo)
    unsigned_card.headers = {
        k: v for k, v in unsigned_card.headers.items() if k.lower() != "authorization"
    }
    assert_plain_aws_error(send(a2a.local, unsigned_card), 403, "MissingAuthenticationTokenException")  # fmt: skip


def test_oauth_runtime_takes_only_its_bearer_token(a2a: A2ARuntimes) -> None:
    ok = call(a2a.local, a2a.oauth, "with token", bearer="good-token")
    assert text_of(result_of(ok)["parts"]) == "Echo: with token"
    card = send(a2a.local, card_request(a2a.local, a2a.oauth, bearer="good-token"))
    assert card.status == 200 and card.json()["url"] == a2a.local.invocation_url(a2a.oauth)

    assert_plain_aws_error(
        call(a2a.local, a2a.oauth, "x", bearer="bad-token"), 403, "AccessDeniedException"
    )
    # SigV4 to an OAuth runtime, and a token to a SigV4 runtime: method mismatch.
    assert_plain_aws_error(call(a2a.local, a2a.oauth, "x"), 403, "AccessDeniedException")
    assert_plain_aws_error(
        call(a2a.local, a2a.echo, "x", bearer="good-token"), 403, "AccessDeniedException"
    )


# --- platform errors: JSON-RPC bodies at the real status -------------------------------------


def test_unknown_qualifier_is_jsonrpc_resource_not_found(a2a: A2ARuntimes) -> None:
    body = rpc("x", request_id="abc-1")
    response = send(a2a.local, a2a_request(a2a.local, a2a.echo, body, query="qualifier=nope"))
    message = assert_jsonrpc_error(
        response, 404, -32051, "ResourceNotFoundException", request_id="abc-1"
    )
    assert "nope" in message


def test_invalid_session_id_is_jsonrpc_validation_error(a2a: A2ARuntimes) -> None:
    response = call(a2a.local, a2a.echo, "x", session="s" * 32)
    assert_jsonrpc_error(response, 400, -32052, "ValidationException")


@pytest.mark.parametrize(
    ("fault", "status", "code", "error_type"),
    [
        (Fault.THROTTLE, 429, -32053, "ThrottlingException"),
        (Fault.CONFLICT, 409, -32054, "RetryableConflictException"),
        (Fault.INTERNAL, 500, -32603, "InternalServerException"),
        (Fault.UNAVAILABLE, 503, -32603, "ServiceUnavailableException"),
    ],
)
def test_injected_faults_are_jsonrpc_errors_at_their_status(
    a2a: A2ARuntimes, fault: Fault, status: int, code: int, error_type: str
) -> None:
    arn = a2a.fresh()
    a2a.local.inject(fault, runtime_arn=arn)
    body = rpc("x", request_id=42)
    assert_jsonrpc_error(
        send(a2a.local, a2a_request(a2a.local, arn, body)), status, code, error_type, 42
    )
    assert result_of(send(a2a.local, a2a_request(a2a.local, arn, body)))["kind"] == "message"


def test_error_id_is_null_when_the_body_is_not_a_jsonrpc_request(a2a: A2ARuntimes) -> None:
    arn = a2a.fresh()
    a2a.local.inject(Fault.THROTTLE, runtime_arn=arn)
    response = send(a2a.local, a2a_request(a2a.local, arn, b"not json"))
    assert_jsonrpc_error(response, 429, -32053, "ThrottlingException", request_id=None)


def test_error_id_is_not_looked_for_in_a_body_past_the_scan_bound(a2a: A2ARuntimes) -> None:
    arn = a2a.fresh()
    a2a.local.inject(Fault.THROTTLE, times=2, runtime_arn=arn)
    padding = {"padding": "x" * MAX_ID_SCAN_BYTES}
    small = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "message/send"}).encode()
    big = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "message/send", **padding}).encode()
    assert len(small) <= MAX_ID_SCAN_BYTES < len(big)
    for body, request_id in ((small, 5), (big, None)):
        response = send(a2a.local, a2a_request(a2a.local, arn, body))
        assert_jsonrpc_error(response, 429, -32053, "ThrottlingException", request_id)


def test_agent_http_failure_is_jsonrpc_runtime_client_error(a2a: A2ARuntimes) -> None:
    async def broken(request: Request) -> JSONResponse:
        return JSONResponse({"secret": "agent-detail-9a1"}, status_code=500)

    arn = a2a.fresh(Starlette(routes=[Route("/", broken, methods=["POST"])]))
    response = call(a2a.local, arn, "x")
    message = assert_jsonrpc_error(response, 424, -32055, "RuntimeClientError")
    assert "(500)" in message
    assert b"agent-detail-9a1" not in response.body


def test_throttled_twice_then_success_seen_server_side(a2a: A2ARuntimes) -> None:
    arn = a2a.fresh()
    a2a.local.inject(Fault.THROTTLE, times=2, runtime_arn=arn)
    statuses = [call(a2a.local, arn, f"try {n}").status for n in range(3)]
    assert statuses == [429, 429, 200]

    # boto3 retries a 429 by itself: the runtime sees two refusals, then the call through.
    other = a2a.fresh()
    a2a.local.inject(Fault.THROTTLE, times=2, runtime_arn=other)
    client = boto3.client("bedrock-agentcore", **a2a.local.boto3_kwargs())
    try:
        response = client.invoke_agent_runtime(
            agentRuntimeArn=other, runtimeSessionId=SESSION, payload=rpc("boto3 retry")
        )
        assert text_of(json.loads(response["response"].read())["result"]["parts"]) == (
            "Echo: boto3 retry"
        )
    finally:
        client.close()
    seen = [(i.status, i.fault) for i in a2a.local.invocations if i.runtime_arn == other]
    assert seen == [(429, Fault.THROTTLE), (429, Fault.THROTTLE), (200, None)]


def test_drop_mid_stream_breaks_an_a2a_stream(a2a: A2ARuntimes) -> None:
    arn = a2a.fresh()
    a2a.local.inject(Fault.DROP_MID_STREAM, runtime_arn=arn, after_chunks=2)
    request = a2a_request(
        a2a.local, arn, rpc("stream", "message/stream"), headers={"Accept": "text/event-stream"}
    )
    conn, response = open_stream(a2a.local, request, timeout=10)
    try:
        assert response.status == 200
        with pytest.raises((http.client.IncompleteRead, ConnectionError)):
            response.read()
    finally:
        conn.close()
    assert call(a2a.local, arn, "after the drop").status == 200


# --- the Strands agent -----------------------------------------------------------------------


def test_strands_agent_answers_a_task_with_its_scripted_text(a2a: A2ARuntimes) -> None:
    task = result_of(call(a2a.local, a2a.strands, "hello strands"))
    assert task["kind"] == "task"
    assert task["contextId"] == SESSION
    assert task["status"]["state"] == "completed"
    text = "".join(text_of(a["parts"]) for a in task["artifacts"])
    assert text == a2a_strands.scripted_answer("hello strands")


def test_strands_agent_streams_artifact_updates(a2a: A2ARuntimes) -> None:
    response = call(
        a2a.local, a2a.strands, "stream it", method="message/stream",
        headers={"Accept": "text/event-stream"},
    )  # fmt: skip
    results = sse_results(response.body)
    chunks = [r for r in results if r["kind"] == "artifact-update"]
    assert len(chunks) >= 2
    assert "".join(text_of(c["artifact"]["parts"]) for c in chunks) == (
        a2a_strands.scripted_answer("stream it")
    )
    assert chunks[-1]["lastChunk"] is True
    assert results[-1]["status"]["state"] == "completed"
    card = send(a2a.local, card_request(a2a.local, a2a.strands)).json()
    assert card["name"] == "strands-scripted"
    assert card["url"] == a2a.local.invocation_url(a2a.strands)


# --- one process per session -----------------------------------------------------------------


@pytest.mark.timeout(180)
def test_echo_agent_one_process_per_session(a2a: A2ARuntimes) -> None:
    arn = a2a.fresh(ECHO_MODULE, idle_timeout=60)
    try:
        first = result_of(call(a2a.local, arn, "input"))
        task_id = first["id"]
        received = first["status"]["message"]["metadata"]["received"]
        # The worker got AGENTCORE_RUNTIME_URL, as AgentCore's A2A containers do.
        assert received["runtimeUrl"] == a2a.local.invocation_url(arn)
        # The task lives in that session's process: the follow-up finds it.
        second = result_of(call(a2a.local, arn, "Grace", task_id=task_id))
        assert [text_of(a["parts"]) for a in second["artifacts"]] == ["Hello, Grace."]
        other = result_of(call(a2a.local, arn, "hi", session=OTHER_SESSION, context_id=OTHER_SESSION))  # fmt: skip
        pids = a2a.local.session_pids(arn)
        assert set(pids) == {SESSION, OTHER_SESSION}
        assert other["metadata"]["received"]["pid"] == pids[OTHER_SESSION]
        assert received["pid"] == pids[SESSION] != pids[OTHER_SESSION]
        card = send(a2a.local, card_request(a2a.local, arn, session=SESSION))
        assert card.json()["url"] == a2a.local.invocation_url(arn)
        # StopRuntimeSession ends that session's process, for A2A runtimes as for HTTP ones.
        client = boto3.client("bedrock-agentcore", **a2a.local.boto3_kwargs())
        try:
            client.stop_runtime_session(agentRuntimeArn=arn, runtimeSessionId=OTHER_SESSION)
        finally:
            client.close()
        assert set(a2a.local.session_pids(arn)) == {SESSION}
    finally:
        a2a.local.run_in_loop(a2a.local.host(arn).aclose())


@pytest.mark.timeout(180)
def test_strands_agent_one_process_per_session(a2a: A2ARuntimes) -> None:
    arn = a2a.fresh(STRANDS_MODULE, idle_timeout=60)
    try:
        task = result_of(call(a2a.local, arn, "from a worker"))
        text = "".join(text_of(a["parts"]) for a in task["artifacts"])
        assert text == a2a_strands.scripted_answer("from a worker")
        assert SESSION in a2a.local.session_pids(arn)
    finally:
        a2a.local.run_in_loop(a2a.local.host(arn).aclose())


def test_a2a_agent_at_a_url(a2a: A2ARuntimes) -> None:
    with served(a2a_echo.build_app()) as url:
        arn = a2a.fresh(url=url)
        task = result_of(call(a2a.local, arn, "stream"))
        assert [text_of(a["parts"]) for a in task["artifacts"]] == ["Streamed answer for you."]
        card = send(a2a.local, card_request(a2a.local, arn))
        assert card.json()["url"] == a2a.local.invocation_url(arn)


# --- the CLI ---------------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_cli_protocol_option_serves_a2a_and_mcp_agents_and_gateways() -> None:
    mcp_file = Path(mcp_tools.__file__)
    with running_cli(
        "--port", "0", "--in-process",
        "--agent", "agentcore_bridge.local.agents.echo:app",
        "--protocol", "a2a", "--agent", f"helper={ECHO_MODULE}",
        "--protocol", "mcp", "--agent", "agentcore_bridge.local.agents.mcp_tools:app",
        # A file path loads a module of its own: this app is not the MCP runtime's app object.
        "--gateway", f"tools={mcp_file}:app",
    ) as cli:  # fmt: skip
        found = re.findall(r"^  (\S+)\s+(arn:\S+)\s+\((\w+)\)", cli.output, re.M)
        runtimes = {name: (arn, protocol) for name, arn, protocol in found}
        assert {name: protocol for name, (_, protocol) in runtimes.items()} == {
            "echo": "http", "helper": "a2a", "mcp-tools": "mcp",
        }, cli.output  # fmt: skip
        endpoint = cli.env["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"]
        assert f"{endpoint}/gateways/tools/mcp" in cli.output
        client = cli.boto3_client()
        try:
            answer = client.invoke_agent_runtime(
                agentRuntimeArn=runtimes["helper"][0], payload=rpc("from the cli")
            )
            result = json.loads(answer["response"].read())["result"]
            assert text_of(result["parts"]) == "Echo: from the cli"
            card = client.get_agent_card(agentRuntimeArn=runtimes["helper"][0])["agentCard"]
            assert card["url"].startswith(endpoint)
            tools = client.invoke_agent_runtime(
                agentRuntimeArn=runtimes["mcp-tools"][0],
                accept="application/json, text/event-stream",
                payload=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            )
            assert b'"add"' in tools["response"].read()
            assert tools["mcpSessionId"]
        finally:
            client.close()
        gateway = httpx.post(
            f"{endpoint}/gateways/tools/mcp",
            content=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
            auth=SigV4HttpxAuth(
                Credentials(cli.env["AWS_ACCESS_KEY_ID"], cli.env["AWS_SECRET_ACCESS_KEY"]),
                cli.env["AWS_REGION"],
            ),
        )  # fmt: skip
        assert gateway.status_code == 200, gateway.text
        assert '"echo_headers"' in gateway.text
