"""One local AgentCore runtime on 127.0.0.1 for the integration tests, with the demo agents."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from support.local_runtimes import Runtime

from agentcore_bridge.local import LocalRuntime


@pytest.fixture(scope="session")
def runtime() -> Iterator[Runtime]:
    with LocalRuntime() as local:
        yield Runtime(local)


@pytest.fixture
def fresh_arn(runtime: Runtime) -> Callable[..., str]:
    return runtime.add
