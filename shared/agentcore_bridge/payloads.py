"""OpenAI-format messages -> the request body an agent reads, under the session history rule.

The history rule (``HistoryMode.AUTO``): frameworks hand over the whole conversation on every
call, while an AgentCore session already remembers what it was sent. So each call sends exactly
what the session has not seen yet:

* a session this process has not sent to yet receives the whole conversation;
* a session it has sent to receives the new turn (the messages after the last assistant message),
  plus the system text when it differs from the system text that session last received.

``FULL`` always sends everything (stateless agents); ``LAST`` only ever sends the new turn (the
agent keeps its own memory).

Rendering into ``{"prompt": ...}``: one user message is sent verbatim; anything more becomes a
plain transcript, system text first, then ``User:`` / ``Assistant:`` lines, ending with the final
user turn.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from agentcore_bridge.errors import InvalidRequestError, PayloadTooLargeError
from agentcore_bridge.session_store import SessionRecord, system_hash

MAX_PAYLOAD_BYTES = 100_000_000

Message = Mapping[str, Any]
PayloadShaper = Callable[[list[dict[str, Any]]], Any]

_SYSTEM_ROLES = frozenset({"system", "developer"})
_ROLES = _SYSTEM_ROLES | {"user", "assistant", "tool", "function"}
_TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})


class HistoryMode(StrEnum):
    AUTO = "auto"
    FULL = "full"
    LAST = "last"


class AgentProtocol(StrEnum):
    """The protocol a runtime was deployed with (its ``protocolConfiguration``)."""

    HTTP = "http"
    """``POST /invocations`` with the agent's own JSON payload (``{"prompt": ...}``)."""
    A2A = "a2a"
    """Agent-to-Agent JSON-RPC 2.0 (A2A 0.3 method names ``message/send``/``message/stream``)."""


A2A_CONTINUED_STATES = frozenset({"input-required", "auth-required"})
"""Task states in which the agent waits for the caller: the session's next message continues the
task (it carries the task's id)."""


class PayloadFormat(StrEnum):
    PROMPT = "prompt"
    """``{"prompt": "<text>"}``: what almost every deployed agent reads."""
    OPENAI = "openai"
    """``{"messages": [<OpenAI chat messages>]}``."""
    CONVERSE = "converse"
    """``{"messages": [<Bedrock Converse messages>], "system": [{"text": ...}]}``."""


@dataclass(frozen=True, slots=True)
class PreparedPayload:
    """A request body ready to send, and what to remember once the agent has accepted it."""

    body: bytes
    messages: tuple[dict[str, Any], ...]
    """The messages the body carries, after the history rule."""
    system_text: str | None
    """The system text of the conversation, for :meth:`SessionMemory.remember`."""


class SessionMemory:
    """What this process has sent to each session: the basis of ``HistoryMode.AUTO``.

    Bounded (least recently used sessions are forgotten first) and safe to share between threads.
    Forgetting a session only means its next call sends the whole conversation again.
    """

    def __init__(self, max_sessions: int = 10_000) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self._max = max_sessions
        self._system_by_session: OrderedDict[str, str | None] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def max_sessions(self) -> int:
        return self._max

    def __contains__(self, session_id: object) -> bool:
        with self._lock:
            return session_id in self._system_by_session

    def __len__(self) -> int:
        with self._lock:
            return len(self._system_by_session)

    def last_system_text(self, session_id: str) -> str | None:
        with self._lock:
            return self._system_by_session.get(session_id)

    def remember(self, session_id: str, system_text: str | None) -> None:
        """Record that ``session_id`` has received a call whose system text was ``system_text``."""
        with self._lock:
            self._system_by_session[session_id] = system_text
            self._system_by_session.move_to_end(session_id)
            while len(self._system_by_session) > self._max:
                self._system_by_session.popitem(last=False)

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._system_by_session.pop(session_id, None)

    # A memory is per process: a pickled model starts a fresh one in its new home.
    def __getstate__(self) -> dict[str, Any]:
        return {"max": self._max}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["max"])  # type: ignore[misc]


