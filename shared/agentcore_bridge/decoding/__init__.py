"""Sans-IO response decoding: feed the bytes of an agent's answer, get typed events back.

* ``events``: the typed events (``TextDelta``, ``Usage``, ``FinalMessage``, ``AgentErrorEvent``,
  ``OtherEvent``).
* ``framing``: bytes to data values: SSE framing and body collection, with the size limits;
  it knows nothing about agents.
* ``shapes``: data values to events: the agent shapes, in explicit ordered registries.
* ``decoder``: ``ResponseDecoder`` and ``decode_body``, which put the two together.

Nothing here does I/O or imports a transport or the client.
"""

from agentcore_bridge.decoding.decoder import ResponseDecoder, decode_body
from agentcore_bridge.decoding.events import (
    AgentErrorEvent,
    AgentEvent,
    FinalMessage,
    OtherEvent,
    TaskStatus,
    TextDelta,
    Usage,
)
from agentcore_bridge.decoding.framing import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENT_BYTES
from agentcore_bridge.decoding.shapes import decode_json_answer

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_EVENT_BYTES",
    "AgentErrorEvent",
    "AgentEvent",
    "FinalMessage",
    "OtherEvent",
    "ResponseDecoder",
    "TaskStatus",
    "TextDelta",
    "Usage",
    "decode_body",
    "decode_json_answer",
]
