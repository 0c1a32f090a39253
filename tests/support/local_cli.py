"""`agentcore-local` run as a user runs it, for tests: started, its summary read, stopped."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3


@dataclass
class CliSession:
    output: str
    env: dict[str, str]
    """The ``export NAME=value`` lines it printed."""

    def boto3_client(self) -> Any:
        return boto3.client(
            "bedrock-agentcore",
            endpoint_url=self.env["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"],
            region_name=self.env["AWS_REGION"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )


@contextlib.contextmanager
def running_cli(*args: str, start_timeout: float = 60) -> Iterator[CliSession]:
    """Start ``agentcore-local *args``, wait for its summary, stop it with SIGTERM at the end
    (and check it exits 0)."""
    executable = shutil.which("agentcore-local", path=os.path.dirname(sys.executable))
    assert executable, "the agentcore-local console script is installed"
    process = subprocess.Popen([executable, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Ctrl-C stops"):
                break
        output = "".join(lines)
        yield CliSession(output, dict(re.findall(r"export (\w+)=(\S+)", output)))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        if process.stdout is not None:
            process.stdout.close()
