"""The benchmark agent every client can drive, LiteLLM included.

LiteLLM's ``bedrock/agentcore/`` route sends only ``{"prompt": <last message>}`` and
``ChatAgentCore`` sends a single user message verbatim as the prompt, so this agent reads its
mode from the prompt text (or from a ``mode`` field, as ``bench_agents.py`` does):

* ``json``                      answers ``{"result": "ok"}`` at once;
* ``sleep SECONDS``             answers ``{"result": "done"}`` after ``await asyncio.sleep``;
* ``ticks COUNT INTERVAL``      streams COUNT events, the first at once, each carrying its wall
                                clock send time as its text (Bedrock Converse
                                ``contentBlockDelta`` shape, which LiteLLM's stream parser reads);
* ``big TOTAL_BYTES CHUNK``     streams TOTAL_BYTES of text in CHUNK-byte events (memory test).

Written ``async def`` so the SDK's thread pool does not cap it.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bedrock_agentcore.runtime import BedrockAgentCoreApp

app = BedrockAgentCoreApp()


def command(payload: dict[str, Any]) -> list[str]:
    if "mode" in payload:
        return [str(payload["mode"]), *(str(a) for a in payload.get("args", []))]
    words = str(payload.get("prompt", "json")).split()
    return words or ["json"]


@app.entrypoint
async def handle(payload: dict[str, Any]) -> Any:
    mode, *args = command(payload)
    if mode == "sleep":
        await asyncio.sleep(float(args[0]) if args else 0.2)
        return {"result": "done"}
    if mode == "ticks":
        return ticks(int(args[0]) if args else 5, float(args[1]) if len(args) > 1 else 0.5)
    if mode == "big":
        return big(int(args[0]), int(args[1]) if len(args) > 1 else 65536)
    return {"result": "ok"}


# LiteLLM's stream parser ends a stream on ``messageStop`` (else it raises "Stream ended before
# a finish_reason was received").
STOP = {"event": {"messageStop": {"stopReason": "end_turn"}}}


def delta(text: str) -> dict[str, Any]:
    return {"event": {"contentBlockDelta": {"delta": {"text": text}}}}


async def ticks(count: int, interval: float) -> AsyncIterator[dict[str, Any]]:
    for index in range(count):
        if index:
            await asyncio.sleep(interval)
        yield delta(f"{time.time():.6f} ")
    yield STOP


async def big(total: int, chunk: int) -> AsyncIterator[dict[str, Any]]:
    block = "x" * chunk
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield delta(piece)
        await asyncio.sleep(0)
    yield STOP


def start_runtime() -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``agentcore-local --in-process`` serving this agent from its own process."""
    from bench_agents import start_runtime as start

    return start(Path(__file__).resolve())
