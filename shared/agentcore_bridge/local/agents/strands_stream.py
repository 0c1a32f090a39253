"""A streaming agent that emits Strands-shaped ``stream_async`` events over two model calls.

Its events are what a Strands agent behind ``BedrockAgentCoreApp`` sends: lifecycle markers,
``contentBlockDelta`` text, the Python-repr strings of events the SDK cannot serialise, a tool
call, a ``metadata`` usage event per model call (11/5/16 then 23/7/30), and the finished
``message``s. ``{"delay": seconds}`` in the payload spaces the text events out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from bedrock_agentcore.runtime import BedrockAgentCoreApp

app = BedrockAgentCoreApp()

FIRST_CALL_USAGE = {"inputTokens": 11, "outputTokens": 5, "totalTokens": 16}
SECOND_CALL_USAGE = {"inputTokens": 23, "outputTokens": 7, "totalTokens": 30}


def _model_call(pieces: list[str], usage: dict[str, int], stop: str) -> list[Any]:
    events: list[Any] = [
        {"event": {"messageStart": {"role": "assistant"}}},
        {"event": {"contentBlockStart": {"start": {}, "contentBlockIndex": 0}}},
    ]
    for piece in pieces:
        delta = {"delta": {"text": piece}, "contentBlockIndex": 0}
        events.append({"event": {"contentBlockDelta": delta}})
        # What the SDK makes of Strands' callback event holding the Agent object: a repr string.
        agent = "<strands.agent.agent.Agent object at 0x7f0000000000>"
        events.append(f"{{'data': {piece!r}, 'delta': {{'text': {piece!r}}}, 'agent': {agent}}}")
    events.append({"event": {"contentBlockStop": {"contentBlockIndex": 0}}})
    events.append({"event": {"messageStop": {"stopReason": stop}}})
    events.append({"event": {"metadata": {"usage": usage, "metrics": {"latencyMs": 300}}}})
    events.append({"message": {"role": "assistant", "content": [{"text": "".join(pieces)}]}})
    return events


@app.entrypoint
async def stream(payload: dict[str, Any]) -> AsyncIterator[Any]:
    prompt = str(payload.get("prompt", ""))
    delay = float(payload.get("delay", 0))
    yield {"init_event_loop": True}
    yield {"start": True}
    first = _model_call(["Let me think about ", "that. "], FIRST_CALL_USAGE, "tool_use")
    second = _model_call(
        ["You asked: ", prompt, ". ", "Here is my answer."], SECOND_CALL_USAGE, "end_turn"
    )
    for event in first:
        yield event
        if delay and isinstance(event, dict) and "contentBlockDelta" in event.get("event", {}):
            await asyncio.sleep(delay)
    tool_result = {"toolUseId": "t1", "status": "success", "content": [{"text": "tool output"}]}
    yield {"message": {"role": "user", "content": [{"toolResult": tool_result}]}}
    for event in second:
        yield event
        if delay and isinstance(event, dict) and "contentBlockDelta" in event.get("event", {}):
            await asyncio.sleep(delay)
    yield "{'result': AgentResult(stop_reason='end_turn', ...)}"
