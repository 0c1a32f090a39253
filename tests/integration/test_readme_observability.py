"""The README's Observability example runs as written (given a runtime ARN) and prints the
invoke_agent span with the console exporter."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import strands_stream

README = Path(__file__).resolve().parents[2] / "README.md"


def observability_example() -> str:
    section = README.read_text().split("## Observability", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_the_readme_observability_example_prints_the_span() -> None:
    with LocalRuntime() as local:
        arn = local.add_agent("readme_otel-AbCdEf1234", strands_stream.app)
        code = f"runtime_arn = {arn!r}\n" + observability_example()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent",
               **local.environment()}  # fmt: skip
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
            env=env, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    span = json.loads(result.stdout[result.stdout.index("{") :])
    assert span["name"] == "invoke_agent readme_otel"
    assert span["kind"] == "SpanKind.CLIENT"
    assert span["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    assert span["attributes"]["gen_ai.usage.output_tokens"] == 12
