"""The official boto3 client is accepted by the local runtime: it speaks AgentCore, not a dialect."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from botocore.exceptions import ClientError
from raw_http import open_stream, signed_request
from support.local_runtimes import Runtime

from agentcore_bridge.decoding import ResponseDecoder, Usage, decode_body
from agentcore_bridge.results import fold_events


@pytest.fixture
def client(runtime: Runtime) -> Iterator[Any]:
    client = boto3.client("bedrock-agentcore", **runtime.local.boto3_kwargs())
    yield client
    client.close()  # its pooled sockets would otherwise be closed by the GC, with a warning


def test_json_answer(runtime: Runtime, client: Any) -> None:
    response = client.invoke_agent_runtime(
        agentRuntimeArn=runtime.json, payload=json.dumps({"prompt": "why"})
    )
    assert response["contentType"] == "application/json"
    events = decode_body(response["contentType"], [response["response"].read()])
    assert fold_events(events).text == "You asked: why. The answer is 42."


def test_streaming_answer_through_iter_chunks(runtime: Runtime, client: Any) -> None:
    response = client.invoke_agent_runtime(
        agentRuntimeArn=runtime.stream, payload=json.dumps({"prompt": "why"})
    )
    assert response["contentType"] == "text/event-stream; charset=utf-8"
    decoder = ResponseDecoder(response["contentType"])
    events = []
    for chunk in response["response"].iter_chunks():
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    completion = fold_events(events)
    assert completion.text == "Let me think about that. You asked: why. Here is my answer."
    assert completion.usage == Usage(34, 12, 46)
    assert not any("tool output" in str(m) for m in [completion.text])


def test_session_id_generated_by_boto3_is_echoed(runtime: Runtime, client: Any) -> None:
    response = client.invoke_agent_runtime(agentRuntimeArn=runtime.echo, payload=b"{}")
    answer = json.loads(response["response"].read())
    assert len(response["runtimeSessionId"]) >= 33
    assert answer["session_id"] == response["runtimeSessionId"]


def test_given_session_user_id_and_trace_headers_reach_the_agent(
    runtime: Runtime, client: Any
) -> None:
    session_id = "boto3-session-" + "0" * 30
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = client.invoke_agent_runtime(
        agentRuntimeArn=runtime.echo,
        payload=json.dumps({"prompt": "hi"}),
        runtimeSessionId=session_id,
        runtimeUserId="user-7",
        traceId="Root=1-5759e988-bd862e3fe1be46a994272793",
        traceParent=traceparent,
        traceState="vendor=1",
        baggage="k=v",
    )
    assert response["runtimeSessionId"] == session_id
    assert response["traceParent"] == traceparent
    answer = json.loads(response["response"].read())
    headers = answer["headers"]
    assert answer["session_id"] == session_id
    assert answer["payload"] == {"prompt": "hi"}
    assert headers["x-amzn-bedrock-agentcore-runtime-user-id"] == "user-7"
    assert headers["x-amzn-trace-id"] == "Root=1-5759e988-bd862e3fe1be46a994272793"
    assert headers["traceparent"] == traceparent
    assert headers["tracestate"] == "vendor=1"
    assert headers["baggage"] == "k=v"
    assert "authorization" not in headers  # SigV4 credentials never reach the agent
    assert (
        headers["x-amzn-bedrock-agentcore-runtime-request-id"]
        == (response["ResponseMetadata"]["RequestId"])
    )


def test_qualifier(runtime: Runtime, client: Any) -> None:
    ok = client.invoke_agent_runtime(agentRuntimeArn=runtime.echo, qualifier="prod", payload=b"{}")
    assert ok["ResponseMetadata"]["HTTPStatusCode"] == 200
    ok["response"].close()  # an unread body holds its connection outside the pool
    with pytest.raises(ClientError) as info:
        client.invoke_agent_runtime(agentRuntimeArn=runtime.echo, qualifier="nope", payload=b"{}")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_stop_runtime_session(runtime: Runtime, client: Any) -> None:
    session_id = "stop-me-" + "1" * 30
    client.invoke_agent_runtime(
        agentRuntimeArn=runtime.echo, payload=b"{}", runtimeSessionId=session_id
    )["response"].close()
    stopped = client.stop_runtime_session(agentRuntimeArn=runtime.echo, runtimeSessionId=session_id)
    assert stopped["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert stopped["runtimeSessionId"] == session_id
    with pytest.raises(ClientError) as info:
        client.stop_runtime_session(agentRuntimeArn=runtime.echo, runtimeSessionId=session_id)
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_agent_failure_is_a_424_runtime_client_error(fresh_arn: Any, client: Any) -> None:
    app = BedrockAgentCoreApp()

    @app.entrypoint
    def broken(payload: Any) -> Any:
        raise RuntimeError("secret internal detail")

    with pytest.raises(ClientError) as info:
        client.invoke_agent_runtime(agentRuntimeArn=fresh_arn(app), payload=b"{}")
    error = info.value.response
    assert error["Error"]["Code"] == "RuntimeClientError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert "Received error (500) from runtime" in error["Error"]["Message"]
    assert "secret internal detail" not in str(error)


def gated_stream_agent() -> tuple[BedrockAgentCoreApp, threading.Event, threading.Event]:
    """An agent that yields one event, then waits until the test releases it."""
    app = BedrockAgentCoreApp()
    release, finished = threading.Event(), threading.Event()

    @app.entrypoint
    async def gated(payload: Any) -> AsyncIterator[str]:
        try:
            yield "first"
            await asyncio.to_thread(release.wait, 20)
            yield "second"
        finally:
            finished.set()

    return app, release, finished


def test_stream_passes_through_chunk_by_chunk(runtime: Runtime, fresh_arn: Any) -> None:
    app, release, finished = gated_stream_agent()
    arn = fresh_arn(app)
    conn, response = open_stream(runtime.local, signed_request(runtime.local, arn))
    try:
        assert response.status == 200
        # The first event arrives while the agent is still blocked on `release`.
        first = response.read1(65536)
        assert b'data: "first"' in first
        assert not release.is_set()
        release.set()
        rest = response.read()
        assert b'data: "second"' in rest
        assert finished.wait(5)
    finally:
        release.set()
        conn.close()
