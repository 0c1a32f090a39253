"""One local AgentCore runtime on 127.0.0.1 for the integration tests, with the demo agents."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

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


@pytest.fixture(scope="session")
def runtime() -> Iterator[Runtime]:
    with LocalRuntime() as local:
        yield Runtime(local)


@pytest.fixture
def fresh_arn(runtime: Runtime) -> Callable[..., str]:
    return runtime.add
