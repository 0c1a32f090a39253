"""Local AgentCore runtimes shared by the test folders (imported, not conftest-injected, so
folders can be collected together)."""

from __future__ import annotations

import itertools
from typing import Any

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import echo, json_answer, strands_stream

_names = itertools.count()


class Runtime:
    """The running LocalRuntime plus the ARNs of the demo agents registered on it."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.local = runtime
        self.echo = runtime.add_agent("echo", echo.app, qualifiers=("prod",))
        self.json = runtime.add_agent("json-answer", json_answer.app)
        self.stream = runtime.add_agent("strands-stream", strands_stream.app)
        self.oauth = runtime.add_agent("oauth-echo", echo.app, bearer_tokens=("good-token",))

    def add(self, app: Any = None, **kwargs: Any) -> str:
        """Register ``app`` under a fresh name, so a test's faults and sessions are its own."""
        return self.local.add_agent(f"t{next(_names)}", app, **kwargs)
