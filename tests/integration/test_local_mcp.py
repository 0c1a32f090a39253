"""MCP runtimes and Gateways on the local runtime: the real `mcp` client through SigV4 and OAuth,
the Accept rule, Mcp-Session-Id handling, JSON-RPC platform errors (HTTP 200 but auth, 405 and
406), faults, boto3's InvokeAgentRuntime, and the demo MCP server in-process and one process
per session."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from raw_http import RawRequest, RawResponse, send
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from support.served_app import served
from support.signed_requests import runtime_path, signed_headers
from support.sigv4_httpx import SigV4HttpxAuth

from agentcore_bridge.local import Fault, LocalRuntime
from agentcore_bridge.local.agents import mcp_tools

pytestmark = pytest.mark.network

SESSION_HEADER = "x-amzn-bedrock-agentcore-runtime-session-id"
USER_ID_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-User-Id"
MCP_ACCEPT = "application/json, text/event-stream"
MCP_MODULE = "agentcore_bridge.local.agents.mcp_tools:app"
GATEWAY_REGION = "eu-west-1"


class McpRuntimes:
    def __init__(self, local: LocalRuntime) -> None:
        self.local = local
        self.sse = local.add_agent(
            "mcp-sse", mcp_tools.build_app(), protocol="mcp", qualifiers=("prod",)
        )
        self.json = local.add_agent(
            "mcp-json", mcp_tools.build_app(json_response=True), protocol="mcp"
        )
        self.oauth = local.add_agent(
            "mcp-oauth", mcp_tools.build_app(), protocol="mcp", bearer_tokens=("good-token",),
            qualifiers=("prod",),
        )  # fmt: skip
        self.gateway = local.add_gateway(
            "tools-gw", mcp_tools.build_app(), region=GATEWAY_REGION, gateway_id="tools-gw-abc123"
        )
        self.jwt_gateway = local.add_gateway(
            "jwt-gw", mcp_tools.build_app(json_response=True), auth="jwt",
            bearer_tokens=("gw-token",),
        )  # fmt: skip
        self._count = 0

    def fresh(self, agent: Any = None, **kwargs: Any) -> str:
        self._count += 1
        return self.local.add_agent(
            f"mcp-fresh-{self._count}",
            agent if agent is not None or "url" in kwargs else mcp_tools.build_app(),
            protocol="mcp",
            **kwargs,
        )


@pytest.fixture(scope="module")
def mcp() -> Iterator[McpRuntimes]:
    with LocalRuntime() as local:
        yield McpRuntimes(local)


# --- the real MCP client ---------------------------------------------------------------------


async def use_tools(
    url: str,
    auth: httpx.Auth | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """initialize, list_tools, call add(2, 3), echo_headers and fail through ``url``."""
    async with (
        httpx.AsyncClient(headers=headers, auth=auth, timeout=httpx.Timeout(30)) as http,
        streamable_http_client(url, http_client=http) as (read, write, session_id),
        ClientSession(read, write) as session,
    ):
        init = await session.initialize()
        tools = await session.list_tools()
        added = await session.call_tool("add", {"a": 2, "b": 3})
        seen = await session.call_tool("echo_headers", {})
        failed = await session.call_tool("fail", {})
        slept = await session.call_tool("slow", {"seconds": 0.05})
        return {
            "server": init.serverInfo.name,
            "tools": sorted(t.name for t in tools.tools),
            "added": added.structuredContent,
            "seen": seen.structuredContent,
            "failed": (failed.isError, [c.text for c in failed.content if c.type == "text"]),
            "slept": slept.structuredContent,
            "session_id": session_id(),
        }


@pytest.mark.parametrize("kind", ["sse", "json"])
def test_mcp_client_initializes_lists_and_calls_tools(mcp: McpRuntimes, kind: str) -> None:
    arn = getattr(mcp, kind)
    url = mcp.local.invocation_url(arn)
    assert url.endswith("/invocations?qualifier=DEFAULT")
    result = asyncio.run(use_tools(url, SigV4HttpxAuth.for_runtime(mcp.local)))
    assert result["server"] == "local-tools"
    assert result["tools"] == ["add", "echo_headers", "fail", "slow"]
    assert result["added"] == {"result": 5}
    is_error, texts = result["failed"]
    assert is_error and mcp_tools.FAILURE_TEXT in texts[0]
    assert result["slept"] == {"result": "slept 0.05s"}
    # The platform made up an Mcp-Session-Id, returned it, and the client used it throughout.
    session_id = result["session_id"]
    assert session_id
    seen_headers = result["seen"]["headers"]
    assert seen_headers["mcp-session-id"] == session_id
    assert seen_headers[SESSION_HEADER] == session_id  # the runtime session follows it
    calls = [i for i in mcp.local.invocations if i.runtime_arn == arn and i.method == "POST"]
    assert all(i.agent_path == "/mcp" for i in calls)
    assert {i.agent_headers["mcp-session-id"] for i in calls} == {session_id}


def test_runtime_user_id_reaches_the_server(mcp: McpRuntimes) -> None:
    result = asyncio.run(
        use_tools(
            mcp.local.invocation_url(mcp.json),
            SigV4HttpxAuth.for_runtime(mcp.local),
            headers={USER_ID_HEADER: "user-42"},
        )
    )
    assert result["seen"]["headers"]["x-amzn-bedrock-agentcore-runtime-user-id"] == "user-42"


def test_oauth_runtime_with_its_token(mcp: McpRuntimes) -> None:
    result = asyncio.run(
        use_tools(
            mcp.local.invocation_url(mcp.oauth), headers={"Authorization": "Bearer good-token"}
        )
    )
    assert result["added"] == {"result": 5}


# --- raw requests ----------------------------------------------------------------------------


def rpc(method: str, params: dict[str, Any] | None = None, request_id: Any = 1) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        body["params"] = params
    return json.dumps(body).encode()


INITIALIZE = rpc(
    "initialize",
    {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "1"},
    },
)


def mcp_request(
    local: LocalRuntime,
    arn: str,
    body: bytes = INITIALIZE,
    *,
    method: str = "POST",
    accept: str | None = MCP_ACCEPT,
    qualifier: str = "DEFAULT",
    headers: dict[str, str] | None = None,
    bearer: str | None = None,
    unsigned: bool = False,
    region: str | None = None,
) -> RawRequest:
    path = runtime_path(arn) + f"?qualifier={qualifier}"
    extra = {"Content-Type": "application/json"}
    if accept is not None:
        extra["Accept"] = accept
    extra.update(headers or {})
    if bearer is not None or unsigned:
        all_headers = {"Host": f"127.0.0.1:{local.port}", **extra}
        if bearer is not None:
            all_headers["Authorization"] = f"Bearer {bearer}"
    else:
        all_headers = signed_headers(local, method, path, body, extra, region=region)
    return RawRequest(method, path, all_headers, body)


def assert_mcp_error(
    response: RawResponse, status: int, code: int, error_type: str, request_id: Any = 1
) -> dict[str, Any]:
    assert response.status == status, (response.status, response.body)
    assert response.headers.get("x-amzn-errortype") == error_type, response.headers
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert payload["jsonrpc"] == "2.0" and payload["id"] == request_id, payload
    assert payload["error"]["code"] == code, payload
    assert payload["error"]["message"]
    return payload


def json_result(response: RawResponse) -> dict[str, Any]:
    """The JSON-RPC result of a JSON or one-event SSE answer."""
    assert response.status == 200, (response.status, response.body)
    if response.headers["content-type"].startswith("text/event-stream"):
        data = [
            line[5:] for line in response.body.decode().splitlines() if line.startswith("data:")
        ]
        payload = json.loads(data[-1])
    else:
        payload = response.json()
    assert "error" not in payload, payload
    return payload["result"]


def test_platform_generates_returns_and_injects_mcp_session_id(mcp: McpRuntimes) -> None:
    arn = mcp.fresh(mcp_tools.build_app(json_response=True))
    response = send(mcp.local, mcp_request(mcp.local, arn))
    assert json_result(response)["serverInfo"]["name"] == "local-tools"
    generated = response.headers["mcp-session-id"]
    assert generated
    assert response.headers[SESSION_HEADER] == generated
    (seen,) = [i for i in mcp.local.invocations if i.runtime_arn == arn]
    assert "mcp-session-id" not in seen.headers
    assert seen.agent_headers["mcp-session-id"] == generated


def test_given_mcp_session_and_protocol_version_are_passed_and_returned(
    mcp: McpRuntimes,
) -> None:
    mcp_session = "client-chosen-mcp-session"
    headers = {"Mcp-Session-Id": mcp_session, "Mcp-Protocol-Version": "2025-06-18"}
    response = send(mcp.local, mcp_request(mcp.local, mcp.json, rpc("tools/list"), headers=headers))
    assert [t["name"] for t in json_result(response)["tools"]][:1] == ["add"]
    assert response.headers["mcp-session-id"] == mcp_session
    assert response.headers["mcp-protocol-version"] == "2025-06-18"
    seen = mcp.local.invocations[-1]
    assert seen.agent_headers["mcp-session-id"] == mcp_session
    assert seen.agent_headers["mcp-protocol-version"] == "2025-06-18"


def test_runtime_session_header_becomes_the_mcp_session(mcp: McpRuntimes) -> None:
    runtime_session = "mcp-runtime-session-" + "7" * 20
    response = send(
        mcp.local,
        mcp_request(
            mcp.local, mcp.json, rpc("tools/call", {"name": "echo_headers", "arguments": {}}),
            headers={"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": runtime_session},
        ),
    )  # fmt: skip
    seen = json_result(response)["structuredContent"]["headers"]
    assert seen["mcp-session-id"] == runtime_session == response.headers["mcp-session-id"]


def test_boto3_invoke_agent_runtime_on_an_mcp_runtime(mcp: McpRuntimes) -> None:
    client = boto3.client("bedrock-agentcore", **mcp.local.boto3_kwargs())
    try:
        response = client.invoke_agent_runtime(
            agentRuntimeArn=mcp.json,
            contentType="application/json",
            accept=MCP_ACCEPT,
            mcpProtocolVersion="2025-06-18",
            payload=rpc("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}}),
        )
        assert response["mcpSessionId"]
        assert response["mcpProtocolVersion"] == "2025-06-18"
        answer = json.loads(response["response"].read())
        assert answer["result"]["structuredContent"] == {"result": 5}

        streamed = client.invoke_agent_runtime(
            agentRuntimeArn=mcp.sse, accept=MCP_ACCEPT, payload=rpc("tools/list")
        )
        assert streamed["contentType"].startswith("text/event-stream")
        assert b'"echo_headers"' in streamed["response"].read()

        with pytest.raises(ClientError) as caught:
            client.invoke_agent_runtime(agentRuntimeArn=mcp.json, payload=rpc("tools/list"))
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 406
    finally:
        client.close()


# --- the Accept rule, methods ----------------------------------------------------------------


@pytest.mark.parametrize("accept", [None, "application/json", "text/event-stream", "*/*"])
def test_accept_without_both_media_types_is_406(mcp: McpRuntimes, accept: str | None) -> None:
    before = len([i for i in mcp.local.invocations if i.agent_path])
    response = send(mcp.local, mcp_request(mcp.local, mcp.sse, accept=accept))
    assert_mcp_error(response, 406, -32011, "ValidationException")
    assert len([i for i in mcp.local.invocations if i.agent_path]) == before  # never forwarded


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_and_delete_on_the_endpoint_are_405(mcp: McpRuntimes, method: str) -> None:
    response = send(mcp.local, mcp_request(mcp.local, mcp.sse, b"", method=method))
    assert response.status == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["id"] is None


# --- auth ------------------------------------------------------------------------------------


def test_oauth_runtime_without_token_is_401_with_resource_metadata(mcp: McpRuntimes) -> None:
    for request in (
        mcp_request(mcp.local, mcp.oauth, unsigned=True),  # no Authorization at all
        mcp_request(mcp.local, mcp.oauth),  # SigV4 instead of a token
        mcp_request(mcp.local, mcp.oauth, bearer="bad-token"),
    ):
        response = send(mcp.local, request)
        assert_mcp_error(response, 401, -32001, "AccessDeniedException")
        escaped = runtime_path(mcp.oauth).split("/")[2]
        assert response.headers["www-authenticate"] == (
            f'Bearer resource_metadata="{mcp.local.endpoint_url}/runtimes/{escaped}'
            '/invocations/.well-known/oauth-protected-resource?qualifier=DEFAULT"'
        )
    prod = send(mcp.local, mcp_request(mcp.local, mcp.oauth, unsigned=True, qualifier="prod"))
    assert prod.headers["www-authenticate"].endswith('?qualifier=prod"')
    ok = send(mcp.local, mcp_request(mcp.local, mcp.oauth, bearer="good-token"))
    assert ok.status == 200


def test_sigv4_failures_are_403_access_denied_without_a_challenge(mcp: McpRuntimes) -> None:
    for request, error_type in (
        (mcp_request(mcp.local, mcp.sse, unsigned=True), "MissingAuthenticationTokenException"),
        (mcp_request(mcp.local, mcp.sse, region="ap-south-1"), "InvalidSignatureException"),
        (mcp_request(mcp.local, mcp.sse, bearer="good-token"), "AccessDeniedException"),
    ):
        response = send(mcp.local, request)
        assert_mcp_error(response, 403, -32002, error_type)
        assert "www-authenticate" not in response.headers


# --- platform errors: JSON-RPC at HTTP 200 ---------------------------------------------------


def test_unknown_qualifier_is_200_with_not_found_code(mcp: McpRuntimes) -> None:
    response = send(mcp.local, mcp_request(mcp.local, mcp.sse, qualifier="nope"))
    assert_mcp_error(response, 200, -32004, "ResourceNotFoundException")


def test_invalid_session_id_is_200_with_validation_code(mcp: McpRuntimes) -> None:
    response = send(
        mcp.local,
        mcp_request(
            mcp.local, mcp.sse, headers={"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "short"}
        ),
    )
    assert_mcp_error(response, 200, -32006, "ValidationException")


@pytest.mark.parametrize(
    ("fault", "code", "error_type"),
    [
        (Fault.THROTTLE, -32003, "ThrottlingException"),
        (Fault.CONFLICT, -32005, "RetryableConflictException"),
        (Fault.INTERNAL, -32603, "InternalServerException"),
        (Fault.UNAVAILABLE, -32603, "ServiceUnavailableException"),
    ],
)
def test_injected_faults_are_200_with_their_codes(
    mcp: McpRuntimes, fault: Fault, code: int, error_type: str
) -> None:
    arn = mcp.fresh()
    mcp.local.inject(fault, runtime_arn=arn)
    assert_mcp_error(
        send(mcp.local, mcp_request(mcp.local, arn, rpc("tools/list", request_id="r-9"))),
        200, code, error_type, request_id="r-9",
    )  # fmt: skip


def test_throttled_twice_then_success_seen_server_side(mcp: McpRuntimes) -> None:
    arn = mcp.fresh(mcp_tools.build_app(json_response=True))
    mcp.local.inject(Fault.THROTTLE, times=2, runtime_arn=arn)
    answers = [send(mcp.local, mcp_request(mcp.local, arn, rpc("tools/list"))) for _ in range(3)]
    codes = [a.json().get("error", {}).get("code") for a in answers]
    assert codes == [-32003, -32003, None]
    seen = [
        (i.status, i.error_type, i.fault) for i in mcp.local.invocations if i.runtime_arn == arn
    ]
    assert seen == [
        (200, "ThrottlingException", Fault.THROTTLE),
        (200, "ThrottlingException", Fault.THROTTLE),
        (200, None, None),
    ]


def test_server_http_failure_is_200_with_runtime_client_error(mcp: McpRuntimes) -> None:
    async def broken(request: Request) -> JSONResponse:
        return JSONResponse({"detail": "server-secret-5c2"}, status_code=500)

    arn = mcp.fresh(Starlette(routes=[Route("/mcp", broken, methods=["POST"])]))
    response = send(mcp.local, mcp_request(mcp.local, arn))
    assert_mcp_error(response, 200, -32010, "RuntimeClientError")
    assert b"server-secret-5c2" not in response.body


# --- one process per session -----------------------------------------------------------------


@pytest.mark.timeout(180)
def test_one_process_per_mcp_session(mcp: McpRuntimes) -> None:
    arn = mcp.fresh(MCP_MODULE, idle_timeout=60)
    url = mcp.local.invocation_url(arn)
    auth = SigV4HttpxAuth.for_runtime(mcp.local)
    try:
        first = asyncio.run(use_tools(url, auth))
        second = asyncio.run(use_tools(url, auth))
        assert first["added"] == second["added"] == {"result": 5}
        pids = mcp.local.session_pids(arn)
        # Each client session was routed by its Mcp-Session-Id to a worker of its own.
        assert pids[first["session_id"]] == first["seen"]["pid"]
        assert pids[second["session_id"]] == second["seen"]["pid"]
        assert first["seen"]["pid"] != second["seen"]["pid"]
    finally:
        mcp.local.run_in_loop(mcp.local.host(arn).aclose())


def test_mcp_server_at_a_url(mcp: McpRuntimes) -> None:
    with served(mcp_tools.build_app()) as url:
        arn = mcp.fresh(url=url)
        result = asyncio.run(
            use_tools(mcp.local.invocation_url(arn), SigV4HttpxAuth.for_runtime(mcp.local))
        )
        assert result["added"] == {"result": 5}
        assert result["seen"]["headers"]["mcp-session-id"] == result["session_id"]


# --- Gateways --------------------------------------------------------------------------------


def test_gateway_with_sigv4_in_its_own_region(mcp: McpRuntimes) -> None:
    assert mcp.gateway == f"{mcp.local.endpoint_url}/gateways/tools-gw-abc123/mcp"
    auth = SigV4HttpxAuth.for_runtime(mcp.local, region=GATEWAY_REGION)
    result = asyncio.run(use_tools(mcp.gateway, auth))
    assert result["added"] == {"result": 5}
    calls = [i for i in mcp.local.invocations if i.gateway_id == "tools-gw-abc123"]
    assert calls and {i.operation for i in calls} == {"gateway"}

    wrong_region = httpx.post(
        mcp.gateway, content=INITIALIZE,
        headers={"Content-Type": "application/json", "Accept": MCP_ACCEPT},
        auth=SigV4HttpxAuth.for_runtime(mcp.local),
    )  # fmt: skip
    assert wrong_region.status_code == 403
    assert wrong_region.json()["error"]["code"] == -32002


def test_gateway_real_host_name_is_routed(mcp: McpRuntimes) -> None:
    host = f"tools-gw-abc123.gateway.bedrock-agentcore.{GATEWAY_REGION}.amazonaws.com"
    headers = signed_headers(
        mcp.local, "POST", "/mcp", rpc("tools/list"),
        {"Content-Type": "application/json", "Accept": MCP_ACCEPT},
        region=GATEWAY_REGION, host=host,
    )  # fmt: skip
    response = send(mcp.local, RawRequest("POST", "/mcp", headers, rpc("tools/list")))
    assert "add" in [t["name"] for t in json_result(response)["tools"]]


def test_jwt_gateway(mcp: McpRuntimes) -> None:
    result = asyncio.run(use_tools(mcp.jwt_gateway, headers={"Authorization": "Bearer gw-token"}))
    assert result["added"] == {"result": 5}
    refused = httpx.post(
        mcp.jwt_gateway, content=INITIALIZE,
        headers={"Content-Type": "application/json", "Accept": MCP_ACCEPT},
    )  # fmt: skip
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == -32001
    assert refused.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{mcp.local.endpoint_url}/gateways/jwt-gw'
        '/.well-known/oauth-protected-resource"'
    )
