"""Where ``agentcore-proxy``'s CPU per request goes: py-spy sampling the proxy process while 64
clients send non-streamed requests (and, separately, streams), summarised per area of the code.

    uv run python benchmarks/profile_proxy.py [--out docs/profiles] [--seconds 8]

py-spy must be on PATH (``uv tool install py-spy``). Writes ``proxy_json.txt`` and
``proxy_stream.txt``: the proxy's measured CPU per request during the sampled load, the share of
samples (and so of that CPU) in each area (uvicorn's server, Starlette, the proxy's own code, the
core client's preparation, signing, aiohttp, decoding, JSON, logging, pydantic, the event loop),
then the functions with the most samples of their own and in all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import aiohttp  # noqa: E402
from proxy_bench import OURS, ProxyServer, config_yaml, cpu_seconds  # noqa: E402
from run import Runtime  # noqa: E402

KEY = "sk-profile-0123456789abcdef0123456789"

# Areas, first match wins (on any frame's file path or function name, innermost first).
AREAS = (
    ("JSON encode/decode", ("json/encoder.py", "json/decoder.py", "json/__init__.py")),
    ("logging (access log)", ("logging/__init__.py",)),
    ("pydantic models (chunks, completions)", ("pydantic/", "pydantic_core")),
    ("signing (SigV4)", ("agentcore_bridge/signing.py",)),
    ("decoding the agent's answer", ("agentcore_bridge/decoding/",)),
    ("aiohttp client (to the runtime)", ("aiohttp/", "yarl/", "multidict/")),
    ("core client: prepare, session store, retries",
     ("agentcore_bridge/client.py", "agentcore_bridge/payloads.py",
      "agentcore_bridge/session_store.py", "agentcore_bridge/transport",
      "agentcore_bridge/results.py", "agentcore_bridge/completions.py",
      "agentcore_bridge/sessions.py", "agentcore_bridge/telemetry.py",
      "agentcore_bridge/targets.py")),
    ("the proxy's own code", ("agentcore_bridge/proxy/",)),
    ("Starlette (routing, request, responses)", ("starlette/",)),
    ("uvicorn + httptools (HTTP server)", ("uvicorn/", "httptools")),
    ("asyncio event loop, sockets", ("asyncio/", "selectors.py", "socket.py", "ssl.py")),
)  # fmt: skip


def area_of(frames: list[str]) -> str:
    for frame in reversed(frames):  # innermost first
        for name, needles in AREAS:
            if any(needle in frame for needle in needles):
                return name
    return "other"


def _function(frame: str) -> str:
    """``name (path:line)`` -> ``name (path)``: a function's samples whatever the line."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def summarise(raw: Path, cpu_ms: float, requests: int, title: str) -> str:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = tuple(f for f in stack.split(";") if not f.startswith(("process ", "thread ")))
            stacks[frames] += int(count)
    total = sum(stacks.values()) or 1
    areas: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks.items():
        areas[area_of(list(frames))] += count
        functions = [_function(frame) for frame in frames]
        if functions:
            own[functions[-1]] += count
        for function in set(functions):
            inclusive[function] += count
    lines = [
        title,
        f"proxy CPU during the sampled load: {cpu_ms:.3f} ms per request ({requests} requests); "
        f"{total} samples",
        "",
        "area                                          share   ms/request",
    ]
    for name, count in areas.most_common():
        share = count / total
        lines.append(f"{name:44s} {share:6.1%}   {share * cpu_ms:.3f}")
    lines += ["", "functions with the most samples of their own:"]
    lines += [f"{count / total:6.1%}  {frame}" for frame, count in own.most_common(30)]
    lines += ["", "functions with the most samples in all (callees included):"]
    lines += [f"{count / total:6.1%}  {frame}" for frame, count in inclusive.most_common(45)]
    return "\n".join(lines) + "\n"


async def load(url: str, stream: bool, seconds: float, clients: int = 64) -> int:
    body = {"model": "bench", "messages": [{"role": "user", "content": "ticks 5 0" if stream
                                            else "json"}], "stream": stream}  # fmt: skip
    done = 0
    stop_at = time.monotonic() + seconds
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), headers={"Authorization": f"Bearer {KEY}"}
    ) as session:

        async def client() -> None:
            nonlocal done
            while time.monotonic() < stop_at:
                async with session.post(f"{url}/v1/chat/completions", json=body) as response:
                    await response.read()
                    assert response.status == 200
                done += 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "profiles"))
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--raw-dir", help="keep py-spy's raw stacks there")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path.home() / ".local" / "bin" / "py-spy")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rt = Runtime.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.yaml"
            config.write_text(config_yaml(rt.env, KEY))
            env = {**os.environ, **rt.env}
            for stream in (False, True):
                server = ProxyServer(OURS, config, env)
                try:
                    asyncio.run(load(server.url, stream, 2))  # warm up
                    raw = Path(tmp) / "raw.txt"
                    spy = subprocess.Popen(
                        [py_spy, "record", "--pid", str(server.process.pid), "--rate", "500",
                         "--format", "raw", "--output", str(raw), "--nonblocking",
                         "--duration", str(int(args.seconds) + 1)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                    time.sleep(1)
                    cpu0 = cpu_seconds(server.process.pid)
                    requests = asyncio.run(load(server.url, stream, args.seconds - 1))
                    cpu_ms = (cpu_seconds(server.process.pid) - cpu0) / requests * 1e3
                    spy.wait(60)
                    kind = "stream" if stream else "json"
                    title = (
                        f"agentcore-proxy, 64 clients, {'streams of 5 events' if stream else 'non-streamed answers'}"
                        f" (py-spy 500 Hz, {args.seconds:g} s; {os.cpu_count()} cores)"
                    )
                    text = summarise(raw, cpu_ms, requests, title)
                    if args.raw_dir:
                        shutil.copy(raw, Path(args.raw_dir) / f"proxy_{kind}.raw")
                    (out / f"proxy_{kind}.txt").write_text(text)
                    print(text)
                finally:
                    server.stop()
    finally:
        rt.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
