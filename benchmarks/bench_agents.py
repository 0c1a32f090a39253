"""Agents the benchmarks call, written ``async def`` so the SDK's thread pool does not cap them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from bedrock_agentcore.runtime import BedrockAgentCoreApp

app = BedrockAgentCoreApp()


@app.entrypoint
async def handle(payload: dict[str, Any]) -> Any:
    mode = payload.get("mode", "json")
    if mode == "sleep":
        await asyncio.sleep(float(payload.get("seconds", 0.2)))
        return {"result": "done"}
    if mode == "ticks":
        return ticks(int(payload.get("count", 5)), float(payload.get("interval", 0.5)))
    return {"result": "ok"}


async def ticks(count: int, interval: float) -> AsyncIterator[dict[str, Any]]:
    # Each event carries the agent's wall-clock send time, so the client can measure hand-on
    # latency (same machine, same clock).
    for index in range(count):
        if index:
            await asyncio.sleep(interval)
        now = time.time()
        # The delta text is the send time too, so it survives decoding into a TextDelta.
        yield {"type": "response.output_text.delta", "delta": f"{now:.6f} ", "sent_at": now}
