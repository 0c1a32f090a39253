"""MCP tools through both adapters against the local runtime: an MCP runtime hosting the demo
server (agents/mcp_tools.py) and its Gateways. LangChain's ``load_agentcore_tools`` and
LlamaIndex's ``AgentCoreToolSpec`` list the server's tools and call them; the runtime's request
log shows what AgentCore would have received: valid signatures for the ARN's region, the runtime
session, user id and Mcp-Session-Id headers. Refusals end in typed errors, promptly."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_mcp_adapters.client import MultiServerMCPClient
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Tool

from agentcore_bridge.errors import (
    AccessDeniedError,
    AgentCoreTimeoutError,
    ServiceValidationError,
    ThrottlingError,
)
from agentcore_bridge.local import Fault, LocalRuntime
from agentcore_bridge.local.agents import mcp_tools
from agentcore_bridge.mcp import (
    AgentCoreHttpClientFactory,
    McpToolError,
    mcp_connection,
    mcp_session_error,
)
from agentcore_bridge.mcp_auth import AgentCoreAuth
from langchain_agentcore import load_agentcore_tools
from llama_index_agentcore import AgentCoreToolSpec

pytestmark = pytest.mark.network

SESSION_HEADER = "x-amzn-bedrock-agentcore-runtime-session-id"
USER_ID_HEADER = "x-amzn-bedrock-agentcore-runtime-user-id"
TOOL_NAMES = ["add", "echo_headers", "fail", "slow"]
PROMPTLY = 10.0  # seconds: a refusal is answered at once; nothing may wait for a timeout


class Tools:
    """One local runtime: MCP runtimes in two regions, an OAuth one, and two Gateways."""

    def __init__(self, local: LocalRuntime) -> None:
        self.local = local
        self.arn = local.add_agent("tools", mcp_tools.build_app(), protocol="mcp")
        self.json_arn = local.add_agent(
            "tools-json", mcp_tools.build_app(json_response=True), protocol="mcp"
        )
        self.eu_arn = local.add_agent(
            "tools-eu", mcp_tools.build_app(), protocol="mcp", region="eu-west-1"
        )
        self.oauth_arn = local.add_agent(
            "tools-oauth", mcp_tools.build_app(), protocol="mcp", bearer_tokens=("good-token",)
        )
        self.gateway = local.add_gateway(
            "tools-gw", mcp_tools.build_app(), region="eu-west-1", gateway_id="tools-gw-abc123"
        )
        self.jwt_gateway = local.add_gateway(
            "jwt-gw", mcp_tools.build_app(json_response=True), auth="jwt",
            bearer_tokens=("gw-token",),
        )  # fmt: skip
        self._count = 0

    def settings(self, **overrides: Any) -> dict[str, Any]:
        return {
            "endpoint_url": self.local.endpoint_url,
            "aws_access_key_id": self.local.credentials.access_key_id,
            "aws_secret_access_key": self.local.credentials.secret_access_key,
            **overrides,
        }

    def fresh(self, **kwargs: Any) -> str:
        self._count += 1
        return self.local.add_agent(
            f"tools-fresh-{self._count}", mcp_tools.build_app(), protocol="mcp", **kwargs
        )

    def seen(self, arn: str, since: int = 0) -> list[Any]:
        return [i for i in self.local.invocations[since:] if i.runtime_arn == arn]


@pytest.fixture(scope="module")
def tools() -> Iterator[Tools]:
    with LocalRuntime() as local:
        yield Tools(local)


@asynccontextmanager
async def raw_session(connection: dict[str, Any]) -> AsyncIterator[ClientSession]:
    """The plain ``mcp`` SDK client on a connection from ``mcp_connection``."""
    http = connection["httpx_client_factory"](
        headers=connection["headers"],
        timeout=httpx.Timeout(connection["timeout"], read=connection["sse_read_timeout"]),
    )
    async with (
        http,
        streamable_http_client(connection["url"], http_client=http, terminate_on_close=False) as (
            read,
            write,
            _,
        ),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def server_tools(connection: dict[str, Any]) -> dict[str, Tool]:
    async with raw_session(connection) as session:
        return {tool.name: tool for tool in (await session.list_tools()).tools}


def text_of(message: ToolMessage) -> str:
    return message.text


async def call_langchain(tool: BaseTool, **args: Any) -> ToolMessage:
    message = await tool.ainvoke(
        {"type": "tool_call", "id": "call-1", "name": tool.name, "args": args}
    )
    assert isinstance(message, ToolMessage)
    return message


# --- the tools match the server's, and work ---------------------------------------------------


async def test_langchain_tools_are_the_servers(tools: Tools) -> None:
    served = await server_tools(mcp_connection(tools.arn, **tools.settings()))
    loaded = {tool.name: tool for tool in await load_agentcore_tools(tools.arn, **tools.settings())}
    assert sorted(loaded) == sorted(served) == TOOL_NAMES
    for name, tool in loaded.items():
        assert tool.description == served[name].description
        schema = tool.args_schema if isinstance(tool.args_schema, dict) else None
        assert schema == served[name].inputSchema
    assert loaded["add"].args == served["add"].inputSchema["properties"]


async def test_llama_index_tools_are_the_servers(tools: Tools) -> None:
    served = await server_tools(mcp_connection(tools.arn, **tools.settings()))
    spec = AgentCoreToolSpec(tools.arn, **tools.settings())
    loaded = {tool.metadata.name: tool for tool in await spec.to_tool_list_async()}
    assert sorted(loaded) == TOOL_NAMES
    for name, tool in loaded.items():
        schema = served[name].inputSchema
        assert tool.metadata.description == served[name].description
        assert tool.metadata.get_parameters_dict() == {
            key: schema[key] for key in ("type", "properties", "required") if key in schema
        }
        assert (
            tool.metadata.to_openai_tool()["function"]["parameters"]["properties"]
            == (schema["properties"])
        )


@pytest.mark.parametrize("kind", ["arn", "json_arn", "eu_arn"])
async def test_add_through_a_langchain_tool(tools: Tools, kind: str) -> None:
    arn = getattr(tools, kind)
    before = len(tools.local.invocations)
    loaded = {t.name: t for t in await load_agentcore_tools(arn, **tools.settings())}
    message = await call_langchain(loaded["add"], a=2, b=3)
    assert message.status == "success" and text_of(message) == "5"
    assert message.artifact == {"structured_content": {"result": 5}}
    seen = tools.seen(arn, before)
    assert seen and all(
        i.status not in (401, 403) and i.error_type in (None, "UnknownOperationException")
        for i in seen
    )
    assert {i.method for i in seen} <= {"POST", "GET"}


def test_add_through_a_llama_index_tool_sync_and_async(tools: Tools) -> None:
    spec = AgentCoreToolSpec(tools.eu_arn, **tools.settings())
    loaded = {t.metadata.name: t for t in spec.to_tool_list()}  # sync: from a plain thread
    assert loaded["add"].call(a=2, b=3).content == "5"
    assert asyncio.run(loaded["add"].acall(a=20, b=22)).content == "42"


async def test_multi_server_client_takes_the_connection(tools: Tools) -> None:
    client = MultiServerMCPClient({"tools": mcp_connection(tools.arn, **tools.settings())})  # type: ignore[dict-item]
    loaded = {t.name: t for t in await client.get_tools()}
    assert sorted(loaded) == TOOL_NAMES
    result = await loaded["add"].ainvoke({"a": 2, "b": 3})
    assert "5" in str(result)


async def test_every_request_is_signed_for_the_arns_region(tools: Tools) -> None:
    # The local runtime checks each request's SigV4 signature for the runtime's own region;
    # eu-west-1 here while the runtime's default region is us-west-2.
    before = len(tools.local.invocations)
    spec = AgentCoreToolSpec(tools.eu_arn, **tools.settings())
    loaded = {t.metadata.name: t for t in await spec.to_tool_list_async()}
    await loaded["add"].acall(a=1, b=1)
    seen = tools.seen(tools.eu_arn, before)
    assert len(seen) >= 6  # two sessions: initialize, initialized, (GET), list/call each
    assert all(
        i.status in (200, 202, 405) and i.error_type != "InvalidSignatureException" for i in seen
    )
    assert all("x-amz-date" in i.headers for i in seen)
    # ... and a request signed for another region is refused by the same runtime
    connection = mcp_connection(tools.eu_arn, **tools.settings())
    local_keys = tools.local.credentials
    mis_signed = AgentCoreAuth.sigv4(
        Credentials(local_keys.access_key_id, local_keys.secret_access_key), "us-west-2"
    )
    wrong = {**connection, "httpx_client_factory": AgentCoreHttpClientFactory(mis_signed)}
    with pytest.raises(ExceptionGroup) as caught:  # the plain SDK client: the error in a group
        await server_tools(wrong)
    error = mcp_session_error(caught.value)
    assert isinstance(error, AccessDeniedError) and error.status_code == 403
    assert error.error_type == "InvalidSignatureException"


async def test_session_and_user_headers_reach_the_server(tools: Tools) -> None:
    before = len(tools.local.invocations)
    connection = mcp_connection(tools.arn, runtime_user_id="user-42", **tools.settings())
    runtime_session = connection["headers"]["X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"]
    async with raw_session(connection) as session:
        seen_by_tool = (await session.call_tool("echo_headers", {})).structuredContent
        await session.call_tool("add", {"a": 1, "b": 2})
    assert seen_by_tool is not None
    headers = seen_by_tool["headers"]
    assert headers[USER_ID_HEADER] == "user-42"
    assert headers[SESSION_HEADER] == runtime_session
    posts = [i for i in tools.seen(tools.arn, before) if i.method == "POST"]
    methods = [json.loads(i.body)["method"] for i in posts]
    assert methods[:2] == ["initialize", "notifications/initialized"]
    assert methods.count("tools/call") == 2  # (the SDK may also list tools, for output schemas)
    assert {i.headers[SESSION_HEADER] for i in posts} == {runtime_session}
    assert {i.headers[USER_ID_HEADER] for i in posts} == {"user-42"}
    # One Mcp-Session-Id throughout: made up by the platform on initialize, then sent back.
    assert "mcp-session-id" not in posts[0].headers
    assert {i.agent_headers["mcp-session-id"] for i in posts} == {headers["mcp-session-id"]}
    assert {i.headers["mcp-session-id"] for i in posts[1:]} == {headers["mcp-session-id"]}
    assert all(i.headers["accept"] == "application/json, text/event-stream" for i in posts)


async def test_connection_from_the_environment(
    tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in tools.local.environment().items():  # AWS_ENDPOINT_URL_BEDROCK_AGENTCORE...
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AGENTCORE_BEARER_TOKEN", raising=False)
    loaded = {t.name: t for t in await load_agentcore_tools(tools.arn)}
    assert text_of(await call_langchain(loaded["add"], a=2, b=3)) == "5"


# --- refusals: typed errors, promptly --------------------------------------------------------


async def test_wrong_secret_is_access_denied(tools: Tools) -> None:
    started = time.monotonic()
    with pytest.raises(AccessDeniedError) as caught:
        await load_agentcore_tools(tools.arn, **tools.settings(aws_secret_access_key="wrong"))
    assert caught.value.status_code == 403
    assert caught.value.error_type == "InvalidSignatureException"
    assert time.monotonic() - started < PROMPTLY


async def test_unsigned_requests_are_access_denied(tools: Tools) -> None:
    connection = mcp_connection(tools.arn, **tools.settings())
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        async with (
            httpx.AsyncClient(headers=connection["headers"]) as http,  # no auth
            streamable_http_client(connection["url"], http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
    error = mcp_session_error(caught.value)
    assert isinstance(error, AccessDeniedError) and error.status_code == 403
    assert time.monotonic() - started < PROMPTLY


async def test_oauth_runtime_without_a_token_names_the_token(tools: Tools) -> None:
    started = time.monotonic()
    with pytest.raises(AccessDeniedError) as caught:
        await load_agentcore_tools(tools.oauth_arn, **tools.settings())
    assert caught.value.status_code == 401
    assert "bearer_token" in str(caught.value) and "AGENTCORE_BEARER_TOKEN" in str(caught.value)
    assert "oauth-protected-resource" in str(caught.value)
    with pytest.raises(AccessDeniedError, match="bearer_token"):
        await AgentCoreToolSpec(tools.oauth_arn, **tools.settings()).to_tool_list_async()
    assert time.monotonic() - started < PROMPTLY
    # with the token, the same runtime answers
    spec = AgentCoreToolSpec(tools.oauth_arn, **tools.settings(bearer_token="good-token"))
    loaded = {t.metadata.name: t for t in await spec.to_tool_list_async()}
    assert (await loaded["add"].acall(a=2, b=3)).content == "5"
    with pytest.raises(AccessDeniedError, match="token was refused"):
        await load_agentcore_tools(tools.oauth_arn, **tools.settings(bearer_token="bad"))


async def test_missing_accept_header_is_a_typed_error(tools: Tools) -> None:
    connection = mcp_connection(tools.arn, **tools.settings())
    async with connection["httpx_client_factory"](headers=connection["headers"]) as http:
        request = http.build_request(
            "POST", connection["url"], content=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        del request.headers["accept"]  # httpx would send */*, which AgentCore refuses as well
        started = time.monotonic()
        with pytest.raises(ServiceValidationError, match="Accept") as caught:
            await http.send(request)
    assert caught.value.status_code == 406
    assert time.monotonic() - started < PROMPTLY


async def test_throttling_at_http_200_is_retried_then_raised(tools: Tools) -> None:
    arn = tools.fresh()
    tools.local.inject(Fault.THROTTLE, times=2, runtime_arn=arn)
    fast = tools.settings(retry_base_delay=0.01)
    loaded = {t.name: t for t in await load_agentcore_tools(arn, **fast)}  # retried twice
    throttled = [i for i in tools.seen(arn) if i.error_type == "ThrottlingException"]
    assert len(throttled) == 2 and all(i.status == 200 for i in throttled)

    tools.local.inject(Fault.THROTTLE, times=10, runtime_arn=arn)
    before = len(tools.local.invocations)
    started = time.monotonic()
    with pytest.raises(ThrottlingError) as caught:
        await loaded["add"].ainvoke({"a": 1, "b": 2})
    assert caught.value.status_code == 200 and caught.value.error_type == "ThrottlingException"
    assert len(tools.seen(arn, before)) == 4  # the first try and max_retries=3 retries
    assert time.monotonic() - started < PROMPTLY
    spec = AgentCoreToolSpec(arn, **fast, max_retries=0)
    with pytest.raises(ThrottlingError):
        await spec.to_tool_list_async()


# --- tool behaviour ----------------------------------------------------------------------------


async def test_a_failing_tool_is_a_tool_error_not_a_crash(tools: Tools) -> None:
    loaded = {t.name: t for t in await load_agentcore_tools(tools.arn, **tools.settings())}
    message = await call_langchain(loaded["fail"])
    assert message.status == "error" and mcp_tools.FAILURE_TEXT in text_of(message)

    spec = AgentCoreToolSpec(tools.arn, **tools.settings())
    fail = {t.metadata.name: t for t in await spec.to_tool_list_async()}["fail"]
    with pytest.raises(McpToolError, match="scripted tool failed"):
        await fail.acall()


async def test_a_slow_tool_is_bounded_by_the_read_timeout(tools: Tools) -> None:
    quick = tools.settings(read_timeout=0.5)
    loaded = {t.name: t for t in await load_agentcore_tools(tools.arn, **quick)}
    started = time.monotonic()
    with pytest.raises(AgentCoreTimeoutError):
        await loaded["slow"].ainvoke({"seconds": 3})
    assert time.monotonic() - started < 5

    spec = AgentCoreToolSpec(tools.json_arn, **quick)
    slow = {t.metadata.name: t for t in await spec.to_tool_list_async()}["slow"]
    started = time.monotonic()
    with pytest.raises(AgentCoreTimeoutError):
        await slow.acall(seconds=3)
    assert time.monotonic() - started < 5
    # within the timeout the same tool answers
    assert (await slow.acall(seconds=0.05)).content == "slept 0.05s"


async def test_fifty_concurrent_tool_calls(tools: Tools) -> None:
    loaded = {t.name: t for t in await load_agentcore_tools(tools.arn, **tools.settings())}
    messages = await asyncio.gather(
        *(call_langchain(loaded["add"], a=i, b=1000) for i in range(50))
    )
    assert [text_of(m) for m in messages] == [str(i + 1000) for i in range(50)]

    spec = AgentCoreToolSpec(tools.json_arn, **tools.settings())
    add = {t.metadata.name: t for t in await spec.to_tool_list_async()}["add"]
    outputs = await asyncio.gather(*(add.acall(a=i, b=i) for i in range(50)))
    assert [o.content for o in outputs] == [str(2 * i) for i in range(50)]


# --- Gateways ----------------------------------------------------------------------------------


async def test_gateway_with_sigv4_through_both_adapters(tools: Tools) -> None:
    before = len(tools.local.invocations)
    gateway_settings = tools.settings(endpoint_url=None, region_name="eu-west-1")
    loaded = {t.name: t for t in await load_agentcore_tools(tools.gateway, **gateway_settings)}
    assert sorted(loaded) == TOOL_NAMES
    assert text_of(await call_langchain(loaded["add"], a=2, b=3)) == "5"
    spec = AgentCoreToolSpec(tools.gateway, **gateway_settings)
    add = {t.metadata.name: t for t in await spec.to_tool_list_async()}["add"]
    assert (await add.acall(a=2, b=3)).content == "5"
    calls = [i for i in tools.local.invocations[before:] if i.gateway_id == "tools-gw-abc123"]
    assert calls and all(i.status in (200, 202, 405) for i in calls)
    # signed for the wrong region: refused
    with pytest.raises(AccessDeniedError):
        await load_agentcore_tools(
            tools.gateway, **tools.settings(endpoint_url=None, region_name="us-west-2")
        )


async def test_gateway_with_a_bearer_token_through_both_adapters(tools: Tools) -> None:
    loaded = {
        t.name: t for t in await load_agentcore_tools(tools.jwt_gateway, bearer_token="gw-token")
    }
    assert text_of(await call_langchain(loaded["add"], a=2, b=3)) == "5"
    spec = AgentCoreToolSpec(tools.jwt_gateway, bearer_token="gw-token")
    add = {t.metadata.name: t for t in await spec.to_tool_list_async()}["add"]
    assert (await add.acall(a=2, b=3)).content == "5"
    with pytest.raises(AccessDeniedError, match="bearer_token"):
        await load_agentcore_tools(
            tools.jwt_gateway, **tools.settings(endpoint_url=None, region_name="us-west-2")
        )


# --- the demo's agents ---------------------------------------------------------------------------


def test_demo_agents_call_the_mcp_tool(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).resolve().parents[2] / "demo.py"
    spec = importlib.util.spec_from_file_location("demo_for_mcp_test", path)
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    demo.mcp_tools_step(sys.stdout)
    out = capsys.readouterr().out
    assert "LangGraph agent: 2 + 3 = 5" in out
    assert "LlamaIndex FunctionAgent: 2 + 3 = 5" in out
