"""Agent shapes: what a data value from the framing layer means, in ordered registries.

An agent on AgentCore answers in whatever shape its framework and its entrypoint give it: the
bedrock-agentcore SDK's ``BedrockAgentCoreApp`` JSON-encodes the value an entrypoint returns
(``application/json``) or each value it yields (one SSE ``data:`` event each, as
``text/event-stream``), so a Strands, LangGraph, OpenAI Agents or LlamaIndex agent sends that
framework's own objects, dumped. This module recognises them. Each registry is an ordered tuple
of ``(name, recogniser)`` entries; a recogniser returns ``None`` when the value is not its shape,
and the first entry that claims a value decides. Order matters where shapes overlap: an error
frame also has a ``type``, a LangChain message also has a string ``type``, a ``{"result": ...}``
may hold a message. Each recogniser's docstring says which agents send its shape.

* :data:`ANSWER_SHAPES`: the answer text of a complete answer. A recogniser returns the text,
  or :data:`NO_TEXT` for a value of its shape that carries no answer text (a human message, say),
  which stops the search: the value then counts as unrecognised.
* :data:`BODY_SHAPES`: the events of a non-stream body: the answer text as one ``TextDelta`` and
  a ``FinalMessage``, its ``Usage``, or an ``AgentErrorEvent``. A JSON value of a shape nobody
  recognises is still the answer: its JSON text is the content.
* :data:`STREAM_SHAPES`: the events of one SSE event, decoded as soon as it arrives, with no
  look-ahead. Text deltas come out as ``TextDelta``; a complete message yields its text only when
  no delta has carried text yet, so no text is given twice; Python-repr strings and anything
  unrecognised come out as ``OtherEvent``, never as text and never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Final, TypeGuard

from agentcore_bridge.decoding.events import (
    AgentErrorEvent,
    AgentEvent,
    FinalMessage,
    OtherEvent,
    TaskStatus,
    TextDelta,
    Usage,
)
from agentcore_bridge.decoding.framing import DONE, RawData

# --- reading fields -------------------------------------------------------------------------


# What json.loads makes besides dicts: never a mapping, so no Mapping (ABC) check for them.
_JSON_NON_OBJECTS = frozenset({str, list, int, float, bool, type(None)})


def _is_object(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """Whether ``value`` is a JSON object. ``json.loads`` makes dicts, checked first; its other
    values are answered without the ``Mapping`` check, which is much slower and which only
    other mappings need."""
    kind = type(value)
    return kind is dict or (kind not in _JSON_NON_OBJECTS and isinstance(value, Mapping))


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
            _is_object(part)
            and isinstance(part.get("text"), str)
            and part.get("type", "text") in ("text", "output_text")
        ):
            texts.append(part["text"])
    return "".join(texts)


def _content_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    return _text_of_parts(content)


def _field(value: Any, key: str) -> Any:
    """``value[key]`` when ``value`` is a JSON object that has it, else None."""
    return value.get(key) if _is_object(value) else None


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
    if value is None or not _is_object(value):
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
    """The agent error shapes (see :func:`_stream_error` for who sends which)."""
    error = value.get("error")
    if isinstance(error, str):
        kind = value.get("error_type") or value.get("type")
        return AgentErrorEvent(error, kind if isinstance(kind, str) else None, value)
    if error is not None and _is_object(error) and isinstance(error.get("message"), str):
        kind = error.get("type") or error.get("code")
        return AgentErrorEvent(error["message"], None if kind is None else str(kind), value)
    kind = value.get("type") if "type" in value else value.get("event")
    if kind in ("RUN_ERROR", "error") and isinstance(value.get("message"), str):
        return AgentErrorEvent(value["message"], str(value.get("code") or kind), value)
    return None


def _a2a_text(result: Any) -> str | None:
    """A2A JSON-RPC results: ``parts``, ``message.parts``, or a task's status or artifacts."""
    if not _is_object(result):
        return None
    for holder in (result, result.get("message"), _field(result.get("status"), "message")):
        if _is_object(holder) and isinstance(holder.get("parts"), list):
            return _text_of_parts(holder["parts"])
    artifacts = result.get("artifacts")
    if isinstance(artifacts, list):
        texts = [_text_of_parts(a.get("parts")) or "" for a in artifacts if _is_object(a)]
        return "".join(texts)
    return None


# --- the answer text of a complete answer ---------------------------------------------------


