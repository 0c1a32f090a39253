"""The local AgentCore data plane: an ASGI app that answers as AgentCore's front door does.

Routes, on the raw path (the ARN is one percent-encoded segment):

- ``POST /runtimes/{arn}/invocations`` (also with a trailing slash): InvokeAgentRuntime, passed
  to the container's ``POST /invocations`` (HTTP), ``POST /`` (A2A) or ``POST /mcp`` (MCP);
- ``GET /runtimes/{arn}/invocations/.well-known/agent-card.json``: GetAgentCard (A2A runtimes),
  the card's ``url`` rewritten to the runtime's invocation URL;
- ``POST /runtimes/{arn}/stopruntimesession``: StopRuntimeSession;
- ``/gateways/{id}/mcp``, or ``/mcp`` with ``Host: {id}.gateway.bedrock-agentcore.{region}.
  amazonaws.com``: an AgentCore Gateway's MCP endpoint.

SigV4 is verified against the raw path (or a Bearer token for OAuth runtimes), session ids
validated, generated and echoed, qualifiers and the 100 MB payload limit enforced, errors shaped
as each protocol shows them (see ``protocols``), an agent's own failure reported as
RuntimeClientError, streams passed on chunk by chunk, and faults injected on request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from agentcore_bridge.local.hosts import AgentHost, AgentResponse, AgentUnreachable
from agentcore_bridge.local.protocols import (
    AGENT_CARD_PATH,
    CONTAINERS,
    DEFAULT_QUALIFIER,
    OAUTH_RESOURCE_PATH,
    AgentProtocol,
    PlatformError,
    accepts_mcp_responses,
    bearer_challenge,
    invocation_url,
    render_error,
    rewrite_agent_card,
    runtime_resource_metadata_url,
)
from agentcore_bridge.local.sigv4 import AuthFailure, LocalCredentials, verify_sigv4
from agentcore_bridge.payloads import MAX_PAYLOAD_BYTES
from agentcore_bridge.sessions import SESSION_ID_MAX_LENGTH, SESSION_ID_MIN_LENGTH
from agentcore_bridge.targets import SERVICE_NAME

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

SESSION_HEADER = "x-amzn-bedrock-agentcore-runtime-session-id"
USER_ID_HEADER = "x-amzn-bedrock-agentcore-runtime-user-id"
REQUEST_ID_HEADER = "x-amzn-requestid"
AGENT_REQUEST_ID_HEADER = "x-amzn-bedrock-agentcore-runtime-request-id"
MCP_SESSION_HEADER = "mcp-session-id"
MCP_PROTOCOL_HEADER = "mcp-protocol-version"
MCP_SESSION_ID_MAX_LENGTH = 1024
TRANSPORT_STATE_KEY = "agentcore_local.transport"
# An agent card is read whole (its url is rewritten); a bigger one is the agent's failure.
MAX_AGENT_CARD_BYTES = 1_048_576
# What AgentCore passes on to the agent container.
_FORWARDED_HEADERS = frozenset(
    {
        "content-type",
        "accept",
        SESSION_HEADER,
        USER_ID_HEADER,
        "x-amzn-trace-id",
        "traceparent",
        "tracestate",
        "baggage",
        MCP_SESSION_HEADER,
        MCP_PROTOCOL_HEADER,
        "mcp-method",
        "mcp-name",
    }
)
# What a Gateway passes on to the MCP server behind it, and back.
_GATEWAY_REQUEST_HEADERS = frozenset(
    {"content-type", "accept", MCP_SESSION_HEADER, MCP_PROTOCOL_HEADER, "last-event-id",
     "traceparent", "tracestate", "baggage"}
)  # fmt: skip
_GATEWAY_RESPONSE_HEADERS = frozenset(
    {"content-type", MCP_SESSION_HEADER, MCP_PROTOCOL_HEADER, "allow", "cache-control"}
)
_CUSTOM_HEADER_PREFIX = "x-amzn-bedrock-agentcore-runtime-custom-"
_TRACE_HEADERS = ("x-amzn-trace-id", "traceparent", "tracestate", "baggage")
_GATEWAY_HOST = re.compile(
    r"(?P<id>[a-z0-9][a-z0-9-]*)\.gateway\.bedrock-agentcore\.(?P<region>[a-z0-9-]+)"
    r"\.amazonaws\.com(?::\d+)?"
)
GatewayAuth = Literal["iam", "jwt", "none"]


class Fault(StrEnum):
    """Faults the local runtime can inject, each as AgentCore or the network would show it."""

    THROTTLE = "throttle"  # 429 ThrottlingException
    CONFLICT = "conflict"  # 409 RetryableConflictException
    INTERNAL = "internal"  # 500 InternalServerException
    UNAVAILABLE = "unavailable"  # 503 ServiceUnavailableException
    DROP_BEFORE_HEADERS = "drop-before-headers"  # connection closed, nothing sent
    DROP_AFTER_HEADERS = "drop-after-headers"  # 200 + headers, then the connection closes
    DROP_MID_STREAM = "drop-mid-stream"  # some body chunks, then the connection closes


_FAULT_ERRORS: dict[Fault, tuple[int, str, str]] = {
    Fault.THROTTLE: (429, "ThrottlingException", "Rate exceeded"),
    Fault.CONFLICT: (
        409,
        "RetryableConflictException",
        "The request conflicts with an operation in progress. Retry the request.",
    ),
    Fault.INTERNAL: (500, "InternalServerException", "An internal error occurred. Try again."),
    Fault.UNAVAILABLE: (503, "ServiceUnavailableException", "Service is unavailable. Try again."),
}


@dataclass
class PlannedFault:
    fault: Fault
    runtime_arn: str | None = None
    after_chunks: int = 1
    """For DROP_MID_STREAM: how many of the agent's body chunks pass before the drop."""


