"""The sans-IO decoder: feed the bytes of an agent's answer, get typed events back.

Like h11, it does no I/O: the sync and async transports read bytes their own way and feed them
here. Framing (``framing.py``) turns the bytes into data values; the shape registries
(``shapes.py``) turn each value into events. Feeding may split the bytes anywhere, even inside
a UTF-8 character: the events are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from agentcore_bridge.decoding.events import AgentEvent
from agentcore_bridge.decoding.framing import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_EVENT_BYTES,
    BodyCollector,
    SseFramer,
)
from agentcore_bridge.decoding.shapes import StreamDecoder, decode_json_answer


class ResponseDecoder:
    """Feed response body bytes with :meth:`feed`, then call :meth:`close` at the end of the body.

    Both return the events completed by the bytes given so far.

    * ``text/event-stream`` (the agent yielded): every complete SSE event is decoded as soon as
      its bytes arrive. Only the unfinished tail (at most one SSE event, ``max_event_bytes``) is
      buffered.
    * anything else (the agent returned a value): the body is collected (at most
      ``max_body_bytes``) and decoded at the end into the answer text (``TextDelta`` +
      ``FinalMessage``), ``Usage`` or ``AgentErrorEvent``.

    An event or body over its limit raises ``ResponseTooLargeError`` from the ``feed`` that
    crosses the limit, before its bytes are kept; the decoder then stays unusable.
    """

    def __init__(
        self,
        content_type: str | None,
        *,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.max_event_bytes = max_event_bytes
        self.max_body_bytes = max_body_bytes
        media = (content_type or "").split(";", 1)[0].strip().lower()
        self.content_type = content_type
        self.is_stream = media == "text/event-stream"
        self._framer: SseFramer | BodyCollector
        self._decode: Callable[[Any], list[AgentEvent]]
        if self.is_stream:
            self._framer = SseFramer(max_event_bytes)
            self._decode = StreamDecoder().decode
        else:
            is_json = media == "application/json" or media.endswith("+json")
            self._framer = BodyCollector(
                content_type, is_json=is_json, max_body_bytes=max_body_bytes
            )
            self._decode = decode_json_answer
        self._closed = False

    @property
    def _buffer(self) -> bytearray:
        """The bytes held back so far (the unfinished SSE line, or the body)."""
        return self._framer.buffer

    def feed(self, data: bytes) -> list[AgentEvent]:
        if self._closed:
            raise RuntimeError("feed() after close()")
        values = self._framer.feed(data)
        if not values:
            return []
        decode = self._decode
        events: list[AgentEvent] = []
        for value in values:
            events.extend(decode(value))
        return events

    def close(self) -> list[AgentEvent]:
        """End of body: decode what is left. An unterminated last SSE event is still decoded."""
        if self._closed:
            return []
        self._closed = True
        decode = self._decode
        events: list[AgentEvent] = []
        for value in self._framer.close():
            events.extend(decode(value))
        return events


def decode_body(
    content_type: str | None,
    chunks: Iterable[bytes],
    *,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> list[AgentEvent]:
    """All events of a complete body given as chunks: a convenience over ResponseDecoder."""
    decoder = ResponseDecoder(
        content_type, max_event_bytes=max_event_bytes, max_body_bytes=max_body_bytes
    )
    events: list[AgentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events
