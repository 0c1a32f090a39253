"""What one session-store exchange costs: median microseconds per exchange, sync and async,
in-process memory vs Redis on loopback (one EVALSHA round trip).

    .venv/bin/python benchmarks/session_store_cost.py [--calls 2000] [--url redis://...]

Without ``--url`` it starts its own redis-server (tests/support/redis_server.py) on a free port.
Each call is timed alone (perf_counter_ns); calls alternate between 100 session ids so the
figures include both new and seen sessions. The "async x50" row is 50 concurrent exchanges per
step on one loop: wall time per exchange, i.e. the throughput view.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.redis_server import RedisServer, redis_server_binary

from agentcore_bridge.session_store import (
    MemorySessionStore,
    RedisSessionStore,
    SessionStore,
    system_hash,
)

RULE = {"idle_timeout": 900.0, "max_lifetime": 28_800.0}
SESSIONS = [f"bench-session-{i:03d}-0123456789abcdef0123456789" for i in range(100)]
HASH = system_hash("You are a helpful assistant.")


def sync_costs(store: SessionStore, calls: int) -> list[float]:
    for sid in SESSIONS:  # warm-up: connections open, script cached
        store.exchange(sid, HASH, **RULE)
    costs = []
    for index in range(calls):
        started = time.perf_counter_ns()
        store.exchange(SESSIONS[index % len(SESSIONS)], HASH, **RULE)
        costs.append((time.perf_counter_ns() - started) / 1000)
    return costs


async def async_costs(store: SessionStore, calls: int) -> list[float]:
    for sid in SESSIONS:
        await store.aexchange(sid, HASH, **RULE)
    costs = []
    for index in range(calls):
        started = time.perf_counter_ns()
        await store.aexchange(SESSIONS[index % len(SESSIONS)], HASH, **RULE)
        costs.append((time.perf_counter_ns() - started) / 1000)
    await store.aclose()
    return costs


async def async_concurrent_costs(store: SessionStore, calls: int, width: int = 50) -> list[float]:
    for sid in SESSIONS:
        await store.aexchange(sid, HASH, **RULE)
    costs = []
    for step in range(max(1, calls // width)):
        started = time.perf_counter_ns()
        await asyncio.gather(
            *(
                store.aexchange(SESSIONS[(step * width + i) % len(SESSIONS)], HASH, **RULE)
                for i in range(width)
            )
        )
        costs.append((time.perf_counter_ns() - started) / 1000 / width)
    await store.aclose()
    return costs


def measure(name: str, run: Callable[[], list[float]]) -> None:
    costs = run()
    costs.sort()
    p90 = costs[int(len(costs) * 0.9)]
    print(f"{name:<28} median {statistics.median(costs):8.1f} µs   p90 {p90:8.1f} µs")


def run_all(url: str, calls: int) -> None:
    def in_loop(make: Callable[[], Awaitable[list[float]]]) -> Callable[[], list[float]]:
        return lambda: asyncio.run(make())  # type: ignore[arg-type]

    memory = MemorySessionStore()
    measure("memory, sync", lambda: sync_costs(memory, calls))
    measure("memory, async", in_loop(lambda: async_costs(memory, calls)))
    redis_store = RedisSessionStore(url, prefix="bench:session:")
    try:
        measure("redis loopback, sync", lambda: sync_costs(redis_store, calls))
        measure("redis loopback, async", in_loop(lambda: async_costs(redis_store, calls)))
        measure(
            "redis loopback, async x50",
            in_loop(lambda: async_concurrent_costs(redis_store, calls)),
        )
        assert redis_store.redis_available, "Redis failed during the run: figures are fallback"
    finally:
        redis_store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--url", help="an existing Redis (default: start a redis-server)")
    args = parser.parse_args()
    print(f"{args.calls} exchanges each, Python {sys.version.split()[0]}")
    if args.url:
        run_all(args.url, args.calls)
        return
    binary = redis_server_binary()
    if binary is None:
        sys.exit("redis-server not found: apt-get install redis-server, or pass --url")
    with RedisServer(binary) as server:
        run_all(server.url, args.calls)


if __name__ == "__main__":
    main()
