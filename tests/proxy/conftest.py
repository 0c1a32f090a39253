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
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import echo, strands_stream
from agentcore_bridge.proxy import ProxyConfig, create_app, load_config

# The seed's (LiteLLM docs) two config.yaml examples, verbatim.
SEED_CONFIG_1 = """\
model_list:
  - model_name: agentcore-runtime-1
    litellm_params:
      model: bedrock/agentcore/arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_region_name: us-west-2

  - model_name: agentcore-runtime-2
    litellm_params:
      model: bedrock/agentcore/arn:aws:bedrock-agentcore:us-east-1:987654321098:runtime/production-runtime
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_region_name: us-east-1
"""

SEED_CONFIG_2 = """\
model_list:
  - model_name: agentcore-runtime-prod
    litellm_params:
      model: bedrock/agentcore/arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_region_name: us-west-2
      qualifier: production
"""

MASTER_KEY = "sk-proxy-master-key-7f3c2a9d41e8b065"
ECHO_MODEL = "agentcore-echo"
THROTTLED_MODEL = "agentcore-throttled"
BAD_SECRET_MODEL = "agentcore-bad-secret"
BAD_SECRET = "wrong-secret-access-key-do-not-leak-0042"
SEED_ARN_1 = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime"
SEED_ARN_2 = "arn:aws:bedrock-agentcore:us-east-1:987654321098:runtime/production-runtime"
ECHO_ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/echo-runtime"
THROTTLED_ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/throttled-runtime"


def model_entry(name: str, arn: str, **extra: Any) -> str:
    """One more model_list item in the seed's layout (credentials from the environment)."""
    lines = [
        f"  - model_name: {name}",
        "    litellm_params:",
        f"      model: bedrock/agentcore/{arn}",
        "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID",
        f"      aws_secret_access_key: {extra.pop('secret', 'os.environ/AWS_SECRET_ACCESS_KEY')}",
        "      aws_region_name: us-west-2",
        *(f"      {key}: {value}" for key, value in extra.items()),
    ]
    return "\n".join(lines) + "\n"


# The config the shared proxy serves: seed example 1, then seed example 2's entry, then ours,
# then the master key appended as general_settings.
SERVED_CONFIG = (
    SEED_CONFIG_1
    + "\n"
    + SEED_CONFIG_2.split("model_list:\n", 1)[1]
    + "\n"
    + model_entry(ECHO_MODEL, ECHO_ARN)
    + model_entry(THROTTLED_MODEL, THROTTLED_ARN, max_retries=0)
    + model_entry(BAD_SECRET_MODEL, ECHO_ARN, secret=BAD_SECRET, max_retries=0)
    + f"\ngeneral_settings:\n  master_key: {MASTER_KEY}\n"
)


@dataclass
class Runtime:
    local: LocalRuntime
    env: dict[str, str]

    @property
    def secret_access_key(self) -> str:
        return self.local.credentials.secret_access_key


@dataclass
class Proxy:
    url: str
    config: ProxyConfig
    runtime: Runtime

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {MASTER_KEY}"}


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5, backlog=2048)
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="proxy-under-test", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the proxy did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def write_config(directory: Path, text: str, name: str = "config.yaml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


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
