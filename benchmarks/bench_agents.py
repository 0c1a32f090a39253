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


def start_runtime(
    agent_file: Path | None = None, more_agents: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``agentcore-local --in-process`` hosting ``agent_file``'s ``app`` (default: this module's)
    in its own process, and the environment it prints (endpoint, credentials, region,
    AGENTCORE_RUNTIME_ARN): client CPU is then the client's own. ``more_agents``: further CLI
    arguments (``--protocol a2a --agent name=path:app``)."""
    agent = agent_file or Path(__file__).resolve()
    process = subprocess.Popen(
        [sys.executable, "-m", "agentcore_bridge.local.cli", "--in-process", "--port", "0",
         "--agent", f"bench={agent}:app", *more_agents],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while not (line := process.stdout.readline()).startswith("Ctrl-C"):
        if (not line and process.poll() is not None) or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("agentcore-local did not start")
        lines.append(line)
    return process, dict(re.findall(r"export (\w+)=(\S+)", "".join(lines)))
