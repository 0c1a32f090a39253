"""``completion()`` / ``acompletion()``: the seed's (LiteLLM's) call shape, over AgentCoreClient.

    response = completion(
        model="bedrock/agentcore/arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent",
        messages=[{"role": "user", "content": "Explain machine learning in simple terms"}],
    )
    print(response.choices[0].message.content, response.usage)

The seed's examples run with only the import changed. Unlike the seed, the whole conversation
reaches the agent (system prompt and history, under the session history rule), plain-string
streams keep their text, usage is summed over the agent loop and never estimated (``usage`` is
None when the agent reports none), and the session used is returned (``runtime_session_id``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, overload

from pydantic import BaseModel, ConfigDict

from agentcore_bridge.client import AgentCoreClient
from agentcore_bridge.decoding import Usage
from agentcore_bridge.payloads import Message
from agentcore_bridge.results import Completion, StopSequences, new_completion_id, usage_to_openai
from agentcore_bridge.settings import SETTINGS

# OpenAI parameters an agent runtime has no notion of: accepted for compatibility, not sent.
_IGNORED = frozenset({
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "n", "presence_penalty",
    "frequency_penalty", "logit_bias", "seed", "response_format", "tools", "tool_choice", "user",
    "logprobs", "top_logprobs", "parallel_tool_calls", "metadata", "custom_llm_provider",
})  # fmt: skip


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")

    def __getitem__(self, key: str) -> Any:  # dict-style access, as the seed's objects allow
        return getattr(self, key)


class CompletionUsage(_Model):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatMessage(_Model):
    role: str = "assistant"
    content: str | None = None


class Choice(_Model):
    index: int = 0
    message: ChatMessage
    finish_reason: str | None = "stop"


class ChatCompletion(_Model):
    """An OpenAI ``chat.completion``, plus ``runtime_session_id`` (continue with it)."""

    id: str
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage | None = None
    runtime_session_id: str | None = None
    request_id: str | None = None


class Delta(_Model):
    role: str | None = None
    content: str | None = None


class ChunkChoice(_Model):
    index: int = 0
    delta: Delta
    finish_reason: str | None = None


class ChatCompletionChunk(_Model):
    id: str
    object: str = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None
    runtime_session_id: str | None = None


def _usage(usage: Usage | None) -> CompletionUsage | None:
    return None if usage is None else CompletionUsage(**usage_to_openai(usage))


def to_chat_completion(
    completion: Completion, model: str, stop: StopSequences | None = None
) -> ChatCompletion:
    text = stop.apply(completion.text) if stop is not None else completion.text
    return ChatCompletion(
        id=new_completion_id(),
        created=int(time.time()),
        model=model,
        choices=[Choice(message=ChatMessage(content=text), finish_reason=completion.finish_reason)],
        usage=_usage(completion.usage),
        runtime_session_id=completion.session_id,
        request_id=completion.request_id,
    )


class ChunkMaker:
    """Shared by the sync and async streams: events -> OpenAI chunks."""

    def __init__(self, model: str, session_id: str | None, include_usage: bool) -> None:
        self.id, self.created, self.model = new_completion_id(), int(time.time()), model
        self.session_id, self.include_usage = session_id, include_usage
        self.first = True

    def chunk(self, content: str | None = None, finish: str | None = None) -> ChatCompletionChunk:
        delta = Delta(role="assistant" if self.first else None, content=content)
        self.first = False
        return ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)],
            runtime_session_id=self.session_id,
        )  # fmt: skip

    def tail(self, completion: Completion) -> list[ChatCompletionChunk]:
        chunks = [self.chunk(finish=completion.finish_reason)]
        if self.include_usage:
            chunks.append(ChatCompletionChunk(
                id=self.id, created=self.created, model=self.model, choices=[],
                usage=_usage(completion.usage), runtime_session_id=self.session_id,
            ))  # fmt: skip
        return chunks


MAX_CACHED_CLIENTS = 64
"""How many clients ``completion()``/``acompletion()`` keep: one per distinct set of client
settings (credentials, region, endpoint, ...), so calls with the same settings share connections.
Past this many, the least recently used client is dropped and closed; one still serving a call
is closed when that call ends (closing it earlier would cut its answer)."""

# The client keywords that hold secrets: cache keys carry a keyed digest of them, never them.
# A session store URL may carry a Redis password: it is kept out of the key like a secret.
_SECRET_KEYWORDS = (
    *(s.client_keyword for s in SETTINGS if s.secret and s.client_keyword),
    "session_store",
)
# Per process: the digests cannot be compared with another process's, or brute-forced offline.
_DIGEST_KEY = secrets.token_bytes(32)


class _Entry:
    __slots__ = ("client", "evicted", "users")

    def __init__(self, client: AgentCoreClient) -> None:
        self.client = client
        self.users = 0  # calls of completion() using it now
        self.evicted = False


class _ClientCache:
    """A bounded LRU of clients; evicted clients are closed once no call uses them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[tuple[Any, ...]]:
        return list(self._entries)

    def clients(self) -> list[AgentCoreClient]:
        return [entry.client for entry in self._entries.values()]

    def acquire(self, key: tuple[Any, ...], make: Callable[[], AgentCoreClient]) -> _Entry:
        """The entry for ``key`` (made if new), counted as in use until :meth:`release`."""
        idle: list[AgentCoreClient] = []
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry(make())
                while len(self._entries) > self.size:
                    _, oldest = self._entries.popitem(last=False)
                    oldest.evicted = True
                    if oldest.users == 0:
                        idle.append(oldest.client)
            else:
                self._entries.move_to_end(key)
            entry.users += 1
        for client in idle:
            client.close()
        return entry

    def release(self, entry: _Entry) -> None:
        with self._lock:
            entry.users -= 1
            retire = entry.evicted and entry.users == 0
        if retire:
            entry.client.close()

    def clear(self) -> None:
        """Forget every client, closing those no call uses (the others close when it ends)."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
            for entry in entries:
                entry.evicted = True
            idle = [entry.client for entry in entries if entry.users == 0]
        for client in idle:
            client.close()


_clients = _ClientCache(MAX_CACHED_CLIENTS)


def _cache_key(settings: Mapping[str, Any], extra: Any) -> tuple[Any, ...]:
    """The settings a client is made from, with the secrets replaced by a keyed digest (HMAC-
    SHA256 under a per-process random key): different secrets never share a client, and no
    secret is kept in the key."""
    public = tuple(sorted((k, repr(v)) for k, v in settings.items() if k not in _SECRET_KEYWORDS))
    hidden = json.dumps([settings.get(k) for k in _SECRET_KEYWORDS], default=repr)
    digest = hmac.new(_DIGEST_KEY, hidden.encode(), hashlib.sha256).hexdigest()
    return public, repr(extra), digest


# Declared client settings completion() takes by their field names, beyond the seed's own
# spellings above (which win: they are popped first).
_CLIENT_SETTINGS = {
    setting.name: setting.client_keyword
    for setting in SETTINGS
    if setting.client_keyword not in (None, "payload_extra", "runtime") and not setting.secret
}


def _client_and_call(model: str, kwargs: dict[str, Any]) -> tuple[_Entry, dict[str, Any]]:
    """Split the seed's keyword arguments into client settings and per-call options; the cached
    client's entry is in use until ``_clients.release(entry)``."""
    settings = {
        "region_name": kwargs.pop("aws_region_name", None) or kwargs.pop("region_name", None),
        "aws_access_key_id": kwargs.pop("aws_access_key_id", None),
        "aws_secret_access_key": kwargs.pop("aws_secret_access_key", None),
        "aws_session_token": kwargs.pop("aws_session_token", None),
        "profile_name": kwargs.pop("aws_profile_name", None),
        "endpoint_url": kwargs.pop("api_base", None) or kwargs.pop("endpoint_url", None),
        "bearer_token": kwargs.pop("api_key", None) or kwargs.pop("bearer_token", None),
        "history": kwargs.pop("history", "auto"),
        "payload_format": kwargs.pop("payload_format", "prompt"),
        "max_retries": kwargs.pop("max_retries", 3),
    }
    timeout = kwargs.pop("timeout", None)
    call = {
        "session_id": kwargs.pop("runtimeSessionId", None)
        or kwargs.pop("runtime_session_id", None),
        "qualifier": kwargs.pop("qualifier", None),
        "user_id": kwargs.pop("runtimeUserId", None) or kwargs.pop("runtime_user_id", None),
        "timeout": float(timeout) if timeout is not None else None,
    }
    extra = kwargs.pop("payload_extra", None)
    for name in list(kwargs):
        if name in _IGNORED:
            kwargs.pop(name)
        elif name in _CLIENT_SETTINGS:
            # Any other declared client setting, by its adapter field name (read_timeout,
            # protocol, session_store, max_event_bytes, ...).
            settings[_CLIENT_SETTINGS[name]] = kwargs.pop(name)
    if kwargs:
        raise TypeError(f"completion() got unexpected keyword arguments: {sorted(kwargs)}")
    entry = _clients.acquire(
        _cache_key(settings, extra), lambda: AgentCoreClient(payload_extra=extra, **settings)
    )
    return entry, {"runtime": model, **call}


