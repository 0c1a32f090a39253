"""Events -> one completion, and completions and chunks in the OpenAI chat format."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentcore_bridge.decoding import (
    AgentErrorEvent,
    AgentEvent,
    FinalMessage,
    OtherEvent,
    TaskStatus,
    TextDelta,
    Usage,
)
from agentcore_bridge.errors import ContentNotKeptError


@dataclass(slots=True)
class Completion:
    """One agent answer: its text, the usage it reported (summed), and where it came from.

    ``keep_content=False`` (what a stream uses unless asked otherwise) keeps only usage, error
    and metadata: the text, complete messages and other events were handed to the caller as
    they arrived, so memory stays flat however long the stream. Its ``text`` raises rather
    than pretend the answer was empty.
    """

    usage: Usage | None = None
    """None unless the agent reported usage: never estimated."""
    finish_reason: str = "stop"
    """``stop``, or ``error`` when the agent reported a failure (see ``error``)."""
    error: AgentErrorEvent | None = None
    session_id: str | None = None
    model: str | None = None
    """The runtime (ARN or id) that answered."""
    qualifier: str | None = None
    content_type: str | None = None
    request_id: str | None = None
    task_state: str | None = None
    """A2A runtimes: the state of the task the answer belongs to (``completed``,
    ``input-required``, ...); None for a plain message answer and for HTTP-protocol agents."""
    task_id: str | None = None
    """A2A runtimes: the id of that task."""
    final_messages: list[Any] = field(default_factory=list)
    """Raw complete messages/answers the agent sent (JSON values), for callers who need more."""
    other_events: list[Any] = field(default_factory=list)
    """Raw stream events that carry no answer text, in order: nothing the agent sent is lost."""
    keep_content: bool = True
    _parts: list[str] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        """The answer text (the deltas joined once, not copied on every delta)."""
        if not self.keep_content:
            raise ContentNotKeptError(
                "this stream handed its text on as it arrived and did not keep it; "
                "pass keep_content=True to stream()/astream() to collect it"
            )
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def add(self, event: AgentEvent) -> None:
        """Fold one event in, in O(1) per event."""
        if isinstance(event, TextDelta):
            if self.keep_content:
                self._parts.append(event.text)
        elif isinstance(event, Usage):
            self.usage = event if self.usage is None else self.usage + event
        elif isinstance(event, FinalMessage):
            if self.keep_content:
                self.final_messages.append(event.raw)
        elif isinstance(event, AgentErrorEvent):
            self.error = event
            self.finish_reason = "error"
        elif isinstance(event, TaskStatus):
            self.task_state = event.state
            self.task_id = event.task_id or self.task_id
        elif isinstance(event, OtherEvent) and self.keep_content:
            self.other_events.append(event.raw)


def fold_events(events: Iterable[AgentEvent], **fields: Any) -> Completion:
    """All events of one answer -> a Completion; ``fields`` fill session id, model, etc."""
    completion = Completion(**fields)
    for event in events:
        completion.add(event)
    return completion


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage_to_openai(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


class StopSequences:
    """Cuts text at the first stop sequence, streamed or not, holding back only what could still
    become one (so a stop sequence split across two deltas is caught, and nothing after it leaks).

    ``feed`` returns the text safe to hand on now; ``flush`` the held-back rest at the end.
    """

    def __init__(self, stops: Sequence[str] | str | None) -> None:
        if isinstance(stops, str):
            stops = [stops]
        self.stops = [s for s in (stops or []) if s]
        self.stopped = False
        self._held = ""

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        if not self.stops:
            return text
        buffer = self._held + text
        hit = self._earliest_hit(buffer)
        # Where a stop sequence may still be starting (the buffer ends with a proper prefix of
        # one): text from there on cannot be handed on yet.
        pending = min(
            (len(buffer) - k for s in self.stops for k in range(1, len(s))
             if buffer.endswith(s[:k])),
            default=len(buffer),
        )  # fmt: skip
        if hit is not None and hit <= pending:
            self.stopped, self._held = True, ""
            return buffer[:hit]
        # A hit after a stop that may still complete earlier must wait for more text.
        self._held = buffer[pending:]
        return buffer[:pending]

    def flush(self) -> str:
        if self.stopped or not self._held:
            return ""
        held, self._held = self._held, ""
        hit = self._earliest_hit(held)
        if hit is not None:
            self.stopped = True
            return held[:hit]
        return held

    def _earliest_hit(self, text: str) -> int | None:
        hits = [i for i in (text.find(s) for s in self.stops) if i != -1]
        return min(hits) if hits else None

    def apply(self, text: str) -> str:
        """The whole text cut at the first stop sequence."""
        if not self.stops:
            return text
        return self.feed(text) + self.flush()
