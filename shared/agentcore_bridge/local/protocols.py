"""What differs between the three kinds of runtime the local data plane serves: HTTP, A2A and MCP.

Each protocol has its own container contract (port and paths) and its own way of showing
AgentCore's errors. HTTP runtimes get AWS's JSON errors (``{"message": ...}`` and the
``x-amzn-ErrorType`` header). A2A runtimes get a JSON-RPC error body at the real HTTP status,
except auth failures, which stay AWS JSON. MCP runtimes get a JSON-RPC error at HTTP 200, except
401/403 (auth), 405 and 406. The ``x-amzn-ErrorType`` header is sent in every case. This module
holds those rules as data plus a few pure functions; the data plane does the I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

DEFAULT_QUALIFIER = "DEFAULT"
AGENT_CARD_PATH = "/.well-known/agent-card.json"
OAUTH_RESOURCE_PATH = "/.well-known/oauth-protected-resource"


class AgentProtocol(StrEnum):
    """The protocol a runtime was created with (AgentCore's ``serverProtocol``)."""

    HTTP = "http"
    A2A = "a2a"
    MCP = "mcp"


@dataclass(frozen=True)
class ContainerContract:
    """Where AgentCore reaches the container of a runtime of one protocol."""

    port: int
    invocation_path: str


CONTAINERS: Mapping[AgentProtocol, ContainerContract] = {
    AgentProtocol.HTTP: ContainerContract(8080, "/invocations"),
    # A2A JSON-RPC at the root; the agent card at AGENT_CARD_PATH.
    AgentProtocol.A2A: ContainerContract(9000, "/"),
    # A stateless streamable-HTTP MCP server.
    AgentProtocol.MCP: ContainerContract(8000, "/mcp"),
}

JSONRPC_INTERNAL_ERROR = -32603
JSONRPC_INVALID_REQUEST = -32600
MCP_UNAUTHORIZED = -32001
MCP_ACCESS_DENIED = -32002
MCP_NOT_ACCEPTABLE = -32011
# AWS error type -> the JSON-RPC error code AgentCore sends for it; any other type is -32603.
A2A_ERROR_CODES: Mapping[str, int] = {
    "ResourceNotFoundException": -32051,
    "ValidationException": -32052,
    "ThrottlingException": -32053,
    "ServiceQuotaExceededException": -32053,
    "ConflictException": -32054,
    "RetryableConflictException": -32054,
    "RuntimeClientError": -32055,
}
MCP_ERROR_CODES: Mapping[str, int] = {
    "ThrottlingException": -32003,
    "ServiceQuotaExceededException": -32003,
    "ResourceNotFoundException": -32004,
    "ConflictException": -32005,
    "RetryableConflictException": -32005,
    "ValidationException": -32006,
    "RuntimeClientError": -32010,
}
# HTTP statuses an MCP runtime's errors keep; every other error is answered with HTTP 200.
_MCP_KEPT_STATUSES = frozenset({401, 403, 405, 406})
# A JSON-RPC request id is looked for only in bodies up to this size (an error reply must not
# parse a 100 MB payload).
MAX_ID_SCAN_BYTES = 1_048_576

Headers = list[tuple[bytes, bytes]]


class PlatformError(Exception):
    """An error AgentCore itself answers with (not the agent's): status, AWS type and message.

    ``auth`` marks a failed authentication; ``challenge`` is the ``WWW-Authenticate`` value an
    OAuth MCP runtime answers with when the bearer token is missing or not valid.
    """

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        auth: bool = False,
        challenge: str | None = None,
        headers: Headers | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message
        self.auth, self.challenge = auth, challenge
        self.headers = headers or []
        self.extra = extra


@dataclass(frozen=True)
class ErrorReply:
    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""


def render_error(
    protocol: AgentProtocol | None, error: PlatformError, request_body: bytes = b""
) -> ErrorReply:
    """The response AgentCore gives for ``error`` on a runtime of ``protocol``.

    ``None`` is a request whose runtime is not known (an unknown ARN, a route that matches
    nothing): AgentCore cannot tell its protocol, so the error is AWS JSON.
    """
    headers: Headers = [
        (b"content-type", b"application/json"),
        (b"x-amzn-errortype", error.error_type.encode()),
        *error.headers,
    ]
    if protocol is AgentProtocol.MCP:
        status, code = _mcp_status_and_code(error)
        if status == 401 and error.challenge is not None:
            headers.append((b"www-authenticate", error.challenge.encode()))
        return ErrorReply(status, headers, _jsonrpc_error(request_body, code, error.message))
    if protocol is AgentProtocol.A2A and not error.auth:
        code = A2A_ERROR_CODES.get(error.error_type, JSONRPC_INTERNAL_ERROR)
        return ErrorReply(error.status, headers, _jsonrpc_error(request_body, code, error.message))
    body = json.dumps({"message": error.message, **error.extra}).encode()
    return ErrorReply(error.status, headers, body)


def _mcp_status_and_code(error: PlatformError) -> tuple[int, int]:
    if error.auth:
        return (401, MCP_UNAUTHORIZED) if error.challenge is not None else (403, MCP_ACCESS_DENIED)
    if error.status == 406:
        return 406, MCP_NOT_ACCEPTABLE
    if error.status in _MCP_KEPT_STATUSES:
        return error.status, JSONRPC_INVALID_REQUEST
    return 200, MCP_ERROR_CODES.get(error.error_type, JSONRPC_INTERNAL_ERROR)


def _jsonrpc_error(request_body: bytes, code: int, message: str) -> bytes:
    reply = {
        "jsonrpc": "2.0",
        "id": jsonrpc_request_id(request_body),
        "error": {"code": code, "message": message},
    }
    return json.dumps(reply).encode()


def jsonrpc_request_id(body: bytes) -> str | int | None:
    """The ``id`` of a JSON-RPC request body, or None (a notification, a batch, not JSON)."""
    if not body or len(body) > MAX_ID_SCAN_BYTES:
        return None
    try:
        request = json.loads(body)
    except ValueError:
        return None
    if not isinstance(request, dict):
        return None
    request_id = request.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int):
        return None
    return request_id


