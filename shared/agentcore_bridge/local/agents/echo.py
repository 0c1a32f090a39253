"""An agent that answers with exactly what it received: payload, session id and headers.

Tests and demos use it to see what reached the agent (history, system text, user id, trace
headers). Every call appends to a module-global list, so hosted one process per session it also
shows that sessions do not share memory: ``calls_in_this_process`` counts this session's calls.
"""

from __future__ import annotations

import os
from typing import Any

from bedrock_agentcore.runtime import BedrockAgentCoreApp, RequestContext

app = BedrockAgentCoreApp()
_seen: list[Any] = []


@app.entrypoint
async def echo(payload: Any, context: RequestContext) -> dict[str, Any]:
    _seen.append(payload)
    request = context.request
    headers = dict(request.headers) if request is not None else {}
    return {
        "payload": payload,
        "session_id": context.session_id,
        "headers": headers,
        "calls_in_this_process": len(_seen),
        "prompts_in_this_process": [p.get("prompt") if isinstance(p, dict) else p for p in _seen],
        "pid": os.getpid(),
    }
