"""agentcore_bridge: the shared core behind the LangChain, LlamaIndex and OpenAI-format clients
for Amazon Bedrock AgentCore agent runtimes."""

from typing import TYPE_CHECKING, Any

from agentcore_bridge.client import AgentCoreClient, AsyncEventStream, EventStream, RetryPolicy
from agentcore_bridge.decoding import (
    AgentErrorEvent,
    AgentEvent,
    FinalMessage,
    OtherEvent,
    ResponseDecoder,
    TaskStatus,
    TextDelta,
    Usage,
    decode_body,
)
from agentcore_bridge.errors import (
    AccessDeniedError,
    AgentCoreError,
    AgentCoreTimeoutError,
    AgentError,
    ConflictError,
    ConnectError,
    ContentNotKeptError,
    InvalidRequestError,
    InvalidSessionIdError,
    InvalidTargetError,
    MalformedResponseError,
    PayloadTooLargeError,
    QuotaExceededError,
    ResourceNotFoundError,
    ResponseTooLargeError,
    RetryableConflictError,
    RuntimeClientError,
    ServiceError,
    ServiceValidationError,
    StreamInterruptedError,
    ThrottlingError,
    TransportError,
)
from agentcore_bridge.payloads import (
    HistoryMode,
    PayloadFormat,
    PreparedPayload,
    SessionMemory,
    prepare_payload,
)
from agentcore_bridge.results import Completion, StopSequences, fold_events
from agentcore_bridge.sessions import new_session_id, validate_session_id
from agentcore_bridge.targets import RuntimeTarget, parse_target

__all__ = [
    "AccessDeniedError",
    "AgentCoreClient",
    "AgentCoreError",
    "AgentCoreTimeoutError",
    "AgentError",
    "AgentErrorEvent",
    "AgentEvent",
    "AsyncEventStream",
    "Completion",
    "ConflictError",
    "ConnectError",
    "ContentNotKeptError",
    "EventStream",
    "FinalMessage",
    "HistoryMode",
    "InvalidRequestError",
    "InvalidSessionIdError",
    "InvalidTargetError",
    "MalformedResponseError",
    "OtherEvent",
    "PayloadFormat",
    "PayloadTooLargeError",
    "PreparedPayload",
    "QuotaExceededError",
    "ResourceNotFoundError",
    "ResponseDecoder",
    "ResponseTooLargeError",
    "RetryPolicy",
    "RetryableConflictError",
    "RuntimeClientError",
    "RuntimeTarget",
    "ServiceError",
    "ServiceValidationError",
    "SessionMemory",
    "StopSequences",
    "StreamInterruptedError",
    "TaskStatus",
    "TextDelta",
    "ThrottlingError",
    "TransportError",
    "Usage",
    "acompletion",
    "completion",
    "decode_body",
    "fold_events",
    "new_session_id",
    "parse_target",
    "prepare_payload",
    "validate_session_id",
]

if TYPE_CHECKING:
    from agentcore_bridge.completions import acompletion, completion


def __getattr__(name: str) -> Any:
    # completion()/acompletion() build pydantic response models: imported on first use, so
    # ``import agentcore_bridge`` stays light for the client alone (cold starts).
    if name in ("completion", "acompletion"):
        from agentcore_bridge import completions

        return getattr(completions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
