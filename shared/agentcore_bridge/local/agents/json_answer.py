"""An agent that returns one JSON value: ``{"result": "<answer>"}``, as CrewAI-style agents do."""

from __future__ import annotations

from typing import Any

from bedrock_agentcore.runtime import BedrockAgentCoreApp

app = BedrockAgentCoreApp()


@app.entrypoint
async def answer(payload: dict[str, Any]) -> dict[str, Any]:
    prompt = str(payload.get("prompt", ""))
    return {"result": f"You asked: {prompt}. The answer is 42."}
