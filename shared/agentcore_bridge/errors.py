"""One exception tree for the whole package, mapped from AgentCore's error types and statuses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from agentcore_bridge.results import Completion


class AgentCoreError(Exception):
    """Base of every error this package raises.

    ``error_type`` is AWS's error type (``x-amzn-ErrorType``) when the service sent one,
    ``status_code`` the HTTP status, ``request_id`` AWS's request id: quote it to AWS support.
    """

    _retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
        session_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status_code = status_code
        self.request_id = request_id
        self.session_id = session_id

    @property
    def retryable(self) -> bool:
        """Whether a retry is safe: the request cannot have reached the agent."""
        return self._retryable

    def __str__(self) -> str:
        details = [
            f"{name}={value}"
            for name, value in (
                ("status", self.status_code),
                ("type", self.error_type),
                ("request_id", self.request_id),
                ("session", self.session_id),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the keyword-only details when an error crosses a process boundary.
        return (
            _rebuild_error,
            (
                type(self),
                self.message,
                self.error_type,
                self.status_code,
                self.request_id,
                self.session_id,
            ),
        )


def _rebuild_error(
    cls: type[AgentCoreError],
    message: str,
    error_type: str | None,
    status_code: int | None,
    request_id: str | None,
    session_id: str | None,
) -> AgentCoreError:
    return cls(
        message,
        error_type=error_type,
        status_code=status_code,
        request_id=request_id,
        session_id=session_id,
    )


# --- bad input, caught before any request is sent ---------------------------------------------


class InvalidRequestError(AgentCoreError, ValueError):
    """The call was refused locally before anything was sent: fix the argument it names."""


class InvalidTargetError(InvalidRequestError):
    """The runtime ARN, runtime id, account id or region is malformed or inconsistent."""


class InvalidSessionIdError(InvalidRequestError):
    """The runtime session id breaks AgentCore's rule (33-256 visible ASCII characters)."""


class PayloadTooLargeError(InvalidRequestError):
    """The request payload is over AgentCore's 100,000,000-byte limit."""


# --- the service refused or failed ----------------------------------------------------------


class ServiceValidationError(AgentCoreError):
    """AgentCore answered 400 ValidationException: the request is malformed for the service."""


class QuotaExceededError(AgentCoreError):
    """AgentCore answered 402 ServiceQuotaExceededException: raise the quota or wait."""


class AccessDeniedError(AgentCoreError):
    """403 (or 401): the credentials or token are missing, wrong, expired, or lack permission."""


class ResourceNotFoundError(AgentCoreError):
    """404: no runtime (or endpoint, or session) by that name in that account and region."""


class ConflictError(AgentCoreError):
    """409 ConflictException: a conflicting operation is in progress; not retried."""


class RetryableConflictError(ConflictError):
    """409 RetryableConflictException: modelled retryable, so retried with backoff."""

    _retryable = True


class ThrottlingError(AgentCoreError):
    """429 ThrottlingException: too many invocations (about 25/s per endpoint); retried."""

    _retryable = True


class ServiceError(AgentCoreError):
    """5xx from AgentCore itself (not the agent); 500 and 503 are retried."""

    @property
    def retryable(self) -> bool:
        return self.status_code in (500, 503)


# --- the agent failed ---------------------------------------------------------------------


class AgentError(AgentCoreError):
    """The agent itself failed: an error frame in its stream, an ``{"error": ...}`` answer.

    ``completion`` holds what the stream delivered before the error (text when it was kept,
    usage, metadata), or None when nothing was received (a 424, a JSON-RPC error body).
    """

    completion: Completion | None = None


class RuntimeClientError(AgentError):
    """424 RuntimeClientError: the agent's container returned an error or could not answer.

    AWS does not pass the agent's own message on: look in the runtime's CloudWatch logs.
    """


# --- transport ------------------------------------------------------------------------------


class TransportError(AgentCoreError):
    """The HTTP exchange itself failed."""


class ConnectError(TransportError):
    """No connection could be made: nothing reached AgentCore, so this is retried."""

    _retryable = True


class AgentCoreTimeoutError(TransportError, TimeoutError):
    """A connect, read (idle) or whole-call deadline passed."""


