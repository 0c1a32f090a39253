"""A Strands agent served by Strands' own A2A server, with a scripted model that needs no network.

``ScriptedModel`` streams a fixed answer (``Strands says: you wrote <text>.``) in a few
``contentBlockDelta`` pieces plus a usage ``metadata`` event, so the agent runs offline exactly
as a Strands agent behind ``strands.multiagent.a2a.A2AServer`` does on AgentCore: a Task whose
text arrives as artifact updates (A2A-compliant streaming), then completed. One Strands agent is
built per A2A context (``agent_factory``), so contexts do not share history.

Needs ``strands-agents[a2a]``. ``build_app()`` makes a fresh app (its locks belong to the event
loop that first uses them); ``app`` is one for worker processes:
``add_agent(name, "agentcore_bridge.local.agents.a2a_strands:app", protocol="a2a")``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.applications import Starlette
from strands import Agent
from strands.models import Model
from strands.multiagent.a2a import A2AServer
from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

T = TypeVar("T", bound=BaseModel)

ANSWER_PREFIX = "Strands says: you wrote "
USAGE = {"inputTokens": 9, "outputTokens": 6, "totalTokens": 15}
DEFAULT_URL = "http://127.0.0.1:9000/"


def scripted_answer(text: str) -> str:
    return f"{ANSWER_PREFIX}{text}."


def _last_user_text(messages: Messages) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            texts = [block["text"] for block in message.get("content", []) if "text" in block]
            if texts:
                return " ".join(texts)
    return ""


class ScriptedModel(Model):
    """A Strands model that answers every turn with :func:`scripted_answer`, streamed in
    pieces, and reports fixed usage."""

    def __init__(self) -> None:
        self.config: dict[str, Any] = {"model_id": "scripted"}

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        return self.config

    async def structured_output(
        self,
        output_model: type[T],
        prompt: Messages,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[dict[str, T | Any], None]:
        raise NotImplementedError("the scripted model has no structured output")
        yield {}  # pragma: no cover (makes this an async generator)

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        answer = scripted_answer(_last_user_text(messages))
        middle = len(answer) // 2
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockStart": {"start": {}}}
        for piece in (answer[:middle], answer[middle:]):
            yield {"contentBlockDelta": {"delta": {"text": piece}}}
        yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "end_turn"}}
        yield {"metadata": {"usage": USAGE, "metrics": {"latencyMs": 1}}}  # type: ignore[typeddict-item]


def build_agent(context_id: str = "") -> Agent:
    return Agent(
        model=ScriptedModel(),
        name="strands-scripted",
        description="A Strands agent with a scripted offline model",
        callback_handler=None,
    )


def build_app() -> Starlette:
    """A fresh Starlette app serving the Strands agent over A2A (JSON-RPC at ``/``)."""
    server = A2AServer(
        agent_factory=build_agent,
        http_url=os.environ.get("AGENTCORE_RUNTIME_URL", DEFAULT_URL),
        serve_at_root=True,
        enable_a2a_compliant_streaming=True,
    )
    return server.to_starlette_app()


app = build_app()