def normalize_messages(messages: Sequence[Message] | str) -> list[dict[str, Any]]:
    """Check OpenAI-format messages (a bare string is one user message) and copy them to dicts."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, Sequence) or not messages:
        raise InvalidRequestError("messages must be a non-empty list of {'role', 'content'} dicts")
    result = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidRequestError(
                f"messages[{index}] is a {type(message).__name__}, expected a dict with "
                "'role' and 'content'"
            )
        role = message.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise InvalidRequestError(
                f"messages[{index}] has role {role!r}; expected one of {sorted(_ROLES)}"
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise InvalidRequestError(
                f"messages[{index}].content must be a string or a list of content parts"
            )
        result.append(dict(message))
    return result


def content_text(content: Any, *, where: str = "message") -> str:
    """The text of a message's content: a string, or the text parts of a content-part list.

    A non-text part (an image, a file) cannot be put into a text prompt; rather than drop it,
    this raises and points at the ``openai`` payload format, which passes parts through.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping) and part.get("type") in _TEXT_PART_TYPES:
            texts.append(str(part.get("text", "")))
        else:
            kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
            raise InvalidRequestError(
                f"{where} has a {kind!r} content part, which a text payload cannot carry; "
                "use payload_format='openai' to pass content parts through"
            )
    return "".join(texts)


def system_text(messages: Sequence[Message]) -> str | None:
    """All system (and developer) text of a conversation, joined by blank lines; None if none."""
    texts = [
        content_text(m.get("content"), where="system message")
        for m in messages
        if m.get("role") in _SYSTEM_ROLES
    ]
    return "\n\n".join(texts) if texts else None


