"""Agents the benchmarks call (written ``async def`` so the SDK's thread pool does not cap them),
and the local runtime that serves them from a separate process."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
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


def start_runtime() -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``agentcore-local`` hosting this module's agent in its own process, and the environment
    it prints (endpoint, credentials, AGENTCORE_RUNTIME_ARN): client CPU is then the client's."""
    process = subprocess.Popen(
        [sys.executable, "-m", "agentcore_bridge.local.cli", "--in-process", "--port", "0",
         "--agent", f"bench={Path(__file__).resolve()}:app"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines = []
    while not (line := process.stdout.readline()).startswith("Ctrl-C"):
        lines.append(line)
    return process, dict(re.findall(r"export (\w+)=(\S+)", "".join(lines)))
