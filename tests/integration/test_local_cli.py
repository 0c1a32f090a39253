"""`agentcore-local`: serves a user's agent file and prints how to point boto3 at it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import boto3


def test_cli_serves_an_agent_file_and_prints_the_environment(tmp_path: Path) -> None:
    agent_file = tmp_path / "weather_agent.py"
    agent_file.write_text(
        textwrap.dedent(
            """
            from bedrock_agentcore.runtime import BedrockAgentCoreApp

            app = BedrockAgentCoreApp()

            @app.entrypoint
            def handle(payload):
                return {"result": "sunny in " + payload["prompt"]}
            """
        )
    )
    executable = shutil.which("agentcore-local", path=os.path.dirname(sys.executable))
    assert executable, "the agentcore-local console script is installed"
    process = subprocess.Popen(
        [executable, "--agent", f"{agent_file}:app", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Ctrl-C stops"):
                break
        output = "".join(lines)
        env = dict(re.findall(r"export (\w+)=(\S+)", output))
        arn = env["AGENTCORE_RUNTIME_ARN"]
        assert arn == "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/weather-agent"
        assert f"weather-agent    {arn}" in output
        assert env["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"].startswith("http://127.0.0.1:")

        client = boto3.client(
            "bedrock-agentcore",
            endpoint_url=env["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"],
            region_name=env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        response = client.invoke_agent_runtime(
            agentRuntimeArn=arn, payload=json.dumps({"prompt": "Lisbon"})
        )
        assert json.loads(response["response"].read()) == {"result": "sunny in Lisbon"}
        client.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        if process.stdout is not None:
            process.stdout.close()
