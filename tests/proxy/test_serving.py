"""``agentcore-proxy`` as a process: the master key rules, ``--workers``, and graceful shutdown
with a stream still open (SIGTERM and SIGINT to a subprocess proxy). Servers bind 127.0.0.1
only; the non-loopback cases are refused before anything is bound."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from proxy_support import (
    CHAT,
    MASTER_KEY,
    ProxyProcess,
    auth,
    cli_path,
    config_text,
    deployment,
    free_port,
    process_env,
    user,
    write_config,
)

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import echo

pytestmark = pytest.mark.network

PIECES = 10
INTERVAL = 0.3


async def slow_agent(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Streams PIECES plain-string events INTERVAL seconds apart."""
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
    for index in range(PIECES):
        if index:
            await asyncio.sleep(INTERVAL)
        event = f"data: {json.dumps(f'piece {index} ')}\n\n".encode()
        await send({"type": "http.response.body", "body": event, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        runtime.add_agent("serving-echo", echo.app)
        runtime.add_agent("serving-slow", slow_agent)
        yield runtime


def arn(local: LocalRuntime, name: str) -> str:
    return next(a for a in local.dataplane.runtimes if a.endswith(f"/{name}"))


@pytest.fixture
def config(local: LocalRuntime, tmp_path: Path) -> Path:
    return write_config(tmp_path, config_text(
        deployment("echo", arn(local, "serving-echo")),
        deployment("slow", arn(local, "serving-slow")),
    ))  # fmt: skip


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cli_path(), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


# --- the master key -------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["sk-1234", "short-secret"])
def test_a_weak_master_key_is_refused_off_loopback(
    local: LocalRuntime, tmp_path: Path, key: str
) -> None:
    path = write_config(tmp_path, config_text(
        deployment("echo", arn(local, "serving-echo")), master_key=key))  # fmt: skip
    result = run_cli(["--config", str(path), "--host", "0.0.0.0", "--port", str(free_port())],
                     process_env(local.environment()))  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "too weak" in result.stderr
    assert key not in result.stderr + result.stdout
    assert "agentcore-proxy on" not in result.stdout  # refused before binding


def test_the_seed_config_with_sk_1234_still_runs_on_loopback_with_a_warning(
    local: LocalRuntime, tmp_path: Path
) -> None:
    """The README's walk-through: the seed's config, PROXY_MASTER_KEY=sk-1234, on loopback."""
    text = (
        "model_list:\n" + deployment("agentcore-runtime-1", arn(local, "serving-echo"))
        + "general_settings:\n  master_key: os.environ/PROXY_MASTER_KEY\n"
    )  # fmt: skip
    path = write_config(tmp_path, text)
    env = process_env(local.environment(), PROXY_MASTER_KEY="sk-1234")
    with ProxyProcess(tmp_path, path, env) as proxy:
        proxy.wait_ready()
        response = httpx.post(
            f"{proxy.url}{CHAT}", headers=auth("sk-1234"), timeout=30,
            json={"model": "agentcore-runtime-1", "messages": user("Hi")},
        )  # fmt: skip
        assert response.status_code == 200, response.text
    assert "weak" in proxy.err_path.read_text()


# --- workers ----------------------------------------------------------------------------------


def pids_serving(url: str, tries: int = 10) -> set[int]:
    """The worker pids that answer readiness probes on fresh connections, concurrently."""

    async def probe() -> set[int]:
        seen: set[int] = set()
        for _ in range(tries):
            clients = [httpx.AsyncClient(timeout=10) for _ in range(16)]
            try:
                answers = await asyncio.gather(*(c.get(f"{url}/health/readiness") for c in clients))
            finally:
                await asyncio.gather(*(c.aclose() for c in clients))
            seen |= {a.json()["pid"] for a in answers}
            if len(seen) > 1:
                break
        return seen

    return asyncio.run(probe())


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_share_one_port(local: LocalRuntime, config: Path, tmp_path: Path) -> None:
    env = process_env(local.environment())
    with ProxyProcess(tmp_path, config, env, "--workers", "2") as proxy:
        proxy.wait_ready()
        workers = children_of(proxy.process.pid)
        assert len(workers) >= 2, workers
        pids = pids_serving(proxy.url)
        assert len(pids) == 2 and pids <= workers, (pids, workers)
        for index in range(6):
            response = proxy.chat(f"worker call {index}", "echo")
            assert response.status_code == 200, response.text
        code = proxy.stop()
    assert code == 0, proxy.output
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers), "a worker outlived the proxy"
    assert "without a shared Redis" in proxy.err_path.read_text()


def test_workers_answer_keep_alive_requests_without_nagle_stalls(
    local: LocalRuntime, config: Path, tmp_path: Path
) -> None:
    """Was: with --workers, uvicorn's own listening socket left Nagle on, and every keep-alive
    response (headers, then body) waited ~40 ms for the client's delayed ACK."""
    env = process_env(local.environment())
    with ProxyProcess(tmp_path, config, env, "--workers", "2") as proxy:
        proxy.wait_ready()
        with httpx.Client(base_url=proxy.url, headers=auth(), timeout=30) as client:
            body = {"model": "echo", "messages": user("quick")}
            assert client.post(CHAT, json=body).status_code == 200
            latencies = []
            for _ in range(15):
                started = time.perf_counter()
                assert client.post(CHAT, json=body).status_code == 200
                latencies.append(time.perf_counter() - started)
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.025, latencies


# --- graceful shutdown --------------------------------------------------------------------------


def read_stream(url: str, started: threading.Event, out: list[str]) -> None:
    with httpx.Client(timeout=30) as client, client.stream(
        "POST", f"{url}{CHAT}", headers=auth(),
        json={"model": "slow", "messages": user("go"), "stream": True},
    ) as response:  # fmt: skip
        assert response.status_code == 200
        try:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    out.append(line[len("data: ") :])
                    started.set()
        except httpx.HTTPError as error:
            out.append(f"<broken: {type(error).__name__}>")


def stream_in_background(proxy: ProxyProcess) -> tuple[threading.Thread, list[str]]:
    """A stream from the slow agent read in a thread, once its first frame has arrived; the
    frames collect in the list."""
    proxy.wait_ready()
    frames: list[str] = []
    started = threading.Event()
    reader = threading.Thread(target=read_stream, args=(proxy.url, started, frames))
    reader.start()
    assert started.wait(30), proxy.output
    return reader, frames


def content_of(frames: list[str]) -> str:
    return "".join(
        (json.loads(f)["choices"] or [{}])[0].get("delta", {}).get("content") or ""
        for f in frames if f.startswith("{") and "choices" in f
    )  # fmt: skip


@pytest.mark.parametrize(
    ("number", "workers"),
    [(signal.SIGTERM, 1), (signal.SIGINT, 1), (signal.SIGTERM, 2)],
    ids=["sigterm", "sigint", "sigterm-2-workers"],
)
def test_an_open_stream_finishes_after_a_shutdown_signal(
    local: LocalRuntime, config: Path, tmp_path: Path, number: int, workers: int
) -> None:
    env = process_env(local.environment())
    extra = ["--graceful-timeout", "20", "--workers", str(workers)]
    with ProxyProcess(tmp_path, config, env, *extra) as proxy:
        reader, frames = stream_in_background(proxy)
        signalled_at = time.monotonic()
        proxy.send(number)
        if workers == 1:
            time.sleep(0.5)
            with pytest.raises(httpx.TransportError):  # no new connections once signalled
                httpx.get(f"{proxy.url}/health/readiness", timeout=2)
        reader.join(30)
        assert not reader.is_alive()
        code = proxy.process.wait(30)
    assert frames[-1] == "[DONE]", frames
    assert content_of(frames) == "".join(f"piece {i} " for i in range(PIECES))
    assert time.monotonic() - signalled_at < 15
    assert code == 0, proxy.output


def test_a_stream_longer_than_the_grace_period_is_cut(
    local: LocalRuntime, config: Path, tmp_path: Path
) -> None:
    env = process_env(local.environment())
    with ProxyProcess(tmp_path, config, env, "--graceful-timeout", "0.5") as proxy:
        reader, frames = stream_in_background(proxy)
        signalled_at = time.monotonic()
        proxy.send(signal.SIGTERM)
        reader.join(30)
        proxy.process.wait(30)
    assert time.monotonic() - signalled_at < PIECES * INTERVAL
    assert "[DONE]" not in frames


@pytest.mark.parametrize("argument", [["--workers", "0"], ["--graceful-timeout", "-1"]])
def test_bad_serving_arguments_exit_2(
    local: LocalRuntime, config: Path, argument: list[str]
) -> None:
    result = run_cli(["--config", str(config), *argument], process_env(local.environment()))
    assert result.returncode == 2
    assert argument[0] in result.stderr


def test_help_names_the_serving_options() -> None:
    result = run_cli(["--help"], dict(os.environ))
    assert "--workers" in result.stdout and "--graceful-timeout" in result.stdout
    assert MASTER_KEY not in result.stdout


def test_an_idle_keep_alive_connection_outlives_uvicorns_default(
    config: Path, local: LocalRuntime, tmp_path: Path
) -> None:
    # uvicorn's default closes a connection idle for 5 s, racing clients whose pools keep idle
    # connections longer (aiohttp: 15 s); the proxy keeps them 75 s. A request on a connection
    # idle for 6 s must be answered on that same connection.
    import socket

    env = process_env(local.environment())
    body = json.dumps({"model": "echo", "messages": user("hi")}).encode()
    request = (
        f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: {auth()['Authorization']}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    def answered(sock: socket.socket) -> bool:
        """Send the request, read the whole answer; False when the proxy closed the socket."""
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return False
            rest += chunk
        return head.startswith(b"HTTP/1.1 200")

    with ProxyProcess(tmp_path, config, env) as proxy:
        proxy.wait_ready()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            assert answered(sock)
            time.sleep(6)
            assert answered(sock), "the proxy closed an idle keep-alive connection after <6 s"


def test_keep_alive_timeout_must_be_positive(config: Path, local: LocalRuntime) -> None:
    env = process_env(local.environment())
    result = run_cli(["--config", str(config), "--keep-alive-timeout", "0"], env)
    assert result.returncode != 0
    assert "--keep-alive-timeout must be more than 0 seconds" in result.stderr
