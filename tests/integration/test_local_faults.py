"""Injected faults and AgentCore's own refusals, each as a raw HTTP client sees them on the wire."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from raw_http import RawResponse, open_stream, send, signed_request
from starlette.responses import JSONResponse

from agentcore_bridge.local import DEFAULT_ACCOUNT_ID, Fault, LocalRuntime
from agentcore_bridge.local.agents import echo, strands_stream

pytestmark = pytest.mark.network

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
SESSION_ID = "faults-test-session-00000000000000000000001"  # 43 chars, valid


def invoke(local: LocalRuntime, arn: str, payload: Any = None, **kwargs: Any) -> RawResponse:
    return send(local, signed_request(local, arn, payload, **kwargs))


def assert_aws_error(response: RawResponse, status: int, error_type: str) -> str:
    """Check an AWS-shaped error and return its message."""
    assert response.status == status, (response.status, response.body)
    assert response.headers.get("x-amzn-errortype") == error_type, response.headers
    assert response.headers.get("x-amzn-requestid"), response.headers
    assert response.headers.get("content-type") == "application/json"
    message = response.json().get("message")
    assert isinstance(message, str) and message
    return message


def seen_by_runtime(local: LocalRuntime, arn: str) -> list[tuple[int | None, Fault | None]]:
    return [(i.status, i.fault) for i in local.invocations if i.runtime_arn == arn]


# --- status faults ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [
        (Fault.THROTTLE, 429, "ThrottlingException"),
        (Fault.CONFLICT, 409, "RetryableConflictException"),
        (Fault.INTERNAL, 500, "InternalServerException"),
        (Fault.UNAVAILABLE, 503, "ServiceUnavailableException"),
    ],
)
def test_status_fault_is_answered_once_then_consumed(
    runtime: Any, fresh_arn: Callable[..., str], fault: Fault, status: int, error_type: str
) -> None:
    local = runtime.local
    arn = fresh_arn(echo.app)
    local.inject(fault, times=1, runtime_arn=arn)
    headers = {SESSION_HEADER: SESSION_ID}
    assert_aws_error(invoke(local, arn, {"prompt": "1"}, headers=headers), status, error_type)

    retry = invoke(local, arn, {"prompt": "2"}, headers=headers)
    assert retry.status == 200, retry.body
    assert retry.json()["payload"] == {"prompt": "2"}
    assert retry.headers[SESSION_HEADER.lower()] == SESSION_ID
    assert seen_by_runtime(local, arn) == [(status, fault), (200, None)]


def test_fault_times_two_fails_twice_then_succeeds(
    runtime: Any, fresh_arn: Callable[..., str]
) -> None:
    local = runtime.local
    arn = fresh_arn(echo.app)
    local.inject(Fault.UNAVAILABLE, times=2, runtime_arn=arn)
    statuses = [invoke(local, arn).status for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_fault_targets_only_its_runtime(runtime: Any, fresh_arn: Callable[..., str]) -> None:
    local = runtime.local
    faulty, healthy = fresh_arn(echo.app), fresh_arn(echo.app)
    local.inject(Fault.INTERNAL, runtime_arn=faulty)
    assert invoke(local, healthy).status == 200
    assert_aws_error(invoke(local, faulty), 500, "InternalServerException")
    assert invoke(local, faulty).status == 200


# --- connection drops ------------------------------------------------------------------------


def test_drop_before_headers_gives_no_status_line(
    runtime: Any, fresh_arn: Callable[..., str]
) -> None:
    local = runtime.local
    arn = fresh_arn(echo.app)
    local.inject(Fault.DROP_BEFORE_HEADERS, runtime_arn=arn)
    with pytest.raises(
        (http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine)
    ):
        invoke(local, arn, headers={SESSION_HEADER: SESSION_ID})
    # Consumed: the next request is answered normally.
    assert invoke(local, arn).status == 200
    assert [fault for _, fault in seen_by_runtime(local, arn)] == [Fault.DROP_BEFORE_HEADERS, None]


def test_drop_after_headers_gives_headers_then_a_broken_body(
    runtime: Any, fresh_arn: Callable[..., str]
) -> None:
    local = runtime.local
    arn = fresh_arn(echo.app)
    local.inject(Fault.DROP_AFTER_HEADERS, runtime_arn=arn)
    request = signed_request(local, arn, headers={SESSION_HEADER: SESSION_ID})
    conn, response = open_stream(local, request, timeout=10)
    try:
        assert response.status == 200
        assert response.getheader(SESSION_HEADER) == SESSION_ID
        assert response.getheader("x-amzn-requestid")
        assert response.getheader("Transfer-Encoding") == "chunked"
        with pytest.raises((http.client.IncompleteRead, ConnectionError)) as caught:
            response.read()
        if isinstance(caught.value, http.client.IncompleteRead):
            assert caught.value.partial == b""
    finally:
        conn.close()
    assert invoke(local, arn).status == 200


def _read_until_failure(response: http.client.HTTPResponse) -> tuple[bytes, BaseException | None]:
    """Read a chunked body piece by piece; return what arrived and the error that ended it."""
    received = bytearray()
    for _ in range(10_000):  # bounded: the full stream is a few KB
        try:
            piece = response.read1(4096)
        except http.client.IncompleteRead as exc:
            received += exc.partial
            return bytes(received), exc
        except (ConnectionError, http.client.HTTPException) as exc:
            return bytes(received), exc
        if not piece:
            return bytes(received), None
        received += piece
    raise AssertionError("the stream did not end")


def test_drop_mid_stream_after_three_chunks(runtime: Any, fresh_arn: Callable[..., str]) -> None:
    local = runtime.local
    arn = fresh_arn(strands_stream.app)

    # Control: without a fault the whole stream arrives and ends cleanly.
    conn, response = open_stream(local, signed_request(local, arn, {"prompt": "x"}), timeout=10)
    try:
        full, error = _read_until_failure(response)
    finally:
        conn.close()
    assert error is None
    full_frames = full.count(b"data: ")
    assert full_frames > 10

    local.inject(Fault.DROP_MID_STREAM, runtime_arn=arn, after_chunks=3)
    conn, response = open_stream(local, signed_request(local, arn, {"prompt": "x"}), timeout=10)
    try:
        assert response.status == 200
        assert response.getheader("Content-Type", "").startswith("text/event-stream")
        received, error = _read_until_failure(response)
    finally:
        conn.close()
    assert error is not None, "the dropped stream ended as if complete"
    frames = received.count(b"data: ")
    assert 1 <= frames <= 3, received
    assert full.startswith(received)  # what arrived is the true beginning of the stream


# --- rate limit ------------------------------------------------------------------------------


def test_rate_limit_throttles_a_burst(runtime: Any, fresh_arn: Callable[..., str]) -> None:
    local = runtime.local
    arn = fresh_arn(echo.app)
    local.set_rate_limit(5)
    try:
        responses = [invoke(local, arn) for _ in range(20)]
    finally:
        local.set_rate_limit(None)
    statuses = [r.status for r in responses]
    assert statuses.count(200) >= 5, statuses
    assert statuses.count(429) >= 1, statuses
    assert set(statuses) == {200, 429}, statuses
    for r in responses:
        if r.status == 429:
            assert_aws_error(r, 429, "ThrottlingException")
    # The limit is gone once reset.
    assert [invoke(local, arn).status for _ in range(8)] == [200] * 8


# --- the agent's own failures: 424 -----------------------------------------------------------

AGENT_SECRET_TEXT = "agent-internal-failure-detail-7f3a"


def test_agent_exception_becomes_424_without_its_text(
    runtime: Any, fresh_arn: Callable[..., str]
) -> None:
    app = BedrockAgentCoreApp()

    @app.entrypoint
    async def broken(payload: Any) -> Any:
        raise RuntimeError(AGENT_SECRET_TEXT)

    local = runtime.local
    arn = fresh_arn(app)
    response = invoke(local, arn)
    message = assert_aws_error(response, 424, "RuntimeClientError")
    assert "Received error (500) from runtime" in message
    assert AGENT_SECRET_TEXT.encode() not in response.body
    assert seen_by_runtime(local, arn) == [(424, None)]


def test_agent_404_response_becomes_424(runtime: Any, fresh_arn: Callable[..., str]) -> None:
    app = BedrockAgentCoreApp()

    @app.entrypoint
    async def not_found(payload: Any) -> Any:
        return JSONResponse({"error": AGENT_SECRET_TEXT}, status_code=404)

    response = invoke(runtime.local, fresh_arn(app))
    message = assert_aws_error(response, 424, "RuntimeClientError")
    assert "Received error (404) from runtime" in message
    assert AGENT_SECRET_TEXT.encode() not in response.body


# --- AgentCore's own refusals ----------------------------------------------------------------


def test_unknown_runtime_arn_is_404(runtime: Any) -> None:
    local = runtime.local
    arn = f"arn:aws:bedrock-agentcore:{local.region}:{DEFAULT_ACCOUNT_ID}:runtime/no-such-agent-x"
    assert arn not in local.dataplane.runtimes
    assert_aws_error(invoke(local, arn), 404, "ResourceNotFoundException")


def test_unknown_qualifier_is_404_and_known_one_works(
    runtime: Any, fresh_arn: Callable[..., str]
) -> None:
    local = runtime.local
    arn = fresh_arn(echo.app, qualifiers=("prod",))
    message = assert_aws_error(
        invoke(local, arn, query="qualifier=staging"), 404, "ResourceNotFoundException"
    )
    assert "staging" in message
    assert invoke(local, arn, query="qualifier=prod").status == 200
    assert invoke(local, arn, query="qualifier=DEFAULT").status == 200
    qualifiers = [i.qualifier for i in local.invocations if i.runtime_arn == arn]
    assert qualifiers == ["staging", "prod", "DEFAULT"]


def test_session_id_of_32_chars_is_400_and_33_is_accepted(
    runtime: Any, fresh_arn: Callable[..., str]
) -> None:
    local = runtime.local
    arn = fresh_arn(echo.app)
    short = invoke(local, arn, headers={SESSION_HEADER: "s" * 32})
    assert_aws_error(short, 400, "ValidationException")
    assert "runtimeSessionId" in short.json()["message"]
    assert seen_by_runtime(local, arn) == [(400, None)]

    ok = invoke(local, arn, headers={SESSION_HEADER: "s" * 33})
    assert ok.status == 200, ok.body
    assert ok.headers[SESSION_HEADER.lower()] == "s" * 33
    assert ok.json()["session_id"] == "s" * 33


def test_missing_session_header_gets_a_generated_session_id(
    runtime: Any, fresh_arn: Callable[..., str]
) -> None:
    local = runtime.local
    arn = fresh_arn(echo.app)
    first, second = invoke(local, arn), invoke(local, arn)
    ids = []
    for response in (first, second):
        assert response.status == 200, response.body
        session_id = response.headers[SESSION_HEADER.lower()]
        assert len(session_id) >= 33
        assert response.json()["session_id"] == session_id  # the agent got the same id
        ids.append(session_id)
    assert ids[0] != ids[1]  # a new session per call, as boto3 gets


def _raw_exchange(local: LocalRuntime, head: bytes, body: bytes) -> RawResponse:
    """Send a request head and (part of) a body on a plain socket, and read the answer."""
    with socket.create_connection(("127.0.0.1", local.port), timeout=10) as sock:
        sock.sendall(head + body)
        response = http.client.HTTPResponse(sock, method="POST")
        try:
            response.begin()
            content = response.read()
        finally:
            response.close()
        return RawResponse(
            response.status, {k.lower(): v for k, v in response.getheaders()}, content
        )


def test_declared_payload_over_100_mb_is_400(runtime: Any, fresh_arn: Callable[..., str]) -> None:
    local = runtime.local
    arn = fresh_arn(echo.app)
    request = signed_request(local, arn, b"{}")
    lines = [f"POST {request.path} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    lines.append("Content-Length: 100000001")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    started = time.monotonic()
    response = _raw_exchange(local, head, b"{}")
    assert time.monotonic() - started < 5  # answered without waiting for 100 MB
    message = assert_aws_error(response, 400, "ValidationException")
    assert "100000000" in message
    assert seen_by_runtime(local, arn) == [(400, None)]


def test_bare_runtime_id_needs_account_id(runtime: Any, fresh_arn: Callable[..., str]) -> None:
    local = runtime.local
    arn = fresh_arn(echo.app)
    runtime_id = arn.rsplit("/", 1)[1]
    assert ":" not in runtime_id
    ok = invoke(local, runtime_id, {"prompt": "bare"}, query=f"accountId={DEFAULT_ACCOUNT_ID}")
    assert ok.status == 200, ok.body
    assert ok.json()["payload"] == {"prompt": "bare"}
    assert seen_by_runtime(local, arn) == [(200, None)]

    message = assert_aws_error(invoke(local, runtime_id), 400, "ValidationException")
    assert "accountId" in message
