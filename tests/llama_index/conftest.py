"""A local AgentCore runtime for the LlamaIndex tests, hosting official-SDK agents."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from support.adapter_runtime import AdapterRuntime, stop_runtime
from support.adapter_runtime import shared_runtime as _shared

LlamaIndexRuntime = AdapterRuntime


@dataclass
class RecordingAgent:
    """An in-process BedrockAgentCoreApp that records every payload and answers "answer <n>"."""

    arn: str
    payloads: list[Any] = field(default_factory=list)
    session_ids: list[str | None] = field(default_factory=list)

    @property
    def prompts(self) -> list[str]:
        return [p["prompt"] for p in self.payloads]


def shared_runtime() -> LlamaIndexRuntime:
    """Started once per test session, shared by every LlamaIndex test."""
    return _shared("llama")


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
    stop_runtime("llama")


@pytest.fixture
def li_runtime() -> LlamaIndexRuntime:
    return shared_runtime()


@pytest.fixture
def recording_agent(li_runtime: LlamaIndexRuntime) -> RecordingAgent:
    """A fresh recording agent (its own runtime ARN) for each test."""
    return add_recording_agent(li_runtime)
