"""The scripted A2A agent's cases (agentcore_bridge.local.agents.a2a_echo answers as the first
word of the text says), shared by the A2A tests of the core client and of the adapters."""

from __future__ import annotations

from agentcore_bridge.local.agents import a2a_echo

STREAMED = "Streamed answer for you."
CASES: dict[str, tuple[str, str | None, str | None]] = {
    # case: (text sent, expected answer or None for an AgentError, expected task state)
    "message": ("hello there", "Echo: hello there", None),
    "artifact-chunks": ("stream please", STREAMED, "completed"),
    "status-only": ("status please", "Status-only answer.", "completed"),
    "input-required": ("input please", a2a_echo.INPUT_QUESTION, "input-required"),
    "failed": ("fail please", None, "failed"),
    "jsonrpc-error": ("error please", None, None),
}
MODES = ("invoke", "stream", "ainvoke", "astream")
