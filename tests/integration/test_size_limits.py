"""max_event_bytes and max_body_bytes through the client, against an ``agentcore-local``
process: an agent sending an oversized SSE line, an oversized multi-line event or an oversized
JSON body (24 MiB each) ends in ResponseTooLargeError as soon as the limit is crossed, and the
client's memory is measured (tracemalloc, in this process, where only the client runs) to stay
near the limit, not near what the agent sent."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentcore_bridge import AgentCoreClient, MalformedResponseError, ResponseTooLargeError

LIMIT = 1 << 20  # 1 MiB
MARGIN = 2 << 20  # a few 64 KiB reads and the decoder's bookkeeping
AGENTS = {  # runtime name: (module attribute, the setting named by the error)
    "sse-line": ("sse_line", "max_event_bytes"),
    "sse-multi-line-event": ("sse_multi_line_event", "max_event_bytes"),
    "json-body": ("json_body", "max_body_bytes"),
}
MODULE = Path(__file__).resolve().parents[1] / "support" / "limit_agents.py"


@pytest.fixture(scope="module")
def runtime() -> Iterator[dict[str, str]]:
    args = [sys.executable, "-m", "agentcore_bridge.local.cli", "--in-process", "--port", "0"]
    for name, (attribute, _) in AGENTS.items():
        args += ["--agent", f"{name}={MODULE}:{attribute}"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while not (line := process.stdout.readline()).startswith("Ctrl-C"):
        assert (line or process.poll() is None) and time.monotonic() < deadline, "no runtime"
        lines.append(line)
    yield dict(re.findall(r"export (\w+)=(\S+)", "".join(lines)))
    process.terminate()
    process.wait(10)
    process.stdout.close()


def client(env: dict[str, str], name: str) -> AgentCoreClient:
    arn = env["AGENTCORE_RUNTIME_ARN"].rsplit("/", 1)[0] + f"/{name}"
    return AgentCoreClient(
        arn, endpoint_url=env["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        max_event_bytes=LIMIT, max_body_bytes=LIMIT,
    )  # fmt: skip


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", list(AGENTS))
def test_oversized_answers_stop_at_the_limit_with_bounded_memory(
    runtime: dict[str, str], name: str, mode: str
) -> None:
    c = client(runtime, name)

    def call() -> None:
        if mode == "sync":
            c.invoke("hi")
        else:
            asyncio.run(c.ainvoke("hi"))

    tracemalloc.start()
    try:
        started = time.monotonic()
        with pytest.raises(ResponseTooLargeError, match=AGENTS[name][1]) as caught:
            call()
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        c.close()
    assert isinstance(caught.value, MalformedResponseError)
    assert peak < LIMIT + MARGIN, f"peak {peak / 2**20:.2f} MiB for a {LIMIT / 2**20:.0f} MiB limit"
    assert elapsed < 10