class StreamInterruptedError(TransportError):
    """The connection broke after the request was sent or mid-response: the answer is incomplete."""


class MalformedResponseError(AgentCoreError):
    """The response could not be decoded (broken JSON, broken UTF-8, an unusable frame)."""


class ResponseTooLargeError(MalformedResponseError):
    """One SSE event, or a whole non-stream body, was larger than the client allows
    (``max_event_bytes`` / ``max_body_bytes``): reading stopped as soon as the limit was crossed,
    so memory stays bounded by the settings, not by what the agent sends."""


class ContentNotKeptError(AgentCoreError):
    """A stream's text was read from its completion although the stream did not keep it."""


_BY_ERROR_TYPE: dict[str, type[AgentCoreError]] = {
    "ValidationException": ServiceValidationError,
    "ServiceQuotaExceededException": QuotaExceededError,
    "AccessDeniedException": AccessDeniedError,
    "UnauthorizedException": AccessDeniedError,
    "UnrecognizedClientException": AccessDeniedError,
    "InvalidSignatureException": AccessDeniedError,
    "ExpiredTokenException": AccessDeniedError,
    "IncompleteSignatureException": AccessDeniedError,
    "ResourceNotFoundException": ResourceNotFoundError,
    "RetryableConflictException": RetryableConflictError,
    "ConflictException": ConflictError,
    "RuntimeClientError": RuntimeClientError,
    "ThrottlingException": ThrottlingError,
    "InternalServerException": ServiceError,
    "ServiceUnavailableException": ServiceError,
}

_BY_STATUS: dict[int, type[AgentCoreError]] = {
    400: ServiceValidationError,
    401: AccessDeniedError,
    402: QuotaExceededError,
    403: AccessDeniedError,
    404: ResourceNotFoundError,
    409: RetryableConflictError,  # InvokeAgentRuntime's only 409
    424: RuntimeClientError,
    429: ThrottlingError,
}

# AgentCore's platform errors for A2A runtimes: a JSON-RPC error body with these codes, sent
# with the real HTTP status (so the status alone maps them too; the code is more precise).
_BY_JSONRPC_CODE: dict[int, type[AgentCoreError]] = {
    -32051: ResourceNotFoundError,
    -32052: ServiceValidationError,
    -32053: ThrottlingError,
    -32054: RetryableConflictError,
    -32055: RuntimeClientError,
    -32603: ServiceError,
}

_HINTS: dict[type[AgentCoreError], str] = {
    AccessDeniedError: "check the credentials (or bearer token), their expiry, the region, and "
    "the bedrock-agentcore:InvokeAgentRuntime permission",
    ResourceNotFoundError: "check the runtime ARN, its region and the qualifier (endpoint name)",
    RuntimeClientError: "the agent itself failed; its own error is in the runtime's CloudWatch "
    "logs (/aws/bedrock-agentcore/runtimes/...)",
    ThrottlingError: "slow down or ask for a higher invocation quota",
    QuotaExceededError: "a service quota is exhausted; see the AgentCore quotas page",
}


def error_from_response(
    status_code: int,
    error_type: str | None,
    message: str | None,
    *,
    request_id: str | None = None,
    session_id: str | None = None,
    jsonrpc_code: int | None = None,
) -> AgentCoreError:
    """Build the typed error for an AgentCore error response.

    ``error_type`` may carry botocore's ``Type:Detail`` form (``ThrottlingException:http://...``);
    only the part before the colon names the type.
    """
    clean_type = error_type.split(":", 1)[0].strip() if error_type else None
    cls = (
        _BY_ERROR_TYPE.get(clean_type or "")
        or (_BY_JSONRPC_CODE.get(jsonrpc_code) if jsonrpc_code is not None else None)
        or _BY_STATUS.get(status_code)
    )
    if cls is None:
        cls = ServiceError if status_code >= 500 else AgentCoreError
    text = message or f"AgentCore answered HTTP {status_code}"
    hint = _HINTS.get(cls)
    if hint:
        text = f"{text}; {hint}"
    return cls(
        text,
        error_type=clean_type,
        status_code=status_code,
        request_id=request_id,
        session_id=session_id,
    )