def accepts_mcp_responses(accept: str | None) -> bool:
    """AgentCore's rule for MCP runtimes: ``Accept`` names both JSON and event streams."""
    media_types = {part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",")}
    return {"application/json", "text/event-stream"} <= media_types


def runtime_path(arn: str) -> str:
    """``/runtimes/{arn}/invocations``, the ARN percent-encoded as one segment."""
    return f"/runtimes/{quote(arn, safe='')}/invocations"


def invocation_url(
    endpoint: str, arn: str, protocol: AgentProtocol, qualifier: str | None = None
) -> str:
    """The URL a client of ``protocol`` is pointed at for a runtime.

    A2A: the documented form with a trailing slash (what AgentCore puts in the agent card's
    ``url``), the qualifier only when it is not DEFAULT. MCP: with ``?qualifier=``, as AWS's
    MCP examples give it. HTTP: InvokeAgentRuntime's own path.
    """
    base = endpoint.rstrip("/") + runtime_path(arn)
    if protocol is AgentProtocol.A2A:
        query = f"?qualifier={quote(qualifier, safe='')}" if qualifier not in (
            None, DEFAULT_QUALIFIER
        ) else ""  # fmt: skip
        return f"{base}/{query}"
    if protocol is AgentProtocol.MCP:
        return f"{base}?qualifier={quote(qualifier or DEFAULT_QUALIFIER, safe='')}"
    return base if qualifier is None else f"{base}?qualifier={quote(qualifier, safe='')}"


def bearer_challenge(resource_metadata_url: str) -> str:
    """The ``WWW-Authenticate`` value pointing an MCP client at the OAuth resource metadata."""
    return f'Bearer resource_metadata="{resource_metadata_url}"'


def runtime_resource_metadata_url(endpoint: str, arn: str, qualifier: str) -> str:
    return (
        f"{endpoint.rstrip('/')}{runtime_path(arn)}{OAUTH_RESOURCE_PATH}"
        f"?qualifier={quote(qualifier, safe='')}"
    )


def rewrite_agent_card(body: bytes, url: str) -> bytes:
    """The agent's card with ``url`` set to the runtime's invocation URL, as AgentCore makes
    agents advertise it (through ``AGENTCORE_RUNTIME_URL``). A body that is not a JSON object
    is passed on unchanged."""
    try:
        card = json.loads(body)
    except ValueError:
        return body
    if not isinstance(card, dict):
        return body
    card["url"] = url
    return json.dumps(card).encode()