@overload
def completion(
    model: str,
    messages: Sequence[Message],
    *,
    stream: Literal[False] = False,
    stream_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> ChatCompletion: ...


@overload
def completion(
    model: str,
    messages: Sequence[Message],
    *,
    stream: Literal[True],
    stream_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Iterator[ChatCompletionChunk]: ...


def completion(
    model: str,
    messages: Sequence[Message],
    *,
    stream: bool = False,
    stream_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> ChatCompletion | Iterator[ChatCompletionChunk]:
    """The seed's ``litellm.completion`` for ``bedrock/agentcore/<ARN>`` models."""
    stop = StopSequences(kwargs.pop("stop", None))
    entry, call = _client_and_call(model, kwargs)
    if not stream:
        try:
            return to_chat_completion(entry.client.invoke(list(messages), **call), model, stop)
        finally:
            _clients.release(entry)
    try:
        events = entry.client.stream(list(messages), keep_content=False, **call)
    except BaseException:
        _clients.release(entry)
        raise
    maker = ChunkMaker(model, events.session_id, bool((stream_options or {}).get("include_usage")))

    def chunks() -> Iterator[ChatCompletionChunk]:
        try:
            with events:
                for text in events.text(stop=stop):
                    yield maker.chunk(text)
            yield from maker.tail(events.completion)
        finally:
            _clients.release(entry)

    return chunks()


@overload
async def acompletion(
    model: str,
    messages: Sequence[Message],
    *,
    stream: Literal[False] = False,
    stream_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> ChatCompletion: ...


@overload
async def acompletion(
    model: str,
    messages: Sequence[Message],
    *,
    stream: Literal[True],
    stream_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> AsyncIterator[ChatCompletionChunk]: ...


async def acompletion(
    model: str,
    messages: Sequence[Message],
    *,
    stream: bool = False,
    stream_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> ChatCompletion | AsyncIterator[ChatCompletionChunk]:
    """Async :func:`completion`; with ``stream=True`` returns an async iterator of chunks."""
    stop = StopSequences(kwargs.pop("stop", None))
    entry, call = _client_and_call(model, kwargs)
    if not stream:
        try:
            completion = await entry.client.ainvoke(list(messages), **call)
            return to_chat_completion(completion, model, stop)
        finally:
            _clients.release(entry)
    try:
        events = await entry.client.astream(list(messages), keep_content=False, **call)
    except BaseException:
        _clients.release(entry)
        raise
    maker = ChunkMaker(model, events.session_id, bool((stream_options or {}).get("include_usage")))

    async def chunks() -> AsyncIterator[ChatCompletionChunk]:
        try:
            async with events:
                async for text in events.text(stop=stop):
                    yield maker.chunk(text)
            for chunk in maker.tail(events.completion):
                yield chunk
        finally:
            _clients.release(entry)

    return chunks()
