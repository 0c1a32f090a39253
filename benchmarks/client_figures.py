"""Figures for the transport issue, measured side by side in one run against the local runtime
(served by a separate process, so client CPU is the client's own):

* async fan-out: N concurrent ``AgentCoreClient.ainvoke`` calls to a 200 ms ``async def`` agent,
  next to the floor, a raw signed aiohttp POST, for N = 256 and 1024 (median of 3 runs);
* first-event latency: agent send time -> the moment ``stream``/``astream`` hands the event on;
* sync per-call CPU: ``AgentCoreClient.invoke`` next to a raw signed urllib3 POST.

    uv run python benchmarks/client_figures.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
import urllib3
import yarl
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_agents import start_runtime

from agentcore_bridge import AgentCoreClient, TextDelta


class Raw:
    """The floor: a SigV4-signed POST with no client library around it."""

    def __init__(self, env: dict[str, str]) -> None:
        arn = env["AGENTCORE_RUNTIME_ARN"]
        self.url = f"{env['AWS_ENDPOINT_URL_BEDROCK_AGENTCORE']}/runtimes/{quote(arn, safe='')}/invocations"
        self.creds = Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        self.region = env["AWS_REGION"]

    def sign(self, payload: dict) -> tuple[dict[str, str], bytes]:
        body = json.dumps(payload).encode()
        request = AWSRequest(
            "POST", self.url, data=body, headers={"Content-Type": "application/json"}
        )
        SigV4Auth(self.creds, "bedrock-agentcore", self.region).add_auth(request)
        return dict(request.headers.items()), body


async def fan_out_client(client: AgentCoreClient, n: int) -> float:
    start = time.perf_counter()
    results = await asyncio.gather(
        *(client.ainvoke(payload={"mode": "sleep", "seconds": 0.2}) for _ in range(n))
    )
    assert all(r.text == "done" for r in results)
    return time.perf_counter() - start


async def fan_out_raw(raw: Raw, session: aiohttp.ClientSession, n: int) -> float:
    async def one() -> None:
        headers, body = raw.sign({"mode": "sleep", "seconds": 0.2})
        async with session.post(yarl.URL(raw.url, encoded=True), data=body, headers=headers) as r:
            assert r.status == 200
            await r.read()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.perf_counter() - start


def fan_out(env: dict[str, str], client: AgentCoreClient, sizes: list[int], runs: int = 3) -> None:
    raw = Raw(env)

    async def main() -> dict[tuple[str, int], list[float]]:
        times: dict[tuple[str, int], list[float]] = {}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            await fan_out_raw(raw, session, 32)  # warm up both
            await fan_out_client(client, 32)
            for n in sizes:
                for _ in range(runs):
                    times.setdefault(("raw aiohttp (floor)", n), []).append(
                        await fan_out_raw(raw, session, n)
                    )
                    times.setdefault(("AgentCoreClient.ainvoke", n), []).append(
                        await fan_out_client(client, n)
                    )
        await client.aclose()
        return times

    times = asyncio.run(main())
    print(f"\nasync fan-out to a 200 ms async agent (median of {runs} runs, seconds)")
    for n in sizes:
        floor = statistics.median(times[("raw aiohttp (floor)", n)])
        ours = statistics.median(times[("AgentCoreClient.ainvoke", n)])
        print(f"  N={n:5d}: raw {floor:.3f}  client {ours:.3f}  ratio {ours / floor:.2f}x")


def latency(client: AgentCoreClient) -> None:
    payload = {"mode": "ticks", "count": 6, "interval": 0.5}
    sync_lat: list[float] = []
    with client.stream(payload=payload) as events:
        for event in events:
            if isinstance(event, TextDelta):
                sync_lat.append(time.time() - float(event.text))

    async def run() -> list[float]:
        lat = []
        async with await client.astream(payload=payload) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    lat.append(time.time() - float(event.text))
        await client.aclose()
        return lat

    async_lat = asyncio.run(run())
    print("\nevent hand-on latency, agent send -> client yields the TextDelta (ms)")
    for name, lat in (("stream", sync_lat), ("astream", async_lat)):
        print(f"  {name:8s} events={len(lat)} median {statistics.median(lat) * 1e3:.2f} "
              f"max {max(lat) * 1e3:.2f}")  # fmt: skip


def sync_cpu(env: dict[str, str], client: AgentCoreClient, n: int = 500) -> None:
    raw = Raw(env)
    pool = urllib3.PoolManager()
    for _ in range(20):
        client.invoke(payload={"mode": "json"})
    results: dict[str, list[float]] = {}
    for _ in range(3):
        cpu0 = time.process_time()
        for _ in range(n):
            client.invoke(payload={"mode": "json"})
        results.setdefault("AgentCoreClient.invoke", []).append((time.process_time() - cpu0) / n)
        cpu0 = time.process_time()
        for _ in range(n):
            headers, body = raw.sign({"mode": "json"})
            pool.urlopen("POST", raw.url, body=body, headers=headers).data  # noqa: B018
        results.setdefault("raw signed urllib3 (floor)", []).append(
            (time.process_time() - cpu0) / n
        )
    print(f"\nsync per-call client CPU, JSON agent ({n} calls x 3 runs, median, microseconds)")
    floor = statistics.median(results["raw signed urllib3 (floor)"])
    for name, values in results.items():
        value = statistics.median(values)
        print(f"  {name:28s} {value * 1e6:7.0f}  ratio {value / floor:.2f}x")


def main() -> None:
    sizes = [int(x) for x in os.environ.get("FANOUT_SIZES", "256,1024").split(",")]
    process, env = start_runtime()
    try:
        client = AgentCoreClient(
            env["AGENTCORE_RUNTIME_ARN"],
            endpoint_url=env["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        print(f"machine: {os.cpu_count()} cores; runtime served by a separate process")
        latency(client)
        sync_cpu(env, client)
        fan_out(env, client, sizes)
        client.close()
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
