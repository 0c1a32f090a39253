"""The proxy side by side with a direct call (the floor) and LiteLLM Proxy, in one run against one
local runtime process (issue 17).

    uv run python benchmarks/run.py --only proxy [--smoke] [--write docs/benchmarks.md]

Three systems serve the same agent (``bench_prompt_agent.py``) from the same runtime:

* the floor: ``AgentCoreClient.ainvoke``/``astream`` called directly from the load process;
* ``agentcore-proxy`` (one worker) and LiteLLM Proxy, each its own process, both started from
  the same config.yaml (``aws_bedrock_runtime_endpoint`` points them at the runtime), called over
  HTTP by a load process written once for both (aiohttp, raw JSON and SSE).

Measured per system, each load in a fresh process: latency p50/p99 of sequential requests,
requests/s with 64 concurrent clients (and CPU per request: the proxy process's, from
``/proc/<pid>/stat``, against the floor's own process CPU per call), 256 concurrent calls to a
200 ms agent, time to the first streamed chunk, chunks lost over concurrent streams, the proxy's
RSS after the load, and its start-up time (spawn to a ready ``/health/readiness``).

LiteLLM Proxy lives in an environment of its own (``benchmarks/litellm_proxy``: its ``proxy``
extra cannot share the project's lock); it is synced on first use, and skipped with a note when
that is not possible; the smoke variant leaves it out (its start-up alone takes ~20 s) unless
``BENCH_LITELLM_PROXY=1``, and ``BENCH_LITELLM_PROXY=0`` leaves it out of a full run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import aiohttp  # noqa: E402

FLOOR = "AgentCoreClient (direct, floor)"
OURS = "agentcore-proxy"
LITELLM = "LiteLLM Proxy"
LITELLM_PROJECT = HERE / "litellm_proxy"
LITELLM_BIN = LITELLM_PROJECT / ".venv" / "bin" / "litellm"
MODEL = "bench"
RUNTIME_PID_ENV = "BENCH_RUNTIME_PID"


@dataclass(frozen=True)
class ProxySizes:
    sequential: int  # requests one after another (latency percentiles)
    clients: int  # concurrent clients (throughput)
    per_client: int  # requests each
    fanout: int  # concurrent calls to the 200 ms agent
    streams: int  # sequential streams (time to first chunk)
    ticks: int  # events per stream
    concurrent_streams: int  # streams at once (lost chunks)
    starts: int  # start-up measurements per proxy
    runs: int  # load runs per system (medians)


FULL = ProxySizes(400, 64, 40, 256, 60, 20, 64, 3, 3)
SMOKE = ProxySizes(10, 4, 3, 8, 3, 3, 4, 1, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` (and its waited-for children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the proxies --------------------------------------------------------------------------------


def config_yaml(env: dict[str, str], key: str) -> str:
    """One config.yaml for both proxies, in LiteLLM's layout."""
    return (
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: bedrock/agentcore/{env['AGENTCORE_RUNTIME_ARN']}\n"
        f"      aws_bedrock_runtime_endpoint: {env['AWS_ENDPOINT_URL_BEDROCK_AGENTCORE']}\n"
        "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n"
        "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY\n"
        f"      aws_region_name: {env['AWS_REGION']}\n"
        f"general_settings:\n  master_key: {key}\n"
    )


LITELLM_SWITCH = "BENCH_LITELLM_PROXY"


