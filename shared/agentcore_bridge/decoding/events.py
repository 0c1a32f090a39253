"""The typed events a decoded agent answer is made of; what every caller of the decoder sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Answer text, in order; the concatenation of all deltas is the whole answer, exactly once."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage the agent reported for one model call (sum them over the agent loop)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
        )


@dataclass(frozen=True, slots=True)
class FinalMessage:
    """A complete answer or message from the agent; its text is also in the ``TextDelta``s
    unless ``streamed`` is True (then the deltas already carried it)."""

    text: str
    raw: Any = field(repr=False, compare=True)
    streamed: bool = False


@dataclass(frozen=True, slots=True)
class AgentErrorEvent:
    """The agent reported a failure (an error frame, an ``{"error": ...}`` answer)."""

    message: str
    error_type: str | None = None
    raw: Any = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """Anything that is not answer text: lifecycle events, tool traffic, repr strings, unknowns."""

    raw: Any


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """A2A runtimes: the state of the task the answer belongs to (``working``, ``completed``,
    ``input-required``, ``failed``, ...), as the agent reported it."""

    state: str
    task_id: str | None = None
    context_id: str | None = None


AgentEvent = TextDelta | Usage | FinalMessage | AgentErrorEvent | OtherEvent | TaskStatus