class _NoText(Enum):
    NO_TEXT = "this shape, but no answer text in it"


NO_TEXT: Final = _NoText.NO_TEXT
"""What an answer recogniser returns for a value of its shape that carries no answer text."""

AnswerRecogniser = Callable[[Any], "str | _NoText | None"]


def _claimed(text: str | None) -> str | _NoText:
    return NO_TEXT if text is None else text


def _json_string(value: Any) -> str | _NoText | None:
    """A JSON string is the answer. ``BedrockAgentCoreApp`` JSON-encodes what an entrypoint
    returns, so every agent whose entrypoint returns a ``str`` sends one: a Strands agent
    returning ``str(agent(prompt))``, a LangGraph agent returning its last message's content."""
    return value if isinstance(value, str) else None


def _result(value: Any) -> str | _NoText | None:
    """``{"result": ...}``: an entrypoint returning a dict, the commonest form. The value under
    ``result`` is read with these same shapes: the OpenAI Agents SDK's ``final_output`` (a
    string), a Strands ``AgentResult.message``, a LangChain message ``model_dump()``.

    With ``"jsonrpc": "2.0"`` it is an A2A JSON-RPC answer (an a2a-sdk server): the text is in
    the result's ``parts`` (a protocol 0.3 Message), ``message.parts`` (protocol 1.0), or a
    Task's ``status.message.parts`` or ``artifacts[].parts``."""
    if not _is_object(value) or "result" not in value:
        return None
    result = value["result"]
    if value.get("jsonrpc") == "2.0":
        return _claimed(_a2a_text(result))
    return _claimed(answer_text(result))


def _response(value: Any) -> str | _NoText | None:
    """``{"response": ...}`` with a string or a list of content blocks (text blocks joined with
    nothing between them): the form many AgentCore starter agents return."""
    if not _is_object(value) or "response" not in value:
        return None
    return _claimed(_content_text(value["response"]))


def _langchain_message(value: Any) -> str | _NoText | None:
    """A LangChain message dump (``message.model_dump()``; ``type`` is ``ai``, ``human``,
    ``tool``, ... or a class name): a LangGraph agent returning its last message. Only an AI
    message's content (a string, or blocks of which the text blocks count) is answer text."""
    if not _is_object(value) or not _is_langchain_message(value):
        return None
    if value["type"] not in _LANGCHAIN_AI_TYPES:
        return NO_TEXT
    return _claimed(_content_text(value["content"]))


def _strands_message(value: Any) -> str | _NoText | None:
    """A Strands message, ``{"role": ..., "content": [blocks]}`` (``AgentResult.message``):
    the text blocks of an assistant message; toolUse, toolResult and reasoning blocks are not
    text, and a user message carries no answer."""
    if not _is_object(value) or not _is_strands_message(value):
        return None
    if value["role"] != "assistant":
        return NO_TEXT
    return _claimed(_text_of_parts(value["content"]))


def _openai_chat_completion(value: Any) -> str | _NoText | None:
    """An OpenAI ``chat.completion`` object, ``{"choices": [{"message": {"content": ...}}]}``:
    an agent that returns its OpenAI-compatible model's answer as it got it."""
    choices = _field(value, "choices")
    if isinstance(choices, list) and choices and _is_object(choices[0]):
        message = choices[0].get("message")
        if _is_object(message):
            return _claimed(_content_text(message.get("content")))
    return None


ANSWER_SHAPES: Final[tuple[tuple[str, AnswerRecogniser], ...]] = (
    ("json_string", _json_string),
    ("result", _result),
    ("response", _response),
    ("langchain_message", _langchain_message),
    ("strands_message", _strands_message),
    ("openai_chat_completion", _openai_chat_completion),
)
"""Where the answer text of a complete answer is, first match wins (:func:`answer_text`)."""


def answer_text(value: Any) -> str | None:
    """The answer text of a complete answer, or None for a value no shape gives text for."""
    for _name, recognise in ANSWER_SHAPES:
        text = recognise(value)
        if text is not None:
            return text if isinstance(text, str) else None
    return None


# --- complete bodies ------------------------------------------------------------------------

BodyRecogniser = Callable[[Any], "list[AgentEvent] | None"]


def _answer_events(value: Any, text: str) -> list[AgentEvent]:
    events: list[AgentEvent] = [TextDelta(text), FinalMessage(text, value)]
    usage = _usage_from(value.get("usage")) if _is_object(value) else None
    if usage is not None:
        events.append(usage)
    return events


