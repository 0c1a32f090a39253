"""Which sync HTTP client for the transport: urllib3 or httpx, by per-call CPU and first-event
latency against the local runtime (served by a separate process, so only client CPU is counted).

    uv run --group bench python benchmarks/sync_http_choice.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_agents import start_runtime


def signed(env: dict[str, str], payload: dict) -> tuple[str, dict[str, str], bytes]:
    arn = env["AGENTCORE_RUNTIME_ARN"]
    url = f"{env['AWS_ENDPOINT_URL_BEDROCK_AGENTCORE']}/runtimes/{quote(arn, safe='')}/invocations"
    body = json.dumps(payload).encode()
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
    creds = Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    SigV4Auth(creds, "bedrock-agentcore", env["AWS_REGION"]).add_auth(request)
    return url, dict(request.headers.items()), body


def measure(env: dict[str, str], name: str, call, n: int = 300) -> dict[str, float]:
    for _ in range(20):
        call({"mode": "json"})  # warm up: connections, imports
    # Signing is the same for both clients: sign once outside the timed region per call.
    requests = [signed(env, {"mode": "json"}) for _ in range(n)]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for request in requests:
        call(request)
    cpu = (time.process_time() - cpu0) / n * 1e6
    wall = (time.perf_counter() - wall0) / n * 1e3
    latencies = []
    for _ in range(5):
        request = signed(env, {"mode": "ticks", "count": 3, "interval": 0.3})
        latencies.extend(call(request, stream=True))
    return {
        "cpu_us_per_call": cpu,
        "wall_ms_per_call": wall,
        "event_latency_ms_median": statistics.median(latencies) * 1e3,
        "event_latency_ms_max": max(latencies) * 1e3,
    }


def main() -> None:
    process, env = start_runtime()
    try:
        pool = urllib3.PoolManager()
        client = httpx.Client()

        def with_urllib3(request, stream=False):
            if isinstance(request, dict):
                request = signed(env, request)
            url, headers, body = request
            response = pool.urlopen("POST", url, body=body, headers=headers, preload_content=False)
            latencies = []
            buffer = b""
            while chunk := response.read1(65536):
                now = time.time()
                buffer += chunk
                while b"\n\n" in buffer:
                    frame, buffer = buffer.split(b"\n\n", 1)
                    if stream:
                        latencies.append(now - json.loads(frame[6:])["sent_at"])
            response.release_conn()
            return latencies

        def with_httpx(request, stream=False):
            if isinstance(request, dict):
                request = signed(env, request)
            url, headers, body = request
            latencies = []
            with client.stream("POST", url, content=body, headers=headers) as response:
                buffer = b""
                for chunk in response.iter_raw():
                    now = time.time()
                    buffer += chunk
                    while b"\n\n" in buffer:
                        frame, buffer = buffer.split(b"\n\n", 1)
                        if stream:
                            latencies.append(now - json.loads(frame[6:])["sent_at"])
            return latencies

        results = {}
        for _ in range(3):
            for name, call in (("urllib3", with_urllib3), ("httpx", with_httpx)):
                results.setdefault(name, []).append(measure(env, name, call))
        print(f"cores: {os.cpu_count()}; urllib3 {urllib3.__version__}, httpx {httpx.__version__}")
        for name, runs in results.items():
            merged = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(name, {k: round(v, 2) for k, v in merged.items()})
        u, h = (
            statistics.median(r["cpu_us_per_call"] for r in results[k])
            for k in ("urllib3", "httpx")
        )
        print(f"httpx / urllib3 per-call CPU: {h / u:.2f}x")
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
