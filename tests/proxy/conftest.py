"""The OpenAI-compatible proxy served on 127.0.0.1 over a local AgentCore runtime.

One LocalRuntime hosts the seed's two runtimes (``my-agent-runtime`` in us-west-2/123456789012
with the ``production`` qualifier, ``production-runtime`` in us-east-1/987654321098), both the
Strands-shaped streaming demo agent, plus an echo runtime and a runtime kept for throttling. Its
environment (credentials and ``AWS_ENDPOINT_URL_BEDROCK_AGENTCORE``) is put into ``os.environ``
for the module, so the seed's ``os.environ/...`` values resolve and boto3's resolver points the
proxy's clients at the local endpoint. The proxy runs the seed's config.yaml with our extra
models and a master key appended.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from proxy_support import Runtime, serve, write_config
from seed_configs import SERVED_CONFIG, Proxy

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import echo, strands_stream
from agentcore_bridge.proxy import create_app, load_config


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    # The SDK app logs one JSON line per request at INFO; the load test makes 500 of them.
    logging.getLogger("bedrock_agentcore.app").setLevel(logging.WARNING)
    with LocalRuntime() as local, pytest.MonkeyPatch.context() as patch:
        local.add_agent("my-agent-runtime", strands_stream.app, qualifiers=("production",))
        local.add_agent(
            "production-runtime",
            strands_stream.app,
            region="us-east-1",
            account_id="987654321098",
        )
        local.add_agent("echo-runtime", echo.app)
        local.add_agent("throttled-runtime", strands_stream.app)
        env = local.environment()
        patch.delenv("AGENTCORE_PROXY_MASTER_KEY", raising=False)
        patch.delenv("AGENTCORE_BEARER_TOKEN", raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        yield Runtime(local, env)


@pytest.fixture(scope="module")
def proxy(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    path = write_config(tmp_path_factory.mktemp("proxy"), SERVED_CONFIG)
    config = load_config(path)
    with serve(create_app(config)) as url:
        yield Proxy(url, config, runtime)
