"""Benchmarks side by side with raw HTTP, boto3 and LiteLLM (issue 9), in one run against one
local runtime process (``agentcore-local --in-process`` serving ``bench_prompt_agent.py``).

    uv run --group bench python benchmarks/run.py [--write docs/benchmarks.md] [--smoke]

Scenarios: async fan-out, streaming hand-on latency, per-call CPU, memory on a 100 MB stream,
cold start, and the proxy beside a direct call and LiteLLM Proxy (``proxy_bench.py``). Each
prints a table (medians, ratios to the floor, client and server CPU); ``--write`` also writes
the Markdown report and ``docs/fanout.png``. Baselines that are not installed
(LiteLLM, matplotlib live only in the ``bench`` group) are skipped with a line saying so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import importlib.metadata
import importlib.util
import itertools
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# LiteLLM fetches its model cost map from GitHub at import unless told not to (we are offline).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import aiohttp  # noqa: E402
import urllib3  # noqa: E402
import yarl  # noqa: E402
from bench_prompt_agent import start_runtime  # noqa: E402
from client_figures import Raw  # noqa: E402

FLOOR_FANOUT = "raw aiohttp (floor)"
CLIENT_FANOUT = "AgentCoreClient.ainvoke"
CHAT_FANOUT = "ChatAgentCore.ainvoke"
LITELLM_FANOUT = "litellm.acompletion"
BOTO3_FANOUT = "boto3 in default executor"

FLOOR_STREAM = "raw aiohttp line reader (floor)"
FLOOR_CPU = "raw signed urllib3 (floor)"
CLIENT_CPU = "AgentCoreClient.invoke"
CHAT_CPU = "ChatAgentCore.invoke"
OTEL_CPU = "AgentCoreClient.invoke, OpenTelemetry SDK configured"
BOTO3_CPU = "boto3 invoke_agent_runtime"
LITELLM_CPU = "litellm.completion"

SLEEP = "sleep 0.2"


def installed(module: str) -> bool:
    found = importlib.util.find_spec(module) is not None
    if found and module == "litellm":
        # Its pool diagnostics log one line per waiting request at N = 1024.
        import logging

        logging.getLogger("LiteLLM").setLevel(logging.ERROR)
    return found


@dataclass
class Sizes:
    fanout: list[int]
    fanout_runs: int
    slow_max_runs_above_256: int  # boto3: runs at N > 256 (it takes N/threads x 0.2 s)
    ticks: int
    tick_interval: float
    tick_runs: int
    cpu_calls: int
    cpu_runs: int
    memory_bytes: int  # 0: skip
    cold_runs: int  # 0: skip


FULL = Sizes([1, 64, 256, 1024], 5, 1, 6, 0.5, 3, 1000, 3, 100_000_000, 5)
SMOKE = Sizes([1, 8], 1, 1, 3, 0.05, 1, 20, 1, 3_000_000, 1)


# -- the runtime and its CPU ------------------------------------------------------------------


class Runtime:
    """One ``agentcore-local`` process for the whole run; its CPU read from /proc."""

    def __init__(
        self, env: dict[str, str], pid: int, process: subprocess.Popen[str] | None
    ) -> None:
        self.env, self.pid, self.process = env, pid, process
        self.arn = self.env["AGENTCORE_RUNTIME_ARN"]
        self.endpoint = self.env["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"]
        self.key = self.env["AWS_ACCESS_KEY_ID"]
        self.secret = self.env["AWS_SECRET_ACCESS_KEY"]
        self.region = self.env["AWS_REGION"]
        self._tick = os.sysconf("SC_CLK_TCK")

    @classmethod
    def start(cls) -> Runtime:
        process, env = start_runtime()
        return cls(env, process.pid, process)

    @classmethod
    def from_env(cls) -> Runtime:
        """In a child process: the parent's runtime, from the environment ``child`` passes."""
        return cls(dict(os.environ), int(os.environ[SERVER_PID_ENV]), None)

    def cpu(self) -> float:
        """Server CPU seconds so far (user + system, children included)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return sum(int(x) for x in fields[11:15]) / self._tick

    def close(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    # clients

    def client(self) -> Any:
        from agentcore_bridge import AgentCoreClient

        return AgentCoreClient(
            self.arn, endpoint_url=self.endpoint,
            aws_access_key_id=self.key, aws_secret_access_key=self.secret,
        )  # fmt: skip

    def chat(self) -> Any:
        from langchain_agentcore import ChatAgentCore

        return ChatAgentCore(
            model=self.arn, endpoint_url=self.endpoint,
            aws_access_key_id=self.key, aws_secret_access_key=self.secret,
        )  # fmt: skip

    def boto3(self) -> Any:
        import boto3

        return boto3.client(
            "bedrock-agentcore", endpoint_url=self.endpoint, region_name=self.region,
            aws_access_key_id=self.key, aws_secret_access_key=self.secret,
        )  # fmt: skip

    def litellm_kwargs(self, prompt: str) -> dict[str, Any]:
        return {
            "model": f"bedrock/agentcore/{self.arn}",
            "messages": [{"role": "user", "content": prompt}],
            "aws_bedrock_runtime_endpoint": self.endpoint,
            "aws_access_key_id": self.key,
            "aws_secret_access_key": self.secret,
            "aws_region_name": self.region,
        }


@dataclass
class Scenario:
    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[tuple[str, bool | None, str]] = field(default_factory=list)  # text, met, figure
    raw: dict[str, Any] = field(default_factory=dict)


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def boto3_body(response: dict[str, Any]) -> bytes:
    body = response["response"]
    try:
        return body.read()
    finally:
        body.close()


# -- 1. async fan-out --------------------------------------------------------------------------


SERVER_PID_ENV = "BENCH_RUNTIME_PID"


def child(rt: Runtime, *args: str, script: str = "run.py") -> dict[str, float]:
    """``script *args`` in a fresh process pointed at ``rt``; its last stdout line, as JSON."""
    out = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        env={**os.environ, **rt.env, SERVER_PID_ENV: str(rt.pid)},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"run.py {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def fanout_call(rt: Runtime, *, chat: bool) -> tuple[Callable[[], Awaitable[None]], Any]:
    """One call of a fan-out (``ChatAgentCore.ainvoke`` or ``AgentCoreClient.ainvoke``, checked)
    and the core client to close afterwards."""
    if chat:
        model = rt.chat()

        async def one_chat() -> None:
            assert (await model.ainvoke(SLEEP)).content == "done"

        return one_chat, model.client
    client = rt.client()

    async def one() -> None:
        assert (await client.ainvoke(SLEEP)).text == "done"

    return one, client


def fanout_child(name: str, n: int) -> dict[str, float]:
    """Runs in a fresh process holding only ``name``'s client: 8 warm-up calls, then ``n``
    concurrent calls; wall time, this process's CPU and the runtime process's CPU."""
    rt = Runtime.from_env()
    boto = rt.boto3() if name == BOTO3_FANOUT else None

    async def main() -> dict[str, float]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            raw = Raw(rt.env)

            async def raw_one() -> None:
                headers, body = raw.sign({"prompt": SLEEP})
                url = yarl.URL(raw.url, encoded=True)
                async with session.post(url, data=body, headers=headers) as r:
                    assert r.status == 200, r.status
                    assert json.loads(await r.read()) == {"result": "done"}

            core: Any = None  # the core client to close, for our two clients
            if name in (CLIENT_FANOUT, CHAT_FANOUT):
                one, core = fanout_call(rt, chat=name == CHAT_FANOUT)
            elif name == LITELLM_FANOUT:
                import litellm

                async def one() -> None:
                    answer = await litellm.acompletion(**rt.litellm_kwargs(SLEEP))
                    assert answer.choices[0].message.content == "done"

            elif name == BOTO3_FANOUT:

                def boto3_call() -> None:
                    assert boto is not None
                    response = boto.invoke_agent_runtime(
                        agentRuntimeArn=rt.arn, payload=json.dumps({"prompt": SLEEP}).encode()
                    )
                    assert json.loads(boto3_body(response)) == {"result": "done"}

                async def one() -> None:
                    await asyncio.get_running_loop().run_in_executor(None, boto3_call)

            else:
                one = raw_one
            await asyncio.gather(*(one() for _ in range(8)))  # warm up: pools, first signatures
            server0, cpu0, start = rt.cpu(), time.process_time(), time.perf_counter()
            await asyncio.gather(*(one() for _ in range(n)))
            wall = time.perf_counter() - start
            figures = {
                "wall": wall,
                "cpu": time.process_time() - cpu0,
                "server": rt.cpu() - server0,
            }
            if core is not None:
                await core.aclose()
            return figures

    try:
        return asyncio.run(main())
    finally:
        if boto is not None:
            boto.close()


def fanout(rt: Runtime, sizes: Sizes) -> Scenario:
    scenario = Scenario("Async fan-out: N concurrent calls to a 200 ms async agent")
    names = [FLOOR_FANOUT, CLIENT_FANOUT, CHAT_FANOUT, BOTO3_FANOUT]
    if installed("litellm"):
        names.append(LITELLM_FANOUT)
    else:
        scenario.notes.append("LiteLLM is not installed: its baseline is skipped.")
    times: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    for n in sizes.fanout:
        for run in range(sizes.fanout_runs):
            for name in names:
                boto_cap = sizes.slow_max_runs_above_256 if n > 256 else 3
                if (name == BOTO3_FANOUT and run >= boto_cap) or (
                    name == LITELLM_FANOUT and run >= 3
                ):
                    continue
                figures = child(rt, "--fanout-child", name, "--n", str(n))
                times.setdefault((name, n), []).append(
                    (figures["wall"], figures["cpu"], figures["server"])
                )
    names = list(dict.fromkeys(name for name, _ in times))
    scenario.raw = {"sizes": sizes.fanout, "wall": {}}
    for name in names:
        for n in sizes.fanout:
            runs = times.get((name, n))
            if not runs:
                continue
            wall = med([r[0] for r in runs])
            floor = med([r[0] for r in times[(FLOOR_FANOUT, n)]])
            scenario.raw["wall"].setdefault(name, {})[n] = wall
            scenario.rows.append({
                "client": name, "N": n, "runs": len(runs), "wall s": wall,
                "x floor": wall / floor,
                "client CPU ms/call": med([r[1] for r in runs]) / n * 1e3,
                "server CPU ms/call": med([r[2] for r in runs]) / n * 1e3,
            })  # fmt: skip
    if sizes.slow_max_runs_above_256 < sizes.fanout_runs and any(n > 256 for n in sizes.fanout):
        scenario.notes.append(
            f"LiteLLM: at most 3 runs; boto3: at most 3, and {sizes.slow_max_runs_above_256} at "
            f"N > 256 (others: {sizes.fanout_runs}), to keep the run bounded."
        )
    scenario.notes.append(
        "Each run of each client is a fresh process holding only that client (8 warm-up calls, "
        "then the N calls): no client's imports or garbage tax another's (a full GC collection "
        "walks every object a process holds, and LiteLLM's import alone adds ~380,000 tracked objects)."
    )
    scenario.notes.append(
        f"boto3 runs in asyncio's default executor: min(32, cores + 4) = "
        f"{min(32, (os.cpu_count() or 1) + 4)} threads here."
    )
    wall = scenario.raw["wall"]
    for n in (256, 1024):
        if n not in wall.get(FLOOR_FANOUT, {}):
            continue
        floor = wall[FLOOR_FANOUT][n]
        for name in (CLIENT_FANOUT, CHAT_FANOUT):
            ratio = wall[name][n] / floor
            scenario.targets.append((f"{name} N={n} <= 1.2x floor", ratio <= 1.2, f"{ratio:.2f}x"))
        if n in wall.get(LITELLM_FANOUT, {}):
            speedup = wall[LITELLM_FANOUT][n] / wall[CLIENT_FANOUT][n]
            scenario.targets.append(
                (f"{CLIENT_FANOUT} N={n} >= 3x faster than LiteLLM", speedup >= 3,
                 f"{speedup:.2f}x")
            )  # fmt: skip
    return scenario


# -- 2. streaming latency ----------------------------------------------------------------------


def parse_times(text: str, now: float, out: list[tuple[float, float]]) -> None:
    for word in text.split():
        out.append((now, float(word)))


def sse_text(line: bytes | str) -> str | None:
    if isinstance(line, bytes):
        line = line.decode()
    line = line.strip()
    if not line.startswith("data:"):
        return None
    event = json.loads(line[5:])
    delta = event.get("event", {}).get("contentBlockDelta")
    return delta["delta"]["text"] if delta else None


def latency(rt: Runtime, sizes: Sizes) -> Scenario:
    scenario = Scenario(
        f"Streaming hand-on latency: {sizes.ticks} events, first at once, then one every "
        f"{sizes.tick_interval} s (agent send time -> event handed on)"
    )
    prompt = f"ticks {sizes.ticks} {sizes.tick_interval}"
    raw = Raw(rt.env)
    client = rt.client()
    chat = rt.chat()
    boto = rt.boto3()
    have_litellm = installed("litellm")
    if not have_litellm:
        scenario.notes.append("LiteLLM is not installed: its baseline is skipped.")

    async def raw_floor() -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        headers, body = raw.sign({"prompt": prompt})
        async with (
            aiohttp.ClientSession() as session,
            session.post(yarl.URL(raw.url, encoded=True), data=body, headers=headers) as r,
        ):
            async for line in r.content:  # aiohttp's StreamReader yields line by line
                if (text := sse_text(line)) is not None:
                    parse_times(text, time.time(), out)
        return out

    def client_stream() -> list[tuple[float, float]]:
        from agentcore_bridge import TextDelta

        out: list[tuple[float, float]] = []
        with client.stream(prompt) as events:
            for event in events:
                if isinstance(event, TextDelta):
                    parse_times(event.text, time.time(), out)
        return out

    async def client_astream() -> list[tuple[float, float]]:
        from agentcore_bridge import TextDelta

        out: list[tuple[float, float]] = []
        async with await client.astream(prompt) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    parse_times(event.text, time.time(), out)
        await client.aclose()
        return out

    async def chat_astream() -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        async for chunk in chat.astream(prompt):
            if chunk.content:
                parse_times(chunk.content, time.time(), out)
        await chat.client.aclose()
        return out

    def boto3_lines() -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        response = boto.invoke_agent_runtime(
            agentRuntimeArn=rt.arn, payload=json.dumps({"prompt": prompt}).encode()
        )
        try:
            for line in response["response"].iter_lines():
                if (text := sse_text(line)) is not None:
                    parse_times(text, time.time(), out)
        finally:
            response["response"].close()
        return out

    async def litellm_stream() -> list[tuple[float, float]]:
        import litellm

        out: list[tuple[float, float]] = []
        stream = await litellm.acompletion(stream=True, **rt.litellm_kwargs(prompt))
        async for chunk in stream:
            if chunk.choices and (text := chunk.choices[0].delta.content):
                parse_times(text, time.time(), out)
        return out

    clients: dict[str, Callable[[], list[tuple[float, float]]]] = {
        FLOOR_STREAM: lambda: asyncio.run(raw_floor()),
        "AgentCoreClient.stream": client_stream,
        "AgentCoreClient.astream": lambda: asyncio.run(client_astream()),
        "ChatAgentCore.astream": lambda: asyncio.run(chat_astream()),
        "boto3 iter_lines()": boto3_lines,
    }
    if have_litellm:
        clients["litellm.acompletion(stream=True)"] = lambda: asyncio.run(litellm_stream())
    results: dict[str, list[list[tuple[float, float]]]] = {}
    cpu: dict[str, list[tuple[float, float]]] = {}
    try:
        for _ in range(sizes.tick_runs):
            for name, run in clients.items():
                server0, cpu0 = rt.cpu(), time.process_time()
                got = run()
                cpu.setdefault(name, []).append((time.process_time() - cpu0, rt.cpu() - server0))
                assert len(got) == sizes.ticks, (name, len(got))
                results.setdefault(name, []).append(got)
    finally:
        client.close()
        boto.close()
    gap = sizes.tick_interval / 4
    for name, runs in results.items():
        lat = [(now - sent) * 1e3 for got in runs for now, sent in got]
        # Deliveries: events whose arrival is more than a quarter interval after the previous
        # one's arrived separately; events handed on together count as one delivery.
        separate = [1 + sum(b[0] - a[0] > gap for a, b in itertools.pairwise(got)) for got in runs]
        scenario.rows.append({
            "client": name, "events": sizes.ticks, "deliveries": min(separate),
            "median ms": med(lat), "max ms": max(lat),
            "client CPU ms/run": med([c[0] for c in cpu[name]]) * 1e3,
            "server CPU ms/run": med([c[1] for c in cpu[name]]) * 1e3,
        })  # fmt: skip
    scenario.notes.append(
        f"{sizes.tick_runs} run(s) per client; median and max over all events of all runs; "
        "deliveries = events that reached the caller at distinct moments (min over runs)."
    )
    by_name = {row["client"]: row for row in scenario.rows}
    for name in ("AgentCoreClient.stream", "AgentCoreClient.astream", "ChatAgentCore.astream"):
        row = by_name[name]
        scenario.targets.append(
            (f"{name} < 10 ms per event", row["median ms"] < 10,
             f"median {row['median ms']:.2f} ms, max {row['max ms']:.2f} ms")
        )  # fmt: skip
        scenario.targets.append(
            (f"{name} hands on every event separately", row["deliveries"] == sizes.ticks,
             f"{row['deliveries']}/{sizes.ticks}")
        )  # fmt: skip
    return scenario


# -- 3. per-call CPU ---------------------------------------------------------------------------


def cpu_child(name: str, n: int) -> dict[str, float]:
    """Runs in a fresh process holding only ``name``'s client: 20 warm-up calls, then ``n``
    sequential ones; per call: this process's CPU, wall time, the runtime process's CPU."""
    rt = Runtime.from_env()
    payload = json.dumps({"prompt": "json"}).encode()
    closers: list[Callable[[], None]] = []
    if name == FLOOR_CPU:
        raw, pool = Raw(rt.env), urllib3.PoolManager()
        closers.append(pool.clear)

        def one() -> None:
            headers, body = raw.sign({"prompt": "json"})
            response = pool.urlopen("POST", raw.url, body=body, headers=headers)
            assert json.loads(response.data) == {"result": "ok"}

    elif name == CLIENT_CPU:
        client = rt.client()
        closers.append(client.close)

        def one() -> None:
            assert client.invoke("json").text == "ok"

    elif name == OTEL_CPU:
        # A configured SDK (spans to a no-op exporter, metrics to an in-memory reader): what a
        # call costs when every call is a span and three metric recordings.
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(SpanExporter()))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
        client = rt.client()
        closers.append(client.close)

        def one() -> None:
            assert client.invoke("json").text == "ok"

    elif name == CHAT_CPU:
        chat = rt.chat()

        def one() -> None:
            assert chat.invoke("json").content == "ok"

    elif name == BOTO3_CPU:
        boto = rt.boto3()
        closers.append(boto.close)

        def one() -> None:
            response = boto.invoke_agent_runtime(agentRuntimeArn=rt.arn, payload=payload)
            assert json.loads(boto3_body(response)) == {"result": "ok"}

    else:
        import litellm

        def one() -> None:
            answer = litellm.completion(**rt.litellm_kwargs("json"))
            assert answer.choices[0].message.content == "ok"

    try:
        for _ in range(20):
            one()
        server0, cpu0, start = rt.cpu(), time.process_time(), time.perf_counter()
        for _ in range(n):
            one()
        wall = time.perf_counter() - start
        return {"cpu": (time.process_time() - cpu0) / n, "wall": wall / n,
                "server": (rt.cpu() - server0) / n}  # fmt: skip
    finally:
        for close in closers:
            close()


def cpu_per_call(rt: Runtime, sizes: Sizes) -> Scenario:
    scenario = Scenario(
        f"Per-call CPU: {sizes.cpu_calls} sequential calls to an agent that answers at once"
    )
    names = [FLOOR_CPU, CLIENT_CPU, OTEL_CPU, CHAT_CPU, BOTO3_CPU]
    if installed("litellm"):
        names.append(LITELLM_CPU)
    else:
        scenario.notes.append("LiteLLM is not installed: its baseline is skipped.")
    samples: dict[str, list[tuple[float, float, float]]] = {}
    for _ in range(sizes.cpu_runs):
        for name in names:
            figures = child(rt, "--cpu-child", name, "--n", str(sizes.cpu_calls))
            samples.setdefault(name, []).append(
                (figures["cpu"], figures["wall"], figures["server"])
            )
    floor_cpu = med([s[0] for s in samples[FLOOR_CPU]])
    values = {}
    for name, runs in samples.items():
        values[name] = value = med([s[0] for s in runs])
        scenario.rows.append({
            "client": name, "client CPU ms/call": value * 1e3, "x floor": value / floor_cpu,
            "wall ms/call": med([s[1] for s in runs]) * 1e3,
            "server CPU ms/call": med([s[2] for s in runs]) * 1e3,
        })  # fmt: skip
    scenario.notes.append(
        f"median of {sizes.cpu_runs} run(s), runs interleaved; each run a fresh process holding "
        "only that client, 20 warm-up calls first."
    )
    ratio = values[CLIENT_CPU] / floor_cpu
    scenario.targets.append((f"{CLIENT_CPU} <= 1.3x floor", ratio <= 1.3, f"{ratio:.2f}x"))
    scenario.targets.append(
        (f"{CLIENT_CPU} below boto3", values[CLIENT_CPU] < values[BOTO3_CPU],
         f"{values[CLIENT_CPU] * 1e3:.2f} vs {values[BOTO3_CPU] * 1e3:.2f} ms")
    )  # fmt: skip
    extra = (values[CHAT_CPU] - values[CLIENT_CPU]) * 1e3
    scenario.targets.append((f"{CHAT_CPU} <= client + 0.5 ms", extra <= 0.5, f"+{extra:.2f} ms"))
    otel = (values[OTEL_CPU] - values[CLIENT_CPU]) * 1e3
    scenario.notes.append(
        f"With an OpenTelemetry SDK configured, a call costs {otel:+.3f} ms of client CPU more "
        "(one span, three metric recordings); without one, the telemetry code reads "
        "sys.modules (and, when OpenTelemetry's API is imported, its two provider globals and "
        "two environment variables) per call."
    )
    if PREVIOUS_REPORT is not None:
        previous = previous_ratio(PREVIOUS_REPORT, CLIENT_CPU)
        if previous is not None:
            now = values[CLIENT_CPU] / floor_cpu
            scenario.targets.append((
                f"{CLIENT_CPU} (no OpenTelemetry provider) x floor within 10% of the previous "
                "report's", now <= previous * 1.1, f"{now:.3f}x now, {previous:.3f}x before",
            ))  # fmt: skip
    return scenario


PREVIOUS_REPORT: str | None = None
"""The report being replaced (``--write``'s old content), for comparisons with its figures."""


def previous_ratio(report: str, client: str) -> float | None:
    """The ``x floor`` figure of ``client`` in the previous report's per-call CPU table."""
    section = report.split("## Per-call CPU", 1)[-1].split("\n## ", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == client and len(cells) > 2:
            try:
                return float(cells[2])
            except ValueError:
                return None
    return None


# -- 4. memory ---------------------------------------------------------------------------------


MEMORY_KINDS = ("raw aiohttp (floor)", "AgentCoreClient.astream", "AgentCoreClient.stream")


def memory_child(kind: str, total: int) -> dict[str, float]:
    """Runs in a fresh process: peak RSS before and after streaming ``total`` bytes."""
    rt = Runtime.from_env()

    def peak_mb() -> float:
        # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over execve, so a child
        # would report its (large) parent's peak.
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    async def raw_read(prompt: str) -> int:
        raw = Raw(rt.env)
        headers, body = raw.sign({"prompt": prompt})
        size = 0
        async with (
            aiohttp.ClientSession() as session,
            session.post(yarl.URL(raw.url, encoded=True), data=body, headers=headers) as r,
        ):
            async for line in r.content:
                if (text := sse_text(line)) is not None:
                    size += len(text)
        return size

    async def client_async(client: Any, prompt: str) -> int:
        from agentcore_bridge import TextDelta

        size = 0
        async with await client.astream(prompt) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    size += len(event.text)
        await client.aclose()
        return size

    def client_sync(client: Any, prompt: str) -> int:
        from agentcore_bridge import TextDelta

        size = 0
        with client.stream(prompt) as events:
            for event in events:
                if isinstance(event, TextDelta):
                    size += len(event.text)
        return size

    def read(prompt: str) -> int:
        if kind == MEMORY_KINDS[0]:
            return asyncio.run(raw_read(prompt))
        client = rt.client()
        try:
            if kind == MEMORY_KINDS[1]:
                return asyncio.run(client_async(client, prompt))
            return client_sync(client, prompt)
        finally:
            client.close()

    assert read("big 2000000 65536") == 2_000_000  # warm up: imports, buffers
    base = peak_mb()
    start = time.perf_counter()
    got = read(f"big {total} 65536")
    wall = time.perf_counter() - start
    assert got == total, got
    return {"base MB": base, "peak MB": peak_mb(), "wall s": wall}


def memory(rt: Runtime, sizes: Sizes) -> Scenario:
    scenario = Scenario(
        f"Memory: streaming a {sizes.memory_bytes / 1e6:.0f} MB answer in 64 KB events "
        "(peak RSS of a fresh client process)"
    )
    for kind in MEMORY_KINDS:
        server0 = rt.cpu()
        figures = child(rt, "--memory-child", kind, "--memory-bytes", str(sizes.memory_bytes))
        rise = figures["peak MB"] - figures["base MB"]
        scenario.rows.append({
            "client": kind, "baseline peak MB": figures["base MB"], "peak MB": figures["peak MB"],
            "rise MB": rise, "wall s": figures["wall s"], "server CPU s": rt.cpu() - server0,
        })  # fmt: skip
        if kind != MEMORY_KINDS[0]:
            scenario.targets.append(
                (f"{kind} peak RSS rise <= 32 MB", rise <= 32, f"{rise:.1f} MB")
            )
    server0 = rt.cpu()
    figures = proxy_memory(rt, sizes.memory_bytes)
    rise = figures["peak MB"] - figures["base MB"]
    scenario.rows.append({
        "client": PROXY_MEMORY, "baseline peak MB": figures["base MB"],
        "peak MB": figures["peak MB"], "rise MB": rise, "wall s": figures["wall s"],
        "server CPU s": rt.cpu() - server0,
    })  # fmt: skip
    scenario.targets.append(
        (f"{PROXY_MEMORY} peak RSS rise <= 32 MB", rise <= 32, f"{rise:.1f} MB")
    )
    scenario.notes.append(
        "One run per client. Client rows: peak RSS (VmHWM) of a fresh client process after a "
        "2 MB warm-up stream, then after the big one. Proxy row: the `agentcore-proxy` process's "
        "peak RSS (it streams the answer from the runtime to an aiohttp reader in the benchmark "
        "process as OpenAI chunks). ChatAgentCore.astream accumulates chunks by design and is not "
        "measured."
    )
    return scenario


PROXY_MEMORY = "agentcore-proxy (stream: true)"


def proxy_memory(rt: Runtime, total: int) -> dict[str, float]:
    """Peak RSS of an ``agentcore-proxy`` process before and after it streams ``total`` bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(
            "model_list:\n  - model_name: bench\n    litellm_params:\n"
            f"      model: bedrock/agentcore/{rt.arn}\n      aws_region_name: {rt.region}\n"
        )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        proxy = subprocess.Popen(
            [sys.executable, "-m", "agentcore_bridge.proxy", "--config", str(config),
             "--port", str(port), "--allow-open"],
            env={**os.environ, **rt.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            return asyncio.run(_stream_through_proxy(f"http://127.0.0.1:{port}", proxy, total))
        finally:
            proxy.terminate()
            proxy.wait(10)


async def _stream_through_proxy(
    url: str, proxy: subprocess.Popen[bytes], total: int
) -> dict[str, float]:
    def peak_mb() -> float:
        for line in Path(f"/proc/{proxy.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM for the proxy process")

    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url + "/health") as ready:
                    if ready.status == 200:
                        break
            if proxy.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("agentcore-proxy did not start")
            await asyncio.sleep(0.1)

        async def read(prompt: str) -> int:
            body = {"model": "bench", "stream": True,
                    "messages": [{"role": "user", "content": prompt}]}  # fmt: skip
            size = 0
            async with session.post(url + "/v1/chat/completions", json=body) as response:
                response.raise_for_status()
                async for line in response.content:
                    if line.startswith(b"data: {"):
                        choices = json.loads(line[6:])["choices"]
                        if choices and (text := choices[0]["delta"].get("content")):
                            size += len(text)
            return size

        assert await read("big 2000000 65536") == 2_000_000  # warm up
        base = peak_mb()
        start = time.perf_counter()
        got = await read(f"big {total} 65536")
        wall = time.perf_counter() - start
        assert got == total, got
        return {"base MB": base, "peak MB": peak_mb(), "wall s": wall}


# -- 5. cold start -----------------------------------------------------------------------------


LITELLM_COLD = "litellm: import, one completion"
LANGCHAIN_IMPORT = "langchain_core's BaseChatModel: import only (any LangChain chat model)"
COLD = {
    "python -c pass (interpreter only)": "pass",
    LANGCHAIN_IMPORT: "from langchain_core.language_models import BaseChatModel",
    "ChatAgentCore: import, build, one call": (
        "import os\nfrom langchain_agentcore import ChatAgentCore\n"
        "m = ChatAgentCore(model=os.environ['AGENTCORE_RUNTIME_ARN'],"
        " endpoint_url=os.environ['AWS_ENDPOINT_URL_BEDROCK_AGENTCORE'])\n"
        "assert m.invoke('json').content == 'ok'"
    ),
    "AgentCoreClient: import, build, one call": (
        "import os\nfrom agentcore_bridge import AgentCoreClient\n"
        "c = AgentCoreClient(os.environ['AGENTCORE_RUNTIME_ARN'])\n"
        "assert c.invoke('json').text == 'ok'\nc.close()"
    ),
    "boto3: import, client, invoke, read": (
        "import os, boto3\nc = boto3.client('bedrock-agentcore')\n"
        "r = c.invoke_agent_runtime(agentRuntimeArn=os.environ['AGENTCORE_RUNTIME_ARN'],"
        ' payload=b\'{"prompt": "json"}\')\n'
        "assert b'ok' in r['response'].read()"
    ),
    LITELLM_COLD: (
        "import os, litellm\n"
        "r = litellm.completion(model='bedrock/agentcore/' + os.environ['AGENTCORE_RUNTIME_ARN'],"
        " messages=[{'role': 'user', 'content': 'json'}],"
        " aws_bedrock_runtime_endpoint=os.environ['AWS_ENDPOINT_URL_BEDROCK_AGENTCORE'])\n"
        "assert r.choices[0].message.content == 'ok'"
    ),
}


def cold_start(rt: Runtime, sizes: Sizes) -> Scenario:
    scenario = Scenario("Cold start: a fresh process that imports, builds and completes one call")
    env = {**os.environ, **rt.env}
    cases = dict(COLD)
    if not installed("litellm"):
        del cases[LITELLM_COLD]
        scenario.notes.append("LiteLLM is not installed: its baseline is skipped.")
    walls: dict[str, list[float]] = {}
    for _ in range(sizes.cold_runs):
        for name, code in cases.items():
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", code], env=env, check=True, timeout=120, capture_output=True
            )
            walls.setdefault(name, []).append(time.perf_counter() - start)
    boto = med(walls["boto3: import, client, invoke, read"])
    for name, values in walls.items():
        scenario.rows.append(
            {
                "client": name,
                "median s": med(values),
                "min s": min(values),
                "x boto3": med(values) / boto,
            }
        )
    scenario.notes.append(f"wall time of the whole process, median of {sizes.cold_runs} runs.")
    ratio = med(walls["ChatAgentCore: import, build, one call"]) / boto
    floor = med(walls[LANGCHAIN_IMPORT]) / boto
    scenario.targets.append((
        "ChatAgentCore cold start <= 1.2x boto3", ratio <= 1.2,
        f"{ratio:.2f}x (importing langchain_core's BaseChatModel alone: {floor:.2f}x)",
    ))  # fmt: skip
    return scenario


# -- running and reporting ---------------------------------------------------------------------


def proxy(rt: Runtime, sizes: Sizes) -> Scenario:
    """The proxy beside a direct call and LiteLLM Proxy (its own module: proxy_bench.py)."""
    import proxy_bench

    scenario: Scenario = proxy_bench.scenario(rt, smoke=sizes == SMOKE)
    return scenario


STEPS = ("fanout", "latency", "cpu", "memory", "cold", "proxy")


def run_all(
    sizes: Sizes, *, log: Callable[[str], None] = print, only: Sequence[str] = STEPS
) -> list[Scenario]:
    rt = Runtime.start()
    scenarios: list[Scenario] = []
    try:
        steps_in_order = (fanout, latency, cpu_per_call, memory, cold_start, proxy)
        chosen = dict(zip(STEPS, steps_in_order, strict=True))
        if not sizes.memory_bytes:
            del chosen["memory"]
        if not sizes.cold_runs:
            del chosen["cold"]
        steps = [step for name, step in chosen.items() if name in only]
        for step in steps:
            start = time.perf_counter()
            scenario = step(rt, sizes)
            scenario.notes.append(f"scenario took {time.perf_counter() - start:.0f} s.")
            scenarios.append(scenario)
            log(render_text(scenario))
    finally:
        rt.close()
    return scenarios


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "n/a"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> list[str]:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(c, "")) for c in columns) + " |")
    return lines


def render_text(scenario: Scenario) -> str:
    lines = [f"\n## {scenario.name} ({os.cpu_count()} cores)", *table(scenario.rows)]
    lines += [f"  note: {note}" for note in scenario.notes]
    for text, met, figure in scenario.targets:
        lines.append(f"  target {'MET   ' if met else 'MISSED'} {text}: {figure}")
    return "\n".join(lines)


def versions() -> str:
    names = ["agentcore-integrations", "aiohttp", "urllib3", "boto3", "botocore", "langchain-core"]
    names += ["litellm", "httpx", "matplotlib"]
    found = []
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    return f"Python {platform.python_version()}; " + ", ".join(found)


def render_markdown(scenarios: list[Scenario], sizes: Sizes, plot: str | None) -> str:
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`benchmarks/run.py`); every figure below was measured side by side "
        "in one run against one local runtime process (`agentcore-local --in-process` serving "
        "`benchmarks/bench_prompt_agent.py`, an `async def` agent) on 127.0.0.1. Fan-out, "
        "per-call CPU and memory run each client in a fresh process of its own, so client CPU "
        "(`time.process_time`) is that client's alone and no client's imports or garbage tax "
        "another's; server CPU is the runtime process's (`/proc/<pid>/stat`), which shares the "
        "machine. Only same-run ratios count. On a 2-core machine the runtime process (Python, "
        "one event loop) is the bottleneck of the fan-out at N >= 256, and run-to-run spread "
        "there is several percent: read those ratios with that in mind. What limits the "
        "targets that are missed, with profiles: [performance.md](performance.md).",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {os.cpu_count()} cores, {platform.platform()}",
        f"- versions: {versions()}",
        f"- sizes: fan-out N={sizes.fanout} x {sizes.fanout_runs} runs; {sizes.ticks} ticks every "
        f"{sizes.tick_interval} s x {sizes.tick_runs} runs; {sizes.cpu_calls} calls x "
        f"{sizes.cpu_runs} runs for CPU; memory {sizes.memory_bytes / 1e6:.0f} MB; cold start "
        f"x {sizes.cold_runs}",
        "",
        "## Targets",
        "",
        "| target | met | figure |",
        "|---|---|---|",
    ]
    for scenario in scenarios:
        for text, met, figure in scenario.targets:
            out.append(f"| {text} | {'yes' if met else '**no**'} | {figure} |")
    for scenario in scenarios:
        out += ["", f"## {scenario.name}", "", *table(scenario.rows), ""]
        out += [f"- {note}" for note in scenario.notes]
        if plot and scenario.raw.get("wall"):
            out += ["", f"![fan-out: wall time against N]({plot})"]
    return "\n".join(out) + "\n"


def plot_fanout(scenario: Scenario, path: Path) -> bool:
    if not installed("matplotlib"):
        print("matplotlib is not installed: no fan-out plot.")
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in scenario.raw["wall"].items():
        ns = sorted(points)
        ax.plot(ns, [points[n] for n in ns], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("N concurrent calls (200 ms agent)")
    ax.set_ylabel("wall time, s (median)")
    ax.set_title(f"Async fan-out ({os.cpu_count()} cores, one local runtime process)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", metavar="PATH", help="write the Markdown report (and fanout.png)"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, no timing claims")
    parser.add_argument(
        "--only", nargs="+", choices=STEPS, default=STEPS,
        help="run only these scenarios (the report then holds only them)",
    )  # fmt: skip
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--fanout-child", help=argparse.SUPPRESS)
    parser.add_argument("--cpu-child", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument(
        "--memory-bytes", type=int, default=FULL.memory_bytes, help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.memory_bytes)))
        return 0
    if args.cpu_child:
        print(json.dumps(cpu_child(args.cpu_child, args.n)))
        return 0
    if args.fanout_child:
        print(json.dumps(fanout_child(args.fanout_child, args.n)))
        return 0
    sizes = SMOKE if args.smoke else FULL
    global PREVIOUS_REPORT
    if args.write and Path(args.write).exists() and not args.smoke:
        PREVIOUS_REPORT = Path(args.write).read_text()
    print(f"machine: {os.cpu_count()} cores; {versions()}")
    for module, what in (("litellm", "LiteLLM baselines"), ("matplotlib", "the fan-out plot")):
        if not installed(module):
            print(f"{module} is not installed: {what} skipped (uv sync --group bench)")
    scenarios = run_all(sizes, only=args.only)
    if args.write:
        path = Path(args.write)
        path.parent.mkdir(parents=True, exist_ok=True)
        png = path.parent / "fanout.png"
        plotted = "fanout" in args.only and plot_fanout(scenarios[0], png)
        path.write_text(render_markdown(scenarios, sizes, png.name if plotted else None))
        print(f"\nwrote {path}" + (f" and {png}" if plotted else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
