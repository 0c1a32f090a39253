"""Framing: the bytes of a response body in, data values out, in bounded memory.

This layer knows how a body is delimited and nothing about agents. It hands the shape layer
(``shapes.py``) *data values*:

* a parsed JSON value (a dict, list, string, number, bool or None);
* :class:`RawData` for data that is not JSON (a raw text line, a ``text/plain`` body);
* :data:`DONE` for the ``data: [DONE]`` end marker of OpenAI-style streams.

Two framers share one interface (``feed(bytes) -> list``, ``close() -> list``):

* :class:`SseFramer` for ``text/event-stream``: splits lines the way the WHATWG spec says,
  collects ``data:`` lines, and hands on one value per event as soon as its blank line arrives.
  It buffers only the unfinished line and the data lines of the current event.
* :class:`BodyCollector` for everything else: collects the whole body and parses it at the end.

Both enforce a size limit on what they buffer and raise
:class:`~agentcore_bridge.errors.ResponseTooLargeError` from the ``feed`` whose bytes cross it,
before keeping those bytes: memory stays within the limit plus the chunk being fed, whatever
the agent sends. A framer that raised is unusable: every later call raises the same error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from agentcore_bridge.errors import MalformedResponseError, ResponseTooLargeError

DEFAULT_MAX_EVENT_BYTES = 32 * 1024 * 1024
"""The largest SSE event a decoder buffers: the bytes of its ``data:`` lines (without their
line ends) plus the line being read."""
DEFAULT_MAX_BODY_BYTES = 128 * 1024 * 1024
"""The largest non-stream body a decoder collects (AgentCore's payload limit is 100 MB)."""

_MIB = 1024 * 1024
_COLON: Final = ord(":")
_SPACE: Final = ord(" ")


@dataclass(frozen=True, slots=True)
class RawData:
    """Data that is not JSON, exactly as sent: an SSE event's data that does not parse as JSON,
    or a non-stream body that is not (or is not declared as) JSON."""

    text: str


@dataclass(frozen=True, slots=True)
class DoneMarker:
    """The ``data: [DONE]`` event that ends OpenAI-style streams; it carries nothing."""


DONE: Final = DoneMarker()
"""The one :class:`DoneMarker`; compare with ``is``."""


def _decode_utf8(data: bytes | bytearray) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedResponseError(
            f"agent response is not valid UTF-8 at byte {exc.start}"
        ) from None


def _too_large(what: str, setting: str, limit: int) -> str:
    return (
        f"agent response {what} is larger than {setting}={limit} bytes "
        f"({limit / _MIB:g} MiB): reading stopped there; raise {setting} to accept it"
    )


class SseFramer:
    """``text/event-stream`` framing (https://html.spec.whatwg.org/multipage/server-sent-events.html).

    Lines end with ``\\n``, ``\\r\\n`` or ``\\r`` (a ``\\r\\n`` split between two feeds is one
    line end); ``data:`` lines accumulate (joined with ``\\n``, one leading space dropped); a
    blank line dispatches the event; ``:`` comments and the ``event``, ``id`` and ``retry`` fields
    carry nothing an agent answer needs and are skipped. An unterminated last event is still
    dispatched by :meth:`close`. Every line must be UTF-8 (data lines are checked together, when
    their event is dispatched).

    ``max_event_bytes`` bounds one event: the bytes of its ``data:`` lines so far (without line
    ends) plus the line being read. Checks are O(1) per feed and per line; a line that is still
    growing is never searched twice for its end.
    """

    __slots__ = (
        "_buffer",
        "_data",
        "_event_bytes",
        "_failure",
        "_has_data",
        "_scanned",
        "max_event_bytes",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.max_event_bytes = max_event_bytes
        # The unfinished line, and at most one \r after it (which may be half of a \r\n).
        self._buffer = bytearray()
        # How many bytes at the start of the buffer are known to hold no line end: the length
        # of the unfinished line.
        self._scanned = 0
        self._data = bytearray()  # the current event's data lines, joined with \n
        self._has_data = False  # whether it had a data line (an empty one counts)
        self._event_bytes = 0  # the bytes of its data lines, without line ends
        self._failure: str | None = None

    @property
    def buffer(self) -> bytearray:
        """The bytes held back: the unfinished line (read-only for callers)."""
        return self._buffer

    def feed(self, data: bytes) -> list[Any]:
        """The data values of the events these bytes complete, in order."""
        if self._failure is not None:
            raise ResponseTooLargeError(self._failure)
        if not data:
            return []
        if self._event_bytes + len(self._buffer) + len(data) > self.max_event_bytes:
            self._refuse_unless_a_line_ends(data)
        self._buffer += data
        return self._drain(final=False)

    def close(self) -> list[Any]:
        """End of the body: the values left, an unterminated last line and event included."""
        if self._failure is not None:
            raise ResponseTooLargeError(self._failure)
        values = self._drain(final=True)
        if self._has_data:
            values.append(self._dispatch())
        return values

    def _refuse_unless_a_line_ends(self, data: bytes) -> None:
        """The slow path of :meth:`feed`, taken only when the event so far plus this chunk could
        pass the limit: raise before buffering ``data`` unless a line end in it comes early
        enough for the unfinished line to stay within the limit. Later lines of the chunk are
        checked as they are split."""
        if len(self._buffer) > self._scanned:
            return  # the unfinished line already ended with a \r; data may start with its \n
        # A line end at index ``room`` still closes a line that is exactly at the limit.
        window = self.max_event_bytes - self._event_bytes - self._scanned + 1
        if data.find(b"\n", 0, window) == -1 and data.find(b"\r", 0, window) == -1:
            self._fail()

    def _drain(self, *, final: bool) -> list[Any]:
        values: list[Any] = []
        buffer = self._buffer
        start = 0
        # Bytes before self._scanned are known to hold no line end: a long line fed in many
        # small pieces is then searched once, not once per piece.
        search = self._scanned
        nl = buffer.find(b"\n", search)
        while True:
            if nl != -1 and nl < search:
                nl = buffer.find(b"\n", search)  # (-1 stays valid: the buffer does not grow)
            cr = buffer.find(b"\r", search, nl if nl != -1 else len(buffer))
            if cr != -1:
                if cr + 1 == len(buffer) and not final:
                    search = cr  # a \r at the end may be the first half of \r\n
                    break
                end, next_start = cr, cr + 2 if buffer[cr + 1 : cr + 2] == b"\n" else cr + 1
            elif nl != -1:
                end, next_start = nl, nl + 1
            elif final and start < len(buffer):
                end, next_start = len(buffer), len(buffer)
            else:
                search = len(buffer)
                break
            if end == start:  # a blank line dispatches the event
                if self._has_data:
                    values.append(self._dispatch())
            else:
                self._line(buffer, start, end)
            start = search = next_start
        del buffer[:start]
        self._scanned = search - start
        if self._event_bytes + self._scanned > self.max_event_bytes:
            self._fail()
        return values

    def _line(self, buffer: bytearray, start: int, end: int) -> None:
        """One complete, non-blank line ``buffer[start:end]``."""
        size = end - start
        if self._event_bytes + size > self.max_event_bytes:
            self._fail()
        # The field name is what comes before the first colon (the whole line if none).
        if buffer.startswith(b"data", start, end) and (size == 4 or buffer[start + 4] == _COLON):
            value = start + 5
            if value < end and buffer[value] == _SPACE:
                value += 1
            if self._has_data:
                self._data += b"\n"
                self._data += buffer[value:end]
            else:
                self._data = buffer[value:end]
                self._has_data = True
            self._event_bytes += size
        else:
            # A comment or another field: nothing to keep, but the body must still be UTF-8.
            _decode_utf8(buffer[start:end])

    def _dispatch(self) -> Any:
        data = _decode_utf8(self._data)
        self._data = bytearray()
        self._has_data = False
        self._event_bytes = 0
        if data == "[DONE]":
            return DONE
        try:
            return json.loads(data)
        except ValueError:
            return RawData(data)  # not JSON: an agent that streams raw text lines

    def _fail(self) -> NoReturn:
        self._failure = _too_large("event", "max_event_bytes", self.max_event_bytes)
        self._buffer = bytearray()  # let go of what was held: the stream is abandoned
        self._data = bytearray()
        raise ResponseTooLargeError(self._failure)


class BodyCollector:
    """A non-stream body: collected whole (at most ``max_body_bytes``), parsed at the end.

    ``application/json`` and ``*+json`` bodies must be JSON; a body with no content type is
    JSON when it parses and text otherwise; any other type (``text/plain``, ...) is text.
    """

    __slots__ = ("_buffer", "_failure", "content_type", "is_json", "max_body_bytes")

    def __init__(
        self,
        content_type: str | None,
        *,
        is_json: bool,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.content_type = content_type
        self.is_json = is_json
        self.max_body_bytes = max_body_bytes
        self._buffer = bytearray()
        self._failure: str | None = None

    @property
    def buffer(self) -> bytearray:
        """The body so far (read-only for callers)."""
        return self._buffer

    def feed(self, data: bytes) -> list[Any]:
        """Collect ``data``; a body completes only at :meth:`close`, so this returns ``[]``."""
        if self._failure is not None:
            raise ResponseTooLargeError(self._failure)
        if len(self._buffer) + len(data) > self.max_body_bytes:
            self._failure = _too_large("body", "max_body_bytes", self.max_body_bytes)
            self._buffer = bytearray()
            raise ResponseTooLargeError(self._failure)
        self._buffer += data
        return []

    def close(self) -> list[Any]:
        """The body's one data value (none for an empty body)."""
        if self._failure is not None:
            raise ResponseTooLargeError(self._failure)
        body, self._buffer = self._buffer, bytearray()
        if not body:
            return []
        text = _decode_utf8(body)
        del body
        if self.is_json or not self.content_type:
            try:
                return [json.loads(text)]
            except ValueError:
                if self.is_json:
                    raise MalformedResponseError(
                        f"agent answered {self.content_type} that is not valid JSON: {text[:200]!r}"
                    ) from None
        return [RawData(text)]
