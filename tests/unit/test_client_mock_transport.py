"""Retries, deadlines, error mapping and decoding through AgentCoreClient over the in-memory
MockTransport: no sockets. The loopback tests against the local runtime remain the truth; these
pin the same rules quickly, and reach failures a real server cannot easily produce."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import aiohttp
import pytest
import urllib3

from agentcore_bridge import (
    AgentCoreClient,
    AgentCoreTimeoutError,
    AgentError,
    ConnectError,
    RuntimeClientError,
    StreamInterruptedError,
    TextDelta,
    ThrottlingError,
    TransportError,
)
from agentcore_bridge.client import SESSION_HEADER
from agentcore_bridge.mock_transport import MockResponse, MockTransport, sequence
from agentcore_bridge.transport import FAILURES, Failure, HttpRequest, transport_error
from agentcore_bridge.transport_aiohttp import _send_failure as aiohttp_failure
from agentcore_bridge.transport_urllib3 import _send_failure as urllib3_failure

ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/mock_agent-AbCdEf1234"
OK = MockResponse.sse(["Hel", "lo"])


def client_for(mock: MockTransport, **options: Any) -> AgentCoreClient:
    settings: dict[str, Any] = {
        "endpoint_url": "https://agentcore.invalid",
        "aws_access_key_id": "AKIDEXAMPLE",
        "aws_secret_access_key": "not-a-real-secret",
        "retry_base_delay": 0.001,
        "transport": mock,
        "async_transport": mock.asynchronous,
    }
    settings.update(options)
    return AgentCoreClient(ARN, **settings)


def call(client: AgentCoreClient, mode: str, **options: Any) -> str:
    if mode == "sync":
        return client.invoke("hi", **options).text
    return asyncio.run(client.ainvoke("hi", **options)).text


MODES = ["sync", "async"]


@pytest.mark.parametrize("mode", MODES)
def test_throttling_is_retried_with_the_same_session_and_a_fresh_signature(mode: str) -> None:
    throttled = MockResponse.error(429, "ThrottlingException", "slow down")
    mock = MockTransport(sequence(throttled, throttled, OK))
    assert call(client_for(mock), mode) == "Hello"
    assert len(mock.requests) == 3
    assert len({r.headers[SESSION_HEADER] for r in mock.requests}) == 1
    assert all(r.headers["Authorization"].startswith("AWS4-HMAC-SHA256") for r in mock.requests)


@pytest.mark.parametrize("mode", MODES)
def test_runtime_client_error_is_never_retried(mode: str) -> None:
    mock = MockTransport(sequence(MockResponse.error(424, "RuntimeClientError"), OK))
    with pytest.raises(RuntimeClientError):
        call(client_for(mock), mode)
    assert len(mock.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_retries_stop_at_max_retries(mode: str) -> None:
    mock = MockTransport(sequence(MockResponse.error(429, "ThrottlingException")))
    with pytest.raises(ThrottlingError):
        call(client_for(mock, max_retries=2), mode)
    assert len(mock.requests) == 3


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_connection_is_retried_a_broken_send_is_not(mode: str) -> None:
    mock = MockTransport(
        sequence(transport_error(Failure.CONNECT, where="x", detail="refused"), OK)
    )
    assert call(client_for(mock), mode) == "Hello"
    assert len(mock.requests) == 2
    broken = MockTransport(sequence(transport_error(Failure.BROKEN_BEFORE_HEAD), OK))
    with pytest.raises(StreamInterruptedError):
        call(client_for(broken), mode)
    assert len(broken.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_mid_stream_drop_raises_after_the_text_before_it(mode: str) -> None:
    mock = MockTransport(sequence(MockResponse.sse(["Hel", "lo", "!"], fail_after=1)))
    client = client_for(mock)
    got: list[str] = []

    async def astream() -> None:
        async for text in (await client.astream("hi")).text():
            got.append(text)

    def read() -> None:
        if mode == "sync":
            got.extend(client.stream("hi").text())
        else:
            asyncio.run(astream())

    with pytest.raises(StreamInterruptedError, match="incomplete"):
        read()
    assert got == ["Hel"]


@pytest.mark.parametrize("mode", MODES)
def test_a_silent_stream_ends_at_the_read_timeout(mode: str) -> None:
    mock = MockTransport(sequence(MockResponse.sse(["Hel", "lo"], stall_after=1)))
    started = time.monotonic()
    with pytest.raises(AgentCoreTimeoutError, match="read_timeout"):
        call(client_for(mock, read_timeout=0.2), mode)
    assert 0.15 < time.monotonic() - started < 2


@pytest.mark.parametrize("mode", MODES)
def test_the_total_deadline_ends_a_stream_before_the_read_timeout(mode: str) -> None:
    mock = MockTransport(sequence(MockResponse.sse(["Hel", "lo"], stall_after=1)))
    started = time.monotonic()
    with pytest.raises(AgentCoreTimeoutError, match="deadline"):
        call(client_for(mock, read_timeout=30), mode, timeout=0.2)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("mode", MODES)
def test_agent_error_frame_carries_the_completion_so_far(mode: str) -> None:
    frames = ["partial ", {"error": "boom", "error_type": "ValueError"}]
    mock = MockTransport(sequence(MockResponse.sse(frames)))
    with pytest.raises(AgentError, match="boom") as info:
        call(client_for(mock), mode)
    assert info.value.completion is not None
    assert info.value.completion.text == "partial "


def test_close_from_another_thread_ends_a_stalled_stream() -> None:
    mock = MockTransport(sequence(MockResponse.sse(["Hel", "lo"], stall_after=1)))
    client = client_for(mock, read_timeout=30)
    stream = client.stream("hi")
    events = iter(stream)
    assert next(events) == TextDelta("Hel")
    threading.Timer(0.1, client.close).start()
    started = time.monotonic()
    with pytest.raises(StreamInterruptedError, match="client was closed"):
        next(events)
    assert time.monotonic() - started < 2


def test_an_injected_transport_is_not_closed_by_the_client() -> None:
    mock = MockTransport(sequence(OK))
    client = client_for(mock)
    client.invoke("hi")
    client.close()
    assert not mock.closed and client.invoke("hi").text == "Hello"


# --- the one failure table -----------------------------------------------------------------


def test_every_failure_has_one_entry_and_only_connection_failures_retry() -> None:
    assert set(FAILURES) == set(Failure)
    retryable = {f for f in Failure if transport_error(f).retryable}
    assert retryable == {Failure.CONNECT, Failure.CONNECT_TIMEOUT, Failure.PROXY}
    for failure in Failure:
        error = transport_error(failure, where="h:1", detail="d", seconds=1.5)
        assert isinstance(error, TransportError)
        assert "{" not in str(error)  # every placeholder filled


PAIRS = [
    (
        urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
        aiohttp.ClientConnectorError(
            aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None),
            OSError(111, "refused"),
        ),
        Failure.CONNECT,
    ),
    (
        urllib3.exceptions.ConnectTimeoutError("connect timed out"),
        aiohttp.ConnectionTimeoutError("connect timed out"),
        Failure.CONNECT_TIMEOUT,
    ),
    (
        urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),  # type: ignore[arg-type]
        TimeoutError(),
        Failure.HEAD_TIMEOUT,
    ),
    (
        urllib3.exceptions.ProtocolError("reset"),
        aiohttp.ServerDisconnectedError(),
        Failure.BROKEN_BEFORE_HEAD,
    ),
]


@pytest.mark.parametrize(("sync_exc", "async_exc", "failure"), PAIRS)
def test_both_shells_name_the_same_failure_the_same_way(
    sync_exc: BaseException, async_exc: BaseException, failure: Failure
) -> None:
    assert urllib3_failure(sync_exc) is failure
    assert aiohttp_failure(async_exc) is failure
    assert type(transport_error(failure)) is FAILURES[failure][0]


def test_connect_error_is_a_transport_error_subclass() -> None:
    assert issubclass(ConnectError, TransportError)


def test_mock_records_requests_without_leaking_headers_in_repr() -> None:
    mock = MockTransport(sequence(OK))
    client_for(mock).invoke("hi")
    request: HttpRequest = mock.requests[0]
    assert "not-a-real-secret" not in repr(request)
    assert "Authorization" not in repr(request)