def litellm_available(smoke: bool) -> str | None:
    """Why LiteLLM Proxy does not run, or None when it does (synced on first use). Its start-up
    alone takes ~20 s, so the smoke run leaves it out unless BENCH_LITELLM_PROXY=1."""
    switch = os.environ.get(LITELLM_SWITCH)
    if switch == "0" or (smoke and switch != "1"):
        return f"LiteLLM Proxy skipped ({LITELLM_SWITCH}={switch or 'unset'}{', smoke' if smoke else ''})."
    if LITELLM_BIN.exists():
        return None
    uv = os.environ.get("UV") or str(HERE.parent / ".tools" / "bin" / "uv")
    if not Path(uv).exists():
        uv = "uv"
    result = subprocess.run(
        [uv, "sync", "--locked", "--project", str(LITELLM_PROJECT)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if result.returncode or not LITELLM_BIN.exists():
        return f"LiteLLM Proxy could not be installed ({result.stderr.strip()[-200:]}): skipped."
    return None


def _litellm_version() -> str:
    lock = LITELLM_PROJECT / "uv.lock"
    if lock.exists():
        text = lock.read_text()
        marker = 'name = "litellm"\nversion = "'
        if marker in text:
            return text.split(marker, 1)[1].split('"', 1)[0]
    return "(not installed)"


class ProxyServer:
    """A proxy process on a free loopback port, ready when /health/readiness answers 200."""

    def __init__(self, system: str, config: Path, env: dict[str, str]) -> None:
        self.system = system
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if system == OURS:
            command = [sys.executable, "-m", "agentcore_bridge.proxy", "--config", str(config),
                       "--host", "127.0.0.1", "--port", str(self.port)]  # fmt: skip
        else:
            command = [str(LITELLM_BIN), "--config", str(config), "--host", "127.0.0.1",
                       "--port", str(self.port), "--num_workers", "1"]  # fmt: skip
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.startup = self._wait_ready()

    def _wait_ready(self) -> float:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.system} exited with {self.process.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock,
            ):
                sock.sendall(b"GET /health/readiness HTTP/1.1\r\nHost: x\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return time.perf_counter() - self.started
            time.sleep(0.01)
        raise RuntimeError(f"{self.system} did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


# -- the load process ------------------------------------------------------------------------------


def load_child(
    system: str, url: str, key: str, proxy_pid: int, sizes: dict[str, int]
) -> dict[str, Any]:
    """Runs in a fresh process: every load of the scenario against one system; figures as JSON."""
    size = ProxySizes(**sizes)
    runtime_pid = int(os.environ[RUNTIME_PID_ENV])
    return asyncio.run(_load(system, url, key, proxy_pid, runtime_pid, size))


async def _load(
    system: str, url: str, key: str, proxy_pid: int, runtime_pid: int, size: ProxySizes
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(
        connector=connector, headers={"Authorization": f"Bearer {key}"}
    ) as session:
        call = Caller(system, url, session)
        # Latency is compared in pairs: a proxy's load process also calls the floor directly,
        # alternating request by request, so both see the same moment of a shared machine.
        floor = Caller(FLOOR, "", session) if system != FLOOR else call
        for caller in {id(call): call, id(floor): floor}.values():
            await asyncio.gather(*(caller.ask("json") for _ in range(size.clients)))  # warm up
            for _ in range(20):
                await caller.ask("json")
        figures: dict[str, Any] = {}

        latencies: dict[str, list[float]] = {"": [], "floor ": []}
        first: dict[str, list[float]] = {"": [], "floor ": []}
        pair = {"": call, "floor ": floor} if floor is not call else {"": call}
        prompt = f"ticks {size.ticks} 0.002"
        for index in range(size.sequential):
            for label in sorted(pair, reverse=index % 2 == 1):  # alternate who goes first
                start = time.perf_counter()
                await pair[label].ask("json")
                latencies[label].append(time.perf_counter() - start)
        for index in range(size.streams):
            for label in sorted(pair, reverse=index % 2 == 1):
                first[label].append((await pair[label].stream(prompt, time.perf_counter()))[0])
        for label in pair:
            figures[f"{label}p50 ms"] = percentile(latencies[label], 0.5) * 1e3
            figures[f"{label}p99 ms"] = percentile(latencies[label], 0.99) * 1e3
            figures[f"{label}first chunk ms"] = percentile(first[label], 0.5) * 1e3

        async def client() -> None:
            for _ in range(size.per_client):
                await call.ask("json")

        total = size.clients * size.per_client
        cpu0, proxy0, runtime0 = (
            time.process_time(),
            cpu_seconds(proxy_pid),
            cpu_seconds(runtime_pid),
        )
        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(size.clients)))
        wall = time.perf_counter() - start
        figures["req/s"] = total / wall
        figures["load CPU ms/req"] = (time.process_time() - cpu0) / total * 1e3
        figures["proxy CPU ms/req"] = (cpu_seconds(proxy_pid) - proxy0) / total * 1e3
        figures["runtime CPU ms/req"] = (cpu_seconds(runtime_pid) - runtime0) / total * 1e3

        start = time.perf_counter()
        await asyncio.gather(*(call.ask("sleep 0.2", "done") for _ in range(size.fanout)))
        figures["fan-out s"] = time.perf_counter() - start

        streams = await asyncio.gather(
            *(call.stream(f"ticks {size.ticks} 0.02", time.perf_counter())
              for _ in range(size.concurrent_streams))
        )  # fmt: skip
        figures["chunks lost"] = sum(size.ticks - got[1] for got in streams)
        figures["load peak RSS MB"] = memory_mb(os.getpid())[1]
        await call.close()
        await floor.close()
        return figures


class Caller:
    """One request or stream to the system under test, checked: the floor calls the client, the
    proxies are called over HTTP (the same code for both)."""

    def __init__(self, system: str, url: str, session: aiohttp.ClientSession) -> None:
        self.system, self.url, self.session = system, url, session
        self.client: Any = None
        if system == FLOOR:
            from agentcore_bridge import AgentCoreClient

            env = os.environ
            self.client = AgentCoreClient(
                env["AGENTCORE_RUNTIME_ARN"], endpoint_url=env["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"],
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            )  # fmt: skip
        self.chat_url = f"{url}/v1/chat/completions"

    async def ask(self, prompt: str, expected: str = "ok") -> None:
        if self.client is not None:
            assert (await self.client.ainvoke(prompt)).text == expected
            return
        body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}]}
        async with self.session.post(self.chat_url, json=body) as response:
            answer = await response.json()
        assert answer["choices"][0]["message"]["content"] == expected, answer

    async def stream(self, prompt: str, start: float) -> tuple[float, int]:
        """(seconds to the first text chunk, timestamps received): each agent event carries
        one timestamp, so a chunk lost or merged away shows as a missing one."""
        first = float("nan")
        text: list[str] = []
        if self.client is not None:
            from agentcore_bridge import TextDelta

            async with await self.client.astream(prompt) as events:
                async for event in events:
                    if isinstance(event, TextDelta) and event.text:
                        if not text:
                            first = time.perf_counter() - start
                        text.append(event.text)
            return first, len("".join(text).split())
        body = {"model": MODEL, "stream": True,
                "messages": [{"role": "user", "content": prompt}]}  # fmt: skip
        async with self.session.post(self.chat_url, json=body) as response:
            assert response.status == 200, response.status
            async for line in response.content:
                if not line.startswith(b"data: {"):
                    continue
                choices = json.loads(line[6:]).get("choices")
                if choices and (piece := choices[0].get("delta", {}).get("content")):
                    if not text:
                        first = time.perf_counter() - start
                    text.append(piece)
        return first, len("".join(text).split())

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()


