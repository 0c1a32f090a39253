"""``import agentcore_bridge`` stays light: a sync caller (a serverless function's cold start)
does not import aiohttp or pydantic; they load on first async use / first completion()."""

from __future__ import annotations

import subprocess
import sys


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return set(out.stdout.split())


def test_importing_the_core_loads_neither_aiohttp_nor_pydantic() -> None:
    loaded = modules_after("import agentcore_bridge\nagentcore_bridge.AgentCoreClient")
    assert "agentcore_bridge.client" in loaded
    assert not {"aiohttp", "yarl", "pydantic", "agentcore_bridge.transport_aiohttp"} & loaded


def test_they_load_when_first_needed() -> None:
    loaded = modules_after("from agentcore_bridge import completion")
    assert {"pydantic", "agentcore_bridge.completions"} <= loaded
    loaded = modules_after(
        "import asyncio\nfrom agentcore_bridge import AgentCoreClient, ConnectError\n"
        "client = AgentCoreClient('arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/a',"
        " endpoint_url='http://127.0.0.1:9', aws_access_key_id='a', aws_secret_access_key='b',"
        " max_retries=0)\n"
        "try:\n    asyncio.run(client.ainvoke('hi'))\nexcept ConnectError:\n    pass"
    )
    assert {"aiohttp", "agentcore_bridge.transport_aiohttp"} <= loaded
