"""AgentCore MCP tools for LlamaIndex: ``AgentCoreToolSpec`` turns the tools of an MCP runtime or
an AgentCore Gateway into ``FunctionTool``s for LlamaIndex agents.

Built on the ``mcp`` SDK's client (``ClientSession`` over ``streamable_http_client``), not on
llama-index-tools-mcp: its releases from 0.5 need mcp >= 2, which langchain-mcp-adapters (mcp < 2)
cannot share a lock file with. The connection (URL, signing, headers, timeouts, retries, error
mapping) is the core's (``agentcore_bridge.mcp.mcp_connection``).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from llama_index.core.base.llms.types import ImageBlock, TextBlock
from llama_index.core.tools import FunctionTool, ToolMetadata
from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE, BaseToolSpec
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from mcp import ClientSession
    from mcp.types import CallToolResult, Tool

_MISSING = (
    "AgentCoreToolSpec needs the mcp client and httpx: pip install 'agentcore-integrations[mcp]'"
)


class _ServerSchema(BaseModel):
    """A tool's arguments as the server declares them: its JSON schema is handed on unchanged
    (LlamaIndex reads ``model_json_schema()``); arguments are passed through unvalidated, for
    the server to check."""

    model_config = ConfigDict(extra="allow")
    server_schema: ClassVar[dict[str, Any]] = {}

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return copy.deepcopy(cls.server_schema)


class AgentCoreToolSpec(BaseToolSpec):
    """The tools of an AgentCore MCP runtime or Gateway, for LlamaIndex agents.

    ``target`` is an MCP runtime ARN, ``bedrock/agentcore/<ARN>`` or a Gateway URL; ``settings``
    are :func:`agentcore_bridge.mcp.mcp_connection`'s (``qualifier``, ``region_name``,
    ``endpoint_url``, AWS keys or ``profile_name``, ``bearer_token``, ``runtime_user_id``,
    ``headers``, timeouts, ...), all checked here, before any request.

    ``to_tool_list()`` / ``await to_tool_list_async()`` list the server's tools (names,
    descriptions and JSON schemas as the server gives them); each tool call opens its own MCP
    session on the connection (one runtime session for all of them). A tool that fails (its
    result has ``isError``) or that the server refuses raises
    :class:`~agentcore_bridge.mcp.McpToolError`, which a ``FunctionAgent`` hands to the model as
    an error output; AgentCore's own refusals raise the package's typed errors.

    Setup::

        pip install 'agentcore-integrations[llama-index,mcp]'

    Use::

        from llama_index.core.agent.workflow import FunctionAgent
        from llama_index_agentcore import AgentCoreToolSpec

        spec = AgentCoreToolSpec(
            "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_tools-AbCdEf1234"
        )
        agent = FunctionAgent(tools=await spec.to_tool_list_async(), llm=llm)
    """

    spec_functions: list[SPEC_FUNCTION_TYPE] = []  # noqa: RUF012 - the server's tools instead

    def __init__(self, target: str, **settings: Any) -> None:
        try:
            from agentcore_bridge.mcp import mcp_connection
        except ImportError as exc:
            raise ImportError(_MISSING) from exc
        self.connection = mcp_connection(target, **settings)

    def __repr__(self) -> str:
        return f"AgentCoreToolSpec(url={self.connection['url']!r})"

    def to_tool_list(
        self,
        spec_functions: list[SPEC_FUNCTION_TYPE] | None = None,
        func_to_metadata_mapping: dict[str, ToolMetadata] | None = None,
    ) -> list[FunctionTool]:
        """The server's tools (those named in ``spec_functions``, if given)."""
        from agentcore_bridge.mcp import run_blocking

        return run_blocking(
            lambda: self.to_tool_list_async(spec_functions, func_to_metadata_mapping)
        )

    async def to_tool_list_async(
        self,
        spec_functions: list[SPEC_FUNCTION_TYPE] | None = None,
        func_to_metadata_mapping: dict[str, ToolMetadata] | None = None,
    ) -> list[FunctionTool]:
        """The server's tools (those named in ``spec_functions``, if given), listed through one
        MCP session; ``func_to_metadata_mapping`` replaces a tool's metadata by name."""
        wanted = {name if isinstance(name, str) else name[0] for name in spec_functions or []}
        async with self._session() as session:
            tools = await _list_tools(session)
        return [
            self._function_tool(tool, (func_to_metadata_mapping or {}).get(tool.name))
            for tool in tools
            if not wanted or tool.name in wanted
        ]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        """Call one tool in its own MCP session: its text (or content blocks, when it returns
        images); raises McpToolError when the tool fails."""
        from mcp.shared.exceptions import McpError

        from agentcore_bridge.mcp import McpToolError

        async with self._session() as session:
            try:
                result = await session.call_tool(name, arguments)
            except McpError as exc:
                if exc.error.code == 408:  # the session's own timeout: mapped on the way out
                    raise
                raise McpToolError(f"{exc} (JSON-RPC error {exc.error.code})") from exc
        return _tool_output(name, result)

    def _function_tool(self, tool: Tool, metadata: ToolMetadata | None) -> FunctionTool:
        name = tool.name

        async def call(**arguments: Any) -> Any:
            return await self.call_tool(name, arguments)

        def call_blocking(**arguments: Any) -> Any:
            from agentcore_bridge.mcp import run_blocking

            return run_blocking(lambda: self.call_tool(name, arguments))

        schema = type(
            f"{name}_arguments",
            (_ServerSchema,),
            {"server_schema": dict(tool.inputSchema), "__module__": __name__},
        )
        return FunctionTool(
            fn=call_blocking,
            async_fn=call,
            metadata=metadata
            or ToolMetadata(name=name, description=tool.description or "", fn_schema=schema),
        )

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[ClientSession]:
        """An initialized MCP session on the connection; failures come out as the package's
        errors (the SDK wraps them in exception groups)."""
        import httpx
        from mcp import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        from agentcore_bridge.mcp import mcp_session_error

        connection = self.connection
        http = connection["httpx_client_factory"](
            headers=connection["headers"],
            timeout=httpx.Timeout(connection["timeout"], read=connection["sse_read_timeout"]),
        )
        try:
            async with (
                http,
                streamable_http_client(
                    connection["url"],
                    http_client=http,
                    terminate_on_close=connection["terminate_on_close"],
                ) as (read, write, _),
                ClientSession(read, write, **connection["session_kwargs"]) as session,
            ):
                await session.initialize()
                yield session
        except Exception as exc:
            error = mcp_session_error(exc)
            if error is None or error is exc:
                raise
            raise error from exc


