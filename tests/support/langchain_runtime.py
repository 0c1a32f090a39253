"""The local AgentCore runtime of the LangChain tests (started once per session)."""

from __future__ import annotations

from dataclasses import dataclass

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import echo, strands_stream


@dataclass
class LangChainRuntime:
    local: LocalRuntime
    stream: str
    """Strands-shaped streaming agent reporting usage over two model calls."""
    other: str
    """A second runtime (the same agent), for per-call model overrides."""
    echo: str

    def params(self, arn: str | None = None) -> dict[str, object]:
        return {
            "model": arn or self.stream,
            "endpoint_url": self.local.endpoint_url,
            "aws_access_key_id": self.local.credentials.access_key_id,
            "aws_secret_access_key": self.local.credentials.secret_access_key,
        }


_RUNTIME: LangChainRuntime | None = None


def shared_runtime() -> LangChainRuntime:
    """Started once per test session (the standard suites read it from properties)."""
    global _RUNTIME
    if _RUNTIME is None:
        local = LocalRuntime().start()
        _RUNTIME = LangChainRuntime(
            local=local,
            stream=local.add_agent("langchain-agent", strands_stream.app, qualifiers=("prod",)),
            other=local.add_agent("langchain-agent-v2", strands_stream.app),
            echo=local.add_agent("langchain-echo", echo.app),
        )
    return _RUNTIME
