"""AgentCore MCP tools for LangChain: ``load_agentcore_tools`` turns the tools of an MCP runtime
or an AgentCore Gateway into LangChain tools, through langchain-mcp-adapters.

The connection (URL, signing, session and user headers, timeouts, retries, error mapping) is
the core's (``agentcore_bridge.mcp.mcp_connection``); this module only adapts the tools.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException

_MISSING = (
    "load_agentcore_tools needs langchain-mcp-adapters and httpx: "
    "pip install 'agentcore-integrations[mcp]'"
)


async def load_agentcore_tools(target: str, **settings: Any) -> list[BaseTool]:
    """The tools of an AgentCore MCP runtime or Gateway as LangChain tools.

    ``target`` is an MCP runtime ARN, ``bedrock/agentcore/<ARN>`` or a Gateway URL; ``settings``
    are :func:`agentcore_bridge.mcp.mcp_connection`'s (``qualifier``, ``region_name``,
    ``endpoint_url``, AWS keys or ``profile_name``, ``bearer_token``, ``runtime_user_id``,
    ``headers``, timeouts, ...). Names, descriptions and JSON schemas are the server's; each
    call opens its own MCP session on the connection (one runtime session for all of them).

    Errors: a tool that fails (its result has ``isError``) or that the server refuses with a
    JSON-RPC error gives an error ``ToolMessage`` (``status="error"``), so an agent can carry
    on; AgentCore's own refusals (throttling once retries are spent, access denied, a missing
    OAuth token, a timeout) raise the package's typed errors (``agentcore_bridge.errors``).

    Setup::

        pip install 'agentcore-integrations[langchain,mcp]'

    Use::

        from langchain.agents import create_agent
        from langchain_agentcore import load_agentcore_tools

        tools = await load_agentcore_tools(
            "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_tools-AbCdEf1234"
        )
        agent = create_agent(model, tools)
    """
    try:
        from langchain_mcp_adapters.tools import load_mcp_tools

        from agentcore_bridge.mcp import mcp_connection, mcp_session_error
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    connection = mcp_connection(target, **settings)
    try:
        tools = await load_mcp_tools(None, connection=connection)  # type: ignore[arg-type]
    except Exception as exc:
        error = mcp_session_error(exc)
        if error is None:
            raise
        raise error from exc
    return [_with_agentcore_errors(tool) for tool in tools]


def _with_agentcore_errors(tool: BaseTool) -> BaseTool:
    """The adapter's tool with AgentCore's errors typed, server errors as tool errors, and a
    synchronous entry point."""
    if not isinstance(tool, StructuredTool) or tool.coroutine is None:
        return tool
    call = _typed_errors(tool.coroutine)

    @functools.wraps(tool.coroutine)
    def call_blocking(*args: Any, **kwargs: Any) -> Any:
        from agentcore_bridge.mcp import run_blocking

        return run_blocking(lambda: call(*args, **kwargs))

    return tool.model_copy(
        update={
            "coroutine": call,
            "func": call_blocking,
            "handle_tool_error": _tool_error_content,
        }
    )


def _typed_errors(
    coroutine: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[Any]]:
    from mcp.shared.exceptions import McpError

    from agentcore_bridge.mcp import mcp_session_error

    @functools.wraps(coroutine)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await coroutine(*args, **kwargs)
        except ToolException:
            raise
        except Exception as exc:
            error = mcp_session_error(exc)
            if error is not None:
                raise error from exc
            if isinstance(exc, McpError):  # the server's JSON-RPC error: a failed tool call
                raise ToolException(f"{exc} (JSON-RPC error {exc.error.code})") from exc
            raise

    return call


def _tool_error_content(error: ToolException) -> Any:
    """What the model is told of a failed tool: the tool's own content (langchain-mcp-adapters
    keeps it on the exception), else the error's text."""
    return getattr(error, "tool_content", None) or str(error)
