"""One process per session (as AgentCore's microVM per session), idle timeouts, URL forwarding."""

from __future__ import annotations

import json
import os
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from raw_http import open_stream, signed_request
from support.local_runtimes import Runtime
from test_local_boto3 import gated_stream_agent

from agentcore_bridge.decoding import decode_body
from agentcore_bridge.local.agents import strands_stream
from agentcore_bridge.results import fold_events

ECHO_MODULE = "agentcore_bridge.local.agents.echo:app"
SESSION_A = "session-a-" + "a" * 30
SESSION_B = "session-b-" + "b" * 30


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def invoke(client: Any, arn: str, session_id: str, prompt: str) -> dict[str, Any]:
    response = client.invoke_agent_runtime(
        agentRuntimeArn=arn, runtimeSessionId=session_id, payload=json.dumps({"prompt": prompt})
    )
    return json.loads(response["response"].read())


@pytest.fixture
def client(runtime: Runtime) -> Iterator[Any]:
    client = boto3.client("bedrock-agentcore", **runtime.local.boto3_kwargs())
    yield client
    client.close()  # its pooled sockets would otherwise be closed by the GC, with a warning


def test_sessions_keep_separate_memory_in_separate_processes(
    runtime: Runtime, fresh_arn: Any, client: Any
) -> None:
    arn = fresh_arn(ECHO_MODULE)
    a1 = invoke(client, arn, SESSION_A, "one")
    b1 = invoke(client, arn, SESSION_B, "two")
    a2 = invoke(client, arn, SESSION_A, "three")
    assert a1["prompts_in_this_process"] == ["one"]
    assert b1["prompts_in_this_process"] == ["two"]  # nothing leaked from session A
    assert a2["prompts_in_this_process"] == ["one", "three"]  # session A kept its memory
    assert a1["pid"] == a2["pid"] != b1["pid"]
    assert runtime.local.session_pids(arn) == {SESSION_A: a1["pid"], SESSION_B: b1["pid"]}
    runtime.local.run_in_loop(runtime.local.host(arn).aclose())
    assert not alive(a1["pid"])
    assert not alive(b1["pid"])


def test_stop_session_ends_its_process(runtime: Runtime, fresh_arn: Any, client: Any) -> None:
    arn = fresh_arn(ECHO_MODULE)
    first = invoke(client, arn, SESSION_A, "remember me")
    other = invoke(client, arn, SESSION_B, "other")
    assert alive(first["pid"])
    client.stop_runtime_session(agentRuntimeArn=arn, runtimeSessionId=SESSION_A)
    assert not alive(first["pid"])  # observed: the process is gone
    assert alive(other["pid"])  # the other session's process is untouched
    again = invoke(client, arn, SESSION_A, "after stop")
    assert again["pid"] != first["pid"]
    assert again["prompts_in_this_process"] == ["after stop"]  # a new microVM: fresh memory
    runtime.local.run_in_loop(runtime.local.host(arn).aclose())


def test_idle_session_process_is_stopped(runtime: Runtime, fresh_arn: Any, client: Any) -> None:
    arn = fresh_arn(ECHO_MODULE, idle_timeout=0.5)
    pid = invoke(client, arn, SESSION_A, "hi")["pid"]
    deadline = time.monotonic() + 15
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
    assert runtime.local.session_pids(arn) == {}
    runtime.local.run_in_loop(runtime.local.host(arn).aclose())


def test_agent_file_path_with_module_global_state(
    runtime: Runtime, fresh_arn: Any, client: Any, tmp_path: Path
) -> None:
    agent_file = tmp_path / "my_agent.py"
    agent_file.write_text(
        textwrap.dedent(
            """
            from bedrock_agentcore.runtime import BedrockAgentCoreApp

            app = BedrockAgentCoreApp()
            history = []

            @app.entrypoint
            def handle(payload):
                history.append(payload["prompt"])
                return {"result": " | ".join(history)}
            """
        )
    )
    arn = fresh_arn(f"{agent_file}:app")
    assert invoke(client, arn, SESSION_A, "x") == {"result": "x"}
    assert invoke(client, arn, SESSION_A, "y") == {"result": "x | y"}
    assert invoke(client, arn, SESSION_B, "z") == {"result": "z"}
    runtime.local.run_in_loop(runtime.local.host(arn).aclose())


def test_broken_agent_module_is_a_424(fresh_arn: Any, client: Any, tmp_path: Path) -> None:
    agent_file = tmp_path / "broken_agent.py"
    agent_file.write_text("raise ImportError('missing dependency in the agent')\n")
    arn = fresh_arn(f"{agent_file}:app")
    with pytest.raises(Exception) as info:
        invoke(client, arn, SESSION_A, "x")
    assert info.value.response["Error"]["Code"] == "RuntimeClientError"  # type: ignore[attr-defined]


@pytest.fixture
def agent_on_a_url() -> Iterator[tuple[str, threading.Event]]:
    """A BedrockAgentCoreApp served on its own port, as `agentcore dev` serves one on :8080."""
    gated_app, release, _ = gated_stream_agent()
    gated = gated_app.handlers["main"]
    app = BedrockAgentCoreApp()

    @app.entrypoint
    async def route(payload: Any) -> Any:
        if payload.get("mode") == "stream":
            return strands_stream.stream(payload)
        if payload.get("mode") == "gated":
            return gated(payload)
        return {"result": f"dev server got {payload.get('prompt')}"}

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", release
    finally:
        release.set()
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_forwarding_to_an_agent_at_a_url(
    runtime: Runtime, client: Any, agent_on_a_url: tuple[str, threading.Event]
) -> None:
    url, release = agent_on_a_url
    arn = runtime.add(url=url)
    assert invoke(client, arn, SESSION_A, "hello") == {"result": "dev server got hello"}
    streamed = client.invoke_agent_runtime(
        agentRuntimeArn=arn, payload=json.dumps({"mode": "stream", "prompt": "q"})
    )
    text = fold_events(
        decode_body(streamed["contentType"], streamed["response"].iter_chunks())
    ).text
    assert text == "Let me think about that. You asked: q. Here is my answer."
    # Chunk by chunk through the forwarding hop too.
    conn, response = open_stream(
        runtime.local, signed_request(runtime.local, arn, {"mode": "gated"})
    )
    try:
        assert b'data: "first"' in response.read1(65536)
        assert not release.is_set()
        release.set()
        assert b'data: "second"' in response.read()
    finally:
        release.set()
        conn.close()
