"""The local AgentCore runtime of the adapter tests (LangChain, LlamaIndex): started once per
test session and per adapter, hosting the official-SDK demo agents."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import echo, strands_stream

_NAMES = itertools.count(1)


@dataclass
class AdapterRuntime:
    local: LocalRuntime
    stream: str
    """Strands-shaped streaming agent reporting usage (34/12/46) over two model calls."""
    other: str
    """A second runtime (the same agent), for per-call model overrides."""
    echo: str
    """Answers JSON with the payload, session id and headers it received."""

    def add_agent(self, prefix: str, agent: Any) -> str:
        """Register an agent under a name not used yet (names are unique per LocalRuntime)."""
        name = f"{prefix}-{next(_NAMES)}".replace("_", "-")
        return self.local.add_agent(name, agent)

    def params(self, arn: str | None = None) -> dict[str, Any]:
        """A model's constructor arguments for ``arn`` (default: the streaming agent)."""
        return {
            "model": arn or self.stream,
            "endpoint_url": self.local.endpoint_url,
            "aws_access_key_id": self.local.credentials.access_key_id,
            "aws_secret_access_key": self.local.credentials.secret_access_key,
        }


_RUNTIMES: dict[str, AdapterRuntime] = {}
_LOCK = threading.Lock()


def shared_runtime(prefix: str) -> AdapterRuntime:
    """The runtime of one adapter's tests (``prefix`` names its agents), started on first use."""
    with _LOCK:
        if prefix not in _RUNTIMES:
            local = LocalRuntime().start()
            _RUNTIMES[prefix] = AdapterRuntime(
                local=local,
                stream=local.add_agent(f"{prefix}-agent", strands_stream.app, qualifiers=("prod",)),
                other=local.add_agent(f"{prefix}-agent-v2", strands_stream.app),
                echo=local.add_agent(f"{prefix}-echo", echo.app),
            )
        return _RUNTIMES[prefix]


def stop_runtime(prefix: str) -> None:
    """Stop one adapter's runtime if its tests started it (at the end of the session)."""
    with _LOCK:
        runtime = _RUNTIMES.pop(prefix, None)
    if runtime is not None:
        runtime.local.stop()