async def _list_tools(session: ClientSession) -> list[Tool]:
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(1000):  # a bound on pages, against a server that never stops paging
        page = await session.list_tools(cursor=cursor) if cursor else await session.list_tools()
        tools.extend(page.tools)
        cursor = page.nextCursor
        if not cursor:
            break
    return tools


def _tool_output(name: str, result: CallToolResult) -> Any:
    """The tool's text (its parts joined), or text and image blocks; McpToolError on isError."""
    from agentcore_bridge.mcp import McpToolError

    blocks: list[TextBlock | ImageBlock] = []
    for part in result.content:
        if part.type == "text":
            blocks.append(TextBlock(text=part.text))
        elif part.type == "image":
            blocks.append(
                ImageBlock(image=base64.b64decode(part.data), image_mimetype=part.mimeType)
            )
        elif part.type == "resource" and hasattr(part.resource, "text"):
            blocks.append(TextBlock(text=part.resource.text))
        else:
            blocks.append(TextBlock(text=f"[{part.type} content]"))
    if not blocks and result.structuredContent is not None:
        blocks.append(TextBlock(text=json.dumps(result.structuredContent)))
    text = "\n".join(block.text for block in blocks if isinstance(block, TextBlock))
    if result.isError:
        raise McpToolError(f"tool {name!r} failed: {text or 'no details given'}")
    if all(isinstance(block, TextBlock) for block in blocks):
        return text
    return blocks