def new_turn(messages: Sequence[Message]) -> list[Message]:
    """The messages after the last assistant message (all of them if there is none)."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "assistant":
            return list(messages[index + 1 :])
    return list(messages)


@dataclass(frozen=True, slots=True)
class SessionState:
    """What the session store said about a session just before this call."""

    seen: bool
    """The session is known and still alive (not idle past its timeout, not too old)."""
    system_hash: str | None = None
    """:func:`~agentcore_bridge.session_store.system_hash` of the system text it last got."""

    @classmethod
    def of(cls, record: SessionRecord | None) -> SessionState:
        return cls(False) if record is None else cls(True, record.system_hash)


def select_messages(
    messages: Sequence[Message],
    *,
    history: HistoryMode | str = HistoryMode.AUTO,
    session_id: str | None = None,
    memory: SessionMemory | None = None,
    state: SessionState | None = None,
) -> list[Message]:
    """Apply the history rule: which of ``messages`` this call sends to ``session_id``.

    What the session has seen comes from ``state`` (the session store's answer) when given,
    else from ``memory``."""
    mode = history_mode(history)
    if not messages or messages[-1].get("role") in ("assistant", *_SYSTEM_ROLES):
        raise InvalidRequestError(
            "nothing new to send: the conversation must end with a user (or tool) message"
        )
    if mode is HistoryMode.FULL:
        selected = list(messages)
    elif mode is HistoryMode.LAST:
        selected = new_turn(messages)
    elif state is not None:
        selected = _after_seen(
            messages, state.seen, lambda text: system_hash(text) == state.system_hash
        )
    elif session_id is None or memory is None or session_id not in memory:
        selected = list(messages)
    else:
        last = memory.last_system_text(session_id)
        selected = _after_seen(messages, True, lambda text: text == last)
    return selected


def _after_seen(
    messages: Sequence[Message], seen: bool, same_system: Callable[[str], bool]
) -> list[Message]:
    """A new session gets everything; a seen one the new turn, with the system text only when
    it changed."""
    if not seen:
        return list(messages)
    selected = [m for m in new_turn(messages) if m.get("role") not in _SYSTEM_ROLES]
    current_system = system_text(messages)
    if current_system is not None and not same_system(current_system):
        selected = [m for m in messages if m.get("role") in _SYSTEM_ROLES] + selected
    return selected


def render_transcript(messages: Sequence[Message]) -> str:
    """The prompt text: one user message verbatim, else the documented plain transcript."""
    if len(messages) == 1 and messages[0].get("role") == "user":
        return content_text(messages[0].get("content"), where="user message")
    lines: list[str] = []
    system = system_text(messages)
    blocks = [system] if system else []
    for message in messages:
        role = message.get("role")
        if role in _SYSTEM_ROLES:
            continue
        text = content_text(message.get("content"), where=f"{role} message")
        if role == "user":
            lines.append(f"User: {text}")
        elif role == "assistant":
            for call in message.get("tool_calls") or ():
                function = call.get("function", {}) if isinstance(call, Mapping) else {}
                text += f"{' ' if text else ''}[called {function.get('name')}"
                text += f"({function.get('arguments', '')})]"
            lines.append(f"Assistant: {text}")
        else:
            lines.append(f"Tool result: {text}")
    if lines:
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def to_converse(messages: Sequence[Message]) -> dict[str, Any]:
    """Bedrock Converse shape: system blocks apart, alternating user/assistant text blocks."""
    converse: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in _SYSTEM_ROLES:
            continue
        converse_role = "assistant" if role == "assistant" else "user"
        text = content_text(message.get("content"), where=f"{role} message")
        if not text:
            continue
        if converse and converse[-1]["role"] == converse_role:
            converse[-1]["content"].append({"text": text})
        else:
            converse.append({"role": converse_role, "content": [{"text": text}]})
    body: dict[str, Any] = {"messages": converse}
    system = system_text(messages)
    if system:
        body["system"] = [{"text": system}]
    return body


def render_payload(
    messages: Sequence[Message],
    *,
    payload_format: PayloadFormat | str | PayloadShaper = PayloadFormat.PROMPT,
    extra: Mapping[str, Any] | None = None,
) -> Any:
    """The JSON value of the request body for ``messages`` (already selected). The value never
    holds the caller's message dicts (a shaper gets copies it may change)."""
    if callable(payload_format):
        value = payload_format([dict(m) for m in messages])
    else:
        fmt = _payload_format(payload_format)
        if fmt is PayloadFormat.PROMPT:
            value = {"prompt": render_transcript(messages)}
        elif fmt is PayloadFormat.OPENAI:
            value = {"messages": [dict(m) for m in messages]}
        else:
            value = to_converse(messages)
    if extra:
        if not isinstance(value, dict):
            raise InvalidRequestError(
                "payload_extra can only be merged into a JSON object payload, "
                f"but the payload is a {type(value).__name__}"
            )
        clash = sorted(set(value) & set(extra))
        if clash:
            raise InvalidRequestError(
                f"payload_extra sets {clash}, which the payload format already fills"
            )
        value = {**value, **extra}
    return value


def encode_payload(value: Any) -> bytes:
    """JSON-encode a payload (bytes and str pass through) and enforce the 100 MB limit."""
    if isinstance(value, bytes):
        body = value
    elif isinstance(value, str):
        body = value.encode("utf-8")
    else:
        try:
            body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise InvalidRequestError(f"payload is not JSON-serialisable: {exc}") from exc
    if len(body) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"payload is {len(body):,} bytes; AgentCore accepts at most {MAX_PAYLOAD_BYTES:,}"
        )
    return body


def prepare_payload(
    messages: Sequence[Message] | str,
    *,
    session_id: str | None = None,
    memory: SessionMemory | None = None,
    history: HistoryMode | str = HistoryMode.AUTO,
    payload_format: PayloadFormat | str | PayloadShaper = PayloadFormat.PROMPT,
    extra: Mapping[str, Any] | None = None,
    state: SessionState | None = None,
) -> PreparedPayload:
    """Messages -> request body, under the history rule. Pure: ``memory`` is only read.

    Call ``memory.remember(session_id, prepared.system_text)`` once AgentCore has accepted the
    request, so that the session's next call sends only what is new.
    """
    normalized = normalize_messages(messages)
    return build_payload(
        normalized, system_text(normalized), session_id=session_id, memory=memory,
        history=history, payload_format=payload_format, extra=extra, state=state,
    )  # fmt: skip