def _plain_text_body(value: Any) -> list[AgentEvent] | None:
    """A body that is not JSON: an agent serving ``text/plain`` (or no content type and text
    that does not parse). The text is the answer."""
    if isinstance(value, RawData):
        return [TextDelta(value.text), FinalMessage(value.text, value.text)]
    return None


def _body_error(value: Any) -> list[AgentEvent] | None:
    """An error answer: ``BedrockAgentCoreApp`` answers ``{"error": str(exc)}`` (HTTP 500) when
    the entrypoint raises, and an entrypoint may return ``{"error": ...}`` itself (HTTP 200);
    an A2A server answers a JSON-RPC ``{"error": {"code", "message"}}``."""
    if not _is_object(value):
        return None
    error = _error_from(value)
    return None if error is None else [error]


def _answer_body(value: Any) -> list[AgentEvent] | None:
    """A JSON answer whose text :data:`ANSWER_SHAPES` finds, with the ``usage`` beside it
    when there is one."""
    text = answer_text(value)
    return None if text is None else _answer_events(value, text)


# --- A2A (agents deployed with AgentCore's A2A protocol) ------------------------------------

A2A_FAILED_STATES = frozenset({"failed", "rejected"})
"""Task states that end a call with the agent's error (its status message)."""
A2A_TEXT_SEPARATOR = "\n\n"
"""Between a task's artifacts and a status message that follows them (a completed task's
closing words): the same whether the answer was streamed or sent whole."""


def _a2a_result(value: Any) -> Mapping[str, Any] | None:
    """The ``result`` of an A2A JSON-RPC response, when ``value`` is one."""
    if _is_object(value) and value.get("jsonrpc") == "2.0":
        result = value.get("result")
        if _is_object(result):
            return result
    return None


def _parts_text(holder: Any) -> str:
    return _text_of_parts(_field(holder, "parts")) or ""


def _a2a_task(
    result: Mapping[str, Any], raw: Any, task_id_key: str = "id"
) -> tuple[list[AgentEvent], str, bool]:
    """A task (or a status update): its :class:`TaskStatus`, its status message's text, and
    whether it failed (then the events end with the agent's error)."""
    status = result.get("status")
    state = _field(status, "state")
    events: list[AgentEvent] = []
    if isinstance(state, str):
        task_id = result.get(task_id_key)
        context = result.get("contextId")
        events.append(TaskStatus(
            state, task_id if isinstance(task_id, str) else None,
            context if isinstance(context, str) else None,
        ))  # fmt: skip
    text = _parts_text(_field(status, "message"))
    if state in A2A_FAILED_STATES:
        events.append(AgentErrorEvent(text or f"the agent's task ended {state}", str(state), raw))
        return events, text, True
    return events, text, False


def _artifacts_text(result: Mapping[str, Any]) -> str:
    artifacts = result.get("artifacts")
    if not isinstance(artifacts, list):
        return ""
    return "".join(_parts_text(artifact) for artifact in artifacts)


def _a2a_body(value: Any) -> list[AgentEvent] | None:
    """An A2A ``message/send`` answer: a JSON-RPC ``result`` that is a Message (its text parts
    are the answer) or a Task (its artifacts' text, then its status message's: an
    ``input-required`` task asks its question there), with the task's state as a
    :class:`TaskStatus`. A ``failed`` or ``rejected`` task is the agent's error."""
    result = _a2a_result(value)
    if result is None:
        return None
    if result.get("kind") == "message" or ("parts" in result and "status" not in result):
        return _answer_events(value, _parts_text(result))
    if "status" not in result:
        return None
    status_events, status_text, failed = _a2a_task(result, value)
    if failed:
        return status_events
    text = A2A_TEXT_SEPARATOR.join(part for part in (_artifacts_text(result), status_text) if part)
    return [*_answer_events(value, text), *status_events]


