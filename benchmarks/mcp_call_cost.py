"""What SigV4 signing adds to an MCP tool call: median milliseconds per ``call_tool("add")`` on an
open MCP session, signed and unsigned, against the same local runtime in the same run.

    .venv/bin/python benchmarks/mcp_call_cost.py [--calls 300] [--rounds 6]

Four ways to reach the same FastMCP app (agents/mcp_tools.py, stateless streamable HTTP, SSE
answers), each a fresh app instance:

* ``gateway, unsigned``: a local Gateway with ``auth="none"``, plain httpx client;
* ``gateway, SigV4``: a local Gateway with ``auth="iam"``, the same route, signed with
  ``AgentCoreAuth`` (client signs, the local runtime verifies with botocore): the difference
  between these two rows is the whole cost of SigV4, both ends;
* ``runtime, SigV4``: an MCP runtime (InvokeAgentRuntime's route: session header, Accept rule,
  Mcp-Session-Id injection), connected with ``mcp_connection``;
* ``direct, unsigned``: the app served by uvicorn on 127.0.0.1, no local runtime in between.

The local runtime and the direct server run in this process (uvicorn in threads), so a figure
is client plus server CPU on one GIL. Rounds alternate between the variants so drift hits all
alike. ``sign()`` alone is also timed (microseconds per request, no I/O).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.served_app import served

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import mcp_tools
from agentcore_bridge.mcp import mcp_connection
from agentcore_bridge.mcp_auth import MCP_ACCEPT


@asynccontextmanager
async def open_session(
    url: str, *, auth: httpx.Auth | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    async with (
        httpx.AsyncClient(auth=auth, headers=headers, timeout=30) as http,
        streamable_http_client(url, http_client=http, terminate_on_close=False) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        await session.call_tool("add", {"a": 0, "b": 0})  # warm-up (the SDK lists tools once)
        yield session


async def timed_calls(session: ClientSession, calls: int) -> list[float]:
    costs = []
    for index in range(calls):
        started = time.perf_counter_ns()
        result = await session.call_tool("add", {"a": index, "b": 1})
        costs.append((time.perf_counter_ns() - started) / 1e6)
        assert result.structuredContent == {"result": index + 1}, result
    return costs


def sign_cost(auth: httpx.Auth, url: str, count: int = 5000) -> float:
    body = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}'
    request = httpx.Request(
        "POST", url, content=body,
        headers={"Content-Type": "application/json", "Accept": MCP_ACCEPT, "Mcp-Session-Id": "s" * 36},
    )  # fmt: skip
    sign = auth.sign  # type: ignore[attr-defined]
    started = time.perf_counter_ns()
    for _ in range(count):
        sign(request)
    return (time.perf_counter_ns() - started) / count / 1000


async def measure(
    local: LocalRuntime, direct_url: str, calls: int, rounds: int
) -> dict[str, list[float]]:
    keys = {
        "aws_access_key_id": local.credentials.access_key_id,
        "aws_secret_access_key": local.credentials.secret_access_key,
    }
    open_gateway = local.add_gateway("bench-open", mcp_tools.build_app(), auth="none")
    iam_gateway = local.add_gateway("bench-iam", mcp_tools.build_app())
    runtime_arn = local.add_agent("bench-tools", mcp_tools.build_app(), protocol="mcp")
    iam = mcp_connection(iam_gateway, region_name=local.region, **keys)
    runtime = mcp_connection(runtime_arn, endpoint_url=local.endpoint_url, **keys)
    async with AsyncExitStack() as stack:
        sessions = {
            "gateway, unsigned": await stack.enter_async_context(open_session(open_gateway)),
            "gateway, SigV4": await stack.enter_async_context(
                open_session(iam_gateway, auth=iam["httpx_client_factory"].auth)
            ),
            "runtime, SigV4": await stack.enter_async_context(
                open_session(
                    runtime["url"],
                    auth=runtime["httpx_client_factory"].auth,
                    headers=runtime["headers"],
                )
            ),
            "direct, unsigned": await stack.enter_async_context(open_session(f"{direct_url}/mcp")),
        }
        costs: dict[str, list[float]] = {name: [] for name in sessions}
        per_round = max(1, calls // rounds)
        for _ in range(rounds):
            for name, session in sessions.items():
                costs[name] += await timed_calls(session, per_round)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with LocalRuntime() as local, served(mcp_tools.build_app()) as direct_url:
        costs = asyncio.run(measure(local, direct_url, args.calls, args.rounds))
        arn = f"arn:aws:bedrock-agentcore:{local.region}:{local.account_id}:runtime/bench-tools"
        connection = mcp_connection(
            arn, endpoint_url=local.endpoint_url,
            aws_access_key_id=local.credentials.access_key_id,
            aws_secret_access_key=local.credentials.secret_access_key,
        )  # fmt: skip
        signing = sign_cost(connection["httpx_client_factory"].auth, connection["url"])
    print(f"call_tool('add') on an open MCP session, {args.calls} calls each, {args.rounds} rounds")
    print(f"{'':22} {'median ms':>10} {'p90 ms':>8}")
    rows: dict[str, Any] = {}
    for name, values in costs.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        rows[name] = median
        print(f"{name:22} {median:10.2f} {p90:8.2f}")
    overhead = rows["gateway, SigV4"] - rows["gateway, unsigned"]
    print(f"SigV4, both ends (gateway SigV4 - gateway unsigned): {overhead:+.2f} ms per call")
    print(f"AgentCoreAuth.sign() alone: {signing:.1f} us per request")


if __name__ == "__main__":
    main()
