"""A local AgentCore runtime for the LlamaIndex tests, hosting official-SDK agents."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from bedrock_agentcore.runtime import BedrockAgentCoreApp

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import echo, strands_stream


@dataclass
class LlamaIndexRuntime:
    local: LocalRuntime
    stream: str
    """Strands-shaped streaming agent reporting usage (34/12/46) over two model calls."""
    other: str
    """A second runtime (the same agent), for per-call model overrides."""
    echo: str
    """Answers JSON with the payload, session id and headers it received."""

    def add_agent(self, prefix: str, agent: Any) -> str:
        """Register an agent under a name not used yet (names are unique per LocalRuntime)."""
        name = f"{prefix}-{next(_NAMES)}".replace("_", "-")
        return self.local.add_agent(name, agent)

    def params(self, arn: str | None = None) -> dict[str, Any]:
        return {
            "model": arn or self.stream,
            "endpoint_url": self.local.endpoint_url,
            "aws_access_key_id": self.local.credentials.access_key_id,
            "aws_secret_access_key": self.local.credentials.secret_access_key,
        }


@dataclass
class RecordingAgent:
    """An in-process BedrockAgentCoreApp that records every payload and answers "answer <n>"."""

    arn: str
    payloads: list[Any] = field(default_factory=list)
    session_ids: list[str | None] = field(default_factory=list)

    @property
    def prompts(self) -> list[str]:
        return [p["prompt"] for p in self.payloads]


_RUNTIME: LlamaIndexRuntime | None = None
_NAMES = itertools.count(1)
_LOCK = threading.Lock()


def shared_runtime() -> LlamaIndexRuntime:
    """Started once per test session, shared by every LlamaIndex test."""
    global _RUNTIME
    with _LOCK:
        if _RUNTIME is None:
            local = LocalRuntime().start()
            _RUNTIME = LlamaIndexRuntime(
                local=local,
                stream=local.add_agent("llama-agent", strands_stream.app, qualifiers=("prod",)),
                other=local.add_agent("llama-agent-v2", strands_stream.app),
                echo=local.add_agent("llama-echo", echo.app),
            )
    return _RUNTIME


def add_recording_agent(
    runtime: LlamaIndexRuntime, prefix: str = "llama-recorder"
) -> RecordingAgent:
    app = BedrockAgentCoreApp()
    recorder = RecordingAgent(arn="")

    @app.entrypoint
    def record(payload: Any, context: Any) -> dict[str, str]:
        recorder.payloads.append(payload)
        recorder.session_ids.append(context.session_id)
        return {"result": f"answer {len(recorder.payloads)}"}

    recorder.arn = runtime.add_agent(prefix, app)
    return recorder


@pytest.fixture(scope="session", autouse=True)
def _stop_runtime_at_exit() -> Iterator[None]:
    yield
    if _RUNTIME is not None:
        _RUNTIME.local.stop()


@pytest.fixture
def li_runtime() -> LlamaIndexRuntime:
    return shared_runtime()


@pytest.fixture
def recording_agent(li_runtime: LlamaIndexRuntime) -> RecordingAgent:
    """A fresh recording agent (its own runtime ARN) for each test."""
    return add_recording_agent(li_runtime)
