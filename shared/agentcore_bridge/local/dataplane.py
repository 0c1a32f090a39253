"""The local AgentCore data plane: an ASGI app that answers as InvokeAgentRuntime does.

``POST /runtimes/{arn}/invocations`` and ``POST /runtimes/{arn}/stopruntimesession``, routed on
the raw path (the ARN is one percent-encoded segment), SigV4 verified against that raw path (or a
Bearer token for OAuth runtimes), session ids validated, generated and echoed, qualifiers and the
100 MB payload limit enforced, AWS-shaped errors, an agent's own failure reported as 424
RuntimeClientError, streams passed on chunk by chunk, and faults injected on request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, unquote

from agentcore_bridge.local.hosts import AgentHost, AgentResponse, AgentUnreachable
from agentcore_bridge.local.sigv4 import AuthFailure, LocalCredentials, verify_sigv4
from agentcore_bridge.payloads import MAX_PAYLOAD_BYTES
from agentcore_bridge.sessions import SESSION_ID_MAX_LENGTH, SESSION_ID_MIN_LENGTH
from agentcore_bridge.targets import SERVICE_NAME

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

SESSION_HEADER = "x-amzn-bedrock-agentcore-runtime-session-id"
USER_ID_HEADER = "x-amzn-bedrock-agentcore-runtime-user-id"
REQUEST_ID_HEADER = "x-amzn-requestid"
AGENT_REQUEST_ID_HEADER = "x-amzn-bedrock-agentcore-runtime-request-id"
TRANSPORT_STATE_KEY = "agentcore_local.transport"
DEFAULT_QUALIFIER = "DEFAULT"
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
        "mcp-session-id",
        "mcp-protocol-version",
    }
)
_CUSTOM_HEADER_PREFIX = "x-amzn-bedrock-agentcore-runtime-custom-"
_TRACE_HEADERS = ("x-amzn-trace-id", "traceparent", "tracestate", "baggage")


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
    """One request as the runtime saw it: what tests count retries and check forwarding with."""

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

    @property
    def is_oauth(self) -> bool:
        return self.bearer_tokens is not None


class _Refusal(Exception):
    def __init__(self, status: int, error_type: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message, self.extra = status, error_type, message, extra


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


class DataPlane:
    """The ASGI app. Register runtimes in ``runtimes``; plan faults with :meth:`inject`."""

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
        invocation = Invocation("unknown", None, None, None, _header_dict(scope), b"")
        try:
            await self._handle(scope, receive, send, request_id, invocation)
        except _Refusal as refusal:
            invocation.status, invocation.error_type = refusal.status, refusal.error_type
            await _send_error(send, refusal, request_id)

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
        for runtime in self.runtimes.values():
            with contextlib.suppress(Exception):
                await runtime.host.aclose()

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, invocation: Invocation
    ) -> None:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        parts = raw_path.decode("latin-1").split("/")
        if (
            scope["method"] != "POST"
            or len(parts) != 4
            or parts[1] != "runtimes"
            or parts[3] not in ("invocations", "stopruntimesession")
        ):
            raise _Refusal(404, "UnknownOperationException", "Unknown operation")
        invocation.operation = parts[3]
        self.invocations.append(invocation)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        identifier = unquote(parts[2])
        found = self._find(identifier, query.get("accountId"))
        invocation.runtime_arn = found.arn if found is not None else identifier
        body = await _read_body(scope, receive)
        invocation.body = body
        # Credentials are checked before the runtime's existence is revealed, as AWS does: an
        # unsigned caller learns nothing about which runtimes exist.
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        self._authenticate(
            found, _region_of(identifier, self.region), scope, raw_path.decode("latin-1"),
            headers, body,
        )  # fmt: skip
        runtime = self._lookup(identifier, query.get("accountId"), found)

        qualifier = query.get("qualifier", DEFAULT_QUALIFIER)
        invocation.qualifier = qualifier
        if qualifier not in runtime.qualifiers:
            raise _Refusal(
                404,
                "ResourceNotFoundException",
                f"No endpoint or version named '{qualifier}' for runtime {runtime.runtime_id}",
            )
        header_map = invocation.headers
        session_id = header_map.get(SESSION_HEADER)
        if session_id is not None and not (
            SESSION_ID_MIN_LENGTH <= len(session_id) <= SESSION_ID_MAX_LENGTH
        ):
            raise _Refusal(
                400,
                "ValidationException",
                "1 validation error detected: Value at 'runtimeSessionId' failed to satisfy "
                f"constraint: Member must have length between {SESSION_ID_MIN_LENGTH} and "
                f"{SESSION_ID_MAX_LENGTH}",
                reason="FieldValidationFailed",
                fieldList=[{"name": "runtimeSessionId", "message": "length out of range"}],
            )
        if invocation.operation == "stopruntimesession":
            await self._stop_session(runtime, session_id, invocation, send, request_id)
            return
        if session_id is None:
            session_id = str(uuid.uuid4())
        invocation.session_id = session_id

        if self._rate_limiter is not None and not self._rate_limiter.allow(
            (runtime.arn, qualifier)
        ):
            raise _Refusal(429, "ThrottlingException", "Rate exceeded")
        planned = self._take_fault(runtime.arn)
        if planned is not None:
            invocation.fault = planned.fault
            if planned.fault in _FAULT_ERRORS:
                raise _Refusal(*_FAULT_ERRORS[planned.fault])
            if planned.fault is Fault.DROP_BEFORE_HEADERS:
                await _drop_connection(scope)
                return

        forwarded = _forwarded_headers(scope["headers"], runtime, session_id, request_id)
        runtime.sessions.add(session_id)
        try:
            response = await runtime.host.open(session_id, forwarded, body)
        except AgentUnreachable as exc:
            logger.warning("runtime %s: %s", runtime.runtime_id, exc)
            raise _Refusal(
                424,
                "RuntimeClientError",
                "Received error from runtime: the agent could not be reached. "
                "Please check your CloudWatch logs for more information.",
            ) from None
        await self._relay(
            scope, receive, send, response, session_id, request_id, planned, invocation
        )

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
            raise _Refusal(
                400, "ValidationException",
                "accountId is required when agentRuntimeArn is a runtime id",
            )  # fmt: skip
        if runtime is None:
            raise _Refusal(
                404, "ResourceNotFoundException", f"No agent runtime found for {identifier}"
            )
        return runtime

    def _authenticate(
        self,
        runtime: RegisteredRuntime | None,
        region: str,
        scope: Scope,
        raw_path: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        authorization = next((v for k, v in headers if k.lower() == "authorization"), "")
        if runtime is not None and runtime.bearer_tokens is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer":
                raise _Refusal(
                    403,
                    "AccessDeniedException",
                    "Authorization method mismatch. The agent is configured for a different "
                    "authorization method than what was used in your request (OAuth: send "
                    "Authorization: Bearer <token>).",
                )
            if not any(hmac.compare_digest(token.strip(), t) for t in runtime.bearer_tokens):
                raise _Refusal(403, "AccessDeniedException", "OAuth token is not valid.")
            return
        if authorization.lower().startswith("bearer "):
            raise _Refusal(
                403,
                "AccessDeniedException",
                "Authorization method mismatch. The agent is configured for a different "
                "authorization method than what was used in your request (SigV4).",
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
            raise _Refusal(failure.status, failure.error_type, failure.message) from None

    async def _stop_session(
        self,
        runtime: RegisteredRuntime,
        session_id: str | None,
        invocation: Invocation,
        send: Send,
        request_id: str,
    ) -> None:
        if session_id is None:
            raise _Refusal(
                400, "ValidationException", "runtimeSessionId is required to stop a session"
            )
        invocation.session_id = session_id
        stopped = await runtime.host.stop_session(session_id)
        if not stopped and session_id not in runtime.sessions:
            raise _Refusal(404, "ResourceNotFoundException", f"Session {session_id} not found")
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
        session_id: str,
        request_id: str,
        planned: PlannedFault | None,
        invocation: Invocation,
    ) -> None:
        """Pass the agent's answer on; its own failure becomes AWS's 424, as in AgentCore."""
        try:
            if not 200 <= response.status < 300:
                async for _ in response.body:
                    pass  # AWS does not pass the agent's error body on
                raise _Refusal(
                    424,
                    "RuntimeClientError",
                    f"Received error ({response.status}) from runtime. Please check your "
                    "CloudWatch logs for more information.",
                )
            content_type = next(
                (v for k, v in response.headers if k.lower() == b"content-type"),
                b"application/json",
            )
            headers = [
                (b"content-type", content_type),
                (SESSION_HEADER.encode(), session_id.encode()),
                (REQUEST_ID_HEADER.encode(), request_id.encode()),
            ]
            for name in _TRACE_HEADERS:
                value = invocation.headers.get(name)
                if value is not None:
                    headers.append((name.encode(), value.encode("latin-1")))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            invocation.status = 200
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


def _region_of(identifier: str, default: str) -> str:
    """The region a request for ``identifier`` must be signed for: the ARN's, else ours."""
    parts = identifier.split(":")
    return parts[3] if identifier.startswith("arn:") and len(parts) > 4 else default


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    declared = next((v for k, v in scope["headers"] if k.lower() == b"content-length"), None)
    too_big = _Refusal(
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
            raise _Refusal(400, "ValidationException", "client disconnected")
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
    raw: list[tuple[bytes, bytes]], runtime: RegisteredRuntime, session_id: str, request_id: str
) -> list[tuple[bytes, bytes]]:
    headers = [
        (k.lower(), v)
        for k, v in raw
        if ((name := k.decode("latin-1").lower()) in _FORWARDED_HEADERS and name != SESSION_HEADER)
        or name.startswith(_CUSTOM_HEADER_PREFIX)
        or (runtime.is_oauth and name == "authorization")
    ]
    headers.append((SESSION_HEADER.encode(), session_id.encode()))
    headers.append((AGENT_REQUEST_ID_HEADER.encode(), request_id.encode()))
    if not any(k == b"content-type" for k, _ in headers):
        headers.append((b"content-type", b"application/json"))
    return headers


async def _send_error(send: Send, refusal: _Refusal, request_id: str) -> None:
    body = json.dumps({"message": refusal.message, **refusal.extra}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"x-amzn-errortype", refusal.error_type.encode()),
                (REQUEST_ID_HEADER.encode(), request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _drop_connection(scope: Scope) -> None:
    """Close the client's TCP connection at once, as a network fault would."""
    transport = scope.get("state", {}).get(TRANSPORT_STATE_KEY)
    if transport is None:
        raise RuntimeError("connection drops need the LocalRuntime server (uvicorn)")
    transport.abort()
    await asyncio.sleep(0)  # let the server see the connection is gone