def build_payload(
    normalized: list[dict[str, Any]],
    system: str | None,
    *,
    session_id: str | None = None,
    memory: SessionMemory | None = None,
    history: HistoryMode | str = HistoryMode.AUTO,
    payload_format: PayloadFormat | str | PayloadShaper = PayloadFormat.PROMPT,
    extra: Mapping[str, Any] | None = None,
    state: SessionState | None = None,
) -> PreparedPayload:
    """:func:`prepare_payload` for messages that :func:`normalize_messages` has already made
    (fresh dicts, which the result shares) and their :func:`system_text`: the client's path,
    which has both before it asks the session store."""
    selected = select_messages(
        normalized, history=history, session_id=session_id, memory=memory, state=state
    )
    value = render_payload(selected, payload_format=payload_format, extra=extra)
    return _prepared(value, selected, system)


def _prepared(value: Any, selected: list[Message], system: str | None) -> PreparedPayload:
    # ``selected`` holds normalize_messages' dicts (fresh copies, never the caller's).
    messages = tuple(cast("list[dict[str, Any]]", selected))
    return PreparedPayload(body=encode_payload(value), messages=messages, system_text=system)


def prepare_a2a_payload(
    messages: Sequence[Message] | str,
    *,
    session_id: str,
    memory: SessionMemory | None = None,
    history: HistoryMode | str = HistoryMode.AUTO,
    streaming: bool = True,
    task_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    state: SessionState | None = None,
) -> PreparedPayload:
    """Messages -> an A2A JSON-RPC request, under the same history rule as HTTP payloads.

    The messages the rule selects are rendered as for ``{"prompt": ...}`` (one user message
    verbatim, else the plain transcript) into the message's single text part. ``contextId`` is
    the runtime session id, so one AgentCore session is one A2A conversation; ``task_id``
    continues a task that waits for input. ``metadata`` (``payload_extra``) goes into the
    request's ``params.metadata``.
    """
    normalized = normalize_messages(messages)
    return build_a2a_payload(
        normalized, system_text(normalized), session_id=session_id, memory=memory,
        history=history, streaming=streaming, task_id=task_id, metadata=metadata, state=state,
    )  # fmt: skip


def build_a2a_payload(
    normalized: list[dict[str, Any]],
    system: str | None,
    *,
    session_id: str,
    memory: SessionMemory | None = None,
    history: HistoryMode | str = HistoryMode.AUTO,
    streaming: bool = True,
    task_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    state: SessionState | None = None,
) -> PreparedPayload:
    """:func:`prepare_a2a_payload` for messages :func:`normalize_messages` has already made, and
    their :func:`system_text` (as :func:`build_payload`)."""
    selected = select_messages(
        normalized, history=history, session_id=session_id, memory=memory, state=state
    )
    message: dict[str, Any] = {
        "kind": "message",
        "messageId": uuid.uuid4().hex,
        "role": "user",
        "parts": [{"kind": "text", "text": render_transcript(selected)}],
        "contextId": session_id,
    }
    if task_id is not None:
        message["taskId"] = task_id
    params: dict[str, Any] = {"message": message}
    if metadata:
        params["metadata"] = dict(metadata)
    request = {
        "jsonrpc": "2.0",
        "id": uuid.uuid4().hex,
        "method": "message/stream" if streaming else "message/send",
        "params": params,
    }
    return _prepared(request, selected, system)


def agent_protocol(value: AgentProtocol | str) -> AgentProtocol:
    try:
        return AgentProtocol(value)
    except ValueError:
        raise InvalidRequestError(
            f"protocol must be one of {[p.value for p in AgentProtocol]}, got {value!r} (MCP "
            "runtimes serve tools: see agentcore_bridge.mcp)"
        ) from None


def history_mode(value: HistoryMode | str) -> HistoryMode:
    if type(value) is HistoryMode:
        return value
    try:
        return HistoryMode(value)
    except ValueError:
        raise InvalidRequestError(
            f"history must be one of {[m.value for m in HistoryMode]}, got {value!r}"
        ) from None


def _payload_format(value: PayloadFormat | str) -> PayloadFormat:
    if type(value) is PayloadFormat:
        return value
    try:
        return PayloadFormat(value)
    except ValueError:
        raise InvalidRequestError(
            f"payload_format must be one of {[f.value for f in PayloadFormat]} or a callable, "
            f"got {value!r}"
        ) from None
