"""An MCP server as AgentCore hosts them: FastMCP, stateless streamable HTTP at ``/mcp``.

Tools: ``add(a, b)``; ``echo_headers()``, which reports the AgentCore and MCP headers the
server received (runtime session and user id, ``Mcp-Session-Id``) and its process id;
``fail()``, which raises (the client gets a tool result with ``isError``); ``slow(seconds)``.

``build_app(json_response=...)`` makes a fresh Starlette app: its session manager runs once, in
the app's lifespan (the local runtime runs the lifespan of in-process apps), so every runtime
needs its own. ``json_response=True`` answers each POST with one JSON body, else with an event
stream. ``app`` is one for worker processes:
``add_agent(name, "agentcore_bridge.local.agents.mcp_tools:app", protocol="mcp")``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from mcp.server.fastmcp import Context, FastMCP
from starlette.applications import Starlette

FAILURE_TEXT = "The scripted tool failed."
_REPORTED_HEADER_PREFIXES = ("x-amzn-bedrock-agentcore-", "mcp-", "traceparent")


def build_server(*, json_response: bool = False) -> FastMCP:
    # FastMCP calls logging.basicConfig (a rich handler on the root logger) when the root logger
    # has no handler; a module imported by tests and apps must leave logging to its host.
    root = logging.getLogger()
    placeholder = logging.NullHandler() if not root.handlers else None
    if placeholder is not None:
        root.addHandler(placeholder)
    try:
        # host 0.0.0.0 as in AgentCore's containers (it also leaves FastMCP's loopback-only Host
        # check off, which would refuse the Gateway's host-style requests).
        server = FastMCP(
            "local-tools",
            host="0.0.0.0",  # noqa: S104
            stateless_http=True,
            json_response=json_response,
        )
    finally:
        if placeholder is not None:
            root.removeHandler(placeholder)

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def echo_headers(ctx: Context) -> dict[str, Any]:
        """The AgentCore and MCP headers this server received, and its process id."""
        request = ctx.request_context.request
        headers = dict(request.headers) if request is not None else {}
        return {
            "headers": {
                name: value
                for name, value in headers.items()
                if name.lower().startswith(_REPORTED_HEADER_PREFIXES)
            },
            "pid": os.getpid(),
        }

    @server.tool()
    def fail() -> str:
        """Always raises."""
        raise ValueError(FAILURE_TEXT)

    @server.tool()
    async def slow(seconds: float) -> str:
        """Sleep, then say how long."""
        await asyncio.sleep(seconds)
        return f"slept {seconds}s"

    return server


def build_app(*, json_response: bool = False) -> Starlette:
    """A fresh Starlette app serving the tools at ``/mcp``."""
    return build_server(json_response=json_response).streamable_http_app()


app = build_app()
