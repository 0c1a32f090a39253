"""An ``httpx.Auth`` for AgentCore's MCP endpoints (MCP runtimes and Gateways): each request is
signed (SigV4 over its exact body, or an OAuth bearer token), AgentCore's own refusals come back
as the package's typed errors, and throttling is retried where a retry cannot re-run a tool.

Any httpx-based MCP client can use it (the ``mcp`` SDK, langchain-mcp-adapters, FastMCP's
client)::

    auth = AgentCoreAuth.sigv4(botocore_session.get_credentials(), "us-west-2")
    async with httpx.AsyncClient(auth=auth) as http, streamable_http_client(url, http_client=http):
        ...

How AgentCore answers an MCP client, and what this auth makes of it:

* An MCP runtime reports most platform errors as **HTTP 200** with a JSON-RPC error body:
  -32003 throttling (or a quota), -32004 not found, -32005 conflict, -32006 validation,
  -32010 runtime client error (the server failed), -32603 anything else. Authentication
  failures keep their status: -32001 at 401 (an OAuth runtime, with ``WWW-Authenticate``
  naming the resource metadata), -32002 at 403 (SigV4 refused); a request whose ``Accept`` does
  not name both ``application/json`` and ``text/event-stream`` is refused with 406 / -32011.
* A response is taken as the platform's when it carries ``x-amzn-ErrorType``, when its status
  is not 2xx (except a bare 404, which MCP uses to say a server session has ended), or when a
  JSON answer at 200 holds one of the codes only AgentCore uses (-32003 to -32010; -32603 is
  also what servers themselves send, so without the header it is left to the MCP client).
  Such a response raises the typed error (:func:`mcp_platform_error`) from the request, with
  AgentCore's error type, request id and runtime session.

The retry rule: a ``tools/call`` that reached the MCP server may have run the tool, and running
it again may repeat its side effects, so only a refusal the platform makes *before* forwarding
the request is retried: throttling (``ThrottlingException``, -32003 at 200, or 429), at most
``max_retries`` times with exponential backoff and full jitter, each attempt signed afresh.
A conflict (-32005), a runtime client error (-32010), a 5xx or -32603 is raised at once: the
documentation does not say the server was not reached. Connections that could not be made at
all are retried by the transport (``httpx.AsyncHTTPTransport(retries=...)``), not here.

Secrets (keys, session tokens, bearer tokens, signatures) never appear in ``repr``, errors or
logs.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncGenerator, Generator, Mapping

import anyio
import httpx
from botocore.credentials import Credentials

from agentcore_bridge.client import SESSION_HEADER, RetryPolicy
from agentcore_bridge.credentials import BEARER_TOKEN_ENV
from agentcore_bridge.errors import AgentCoreError, ThrottlingError, error_from_response
from agentcore_bridge.signing import BearerSigner, Signer, SigV4Signer
from agentcore_bridge.transport import ERROR_BODY_LIMIT

logger = logging.getLogger(__name__)

MCP_ACCEPT = "application/json, text/event-stream"
"""The ``Accept`` value AgentCore requires of MCP clients (the ``mcp`` SDK sends it)."""

MCP_ERROR_TYPES: Mapping[int, str] = {
    -32001: "UnauthorizedException",
    -32002: "AccessDeniedException",
    -32003: "ThrottlingException",
    -32004: "ResourceNotFoundException",
    -32005: "RetryableConflictException",
    -32006: "ValidationException",
    -32010: "RuntimeClientError",
    -32011: "ValidationException",
    -32603: "InternalServerException",
}
"""AgentCore's JSON-RPC error codes for MCP endpoints -> the AWS error type they stand for (the
``x-amzn-ErrorType`` header, when sent, is more precise: -32003 is also a quota, -32005 also a
plain conflict). The error class then follows from the type, as for every other call."""

# Codes no MCP server of its own would send at HTTP 200 but AgentCore does.
_PLATFORM_ONLY_CODES = frozenset({-32003, -32004, -32005, -32006, -32010})
# A JSON answer is searched for a platform error only up to this size (they are tiny).
_SCAN_LIMIT = 65_536
_RESOURCE_METADATA = re.compile(r'resource_metadata="([^"]*)"')
# Headers worth signing besides host: what AgentCore reads. Hop-by-hop headers, httpx's own
# (user-agent, accept-encoding, connection) and the trace id stay out, as botocore leaves them.
_SIGNED_NAMES = frozenset({"content-type", "accept", "traceparent", "tracestate"})
_SIGNED_PREFIXES = ("mcp-", "x-amz")
_SIGNATURE_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token")


class AgentCoreAuth(httpx.Auth):
    """Signs every request for AgentCore and raises AgentCore's refusals as typed errors.

    Make one with :meth:`sigv4` (IAM: runtimes and ``AWS_IAM`` Gateways) or :meth:`bearer`
    (OAuth: runtimes and Gateways with a JWT authorizer). ``max_retries`` and
    ``retry_base_delay`` bound the throttling retries (see the module's retry rule).
    """

    requires_request_body = True  # SigV4 signs the body's SHA-256: httpx reads it first

    def __init__(
        self, signer: Signer, *, max_retries: int = 3, retry_base_delay: float = 0.25
    ) -> None:
        self._signer = signer
        self._retry = RetryPolicy(max_retries=max_retries, base_delay=retry_base_delay)

    @classmethod
    def sigv4(
        cls, credentials: Credentials, region: str, *, max_retries: int = 3,
        retry_base_delay: float = 0.25,
    ) -> AgentCoreAuth:  # fmt: skip
        """SigV4 for service ``bedrock-agentcore`` in ``region`` (the runtime's or Gateway's).

        ``credentials`` may be refreshable (roles, SSO, instance profiles): frozen credentials
        are taken from it for each request, so a refresh is picked up without a new auth.
        """
        return cls(
            SigV4Signer(credentials, region),
            max_retries=max_retries,
            retry_base_delay=retry_base_delay,
        )

    @classmethod
    def bearer(
        cls, token: str, *, max_retries: int = 3, retry_base_delay: float = 0.25
    ) -> AgentCoreAuth:
        """``Authorization: Bearer <token>`` for endpoints with a JWT (OAuth) authorizer."""
        return cls(BearerSigner(token), max_retries=max_retries, retry_base_delay=retry_base_delay)

    @property
    def uses_bearer_token(self) -> bool:
        return isinstance(self._signer, BearerSigner)

    @property
    def region(self) -> str | None:
        """The signing region (None for a bearer token)."""
        return self._signer.region if isinstance(self._signer, SigV4Signer) else None

    @property
    def max_retries(self) -> int:
        return self._retry.max_retries

    def __repr__(self) -> str:
        if isinstance(self._signer, SigV4Signer):
            return f"AgentCoreAuth.sigv4(region={self._signer.region!r})"
        return "AgentCoreAuth.bearer(token='***')"

    # --- the two flows: thin loops around the same steps ------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        attempt = 0
        while True:
            self.sign(request)
            response = yield request
            need = _body_needed(request, response)
            if need is None:
                return
            if need == "read":
                response.read()
            error = self._error(request, response, response.content if need == "read" else b"")
            if error is None:
                return
            delay = self._retry_delay(error, attempt) if need == "read" else None
            response.close()
            if delay is None:
                raise error
            attempt += 1
            time.sleep(delay)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        attempt = 0
        while True:
            self.sign(request)
            response = yield request
            need = _body_needed(request, response)
            if need is None:
                return
            if need == "read":
                await response.aread()
            error = self._error(request, response, response.content if need == "read" else b"")
            if error is None:
                return
            delay = self._retry_delay(error, attempt) if need == "read" else None
            await response.aclose()
            if delay is None:
                raise error
            attempt += 1
            await anyio.sleep(delay)

    # --- the shared steps ----------------------------------------------------------------------

    def sign(self, request: httpx.Request) -> None:
        """Set the request's Authorization (and, for SigV4, X-Amz-Date and the session token),
        replacing those of an earlier attempt."""
        for name in _SIGNATURE_HEADERS:
            request.headers.pop(name, None)
        if isinstance(self._signer, BearerSigner):
            request.headers.update(self._signer.sign(request.method, "", {}, b""))
            return
        to_sign = {"host": request.headers["host"]}
        for name, value in request.headers.items():
            if name in _SIGNED_NAMES or name.startswith(_SIGNED_PREFIXES):
                to_sign[name] = value
        # The URL exactly as it goes on the wire: the ARN stays percent-encoded once.
        url = f"{request.url.scheme}://{request.url.netloc.decode()}{request.url.raw_path.decode()}"
        signed = self._signer.sign(request.method, url, to_sign, request.content)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in signed:
                request.headers[name] = signed[name]

    def _error(
        self, request: httpx.Request, response: httpx.Response, body: bytes
    ) -> AgentCoreError | None:
        return mcp_platform_error(
            response.status_code,
            response.headers,
            body,
            session_id=request.headers.get(SESSION_HEADER),
            sent_bearer_token=self.uses_bearer_token,
        )

    def _retry_delay(self, error: AgentCoreError, attempt: int) -> float | None:
        if not isinstance(error, ThrottlingError) or attempt >= self._retry.max_retries:
            return None
        delay = self._retry.delay(attempt)
        logger.debug(
            "AgentCore throttled an MCP request (attempt %d of %d); retrying in %.2fs",
            attempt + 1, self._retry.max_retries + 1, delay,
        )  # fmt: skip
        return delay


def _body_needed(request: httpx.Request, response: httpx.Response) -> str | None:
    """Whether the response may be a platform error, and how to look: ``"read"`` (read it
    whole: a JSON answer at 200, which the MCP client reads whole anyway, or an error, which
    AgentCore keeps small), ``"head"`` (an error declaring a body over ``ERROR_BODY_LIMIT``:
    judged by status and headers, never read, never retried) or None (an event stream, a 202,
    a bare 404, anything but a POST: left to the MCP client)."""
    if request.method != "POST":
        return None  # the MCP client's GET stream and DELETE: 405 on AgentCore, handled there
    status = response.status_code
    refused = "x-amzn-errortype" in response.headers  # the platform's, whatever the status
    if not refused and 200 <= status < 300:
        content_type = response.headers.get("content-type", "")
        return "read" if status == 200 and content_type.startswith("application/json") else None
    if not refused and status == 404:
        return None  # MCP's "this session has ended": the MCP client handles it
    declared = response.headers.get("content-length", "")
    return "head" if declared.isdigit() and int(declared) > ERROR_BODY_LIMIT else "read"


def mcp_platform_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    session_id: str | None = None,
    sent_bearer_token: bool = False,
) -> AgentCoreError | None:
    """The typed error for an AgentCore MCP response, or None when it is not the platform's.

    ``headers`` is looked up case-insensitively by lower-case name (httpx's ``Headers`` is).
    """
    error_type = headers.get("x-amzn-errortype")
    ok = 200 <= status < 300
    scan = not ok or error_type is not None or len(body) <= _SCAN_LIMIT
    code, message = _jsonrpc_error(body) if scan else (None, None)
    if ok and error_type is None and code not in _PLATFORM_ONLY_CODES:
        return None
    if message is None and not ok:
        message = _plain_message(body)
    clean_type = error_type.split(":", 1)[0].strip() if error_type else None
    if clean_type is None and code is not None:
        clean_type = MCP_ERROR_TYPES.get(code)
    if status == 401 or code == -32001:
        message = _unauthorized_message(message, headers.get("www-authenticate"), sent_bearer_token)
    elif status == 406 or code == -32011:
        message = (
            f"{message or 'Not Acceptable'}: AgentCore requires 'Accept: {MCP_ACCEPT}' on MCP "
            "requests (the mcp client sends it; a hand-made request must too)"
        )
    elif code is not None:
        message = f"{message or 'AgentCore refused the MCP request'} (JSON-RPC error {code})"
    # status_code stays the HTTP status (200 for most MCP platform errors): the class follows
    # from AgentCore's error type, as the JSON-RPC code names it when the header is absent.
    return error_from_response(
        status,
        clean_type,
        message,
        request_id=headers.get("x-amzn-requestid"),
        session_id=session_id,
    )


def _jsonrpc_error(body: bytes) -> tuple[int | None, str | None]:
    """(code, message) of a JSON-RPC error body, or of an AWS JSON error ``{"message"}``."""
    if not body or (b'"error"' not in body and b'"message"' not in body.lower()):
        return None, None
    try:
        data = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    rpc = data.get("error")
    if isinstance(rpc, dict):
        code = rpc.get("code")
        text = rpc.get("message")
        return (
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            text if isinstance(text, str) else None,
        )
    text = data.get("message") or data.get("Message")
    return None, text if isinstance(text, str) else None


def _plain_message(body: bytes) -> str | None:
    text = body[:300].decode("utf-8", "replace").strip()
    return text or None


def _unauthorized_message(
    message: str | None, challenge: str | None, sent_bearer_token: bool
) -> str:
    found = _RESOURCE_METADATA.search(challenge or "")
    base = (message or "Unauthorized").rstrip(". ")
    where = f"; its OAuth resource metadata: {found.group(1)}" if found else ""
    if sent_bearer_token:
        return (
            f"{base}: the bearer token was refused (expired, or not issued "
            f"for this endpoint's authorizer: its discovery URL, allowed clients or audience)"
            f"{where}"
        )
    return (
        f"{base}: this MCP endpoint has an OAuth (JWT) authorizer and "
        f"takes a bearer token, not SigV4: pass bearer_token=... or set {BEARER_TOKEN_ENV}"
        f"{where}"
    )
