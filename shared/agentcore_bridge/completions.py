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

import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Literal, overload

from pydantic import BaseModel, ConfigDict

from agentcore_bridge.client import AgentCoreClient
from agentcore_bridge.decoding import Usage
from agentcore_bridge.payloads import Message
from agentcore_bridge.results import Completion, StopSequences, new_completion_id, usage_to_openai

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


_clients: dict[tuple[Any, ...], AgentCoreClient] = {}


def _client_and_call(model: str, kwargs: dict[str, Any]) -> tuple[AgentCoreClient, dict[str, Any]]:
    """Split the seed's keyword arguments into client settings and per-call options."""
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
    if kwargs:
        raise TypeError(f"completion() got unexpected keyword arguments: {sorted(kwargs)}")
    key = (tuple(sorted((k, repr(v)) for k, v in settings.items())), repr(extra))
    client = _clients.get(key)
    if client is None:
        client = AgentCoreClient(payload_extra=extra, **settings)
        _clients[key] = client
    return client, {"runtime": model, **call}


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
    client, call = _client_and_call(model, kwargs)
    if not stream:
        return to_chat_completion(client.invoke(list(messages), **call), model, stop)
    events = client.stream(list(messages), keep_content=False, **call)
    maker = ChunkMaker(model, events.session_id, bool((stream_options or {}).get("include_usage")))

    def chunks() -> Iterator[ChatCompletionChunk]:
        with events:
            for text in events.text(stop=stop):
                yield maker.chunk(text)
        yield from maker.tail(events.completion)

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
    client, call = _client_and_call(model, kwargs)
    if not stream:
        return to_chat_completion(await client.ainvoke(list(messages), **call), model, stop)
    events = await client.astream(list(messages), keep_content=False, **call)
    maker = ChunkMaker(model, events.session_id, bool((stream_options or {}).get("include_usage")))

    async def chunks() -> AsyncIterator[ChatCompletionChunk]:
        async with events:
            async for text in events.text(stop=stop):
                yield maker.chunk(text)
        for chunk in maker.tail(events.completion):
            yield chunk

    return chunks()
