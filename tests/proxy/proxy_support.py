"""Helpers for the proxy's fleet tests: ``agentcore-proxy`` processes on free loopback ports, and
config text for models with several deployments."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from agentcore_bridge.local import LocalRuntime

MASTER_KEY = "sk-fleet-test-master-key-5d2e8c1b7a94f360"
CHAT = "/v1/chat/completions"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_path() -> str:
    found = shutil.which("agentcore-proxy", path=str(Path(sys.executable).parent))
    assert found is not None, "the agentcore-proxy console script is not installed"
    return found


def deployment(model: str, arn: str, region: str = "us-west-2", **extra: Any) -> str:
    """One model_list entry (credentials from the environment) in the seed's layout."""
    lines = [
        f"  - model_name: {model}",
        "    litellm_params:",
        f"      model: bedrock/agentcore/{arn}",
        "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID",
        "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY",
        f"      aws_region_name: {region}",
        *(f"      {key}: {value}" for key, value in extra.items()),
    ]
    return "\n".join(lines) + "\n"


def config_text(*entries: str, master_key: str = MASTER_KEY, extra: str = "") -> str:
    return (
        "model_list:\n"
        + "".join(entries)
        + f"general_settings:\n  master_key: {master_key}\n"
        + extra
    )


def new_session() -> str:
    return f"fleet-test-session-{uuid.uuid4().hex}"  # 51 characters


def user(content: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


def auth(key: str = MASTER_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Runtime:
    local: LocalRuntime
    env: dict[str, str]

    @property
    def secret_access_key(self) -> str:
        return self.local.credentials.secret_access_key


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port in a thread; yield its base URL."""
    # IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted connections (no Nagle stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
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


class ProxyProcess:
    """``agentcore-proxy`` as a subprocess on a free 127.0.0.1 port, its output in files."""

    def __init__(
        self, tmp_path: Path, config: Path, env: dict[str, str], *extra: str, name: str = "proxy"
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out_path = tmp_path / f"{name}-{self.port}.out"
        self.err_path = tmp_path / f"{name}-{self.port}.err"
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.process = subprocess.Popen(
                [cli_path(), "--config", str(config), *extra,
                 "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, stdout=out, stderr=err,
            )  # fmt: skip

    @property
    def output(self) -> str:
        return self.out_path.read_text() + self.err_path.read_text()

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output
            try:
                if httpx.get(f"{self.url}/health/readiness", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the proxy did not become ready: {self.output}")

    def chat(
        self, content: str | list[dict[str, str]], model: str, session: str | None = None,
        **body: Any,
    ) -> httpx.Response:  # fmt: skip
        headers = auth()
        if session is not None:
            headers["X-AgentCore-Session-Id"] = session
        messages = user(content) if isinstance(content, str) else content
        return httpx.post(
            f"{self.url}{CHAT}", headers=headers, timeout=60,
            json={"model": model, "messages": messages, **body},
        )  # fmt: skip

    def send(self, number: int = signal.SIGTERM) -> None:
        self.process.send_signal(number)

    def stop(self, number: int = signal.SIGTERM, seconds: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(number)
            try:
                self.process.wait(seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return int(self.process.returncode)

    def __enter__(self) -> ProxyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def process_env(runtime_env: dict[str, str], **extra: str) -> dict[str, str]:
    """This process's environment with the local runtime's, minus settings that would leak in."""
    drop = {"AGENTCORE_PROXY_MASTER_KEY", "AGENTCORE_SESSION_STORE", "AGENTCORE_BEARER_TOKEN"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, **runtime_env, **extra}


def echo_payload(response: httpx.Response) -> Any:
    """The payload the echo agent received, from a non-streamed answer."""
    assert response.status_code == 200, response.text
    return json.loads(response.json()["choices"][0]["message"]["content"])["payload"]
