"""Sans-IO response decoding: feed the bytes of an agent's answer, get typed events back.

Like h11, the decoder does no I/O: the sync and async transports read bytes their own way and
feed them here, so every shape an agent may send (see AGENTCORE.md) is understood in one place.

* ``application/json`` (the agent returned a value): the body is collected and decoded at the
  end into the answer text (``TextDelta`` + ``FinalMessage``), ``Usage`` or ``AgentErrorEvent``.
  A JSON value of a shape nobody recognises is still the answer: its JSON text is the content.
* ``text/event-stream`` (the agent yielded): every complete SSE event is decoded as soon as its
  bytes arrive, with no look-ahead. Text deltas come out as ``TextDelta``; a complete message
  (a Strands ``message``, a LangGraph ``updates`` message) yields its text only when the stream
  has not already streamed it as deltas, so no text is given twice; Python-repr strings (Strands
  events the SDK could not serialise) and anything unrecognised come out as ``OtherEvent``,
  never as text and never dropped.

Feeding may split the bytes anywhere, even inside a UTF-8 character: the events are the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentcore_bridge.errors import MalformedResponseError

DEFAULT_MAX_EVENT_BYTES = 32 * 1024 * 1024
"""The largest SSE event (one line, or the data lines of one event) a decoder buffers."""
DEFAULT_MAX_BODY_BYTES = 128 * 1024 * 1024
"""The largest non-stream body a decoder collects (AgentCore's payload limit is 100 MB)."""

# --- events -------------------------------------------------------------------------------


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


AgentEvent = TextDelta | Usage | FinalMessage | AgentErrorEvent | OtherEvent


# --- shape recognition, shared by bodies and stream events ---------------------------------


def _text_of_parts(parts: Any) -> str | None:
    """Text of a content list: strings, {"text": ...}, {"type": "text", "text": ...} parts.

    Parts with other keys (toolUse, toolResult, images, reasoning) carry no answer text.
    Returns None when ``parts`` is not a list.
    """
    if not isinstance(parts, list):
        return None
    texts = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif (
            isinstance(part, Mapping)
            and isinstance(part.get("text"), str)
            and part.get("type", "text") in ("text", "output_text")
        ):
            texts.append(part["text"])
    return "".join(texts)


def _content_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    return _text_of_parts(content)


_LANGCHAIN_AI_TYPES = frozenset({"ai", "AIMessage", "AIMessageChunk"})
_LANGCHAIN_TYPES = _LANGCHAIN_AI_TYPES | {
    "human", "system", "tool", "function", "HumanMessage", "SystemMessage", "ToolMessage",
    "ToolMessageChunk", "HumanMessageChunk", "SystemMessageChunk", "FunctionMessage",
}  # fmt: skip


def _is_langchain_message(value: Mapping[str, Any]) -> bool:
    kind = value.get("type")
    return isinstance(kind, str) and kind in _LANGCHAIN_TYPES and "content" in value


def _is_strands_message(value: Mapping[str, Any]) -> bool:
    return isinstance(value.get("role"), str) and isinstance(value.get("content"), list)


def _usage_from(value: Any) -> Usage | None:
    """Usage in any of the spellings agents use (Bedrock camelCase, OpenAI, LangChain)."""
    if not isinstance(value, Mapping):
        return None

    def pick(*names: str) -> int | None:
        for name in names:
            number = value.get(name)
            if isinstance(number, int) and not isinstance(number, bool):
                return number
        return None

    inp = pick("inputTokens", "input_tokens", "prompt_tokens")
    out = pick("outputTokens", "output_tokens", "completion_tokens")
    if inp is None and out is None:
        return None
    total = pick("totalTokens", "total_tokens")
    inp, out = inp or 0, out or 0
    return Usage(inp, out, total if total is not None else inp + out)


def _error_from(value: Mapping[str, Any]) -> AgentErrorEvent | None:
    """The agent error shapes: the SDK's error frame, ``{"error": ..., "type": "stream_error"}``,
    ``{"error": "..."}``, JSON-RPC errors, AG-UI ``RUN_ERROR``, ``{"type": "error"}`` events."""
    error = value.get("error")
    if isinstance(error, str):
        kind = value.get("error_type") or value.get("type")
        return AgentErrorEvent(error, kind if isinstance(kind, str) else None, value)
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        kind = error.get("type") or error.get("code")
        return AgentErrorEvent(error["message"], None if kind is None else str(kind), value)
    kind = value.get("type") if "type" in value else value.get("event")
    if kind in ("RUN_ERROR", "error") and isinstance(value.get("message"), str):
        return AgentErrorEvent(value["message"], str(value.get("code") or kind), value)
    return None


def _answer_text(value: Any) -> str | None:
    """The answer text of a complete JSON answer, or None for an unrecognised shape."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        return None
    if "result" in value:
        result = value["result"]
        if value.get("jsonrpc") == "2.0":
            return _a2a_text(result)
        return _answer_text(result)
    if "response" in value:
        return _content_text(value["response"])
    if _is_langchain_message(value):
        return _content_text(value["content"]) if value["type"] in _LANGCHAIN_AI_TYPES else None
    if _is_strands_message(value):
        return _text_of_parts(value["content"]) if value["role"] == "assistant" else None
    choices = value.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        message = choices[0].get("message")
        if isinstance(message, Mapping):
            return _content_text(message.get("content"))
    return None


def _field(value: Any, key: str) -> Any:
    """``value[key]`` when ``value`` is a JSON object that has it, else None."""
    return value.get(key) if isinstance(value, Mapping) else None


def _a2a_text(result: Any) -> str | None:
    """A2A JSON-RPC results: ``parts``, ``message.parts``, or a task's status or artifacts."""
    if not isinstance(result, Mapping):
        return None
    for holder in (result, result.get("message"), _field(result.get("status"), "message")):
        if isinstance(holder, Mapping) and isinstance(holder.get("parts"), list):
            return _text_of_parts(holder["parts"])
    artifacts = result.get("artifacts")
    if isinstance(artifacts, list):
        texts = [_text_of_parts(a.get("parts")) or "" for a in artifacts if isinstance(a, Mapping)]
        return "".join(texts)
    return None


def decode_json_answer(value: Any) -> list[AgentEvent]:
    """Events for a complete JSON answer (the body of an ``application/json`` response)."""
    if isinstance(value, Mapping):
        error = _error_from(value)
        if error is not None:
            return [error]
    text = _answer_text(value)
    events: list[AgentEvent] = []
    if text is None:
        # Unknown shape: the agent's JSON is still its answer; keep the value for the caller.
        text = json.dumps(value, ensure_ascii=False)
    events.append(TextDelta(text))
    events.append(FinalMessage(text, value))
    usage = _usage_from(value.get("usage")) if isinstance(value, Mapping) else None
    if usage is not None:
        events.append(usage)
    return events


class _StreamEventDecoder:
    """Turns one parsed SSE data value into events; remembers whether deltas carried text."""

    def __init__(self) -> None:
        self.streamed_text = False

    def decode(self, value: Any) -> list[AgentEvent]:
        if isinstance(value, str):
            # Strands events the SDK could not serialise arrive as Python dict reprs: metadata.
            if value.startswith("{'"):
                return [OtherEvent(value)]
            return self._delta(value, value)
        if isinstance(value, list):
            return self._decode_list(value)
        if not isinstance(value, Mapping):
            return [OtherEvent(value)]
        error = _error_from(value)
        if error is not None:
            return [error]
        if "event" in value and isinstance(value["event"], Mapping):
            return self._decode_converse_event(value, value["event"])
        # Most typed events say "type"; LlamaIndex's AgentCoreRuntime says "event".
        kind = value.get("type") if "type" in value else value.get("event")
        if isinstance(kind, str) and not _is_langchain_message(value):
            return self._decode_typed_event(value, kind)
        if _is_langchain_message(value):
            return self._decode_langchain(value, whole=not str(value["type"]).endswith("Chunk"))
        if "message" in value and isinstance(value["message"], Mapping):
            message = value["message"]
            if _is_strands_message(message) and message["role"] == "assistant":
                return self._message(_text_of_parts(message["content"]) or "", value)
            return [OtherEvent(value)]
        if "result" in value or "response" in value:
            text = _answer_text(value)
            if text is not None:
                return self._message(text, value)
        choices = value.get("choices")
        if isinstance(choices, list):
            return self._decode_openai_chunk(value, choices)
        updates = self._decode_langgraph_updates(value)
        if updates is not None:
            return updates
        return [OtherEvent(value)]

    def _delta(self, text: str, raw: Any) -> list[AgentEvent]:
        if not text:
            return [OtherEvent(raw)]  # an empty delta carries nothing, but is not dropped
        self.streamed_text = True
        return [TextDelta(text)]

    def raw_text(self, data: str) -> list[AgentEvent]:
        return self._delta(data, data)

    def _message(self, text: str, raw: Any) -> list[AgentEvent]:
        """A complete message: its text counts only if no delta has carried the answer."""
        if self.streamed_text:
            return [FinalMessage(text, raw, streamed=True)]
        events: list[AgentEvent] = [TextDelta(text)] if text else []
        events.append(FinalMessage(text, raw))
        return events

    def _decode_list(self, value: list[Any]) -> list[AgentEvent]:
        # LangGraph stream_mode="messages": [message_chunk, metadata].
        if value and isinstance(value[0], Mapping) and _is_langchain_message(value[0]):
            events = self._decode_langchain(value[0], whole=False)
            return [*events, OtherEvent(value[1:])] if len(value) > 1 else events
        return [OtherEvent(value)]

    def _decode_converse_event(
        self, raw: Mapping[str, Any], event: Mapping[str, Any]
    ) -> list[AgentEvent]:
        delta = _field(event.get("contentBlockDelta"), "delta")
        if isinstance(delta, Mapping) and isinstance(delta.get("text"), str):
            return self._delta(delta["text"], raw)
        metadata = event.get("metadata")
        if isinstance(metadata, Mapping):
            usage = _usage_from(metadata.get("usage"))
            if usage is not None:
                return [usage]
        return [OtherEvent(raw)]

    def _decode_typed_event(self, raw: Mapping[str, Any], kind: str) -> list[AgentEvent]:
        delta = raw.get("delta")
        if kind in (
            "response.output_text.delta",  # OpenAI Agents SDK / Responses API
            "TEXT_MESSAGE_CONTENT",  # AG-UI
            "TEXT_MESSAGE_CHUNK",
            "agent_stream",  # LlamaIndex AgentStream
            "content_block_delta",  # Anthropic-style
        ):
            if isinstance(delta, Mapping):
                delta = delta.get("text")
            if isinstance(delta, str):
                return self._delta(delta, raw)
            return [OtherEvent(raw)]
        if kind in ("response.completed", "response.done"):
            response = raw.get("response")
            usage = _usage_from(response.get("usage")) if isinstance(response, Mapping) else None
            return [usage, OtherEvent(raw)] if usage is not None else [OtherEvent(raw)]
        return [OtherEvent(raw)]

    def _decode_langchain(self, message: Mapping[str, Any], *, whole: bool) -> list[AgentEvent]:
        if message["type"] not in _LANGCHAIN_AI_TYPES:
            return [OtherEvent(message)]
        text = _content_text(message.get("content")) or ""
        usage = _usage_from(message.get("usage_metadata"))
        if whole:
            events = self._message(text, message)
        elif text or usage is None:
            events = self._delta(text, message)
        else:
            events = []
        return [*events, usage] if usage is not None else events

    def _decode_langgraph_updates(self, value: Mapping[str, Any]) -> list[AgentEvent] | None:
        # stream_mode="updates": {"<node>": {"messages": [<message dumps>]}}
        found = False
        events: list[AgentEvent] = []
        for update in value.values():
            messages = update.get("messages") if isinstance(update, Mapping) else None
            if not isinstance(messages, list):
                continue
            for message in messages:
                if isinstance(message, Mapping) and _is_langchain_message(message):
                    found = True
                    events.extend(self._decode_langchain(message, whole=True))
        if not found:
            return None
        return [*events, OtherEvent(value)]

    def _decode_openai_chunk(self, raw: Mapping[str, Any], choices: list[Any]) -> list[AgentEvent]:
        events: list[AgentEvent] = []
        for choice in choices:
            delta = choice.get("delta") if isinstance(choice, Mapping) else None
            if isinstance(delta, Mapping) and isinstance(delta.get("content"), str):
                events.extend(self._delta(delta["content"], raw))
        usage = _usage_from(raw.get("usage"))
        if usage is not None:
            events.append(usage)
        return events or [OtherEvent(raw)]


# --- framing ------------------------------------------------------------------------------


def _decode_utf8(data: bytes | bytearray) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedResponseError(
            f"agent response is not valid UTF-8 at byte {exc.start}"
        ) from None


class ResponseDecoder:
    """Feed response body bytes with :meth:`feed`, then call :meth:`close` at the end of the body.

    Both return the events completed by the bytes given so far. Only the unfinished tail of the
    stream (at most one SSE event) is buffered; JSON and other bodies are collected until the end.
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
        self._is_json = media == "application/json" or media.endswith("+json")
        self._buffer = bytearray()
        self._scanned = 0
        self._data_lines: list[str] = []
        self._events = _StreamEventDecoder()
        self._closed = False

    def feed(self, data: bytes) -> list[AgentEvent]:
        if self._closed:
            raise RuntimeError("feed() after close()")
        if not data:
            return []
        self._buffer += data
        if not self.is_stream:
            return []
        return self._drain_lines(final=False)

    def close(self) -> list[AgentEvent]:
        """End of body: decode what is left. An unterminated last SSE event is still decoded."""
        if self._closed:
            return []
        self._closed = True
        if self.is_stream:
            events = self._drain_lines(final=True)
            events.extend(self._dispatch())
            return events
        return self._decode_body(bytes(self._buffer))

    # SSE (https://html.spec.whatwg.org/multipage/server-sent-events.html): lines end with
    # \n, \r\n or \r; "data:" lines accumulate; a blank line dispatches the event.
    def _drain_lines(self, *, final: bool) -> list[AgentEvent]:
        events: list[AgentEvent] = []
        buffer = self._buffer
        start = 0
        # Bytes before self._scanned are known to hold no line end: a long line fed in many
        # small pieces is then searched once, not once per piece.
        search = self._scanned
        while True:
            nl = buffer.find(b"\n", search)
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
            events.extend(self._line(_decode_utf8(buffer[start:end])))
            start = search = next_start
        del buffer[:start]
        self._scanned = search - start
        return events

    def _line(self, line: str) -> list[AgentEvent]:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []  # comment / keep-alive
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data_lines.append(value)
        return []  # "event", "id", "retry" carry nothing we use

    def _dispatch(self) -> list[AgentEvent]:
        if not self._data_lines:
            return []
        data = "\n".join(self._data_lines)
        self._data_lines = []
        if data == "[DONE]":
            return [OtherEvent(data)]
        try:
            value = json.loads(data)
        except ValueError:
            # Not JSON: an agent that streams raw text lines. The text is the answer.
            return self._events.raw_text(data)
        return self._events.decode(value)

    def _decode_body(self, body: bytes) -> list[AgentEvent]:
        if not body:
            return []
        text = _decode_utf8(body)
        if self._is_json or not self.content_type:
            try:
                value = json.loads(text)
            except ValueError:
                if self._is_json:
                    raise MalformedResponseError(
                        f"agent answered {self.content_type} that is not valid JSON: {text[:200]!r}"
                    ) from None
            else:
                return decode_json_answer(value)
        return [TextDelta(text), FinalMessage(text, text)]


def decode_body(content_type: str | None, chunks: Iterable[bytes]) -> list[AgentEvent]:
    """All events of a complete body given as chunks: a convenience over ResponseDecoder."""
    decoder = ResponseDecoder(content_type)
    events: list[AgentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events