@dataclass
class Invocation:
    """One request as the runtime saw it: what tests count retries and check forwarding with.

    ``headers`` and ``body`` are what the client sent (credentials left out); ``agent_path``
    and ``agent_headers`` what the container was sent (e.g. the injected ``Mcp-Session-Id``).
    ``status`` is the HTTP status answered: an MCP runtime's platform errors are HTTP 200, so
    read ``error_type`` too.
    """

    operation: str
    runtime_arn: str | None
    session_id: str | None
    qualifier: str | None
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    fault: Fault | None = None
    error_type: str | None = None
    at: float = field(default_factory=time.time)
    method: str = "POST"
    path: str = ""
    protocol: AgentProtocol | None = None
    gateway_id: str | None = None
    agent_path: str | None = None
    agent_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RegisteredRuntime:
    arn: str
    runtime_id: str
    account_id: str
    region: str
    host: AgentHost
    qualifiers: frozenset[str] = frozenset({DEFAULT_QUALIFIER})
    bearer_tokens: frozenset[str] | None = None
    """Set for OAuth runtimes: a valid ``Authorization: Bearer`` token is required, not SigV4."""
    sessions: set[str] = field(default_factory=set)
    protocol: AgentProtocol = AgentProtocol.HTTP

    @property
    def is_oauth(self) -> bool:
        return self.bearer_tokens is not None


@dataclass
class RegisteredGateway:
    """An AgentCore Gateway: an MCP endpoint whose server (its targets' tools) is ``host``."""

    gateway_id: str
    region: str
    host: AgentHost
    auth: GatewayAuth = "iam"
    bearer_tokens: frozenset[str] = frozenset()


