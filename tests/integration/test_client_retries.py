"""Retries and timeouts, counted where they cannot lie: at the runtime, request by request.

The rule (RetryPolicy in client.py): retry only what cannot have reached the agent (a connection that could not be
made, 429, 409 RetryableConflict, 500 and 503 from the service), with the same session id; never
a 424, another 4xx, a read timeout, a connection broken after the request was sent, nor anything
once a response byte arrived. Every test runs on the sync and the async path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from client_support import MODES, attempts, consume_stream, invoke, make_client, run_async
from support.local_runtimes import Runtime

from agentcore_bridge import AgentCoreClient
from agentcore_bridge.errors import (
    AgentCoreError,
    AgentCoreTimeoutError,
    ConflictError,
    ConnectError,
    RuntimeClientError,
    ServiceError,
    StreamInterruptedError,
    ThrottlingError,
)
from agentcore_bridge.local import Fault
from agentcore_bridge.local.agents import echo

pytestmark = pytest.mark.network

STATUS_FAULTS = [
    (Fault.THROTTLE, 429, ThrottlingError),
    (Fault.CONFLICT, 409, ConflictError),
    (Fault.INTERNAL, 500, ServiceError),
    (Fault.UNAVAILABLE, 503, ServiceError),
]
CLIENT_LOGGER = "agentcore_bridge.client"


def _words_agent(words: list[str], delay: float) -> BedrockAgentCoreApp:
    app = BedrockAgentCoreApp()

    @app.entrypoint
    async def words_agent(payload: Any) -> AsyncIterator[str]:
        for word in words:
            yield word
            await asyncio.sleep(delay)

    return app


# --- retried: the service's own refusals ---------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("fault", "status", "error_class"), STATUS_FAULTS)
def test_status_fault_is_retried_with_the_same_session(
    runtime: Runtime, mode: str, fault: Fault, status: int, error_class: type[AgentCoreError]
) -> None:
    arn = runtime.add(echo.app)
    runtime.local.inject(fault, times=2, runtime_arn=arn)
    completion = invoke(make_client(runtime.local, arn), mode, "hello")

    seen = attempts(runtime.local, arn)
    assert [(i.status, i.fault) for i in seen] == [(status, fault), (status, fault), (200, None)]
    assert {i.session_id for i in seen} == {completion.session_id}
    assert completion.session_id is not None
    assert '"prompt": "hello"' in completion.text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("fault", "status", "error_class"), STATUS_FAULTS)
def test_retries_stop_at_max_retries(
    runtime: Runtime, mode: str, fault: Fault, status: int, error_class: type[AgentCoreError]
) -> None:
    arn = runtime.add(echo.app)
    runtime.local.inject(fault, times=3, runtime_arn=arn)
    with pytest.raises(error_class) as caught:
        invoke(make_client(runtime.local, arn, max_retries=1), mode)

    seen = attempts(runtime.local, arn)
    assert [i.status for i in seen] == [status, status]
    assert len({i.session_id for i in seen}) == 1
    assert caught.value.status_code == status
    assert caught.value.session_id == seen[0].session_id


@pytest.mark.parametrize("mode", MODES)
def test_max_retries_zero_sends_once(runtime: Runtime, mode: str) -> None:
    arn = runtime.add(echo.app)
    runtime.local.inject(Fault.THROTTLE, times=1, runtime_arn=arn)
    with pytest.raises(ThrottlingError):
        invoke(make_client(runtime.local, arn, max_retries=0), mode)
    assert [i.status for i in attempts(runtime.local, arn)] == [429]


# --- never retried: the request may have reached the agent -------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_agent_failure_424_is_not_retried(runtime: Runtime, mode: str) -> None:
    app = BedrockAgentCoreApp()

    @app.entrypoint
    async def failing(payload: Any) -> str:
        raise RuntimeError("agent blew up")

    arn = runtime.add(app)
    with pytest.raises(RuntimeClientError) as caught:
        invoke(make_client(runtime.local, arn), mode)
    assert caught.value.status_code == 424
    assert [i.status for i in attempts(runtime.local, arn)] == [424]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", [Fault.DROP_BEFORE_HEADERS, Fault.DROP_AFTER_HEADERS])
def test_connection_dropped_after_sending_is_not_retried(
    runtime: Runtime, mode: str, fault: Fault
) -> None:
    arn = runtime.add(echo.app)
    runtime.local.inject(fault, times=1, runtime_arn=arn)
    with pytest.raises(StreamInterruptedError) as caught:
        invoke(make_client(runtime.local, arn), mode)
    seen = attempts(runtime.local, arn)
    assert [i.fault for i in seen] == [fault]
    assert caught.value.session_id == seen[0].session_id
    # The fault was consumed: the same client setup now gets an answer, in one request.
    invoke(make_client(runtime.local, arn), mode)
    assert len(attempts(runtime.local, arn)) == 2


@pytest.mark.parametrize("mode", MODES)
def test_drop_mid_stream_raises_after_the_deltas_that_arrived(runtime: Runtime, mode: str) -> None:
    words = ["one ", "two ", "three ", "four ", "five "]
    arn = runtime.add(_words_agent(words, delay=0.05))
    runtime.local.inject(Fault.DROP_MID_STREAM, runtime_arn=arn, after_chunks=2)
    outcome = consume_stream(make_client(runtime.local, arn), mode)

    assert outcome.started, "the headers arrived: the stream must have been handed out"
    assert isinstance(outcome.error, StreamInterruptedError), repr(outcome.error)
    # A stream never ends quietly: some text arrived, then the error, never the whole answer.
    assert outcome.deltas, "no delta arrived before the drop"
    assert words[: len(outcome.deltas)] == outcome.deltas
    assert len(outcome.deltas) < len(words)
    assert [i.fault for i in attempts(runtime.local, arn)] == [Fault.DROP_MID_STREAM]


@pytest.mark.parametrize("mode", MODES)
def test_read_timeout_is_not_retried(runtime: Runtime, mode: str) -> None:
    app = BedrockAgentCoreApp()

    @app.entrypoint
    async def slow(payload: Any) -> str:
        await asyncio.sleep(2)
        return "too late"

    arn = runtime.add(app)
    started = time.monotonic()
    with pytest.raises(AgentCoreTimeoutError):
        invoke(make_client(runtime.local, arn, read_timeout=0.3), mode)
    assert time.monotonic() - started < 1.5
    assert len(attempts(runtime.local, arn)) == 1


@pytest.mark.parametrize("mode", MODES)
def test_connection_refused_is_retried(
    runtime: Runtime, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    before = len(runtime.local.invocations)
    client = make_client(
        runtime.local, runtime.echo, endpoint_url=f"http://127.0.0.1:{port}", max_retries=2
    )
    with caplog.at_level(logging.INFO, logger=CLIENT_LOGGER), pytest.raises(ConnectError):
        invoke(client, mode)

    retries = [
        r.getMessage()
        for r in caplog.records
        if r.name == CLIENT_LOGGER and r.getMessage().startswith("retrying ")
    ]
    # Two retries logged after the first try: three connection attempts in all.
    assert len(retries) == 2, retries
    assert all("ConnectError" in line for line in retries)
    assert len(runtime.local.invocations) == before


@pytest.mark.parametrize("mode", MODES)
def test_silence_mid_stream_is_a_read_timeout_and_not_retried(runtime: Runtime, mode: str) -> None:
    app = BedrockAgentCoreApp()

    @app.entrypoint
    async def stalls(payload: Any) -> AsyncIterator[str]:
        yield "first "
        await asyncio.sleep(2)
        yield "too late"

    arn = runtime.add(app)
    started = time.monotonic()
    outcome = consume_stream(make_client(runtime.local, arn, read_timeout=0.3), mode)
    assert isinstance(outcome.error, AgentCoreTimeoutError), repr(outcome.error)
    assert outcome.deltas == ["first "]
    assert time.monotonic() - started < 1.5
    assert len(attempts(runtime.local, arn)) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_client_is_reusable_after_a_read_timeout(runtime: Runtime, mode: str) -> None:
    """The timed-out connection must not go back to the pool: the next call on the same client
    gets its own answer, never the late answer of the call that timed out."""
    app = BedrockAgentCoreApp()

    @app.entrypoint
    async def sometimes_slow(payload: Any) -> str:
        if payload.get("prompt") == "slow":
            await asyncio.sleep(1)
        return f"answer to {payload.get('prompt')}"

    arn = runtime.add(app)
    client = make_client(runtime.local, arn, read_timeout=0.3)
    if mode == "sync":
        try:
            with pytest.raises(AgentCoreTimeoutError):
                client.invoke("slow")
            texts = [client.invoke(f"fast {i}").text for i in range(3)]
        finally:
            client.close()
    else:

        async def body() -> list[str]:
            with pytest.raises(AgentCoreTimeoutError):
                await client.ainvoke("slow")
            return [(await client.ainvoke(f"fast {i}")).text for i in range(3)]

        texts = run_async(client, body)
    assert texts == ["answer to fast 0", "answer to fast 1", "answer to fast 2"]
    assert len(attempts(runtime.local, arn)) == 4


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["invoke", "stream", "per-call-timeout"])
def test_whole_call_deadline_cuts_a_long_stream(runtime: Runtime, mode: str, how: str) -> None:
    arn = runtime.add(_words_agent([f"tick{i} " for i in range(25)], delay=0.2))  # ~5 s
    if how == "per-call-timeout":
        client = make_client(runtime.local, arn)
    else:
        client = make_client(runtime.local, arn, timeout=0.5)
    started = time.monotonic()
    if how == "per-call-timeout":
        with pytest.raises(AgentCoreTimeoutError):
            invoke(client, mode, "hi", timeout=0.5)
    elif how == "invoke":
        with pytest.raises(AgentCoreTimeoutError):
            invoke(client, mode)
    else:
        outcome = consume_stream(client, mode)
        assert isinstance(outcome.error, AgentCoreTimeoutError), repr(outcome.error)
        assert 1 <= len(outcome.deltas) < 25
    assert time.monotonic() - started < 1.5
    assert len(attempts(runtime.local, arn)) == 1


# --- error types the local runtime cannot send: a stub AgentCore endpoint ------------------------

STUB_ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/stub-agent"
STUB_SESSION = "stub-session-000000000000000000000000000001"


class StubAgentCore:
    """Answers each request with the next (status, error type) of ``script``, then 200 ``{}``;
    records every request's path and session header."""

    def __init__(self, script: list[tuple[int, str]]) -> None:
        self.script = list(script)
        self.requests: list[tuple[str, str | None]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.requests.append(
                    (self.path, self.headers.get("X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"))
                )
                status, error_type = stub.script.pop(0) if stub.script else (200, "")
                body = json.dumps({"message": f"stub {error_type}"} if error_type else {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def stub_agentcore() -> Iterator[Any]:
    servers: list[StubAgentCore] = []

    def start(script: list[tuple[int, str]]) -> StubAgentCore:
        stub = StubAgentCore(script)
        thread = threading.Thread(target=stub.server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        servers.append(stub)
        return stub

    yield start
    for stub in servers:
        stub.server.shutdown()
        stub.server.server_close()


def _stop(stub: StubAgentCore, mode: str) -> None:
    client = AgentCoreClient(
        STUB_ARN, endpoint_url=stub.url, aws_access_key_id="AKIDSTUB",
        aws_secret_access_key="stub-secret", retry_base_delay=0.01,
    )  # fmt: skip
    if mode == "sync":
        try:
            client.stop_session(STUB_SESSION)
        finally:
            client.close()
    else:
        run_async(client, lambda: client.astop_session(STUB_SESSION))


@pytest.mark.parametrize("mode", MODES)
def test_stop_session_retries_a_retryable_conflict(stub_agentcore: Any, mode: str) -> None:
    stub = stub_agentcore([(409, "RetryableConflictException")] * 2)
    _stop(stub, mode)
    assert len(stub.requests) == 3
    assert {session for _, session in stub.requests} == {STUB_SESSION}
    assert all(path.endswith("/stopruntimesession") for path, _ in stub.requests)


@pytest.mark.parametrize("mode", MODES)
def test_stop_session_does_not_retry_a_plain_conflict(stub_agentcore: Any, mode: str) -> None:
    stub = stub_agentcore([(409, "ConflictException")] * 4)
    with pytest.raises(ConflictError):
        _stop(stub, mode)
    assert len(stub.requests) == 1