# -- the scenario -------------------------------------------------------------------------------


def scenario(rt: Any, smoke: bool) -> Any:
    """The proxy scenario as a ``run.Scenario`` (rows per system, notes, targets)."""
    import run

    size = SMOKE if smoke else FULL
    result = run.Scenario(
        f"Proxy: {size.clients} concurrent clients, {size.fanout} calls to a 200 ms agent, "
        f"streams of {size.ticks} events (direct call = floor; agentcore-proxy; LiteLLM Proxy)"
    )
    key = "sk-bench-" + secrets.token_hex(16)
    systems = [FLOOR, OURS]
    if (why := litellm_available(smoke)) is None:
        systems.append(LITELLM)
    else:
        result.notes.append(why)
    env = {**os.environ, **rt.env, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    loads: dict[str, list[dict[str, Any]]] = {}
    startups: dict[str, list[float]] = {}
    memory: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(config_yaml(rt.env, key))
        for system in systems[1:]:
            for _ in range(size.starts):
                server = ProxyServer(system, config, env)
                startups.setdefault(system, []).append(server.startup)
                server.stop()
        for _ in range(size.runs):
            for system in systems:
                server = None if system == FLOOR else ProxyServer(system, config, env)
                try:
                    pid = server.process.pid if server else os.getpid()
                    url = server.url if server else ""
                    try:
                        figures = run.child(rt, "--load-child", system, "--url", url,
                                            "--key", key, "--pid", str(pid),
                                            "--sizes", json.dumps(asdict(size)),
                                            script="proxy_bench.py")  # fmt: skip
                    except RuntimeError as exc:
                        if system != LITELLM:
                            raise  # ours and the floor must never fail
                        # The baseline failing under load is a finding, not a reason to lose
                        # the run: it is reported, and its row uses the runs that completed.
                        last = str(exc).strip().splitlines()[-1]
                        result.notes.append(f"{LITELLM}: one load run failed ({last}).")
                        continue
                    loads.setdefault(system, []).append(figures)
                    if server is not None:
                        memory[system] = memory_mb(server.process.pid)
                finally:
                    if server is not None:
                        server.stop()
    table = {system: {k: med([run_[k] for run_ in runs]) for k in runs[0]}
             for system, runs in loads.items()}  # fmt: skip
    floor = table[FLOOR]
    for system, figures in table.items():
        row: dict[str, Any] = {"system": system}
        row.update({k: figures[k] for k in ("p50 ms", "p99 ms")})
        paired = system != FLOOR  # its floor figures were measured alongside it
        row["p50 x floor"] = figures["p50 ms"] / (figures["floor p50 ms"] if paired else
                                                  figures["p50 ms"])  # fmt: skip
        row["req/s"] = figures["req/s"]
        row["x floor req/s"] = figures["req/s"] / floor["req/s"]
        row["CPU ms/req"] = (
            figures["load CPU ms/req"] if system == FLOOR else figures["proxy CPU ms/req"]
        )
        row["runtime CPU ms/req"] = figures["runtime CPU ms/req"]
        row["fan-out s"] = figures["fan-out s"]
        row["first chunk ms"] = figures["first chunk ms"]
        row["first chunk - floor ms"] = (
            figures["first chunk ms"] - figures["floor first chunk ms"] if paired else 0.0
        )
        row["chunks lost"] = figures["chunks lost"]
        rss = memory.get(system)
        row["RSS MB"] = rss[0] if rss else float("nan")
        row["peak RSS MB"] = rss[1] if rss else figures["load peak RSS MB"]
        row["start-up s"] = med(startups.get(system, []))
        result.rows.append(row)
    result.raw = {"proxy": table, "startups": startups}
    result.notes += [
        f"median of {size.runs} run(s) per system, systems interleaved; each load a fresh process "
        f"(20 + {size.clients} warm-up calls). Latency: {size.sequential} sequential requests "
        "(answered at once); a proxy's load process also calls the floor directly, alternating "
        "request by request, and its x floor and - floor columns compare with those paired "
        "calls (the floor row shows the floor measured alone). "
        f"req/s: {size.clients} clients x {size.per_client} requests. CPU "
        "ms/req: the floor's own process CPU per call (the core client's), else the proxy "
        "process's CPU per request (/proc/<pid>/stat) in that load. Fan-out: wall time of "
        f"{size.fanout} concurrent calls to a 200 ms agent. First chunk: median over "
        f"{size.streams} sequential streams whose first event is sent at once. Chunks lost: "
        f"over {size.concurrent_streams} concurrent streams of {size.ticks} events. RSS: the "
        "proxy process after the loads (peak: VmHWM; floor: the load process's peak). "
        f"Start-up: spawn to a ready /health/readiness, median of {size.starts}.",
        "Both proxies run one worker process and read the same config.yaml. LiteLLM Proxy "
        f"runs from its own environment ({LITELLM_PROJECT.relative_to(HERE.parent)}: "
        f"litellm[proxy] {_litellm_version()}), as its proxy extra cannot share this project's "
        "lock.",
    ]
    ours = table.get(OURS)
    if ours is not None:
        cpu_ratio = ours["proxy CPU ms/req"] / floor["load CPU ms/req"]
        result.targets += [
            (f"{OURS} CPU per request <= 3x the core client's per call", cpu_ratio <= 3,
             f"{cpu_ratio:.2f}x ({ours['proxy CPU ms/req']:.2f} vs {floor['load CPU ms/req']:.2f} ms)"),
            (f"{OURS} req/s at {size.clients} clients >= 0.9x the floor",
             ours["req/s"] >= 0.9 * floor["req/s"], f"{ours['req/s'] / floor['req/s']:.2f}x"),
            (f"{OURS} p50 latency <= 1.3x the floor",
             ours["p50 ms"] <= 1.3 * ours["floor p50 ms"],
             f"{ours['p50 ms'] / ours['floor p50 ms']:.2f}x ({ours['p50 ms']:.2f} vs "
             f"{ours['floor p50 ms']:.2f} ms)"),
            (f"{OURS} first chunk <= the floor's + 1 ms",
             ours["first chunk ms"] <= ours["floor first chunk ms"] + 1,
             f"+{ours['first chunk ms'] - ours['floor first chunk ms']:.2f} ms "
             f"({ours['first chunk ms']:.2f} vs {ours['floor first chunk ms']:.2f} ms)"),
            (f"{OURS} loses no chunk", ours["chunks lost"] == 0, f"{ours['chunks lost']:.0f}"),
        ]  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load-child", required=True)
    parser.add_argument("--url", default="")
    parser.add_argument("--key", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--sizes", required=True)
    args = parser.parse_args(argv)
    figures = load_child(args.load_child, args.url, args.key, args.pid, json.loads(args.sizes))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