class _RateLimiter:
    """A token bucket per endpoint, like AgentCore's ~25 invocations/s per endpoint."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def allow(self, key: tuple[str, str]) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.rate, now))
        tokens = min(self.rate, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True


@dataclass(frozen=True)
class _Route:
    operation: Literal["invocations", "agent-card", "stopruntimesession"]
    identifier: str


def _route(method: str, raw_path: str) -> _Route:
    """The runtime operation a method and raw path ask for (404 UnknownOperation if none)."""
    parts = raw_path.split("/")
    if len(parts) >= 4 and parts[0] == "" and parts[1] == "runtimes" and parts[2]:
        identifier, rest = unquote(parts[2]), parts[3:]
        if rest in (["invocations"], ["invocations", ""]) and method in ("POST", "GET", "DELETE"):
            # GET and DELETE exist only to be answered 405 for MCP runtimes.
            return _Route("invocations", identifier)
        if rest == ["invocations", *AGENT_CARD_PATH.split("/")[1:]] and method == "GET":
            return _Route("agent-card", identifier)
        if rest == ["stopruntimesession"] and method == "POST":
            return _Route("stopruntimesession", identifier)
    raise PlatformError(404, "UnknownOperationException", "Unknown operation")


def _gateway_route(raw_path: str, host: str) -> tuple[str, str | None] | None:
    """(gateway id, region named by the host or None) when the request is for a Gateway."""
    parts = raw_path.split("/")
    if len(parts) == 4 and parts[1] == "gateways" and parts[2] and parts[3] == "mcp":
        return unquote(parts[2]), None
    match = _GATEWAY_HOST.fullmatch(host.lower())
    if match is not None and raw_path in ("/mcp", "/mcp/"):
        return match["id"], match["region"]
    return None


class DataPlane:
    """The ASGI app. Register runtimes in ``runtimes`` and gateways in ``gateways``; plan faults
    with :meth:`inject`."""

    def __init__(
        self,
        *,
        credentials: Mapping[str, LocalCredentials],
        region: str,
        rate_limit: float | None = None,
    ) -> None:
        self.credentials = dict(credentials)
        self.region = region
        self.runtimes: dict[str, RegisteredRuntime] = {}
        self.gateways: dict[str, RegisteredGateway] = {}
        self.invocations: list[Invocation] = []
        self._faults: deque[PlannedFault] = deque()
        self._rate_limiter = _RateLimiter(rate_limit) if rate_limit else None

    def inject(
        self, fault: Fault | str, *, times: int = 1, runtime_arn: str | None = None,
        after_chunks: int = 1,
    ) -> None:  # fmt: skip
        """Make the next ``times`` matching invocations fail with ``fault``."""
        for _ in range(times):
            self._faults.append(PlannedFault(Fault(fault), runtime_arn, after_chunks))

    def set_rate_limit(self, per_second: float | None) -> None:
        self._rate_limiter = _RateLimiter(per_second) if per_second else None

    def _take_fault(self, arn: str) -> PlannedFault | None:
        for planned in self._faults:
            if planned.runtime_arn in (None, arn):
                self._faults.remove(planned)
                return planned
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request_id = str(uuid.uuid4())
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        invocation = Invocation(
            "unknown", None, None, None, _header_dict(scope), b"",
            method=scope["method"], path=raw_path,
        )  # fmt: skip
        try:
            await self._handle(scope, receive, send, request_id, invocation)
        except PlatformError as error:
            # The JSON-RPC dialects are for the JSON-RPC channel; GetAgentCard and
            # StopRuntimeSession are REST operations with AWS JSON errors whatever the protocol.
            rpc = invocation.operation in ("invocations", "gateway")
            reply = render_error(invocation.protocol if rpc else None, error, invocation.body)
            invocation.status, invocation.error_type = reply.status, error.error_type
            headers = [*reply.headers, (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            await send({"type": "http.response.body", "body": reply.body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        hosts = [r.host for r in self.runtimes.values()]
        hosts += [g.host for g in self.gateways.values()]
        for host in hosts:
            with contextlib.suppress(Exception):
                await host.aclose()

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, invocation: Invocation
    ) -> None:
        gateway = _gateway_route(invocation.path, invocation.headers.get("host", ""))
        if gateway is not None:
            await self._gateway(scope, receive, send, request_id, invocation, *gateway)
            return
        route = _route(scope["method"], invocation.path)
        invocation.operation = route.operation
        self.invocations.append(invocation)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        identifier = route.identifier
        found = self._find(identifier, query.get("accountId"))
        invocation.runtime_arn = found.arn if found is not None else identifier
        invocation.protocol = found.protocol if found is not None else None
        qualifier = query.get("qualifier", DEFAULT_QUALIFIER)
        body = await _read_body(scope, receive)
        invocation.body = body
        # Credentials are checked before the runtime's existence is revealed, as AWS does: an
        # unsigned caller learns nothing about which runtimes exist.
        challenge = None
        if found is not None and found.protocol is AgentProtocol.MCP:
            challenge = bearer_challenge(
                runtime_resource_metadata_url(_endpoint_of(scope), found.arn, qualifier)
            )
        self._authenticate(
            found.bearer_tokens if found is not None else None,
            _region_of(identifier, self.region), scope, invocation.path, body, challenge,
        )  # fmt: skip
        runtime = self._lookup(identifier, query.get("accountId"), found)

        invocation.qualifier = qualifier
        if qualifier not in runtime.qualifiers:
            raise PlatformError(
                404,
                "ResourceNotFoundException",
                f"No endpoint or version named '{qualifier}' for runtime {runtime.runtime_id}",
            )
        header_map = invocation.headers
        session_id = header_map.get(SESSION_HEADER)
        if session_id is not None and not (
            SESSION_ID_MIN_LENGTH <= len(session_id) <= SESSION_ID_MAX_LENGTH
        ):
            raise PlatformError(
                400,
                "ValidationException",
                "1 validation error detected: Value at 'runtimeSessionId' failed to satisfy "
                f"constraint: Member must have length between {SESSION_ID_MIN_LENGTH} and "
                f"{SESSION_ID_MAX_LENGTH}",
                reason="FieldValidationFailed",
                fieldList=[{"name": "runtimeSessionId", "message": "length out of range"}],
            )
        if route.operation == "stopruntimesession":
            await self._stop_session(runtime, session_id, invocation, send, request_id)
            return
        if route.operation == "agent-card":
            await self._agent_card(scope, send, runtime, session_id, request_id, invocation)
            return
        await self._invoke(scope, receive, send, runtime, session_id, request_id, invocation)

    async def _invoke(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        runtime: RegisteredRuntime,
        session_id: str | None,
        request_id: str,
        invocation: Invocation,
    ) -> None:
        header_map = invocation.headers
        mcp_session: str | None = None
        if runtime.protocol is AgentProtocol.MCP:
            if scope["method"] != "POST":
                raise PlatformError(
                    405, "UnknownOperationException",
                    "Method Not Allowed: an MCP runtime's endpoint takes POST only",
                    headers=[(b"allow", b"POST")],
                )  # fmt: skip
            if not accepts_mcp_responses(header_map.get("accept")):
                raise PlatformError(
                    406, "ValidationException",
                    "Not Acceptable: the Accept header must include both application/json "
                    "and text/event-stream",
                )  # fmt: skip
            mcp_session = header_map.get(MCP_SESSION_HEADER)
            if mcp_session is not None and not 1 <= len(mcp_session) <= MCP_SESSION_ID_MAX_LENGTH:
                raise PlatformError(
                    400, "ValidationException",
                    "1 validation error detected: Value at 'mcpSessionId' failed to satisfy "
                    "constraint: Member must have length between 1 and "
                    f"{MCP_SESSION_ID_MAX_LENGTH}",
                )  # fmt: skip
            # AgentCore routes MCP calls by Mcp-Session-Id; for the stateless servers it hosts
            # it makes one up when the client has none, and the runtime session follows it.
            session_id = session_id or mcp_session or str(uuid.uuid4())
            mcp_session = mcp_session or session_id
        elif scope["method"] != "POST":
            raise PlatformError(404, "UnknownOperationException", "Unknown operation")
        session_id = session_id or str(uuid.uuid4())
        invocation.session_id = session_id

        if self._rate_limiter is not None and not self._rate_limiter.allow(
            (runtime.arn, invocation.qualifier or DEFAULT_QUALIFIER)
        ):
            raise PlatformError(429, "ThrottlingException", "Rate exceeded")
        planned = self._take_fault(runtime.arn)
        if planned is not None:
            invocation.fault = planned.fault
            if planned.fault in _FAULT_ERRORS:
                raise PlatformError(*_FAULT_ERRORS[planned.fault])
            if planned.fault is Fault.DROP_BEFORE_HEADERS:
                await _drop_connection(scope)
                return

        forwarded = _forwarded_headers(
            scope["headers"], runtime, session_id, request_id, mcp_session=mcp_session
        )
        path = CONTAINERS[runtime.protocol].invocation_path
        response = await self._open(runtime, session_id, forwarded, invocation, "POST", path)
        headers = self._runtime_headers(session_id, request_id, invocation)
        if runtime.protocol is AgentProtocol.MCP:
            assert mcp_session is not None
            headers += [
                (MCP_SESSION_HEADER.encode(), _header(response.headers, MCP_SESSION_HEADER)
                 or mcp_session.encode()),
            ]  # fmt: skip
            version = _header(response.headers, MCP_PROTOCOL_HEADER) or (
                header_map[MCP_PROTOCOL_HEADER].encode("latin-1")
                if MCP_PROTOCOL_HEADER in header_map
                else None
            )
            if version is not None:
                headers.append((MCP_PROTOCOL_HEADER.encode(), version))
        await self._relay(
            scope, receive, send, response, headers, planned, invocation,
            keep_status=runtime.protocol is AgentProtocol.MCP, agent_errors_are_424=True,
        )  # fmt: skip

    async def _open(
        self,
        runtime: RegisteredRuntime | RegisteredGateway,
        session_id: str,
        headers: Headers,
        invocation: Invocation,
        method: str,
        path: str,
        body: bytes | None = None,
    ) -> AgentResponse:
        invocation.agent_path = path
        invocation.agent_headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in headers
            if k.lower() != b"authorization"
        }
        if isinstance(runtime, RegisteredRuntime):
            runtime.sessions.add(session_id)
        try:
            return await runtime.host.open(
                session_id, headers, invocation.body if body is None else body,
                method=method, path=path,
            )  # fmt: skip
        except AgentUnreachable as exc:
            logger.warning("%s: %s", invocation.runtime_arn or invocation.gateway_id, exc)
            raise PlatformError(
                424,
                "RuntimeClientError",
                "Received error from runtime: the agent could not be reached. "
                "Please check your CloudWatch logs for more information.",
            ) from None

    @staticmethod
    def _runtime_headers(session_id: str, request_id: str, invocation: Invocation) -> Headers:
        headers = [
            (SESSION_HEADER.encode(), session_id.encode()),
            (REQUEST_ID_HEADER.encode(), request_id.encode()),
        ]
        for name in _TRACE_HEADERS:
            value = invocation.headers.get(name)
            if value is not None:
                headers.append((name.encode(), value.encode("latin-1")))
        return headers

    async def _agent_card(
        self,
        scope: Scope,
        send: Send,
        runtime: RegisteredRuntime,
        session_id: str | None,
        request_id: str,
        invocation: Invocation,
    ) -> None:
        """GetAgentCard: the agent's own card, its ``url`` made the runtime's invocation URL."""
        if runtime.protocol is not AgentProtocol.A2A:
            raise PlatformError(
                404,
                "ResourceNotFoundException",
                f"Runtime {runtime.runtime_id} does not use the A2A protocol: it has no agent card",
            )
        session_id = session_id or str(uuid.uuid4())
        invocation.session_id = session_id
        forwarded = _forwarded_headers(scope["headers"], runtime, session_id, request_id)
        response = await self._open(
            runtime, session_id, forwarded, invocation, "GET", AGENT_CARD_PATH, b""
        )
        try:
            card = await _read_bounded(response, MAX_AGENT_CARD_BYTES)
        finally:
            await response.close()
        if not 200 <= response.status < 300:
            raise _agent_failure(response.status)
        if card is None:
            raise PlatformError(
                424,
                "RuntimeClientError",
                f"The runtime's agent card is larger than {MAX_AGENT_CARD_BYTES} bytes.",
            )
        url = invocation_url(
            _endpoint_of(scope), runtime.arn, AgentProtocol.A2A, invocation.qualifier
        )
        invocation.status = 200
        headers = [
            (b"content-type", b"application/json"),
            *self._runtime_headers(session_id, request_id, invocation),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": rewrite_agent_card(card, url)})

    async def _gateway(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        invocation: Invocation,
        gateway_id: str,
        host_region: str | None,
    ) -> None:
        """An AgentCore Gateway's MCP endpoint: authenticated here, then the MCP server's own
        answers (statuses included) passed on, as the Gateway is itself the MCP server."""
        invocation.operation, invocation.gateway_id = "gateway", gateway_id
        self.invocations.append(invocation)
        gateway = self.gateways.get(gateway_id)
        if gateway is None or host_region not in (None, gateway.region):
            raise PlatformError(404, "ResourceNotFoundException", f"No gateway {gateway_id}")
        invocation.protocol = AgentProtocol.MCP
        body = await _read_body(scope, receive)
        invocation.body = body
        if gateway.auth != "none":
            base = _endpoint_of(scope) + (
                "" if host_region is not None else f"/gateways/{gateway_id}"
            )
            self._authenticate(
                gateway.bearer_tokens if gateway.auth == "jwt" else None, gateway.region,
                scope, invocation.path, body, bearer_challenge(base + OAUTH_RESOURCE_PATH),
            )  # fmt: skip
        forwarded = [
            (k.lower(), v)
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() in _GATEWAY_REQUEST_HEADERS
        ]
        # One server behind a Gateway, whatever the MCP session: the host's session is the id.
        response = await self._open(
            gateway, gateway_id, forwarded, invocation, scope["method"], "/mcp"
        )
        headers = [
            (k.lower(), v)
            for k, v in response.headers
            if k.decode("latin-1").lower() in _GATEWAY_RESPONSE_HEADERS
        ]
        headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
        await self._relay(
            scope, receive, send, response, headers, None, invocation,
            keep_status=True, agent_errors_are_424=False,
        )  # fmt: skip

    def _find(self, identifier: str, account_id: str | None) -> RegisteredRuntime | None:
        if identifier.startswith("arn:"):
            return self.runtimes.get(identifier)
        return next(
            (r for r in self.runtimes.values()
             if r.runtime_id == identifier and r.account_id == account_id),
            None,
        )  # fmt: skip

    def _lookup(
        self, identifier: str, account_id: str | None, runtime: RegisteredRuntime | None
    ) -> RegisteredRuntime:
        if not identifier.startswith("arn:") and account_id is None:
            raise PlatformError(
                400, "ValidationException",
                "accountId is required when agentRuntimeArn is a runtime id",
            )  # fmt: skip
        if runtime is None:
            raise PlatformError(
                404, "ResourceNotFoundException", f"No agent runtime found for {identifier}"
            )
        return runtime

    def _authenticate(
        self,
        bearer_tokens: frozenset[str] | None,
        region: str,
        scope: Scope,
        raw_path: str,
        body: bytes,
        challenge: str | None,
    ) -> None:
        """SigV4, or a Bearer token when ``bearer_tokens`` is set (OAuth). ``challenge`` is the
        ``WWW-Authenticate`` an MCP endpoint answers a missing or refused token with."""
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        authorization = next((v for k, v in headers if k.lower() == "authorization"), "")
        if bearer_tokens is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer":
                raise PlatformError(
                    403,
                    "AccessDeniedException",
                    "Authorization method mismatch. The agent is configured for a different "
                    "authorization method than what was used in your request (OAuth: send "
                    "Authorization: Bearer <token>).",
                    auth=True,
                    challenge=challenge,
                )
            if not any(hmac.compare_digest(token.strip(), t) for t in bearer_tokens):
                raise PlatformError(
                    403, "AccessDeniedException", "OAuth token is not valid.", auth=True,
                    challenge=challenge,
                )  # fmt: skip
            return
        if authorization.lower().startswith("bearer "):
            raise PlatformError(
                403,
                "AccessDeniedException",
                "Authorization method mismatch. The agent is configured for a different "
                "authorization method than what was used in your request (SigV4).",
                auth=True,
            )
        try:
            verify_sigv4(
                method=scope["method"],
                raw_path=raw_path,
                query_string=scope.get("query_string", b"").decode("latin-1"),
                headers=headers,
                body=body,
                region=region,
                service=SERVICE_NAME,
                credentials=self.credentials,
            )
        except AuthFailure as failure:
            raise PlatformError(
                failure.status, failure.error_type, failure.message, auth=True
            ) from None

    async def _stop_session(
        self,
        runtime: RegisteredRuntime,
        session_id: str | None,
        invocation: Invocation,
        send: Send,
        request_id: str,
    ) -> None:
        if session_id is None:
            raise PlatformError(
                400, "ValidationException", "runtimeSessionId is required to stop a session"
            )
        invocation.session_id = session_id
        stopped = await runtime.host.stop_session(session_id)
        if not stopped and session_id not in runtime.sessions:
            raise PlatformError(404, "ResourceNotFoundException", f"Session {session_id} not found")
        runtime.sessions.discard(session_id)
        invocation.status = 200
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (SESSION_HEADER.encode(), session_id.encode()),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    async def _relay(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        response: AgentResponse,
        headers: Headers,
        planned: PlannedFault | None,
        invocation: Invocation,
        *,
        keep_status: bool,
        agent_errors_are_424: bool,
    ) -> None:
        """Pass the agent's answer on with ``headers``. Its own failure (a status outside 2xx)
        becomes RuntimeClientError when ``agent_errors_are_424``, as AgentCore reports it.
        ``keep_status`` passes the agent's status on (an MCP server's 202), else 200."""
        try:
            ok = 200 <= response.status < 300
            if not ok and agent_errors_are_424:
                async for _ in response.body:
                    pass  # AWS does not pass the agent's error body on
                raise _agent_failure(response.status)
            content_type = _header(response.headers, "content-type")
            if content_type is None and response.status != 202:
                content_type = b"application/json"
            start_headers = [(k, v) for k, v in headers if k != b"content-type"]
            if content_type is not None:
                start_headers.insert(0, (b"content-type", content_type))
            status = response.status if keep_status else 200
            await send({"type": "http.response.start", "status": status, "headers": start_headers})
            invocation.status = status
            if planned is not None and planned.fault is Fault.DROP_AFTER_HEADERS:
                await _drop_connection(scope)
                return
            await self._stream_body(scope, receive, send, response, planned)
        finally:
            await response.close()

    async def _stream_body(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        response: AgentResponse,
        planned: PlannedFault | None,
    ) -> None:
        # The client may go away mid-stream: then stop the agent (its generator's finally runs).
        disconnected = asyncio.ensure_future(_wait_disconnect(receive))
        chunks_sent = 0
        try:
            iterator = response.body.__aiter__()
            while True:
                next_chunk = asyncio.ensure_future(iterator.__anext__())
                done, _ = await asyncio.wait(
                    {next_chunk, disconnected}, return_when=asyncio.FIRST_COMPLETED
                )
                if next_chunk not in done:
                    next_chunk.cancel()
                    with contextlib.suppress(BaseException):
                        await next_chunk
                    return
                try:
                    chunk = next_chunk.result()
                except StopAsyncIteration:
                    break
                except AgentUnreachable as exc:
                    logger.warning("agent failed mid-stream: %s", exc)
                    await _drop_connection(scope)
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                chunks_sent += 1
                if (
                    planned is not None
                    and planned.fault is Fault.DROP_MID_STREAM
                    and chunks_sent >= planned.after_chunks
                ):
                    await _drop_connection(scope)
                    return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            disconnected.cancel()
            with contextlib.suppress(BaseException):
                await disconnected


def _agent_failure(status: int) -> PlatformError:
    return PlatformError(
        424,
        "RuntimeClientError",
        f"Received error ({status}) from runtime. Please check your CloudWatch logs for more "
        "information.",
    )


def _header(headers: Headers, name: str) -> bytes | None:
    wanted = name.encode()
    return next((v for k, v in headers if k.lower() == wanted), None)


def _endpoint_of(scope: Scope) -> str:
    """The endpoint URL the client used (scheme and Host), to build URLs it can follow."""
    host = next((v for k, v in scope["headers"] if k.lower() == b"host"), None)
    if host is None:
        server_host, server_port = scope.get("server") or ("127.0.0.1", 80)
        return f"{scope.get('scheme', 'http')}://{server_host}:{server_port}"
    return f"{scope.get('scheme', 'http')}://{host.decode('latin-1')}"


def _region_of(identifier: str, default: str) -> str:
    """The region a request for ``identifier`` must be signed for: the ARN's, else ours."""
    parts = identifier.split(":")
    return parts[3] if identifier.startswith("arn:") and len(parts) > 4 else default


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _read_bounded(response: AgentResponse, limit: int) -> bytes | None:
    """The whole body, or None once it passes ``limit`` bytes."""
    chunks = bytearray()
    async for chunk in response.body:
        chunks += chunk
        if len(chunks) > limit:
            return None
    return bytes(chunks)


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    declared = next((v for k, v in scope["headers"] if k.lower() == b"content-length"), None)
    too_big = PlatformError(
        400,
        "ValidationException",
        f"1 validation error detected: payload must be at most {MAX_PAYLOAD_BYTES} bytes",
    )
    if declared is not None and declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:
        raise too_big
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise PlatformError(400, "ValidationException", "client disconnected")
        chunks += message.get("body", b"")
        if len(chunks) > MAX_PAYLOAD_BYTES:
            raise too_big
        if not message.get("more_body", False):
            return bytes(chunks)


