"""LocalRuntime: the data plane served by uvicorn on 127.0.0.1, as a context manager.

with LocalRuntime() as runtime:
    arn = runtime.add_agent("echo", echo_app)
    boto3.client("bedrock-agentcore", **runtime.boto3_kwargs()).invoke_agent_runtime(...)
    a2a = runtime.add_agent("helper", a2a_echo.build_app(), protocol="a2a")
    tools = runtime.add_agent("tools", mcp_tools.build_app(), protocol="mcp")
    gateway_url = runtime.add_gateway("gw", mcp_tools.build_app())
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote

import uvicorn

from agentcore_bridge.local.dataplane import (
    DEFAULT_QUALIFIER,
    TRANSPORT_STATE_KEY,
    DataPlane,
    Fault,
    GatewayAuth,
    Invocation,
    RegisteredGateway,
    RegisteredRuntime,
)
from agentcore_bridge.local.hosts import (
    AgentHost,
    ASGIApp,
    InProcessHost,
    ProcessPerSessionHost,
    UrlHost,
)
from agentcore_bridge.local.protocols import CONTAINERS, AgentProtocol, invocation_url
from agentcore_bridge.local.sigv4 import LocalCredentials
from agentcore_bridge.targets import SERVICE_NAME

DEFAULT_REGION = "us-west-2"
DEFAULT_ACCOUNT_ID = "123456789012"
# Well-known local credentials, like moto's "testing": they open nothing but this local runtime.
DEFAULT_ACCESS_KEY_ID = "AKIALOCALAGENTCORE01"
DEFAULT_SECRET_ACCESS_KEY = "local-agentcore-secret-access-key-0000001"  # noqa: S105


def _protocol_class() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, made to hand each request's transport to the data plane, which
    needs it only to drop connections on purpose (fault injection)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:  # httptools is optional
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base  # type: ignore[assignment]

    class TransportExposingProtocol(Base):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.app_state = {**self.app_state, TRANSPORT_STATE_KEY: transport}

    return TransportExposingProtocol


class LocalRuntime:
    """A local AgentCore data plane on 127.0.0.1 for development and tests.

    ``add_agent`` registers a runtime and returns its ARN. Agents are an ASGI app (hosted
    in-process), a module path ``"path/agent.py:app"`` (one worker process per session, as
    AgentCore gives each session its own microVM), or ``url="http://127.0.0.1:8080"`` (an agent
    already running, e.g. ``agentcore dev``). ``protocol`` is the runtime's server protocol:
    ``"http"`` (a ``BedrockAgentCoreApp`` serving ``/invocations``), ``"a2a"`` (an A2A server:
    JSON-RPC at ``/``, its card at ``/.well-known/agent-card.json``) or ``"mcp"`` (a stateless
    streamable-HTTP MCP server at ``/mcp``). ``add_gateway`` serves an MCP server as an
    AgentCore Gateway. SigV4 is verified for ``credentials``; ``bearer_tokens`` make a runtime
    OAuth-only. See docs/local-runtime.md for the routes and the errors of each protocol.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        credentials: list[LocalCredentials] | None = None,
        rate_limit: float | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
    ) -> None:
        self.region = region
        self._ssl = (ssl_certfile, ssl_keyfile) if ssl_certfile else None
        self.account_id = account_id
        creds = credentials or [LocalCredentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY)]
        self.credentials = creds[0]
        self.dataplane = DataPlane(
            credentials={c.access_key_id: c for c in creds}, region=region, rate_limit=rate_limit
        )
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._socket: socket.socket | None = None

    # --- runtimes -------------------------------------------------------------------------

    def add_agent(
        self,
        name: str,
        agent: ASGIApp | str | None = None,
        *,
        url: str | None = None,
        qualifiers: tuple[str, ...] = (),
        bearer_tokens: tuple[str, ...] | None = None,
        idle_timeout: float = 900.0,
        runtime_id: str | None = None,
        region: str | None = None,
        account_id: str | None = None,
        protocol: AgentProtocol | str = AgentProtocol.HTTP,
    ) -> str:
        """Register an agent as a runtime and return its ARN (in this runtime's region and
        account unless ``region``/``account_id`` say otherwise: one local endpoint can stand in
        for runtimes of several regions and accounts, each signed for its own region).

        ``protocol`` is ``"http"``, ``"a2a"`` or ``"mcp"``. Worker processes of an A2A runtime
        get ``AGENTCORE_RUNTIME_URL`` (the runtime's invocation URL), as AgentCore's containers
        do; an in-process app cannot, and its card's ``url`` is rewritten on the way out anyway.
        """
        protocol = AgentProtocol(protocol)
        runtime_id = runtime_id or name
        region = region or self.region
        account_id = account_id or self.account_id
        arn = f"arn:aws:{SERVICE_NAME}:{region}:{account_id}:runtime/{runtime_id}"
        if arn in self.dataplane.runtimes:
            raise ValueError(f"a runtime named {runtime_id!r} is already registered")

        def environment() -> dict[str, str]:
            if protocol is not AgentProtocol.A2A:
                return {}
            return {"AGENTCORE_RUNTIME_URL": self.invocation_url(arn)}

        host = self._host(agent, url, protocol, idle_timeout, environment)
        self.dataplane.runtimes[arn] = RegisteredRuntime(
            arn=arn,
            runtime_id=runtime_id,
            account_id=account_id,
            region=region,
            host=host,
            qualifiers=frozenset({DEFAULT_QUALIFIER, *qualifiers}),
            bearer_tokens=frozenset(bearer_tokens) if bearer_tokens is not None else None,
            protocol=protocol,
        )
        return arn

    @staticmethod
    def _host(
        agent: ASGIApp | str | None,
        url: str | None,
        protocol: AgentProtocol,
        idle_timeout: float,
        environment: Callable[[], Mapping[str, str]] | None = None,
    ) -> AgentHost:
        if (agent is None) == (url is None):
            raise ValueError("give exactly one of an agent (app or 'module:app') or url=")
        if url is not None:
            return UrlHost(url)
        if isinstance(agent, str):
            return ProcessPerSessionHost(agent, idle_timeout=idle_timeout, environment=environment)
        assert agent is not None
        return InProcessHost(agent, port=CONTAINERS[protocol].port)

    def add_gateway(
        self,
        name: str,
        server: ASGIApp | str | None = None,
        *,
        url: str | None = None,
        auth: GatewayAuth = "iam",
        bearer_tokens: tuple[str, ...] = (),
        region: str | None = None,
        gateway_id: str | None = None,
    ) -> str:
        """Serve an MCP server (its ASGI app with a streamable-HTTP endpoint at ``/mcp``, a
        ``"module:app"`` run in one worker process, or ``url=`` of one already running) as an
        AgentCore Gateway, and return the Gateway's MCP URL.

        A real Gateway is ``https://{gateway-id}.gateway.bedrock-agentcore.{region}.amazonaws
        .com/mcp``; locally the URL is ``{endpoint_url}/gateways/{gateway-id}/mcp`` (the real
        host name is also routed when it arrives in the ``Host`` header, on path ``/mcp``).
        ``auth``: ``"iam"`` (SigV4, service ``bedrock-agentcore``, the Gateway's region),
        ``"jwt"`` (``Authorization: Bearer`` one of ``bearer_tokens``) or ``"none"``. The
        runtime must be running (the URL holds its port).
        """
        gateway_id = (gateway_id or name).lower()
        if gateway_id in self.dataplane.gateways:
            raise ValueError(f"a gateway named {gateway_id!r} is already registered")
        if auth == "jwt" and not bearer_tokens:
            raise ValueError("a jwt gateway needs bearer_tokens")
        host = self._host(server, url, AgentProtocol.MCP, float("inf"))
        self.dataplane.gateways[gateway_id] = RegisteredGateway(
            gateway_id=gateway_id,
            region=region or self.region,
            host=host,
            auth=auth,
            bearer_tokens=frozenset(bearer_tokens),
        )
        return self.gateway_url(gateway_id)

    def gateway_url(self, gateway_id: str) -> str:
        return f"{self.endpoint_url}/gateways/{quote(gateway_id, safe='')}/mcp"

    def invocation_url(self, arn: str, qualifier: str | None = None) -> str:
        """The URL to point a client of the runtime's protocol at: an A2A client at
        ``.../invocations/`` (its agent card there too), an MCP client at
        ``.../invocations?qualifier=DEFAULT``, InvokeAgentRuntime's path for HTTP runtimes."""
        runtime = self.dataplane.runtimes[arn]
        return invocation_url(self.endpoint_url, arn, runtime.protocol, qualifier)

    def host(self, arn: str) -> AgentHost:
        return self.dataplane.runtimes[arn].host

    def session_pids(self, arn: str) -> dict[str, int]:
        """For a process-per-session runtime: live session id -> worker pid."""
        host = self.host(arn)
        if not isinstance(host, ProcessPerSessionHost):
            raise TypeError(f"{arn} is not hosted one process per session")
        return host.pids()

    # --- faults and observations ----------------------------------------------------------

    def inject(
        self, fault: Fault | str, *, times: int = 1, runtime_arn: str | None = None,
        after_chunks: int = 1,
    ) -> None:  # fmt: skip
        """Make the next ``times`` invocations (of ``runtime_arn``, or any) fail with ``fault``."""
        self.dataplane.inject(
            fault, times=times, runtime_arn=runtime_arn, after_chunks=after_chunks
        )

    def set_rate_limit(self, per_second: float | None) -> None:
        self.dataplane.set_rate_limit(per_second)

    @property
    def invocations(self) -> list[Invocation]:
        """Every request the runtime received (retries included), oldest first."""
        return self.dataplane.invocations

    # --- where clients point --------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the local runtime is not running")
        return int(self._socket.getsockname()[1])

    @property
    def endpoint_url(self) -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """Environment variables that point boto3 (and our clients) at this runtime."""
        return {
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.credentials.secret_access_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def boto3_kwargs(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": self.credentials.access_key_id,
            "aws_secret_access_key": self.credentials.secret_access_key,
        }

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalRuntime:
        if self._server is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self._socket = sock
        config = uvicorn.Config(
            self.dataplane,
            http=_protocol_class(),
            log_level="warning",
            lifespan="on",
            timeout_keep_alive=30,
            ssl_certfile=self._ssl[0] if self._ssl else None,
            ssl_keyfile=self._ssl[1] if self._ssl else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, name="agentcore-local-runtime", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local AgentCore runtime did not start")
            time.sleep(0.005)
        return self

    def _run(self) -> None:
        assert self._server is not None
        assert self._socket is not None
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        finally:
            # As asyncio.run does: end what hosted apps left running (sse-starlette's shutdown
            # watcher, an agent's background tasks) before the loop closes under them.
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def run_in_loop(self, coroutine: Any) -> Any:
        """Run a coroutine on the runtime's event loop (e.g. to stop a host's session)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(60)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"on {self.endpoint_url}" if self._socket is not None else "stopped"
        return f"LocalRuntime({state}, runtimes={list(self.dataplane.runtimes)})"