def _a2a_stream_event(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """One event of an A2A ``message/stream`` answer (a JSON-RPC response per SSE event):
    ``artifact-update`` chunks and status messages are answer text, handed on as they arrive;
    ``status-update`` and ``task`` results carry the task's state; a ``message`` or a whole
    ``task`` is a complete answer (its text counts only if no chunk carried it)."""
    result = _a2a_result(value)
    if result is None:
        return None
    kind = result.get("kind")
    if kind == "artifact-update":
        return stream.delta(_parts_text(result.get("artifact")), value)
    if kind == "status-update":
        events, text, failed = _a2a_task(result, value, task_id_key="taskId")
        if failed or not text:
            return events or [OtherEvent(value)]
        separator = A2A_TEXT_SEPARATOR if stream.streamed_text else ""
        return [*events, *stream.delta(separator + text, value)]
    if kind == "message" or ("parts" in result and "status" not in result):
        return stream.message(_parts_text(result), value)
    if kind == "task" or "status" in result:
        events, text, failed = _a2a_task(result, value)
        if failed:
            return events
        whole = A2A_TEXT_SEPARATOR.join(part for part in (_artifacts_text(result), text) if part)
        if not whole:
            return events or [OtherEvent(value)]
        return [*stream.message(whole, value), *events]
    return [OtherEvent(value)]


BODY_SHAPES: Final[tuple[tuple[str, BodyRecogniser], ...]] = (
    ("plain_text", _plain_text_body),
    ("agent_error", _body_error),
    ("a2a_jsonrpc", _a2a_body),
    ("answer", _answer_body),
)
"""The shapes of a complete (non-stream) body, first match wins (:func:`decode_json_answer`)."""


def decode_json_answer(value: Any) -> list[AgentEvent]:
    """Events for a complete answer: the JSON value of an ``application/json`` body (or the
    :class:`RawData` of a body that is not JSON)."""
    # The two commonest answers, a JSON string and ``{"result": "<text>"}`` with nothing else,
    # are what BODY_SHAPES makes of them (no error, JSON-RPC or usage key can be there), found
    # without walking the registry: the per-call cost of every plain agent.
    kind = type(value)
    if kind is dict and len(value) == 1:
        text = value.get("result")
        if type(text) is str:
            return [TextDelta(text), FinalMessage(text, value)]
    elif kind is str:
        return [TextDelta(value), FinalMessage(value, value)]
    for _name, recognise in BODY_SHAPES:
        events = recognise(value)
        if events is not None:
            return events
    # Unknown shape: the agent's JSON is still its answer; keep the value for the caller.
    return _answer_events(value, json.dumps(value, ensure_ascii=False))


# --- stream events --------------------------------------------------------------------------


class StreamDecoder:
    """Turns the data values of one stream into events, in order, with :data:`STREAM_SHAPES`;
    remembers whether deltas have carried answer text."""

    __slots__ = ("streamed_text",)

    def __init__(self) -> None:
        self.streamed_text = False

    def decode(self, value: Any) -> list[AgentEvent]:
        for _name, recognise in STREAM_SHAPES:
            events = recognise(value, self)
            if events is not None:
                return events
        return [OtherEvent(value)]  # nobody's shape: kept, as metadata

    def delta(self, text: str, raw: Any) -> list[AgentEvent]:
        """A piece of answer text."""
        if not text:
            return [OtherEvent(raw)]  # an empty delta carries nothing, but is not dropped
        self.streamed_text = True
        return [TextDelta(text)]

    def message(self, text: str, raw: Any) -> list[AgentEvent]:
        """A complete message: its text counts only if no delta has carried the answer."""
        if self.streamed_text:
            return [FinalMessage(text, raw, streamed=True)]
        events: list[AgentEvent] = [TextDelta(text)] if text else []
        events.append(FinalMessage(text, raw))
        return events

    def langchain(self, message: Mapping[str, Any], *, whole: bool) -> list[AgentEvent]:
        """A LangChain message dump: a whole message or a chunk (a delta), with its usage."""
        if message["type"] not in _LANGCHAIN_AI_TYPES:
            return [OtherEvent(message)]
        text = _content_text(message.get("content")) or ""
        usage = _usage_from(message.get("usage_metadata"))
        if whole:
            events = self.message(text, message)
        elif text or usage is None:
            events = self.delta(text, message)
        else:
            events = []
        return [*events, usage] if usage is not None else events


StreamRecogniser = Callable[[Any, StreamDecoder], "list[AgentEvent] | None"]


def _done_marker(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """``data: [DONE]``, the last event of OpenAI-style streams: kept as metadata."""
    return [OtherEvent("[DONE]")] if value is DONE else None


def _plain_text_event(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """An event whose data is not JSON: a server that streams raw text lines (not
    ``BedrockAgentCoreApp``, which JSON-encodes every value it sends). The text is the answer."""
    return stream.delta(value.text, value.text) if isinstance(value, RawData) else None


def _python_repr(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """A JSON string starting with ``{'``: a Python dict's repr. A Strands agent that yields the
    events of ``stream_async`` unfiltered sends one after most events: those holding the Agent
    object, UUIDs or the final ``AgentResult`` cannot be JSON-encoded, so ``BedrockAgentCoreApp``
    falls back to ``str(event)``. Their text also arrives as JSON events: metadata, never text."""
    if isinstance(value, str) and value.startswith("{'"):
        return [OtherEvent(value)]
    return None


def _text_string(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """Any other JSON string is a text delta: what ``BedrockAgentCoreApp`` sends for each
    ``str`` an entrypoint yields (the common Strands template yields ``event["data"]``)."""
    return stream.delta(value, value) if isinstance(value, str) else None


def _langgraph_message_tuple(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """``[message chunk, metadata]``: a LangGraph agent yielding ``astream(stream_mode=
    "messages")`` items unchanged; the SDK sends each ``(chunk, metadata)`` tuple as a list with
    the chunk dumped. The chunk is a delta (a whole ToolMessage is not answer text); the
    metadata is kept as an ``OtherEvent``."""
    if not (isinstance(value, list) and value and _is_object(value[0])):
        return None
    if not _is_langchain_message(value[0]):
        return None
    events = stream.langchain(value[0], whole=False)
    return [*events, OtherEvent(value[1:])] if len(value) > 1 else events


def _stream_error(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """An error frame, which ends the answer: ``BedrockAgentCoreApp`` sends ``{"error",
    "error_type", "message"}`` when a streaming entrypoint raises; agents send their own
    ``{"error": "...", "type": "stream_error"}``; LlamaIndex's ``AgentCoreRuntime`` sends
    ``{"event": "error", "message"}``; AG-UI servers ``{"type": "RUN_ERROR", "message"}``;
    A2A servers JSON-RPC errors. Checked before the typed events, which error frames also are."""
    if not _is_object(value):
        return None
    error = _error_from(value)
    return None if error is None else [error]


def _converse_event(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """``{"event": {...}}``: a Strands agent yielding ``stream_async`` events, whose model events
    are Bedrock ConverseStream events. ``contentBlockDelta.delta.text`` is a text delta and
    ``metadata.usage`` one model call's usage; messageStart, contentBlockStart/Stop, toolUse
    input deltas and messageStop are metadata."""
    if not (_is_object(value) and "event" in value):
        return None
    event = value["event"]
    if not _is_object(event):
        return None
    delta = _field(event.get("contentBlockDelta"), "delta")
    if _is_object(delta) and isinstance(delta.get("text"), str):
        return stream.delta(delta["text"], value)
    metadata = event.get("metadata")
    if _is_object(metadata):
        usage = _usage_from(metadata.get("usage"))
        if usage is not None:
            return [usage]
    return [OtherEvent(value)]


_DELTA_EVENT_TYPES = frozenset({
    "response.output_text.delta",  # OpenAI Agents SDK / Responses API
    "TEXT_MESSAGE_CONTENT",  # AG-UI
    "TEXT_MESSAGE_CHUNK",  # AG-UI
    "agent_stream",  # LlamaIndex AgentStream
    "content_block_delta",  # Anthropic-style
})  # fmt: skip


def _typed_event(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """An event that names its kind in a string ``type`` (or ``event``, when it has no
    ``type``) and is not a LangChain message:

    * the OpenAI Agents SDK (an entrypoint yielding ``event.data.model_dump()`` for each raw
      response event of ``Runner.run_streamed``): ``response.output_text.delta`` is a text
      delta, ``response.completed`` / ``response.done`` carry one model call's usage;
    * AG-UI (``bedrock_agentcore``'s ``AGUIApp``): ``TEXT_MESSAGE_CONTENT`` and
      ``TEXT_MESSAGE_CHUNK`` deltas;
    * LlamaIndex's ``AgentCoreRuntime``: ``{"event": "agent_stream", "delta": ...}`` (its
      ``response`` is the text so far, so it is not used);
    * Anthropic-style ``content_block_delta`` events with ``delta.text``.

    Every other typed event (lifecycle, tool calls and results, snapshots, the ``*.done``
    events that repeat the whole text) is metadata."""
    if not _is_object(value):
        return None
    kind = value.get("type") if "type" in value else value.get("event")
    if not isinstance(kind, str) or _is_langchain_message(value):
        return None
    if kind in _DELTA_EVENT_TYPES:
        delta = value.get("delta")
        if _is_object(delta):
            delta = delta.get("text")
        if isinstance(delta, str):
            return stream.delta(delta, value)
        return [OtherEvent(value)]
    if kind in ("response.completed", "response.done"):
        response = value.get("response")
        usage = _usage_from(response.get("usage")) if _is_object(response) else None
        return [usage, OtherEvent(value)] if usage is not None else [OtherEvent(value)]
    return [OtherEvent(value)]


def _langchain_message_event(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """A lone LangChain message dump: a LangGraph agent yielding ``chunk.model_dump()`` for each
    ``stream_mode="messages"`` item (the common template). An ``AIMessageChunk`` is a delta;
    a whole message (an AIMessage, or a ToolMessage with a tool's output, never answer text) is
    a complete message; ``usage_metadata`` is usage."""
    if not (_is_object(value) and _is_langchain_message(value)):
        return None
    return stream.langchain(value, whole=not str(value["type"]).endswith("Chunk"))


def _strands_message_event(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """``{"message": {...}}``: Strands' ``stream_async`` sends each complete message, after
    every model call (and the tool results, as a ``user`` message). An assistant message's text
    repeats what deltas carried, so it is given only if none did; anything else under
    ``message`` is metadata."""
    if not (_is_object(value) and "message" in value):
        return None
    message = value["message"]
    if not _is_object(message):
        return None
    if _is_strands_message(message) and message["role"] == "assistant":
        return stream.message(_text_of_parts(message["content"]) or "", value)
    return [OtherEvent(value)]


def _final_answer_event(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """``{"result": ...}`` or ``{"response": ...}`` as an event: a generator that yields its
    final answer in one of the forms of :data:`ANSWER_SHAPES`. A complete message, given only
    if no delta carried text; without answer text it is left to the shapes below."""
    if not (_is_object(value) and ("result" in value or "response" in value)):
        return None
    text = answer_text(value)
    return None if text is None else stream.message(text, value)


def _openai_chat_chunk(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """``{"choices": [...]}``: OpenAI ``chat.completion.chunk`` objects, from an agent relaying
    its OpenAI-compatible model's stream: ``choices[].delta.content`` deltas, and ``usage``
    (in the last chunk, when the model was asked for it)."""
    choices = _field(value, "choices")
    if not isinstance(choices, list):
        return None
    events: list[AgentEvent] = []
    for choice in choices:
        delta = choice.get("delta") if _is_object(choice) else None
        if _is_object(delta) and isinstance(delta.get("content"), str):
            events.extend(stream.delta(delta["content"], value))
    usage = _usage_from(value.get("usage"))
    if usage is not None:
        events.append(usage)
    return events or [OtherEvent(value)]


def _langgraph_updates(value: Any, stream: StreamDecoder) -> list[AgentEvent] | None:
    """``{"<node>": {"messages": [message dumps]}}``: a LangGraph agent yielding
    ``stream_mode="updates"`` items with their messages dumped. Each message is a complete
    message (the tool-calling AI message, the ToolMessage, the final AI message); the update
    itself is kept as an ``OtherEvent``."""
    if not _is_object(value):
        return None
    found = False
    events: list[AgentEvent] = []
    for update in value.values():
        messages = update.get("messages") if _is_object(update) else None
        if not isinstance(messages, list):
            continue
        for message in messages:
            if _is_object(message) and _is_langchain_message(message):
                found = True
                events.extend(stream.langchain(message, whole=True))
    if not found:
        return None
    return [*events, OtherEvent(value)]


STREAM_SHAPES: Final[tuple[tuple[str, StreamRecogniser], ...]] = (
    ("done_marker", _done_marker),
    ("plain_text", _plain_text_event),
    ("python_repr", _python_repr),
    ("text_string", _text_string),
    ("langgraph_message_tuple", _langgraph_message_tuple),
    ("agent_error", _stream_error),
    ("a2a_jsonrpc", _a2a_stream_event),
    ("converse_event", _converse_event),
    ("typed_event", _typed_event),
    ("langchain_message", _langchain_message_event),
    ("strands_message", _strands_message_event),
    ("final_answer", _final_answer_event),
    ("openai_chat_chunk", _openai_chat_chunk),
    ("langgraph_updates", _langgraph_updates),
)
"""The shapes of one stream event, first match wins (:meth:`StreamDecoder.decode`); a value
no entry claims is an ``OtherEvent``."""