def _header_dict(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name, minus credentials (kept for tests to inspect)."""
    result: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        name = key.decode("latin-1").lower()
        if name in ("authorization", "x-amz-security-token"):
            continue
        result[name] = value.decode("latin-1")
    return result


def _forwarded_headers(
    raw: Headers,
    runtime: RegisteredRuntime,
    session_id: str,
    request_id: str,
    *,
    mcp_session: str | None = None,
) -> Headers:
    replaced = {SESSION_HEADER, MCP_SESSION_HEADER} if mcp_session else {SESSION_HEADER}
    headers = [
        (k.lower(), v)
        for k, v in raw
        if ((name := k.decode("latin-1").lower()) in _FORWARDED_HEADERS and name not in replaced)
        or name.startswith(_CUSTOM_HEADER_PREFIX)
        or (runtime.is_oauth and name == "authorization")
    ]
    headers.append((SESSION_HEADER.encode(), session_id.encode()))
    headers.append((AGENT_REQUEST_ID_HEADER.encode(), request_id.encode()))
    if mcp_session:
        headers.append((MCP_SESSION_HEADER.encode(), mcp_session.encode()))
    if not any(k == b"content-type" for k, _ in headers):
        headers.append((b"content-type", b"application/json"))
    return headers


async def _drop_connection(scope: Scope) -> None:
    """Close the client's TCP connection at once, as a network fault would."""
    transport = scope.get("state", {}).get(TRANSPORT_STATE_KEY)
    if transport is None:
        raise RuntimeError("connection drops need the LocalRuntime server (uvicorn)")
    transport.abort()
    await asyncio.sleep(0)  # let the server see the connection is gone
