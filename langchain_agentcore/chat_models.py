"""ChatAgentCore: a LangChain chat model for Amazon Bedrock AgentCore runtimes.

It translates LangChain messages to the core's OpenAI format and the core's events back to
``AIMessage``/``AIMessageChunk``; every AgentCore rule (targets, sessions, the history rule,
decoding, retries, errors) lives in ``agentcore_bridge``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    convert_to_openai_messages,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import ensure_config
from pydantic import ConfigDict, PrivateAttr

from agentcore_bridge import AgentCoreClient, Completion, StopSequences, Usage
from agentcore_bridge.sessions import session_id_for
from agentcore_bridge.settings import (
    LANGCHAIN,
    SECRET_ENVIRONMENT,
    call_options,
    current_client,
    pickled_state,
    settings_model,
    state_with_defaults,
    travelling_fields,
)

# The base class holding the AgentCore fields, generated from the declaration (typed Any: its
# fields are made at import time).
ChatAgentCoreSettings: Any = settings_model(LANGCHAIN, "ChatAgentCoreSettings", __name__)
# BaseChatModel's fields that a pickle carries besides the declared non-secret settings: plain
# configuration. Live objects (callbacks, cache, rate_limiter, custom_get_token_ids) stay home.
PICKLED_BASE_FIELDS = (
    "name", "verbose", "tags", "metadata", "disable_streaming", "output_version", "profile",
)  # fmt: skip
_PICKLED = travelling_fields(LANGCHAIN, PICKLED_BASE_FIELDS)
_CONVERSATION = "agentcore_conversation"
# ``configurable`` keys that name a conversation: ours, RunnableWithMessageHistory's
# ``session_id`` and LangGraph's ``thread_id``.
_CONVERSATION_KEYS = ("runtime_session_id", "session_id", "thread_id")


class ChatAgentCore(ChatAgentCoreSettings, BaseChatModel):
    """Chat model over an Amazon Bedrock AgentCore agent runtime (InvokeAgentRuntime).

    The agent is whatever runs in the runtime (Strands, LangGraph, CrewAI, ...): this model
    sends it the conversation and hands back its answer, streamed or whole.

    Setup:
        ``pip install "agentcore-integrations[langchain]"``. Credentials come from boto3's chain
        (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, SSO, roles), or are
        passed explicitly; OAuth runtimes take ``bearer_token`` (``AGENTCORE_BEARER_TOKEN``).
        Offline, ``agentcore-local`` or ``agentcore_bridge.local.LocalRuntime`` serves your
        agent on 127.0.0.1 and ``endpoint_url`` points here.

    Key init args:
        model: the runtime ARN (also ``runtime_arn``), ``bedrock/agentcore/<ARN>``, or a
            runtime id with ``account_id`` and ``region_name``.
        qualifier: the runtime endpoint (``DEFAULT`` when omitted).
        runtime_session_id: the AgentCore session to use; None gives each call a fresh one.
        history: ``auto`` (send what the session has not seen), ``full``, or ``last``.
        region_name, endpoint_url, aws_access_key_id, aws_secret_access_key,
        aws_session_token, credentials_profile_name, bearer_token: where and how to call.
        payload_format, payload_extra: the request body (``{"prompt": ...}`` by default).
        stop, timeout, max_retries, streaming: as in other LangChain chat models.
        connect_timeout, read_timeout, max_event_bytes, max_body_bytes: transport limits.
        Every field is declared in ``agentcore_bridge.settings.SETTINGS`` (the README's
        configuration table lists them).

    Instantiate:
        .. code-block:: python

            from langchain_agentcore import ChatAgentCore

            llm = ChatAgentCore(model=runtime_arn, endpoint_url=endpoint_url)

    Invoke:
        .. code-block:: python

            messages = [("system", "You are terse."), ("human", "What time is it in Tokyo?")]
            answer = llm.invoke(messages)
            assert "You asked:" in answer.content

    Stream:
        .. code-block:: python

            text = "".join(chunk.text for chunk in llm.stream("Tell me a story"))
            assert text.endswith("Here is my answer.")

    Async:
        .. code-block:: python

            import asyncio

            async def main() -> list[str]:
                one = await llm.ainvoke("Hi")
                chunks = [c.text async for c in llm.astream("Hi")]
                many = await llm.abatch(["a", "b", "c"], config={"max_concurrency": 2})
                return [one.content, "".join(chunks), *[m.content for m in many]]

            results = asyncio.run(main())
            assert len(results) == 5

    Sessions:
        .. code-block:: python

            first = llm.invoke("Remember the number 7.")
            session = first.response_metadata["runtime_session_id"]
            # Continue that conversation: the session already holds the first turn.
            second = llm.invoke("Which number?", runtime_session_id=session)
            assert second.response_metadata["runtime_session_id"] == session

    Token usage:
        .. code-block:: python

            usage = llm.invoke("Hi").usage_metadata  # summed over the agent loop
            assert usage is None or usage["total_tokens"] >= usage["input_tokens"]

    Response metadata:
        .. code-block:: python

            meta = llm.invoke("Hi").response_metadata
            assert meta["model_name"] == runtime_arn
            assert set(meta) >= {"runtime_session_id", "qualifier", "content_type", "request_id"}
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    _client: AgentCoreClient | None = PrivateAttr(default=None)
    _client_key: tuple[Any, ...] | None = PrivateAttr(default=None)

    # The AgentCore fields come from ChatAgentCoreSettings (agentcore_bridge.settings.SETTINGS,
    # declared once for both adapters): LangChain's reads AWS_REGION,
    # AWS_ENDPOINT_URL_BEDROCK_AGENTCORE and the secrets' variables into its fields, and accepts
    # the aliases runtime_arn (model) and stop_sequences (stop).

    # --- LangChain plumbing ---------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "amazon-bedrock-agentcore"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, "qualifier": self.qualifier, "history": self.history}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_agentcore", "chat_models"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return dict(SECRET_ENVIRONMENT)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="amazon_bedrock_agentcore",
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type="chat",
        )
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_tokens is not None:
            params["ls_max_tokens"] = self.max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # Pickles carry an allow-list (_PICKLED): no secrets, no client; an unpickled model takes
    # credentials from its environment and the other fields' defaults.
    def __getstate__(self) -> dict[Any, Any]:
        return pickled_state(type(self), super().__getstate__(), _PICKLED)

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state_with_defaults(type(self), state))

    # --- the call -------------------------------------------------------------------------------

    @property
    def client(self) -> AgentCoreClient:
        """The core client behind this model (made on first use)."""
        return current_client(self)

    # The conversation a call belongs to travels in its config (``configurable``), which
    # LangChain does not hand to ``_generate``: these four entry points (batch, abatch and
    # astream_events go through them) pass it along as a keyword argument.
    def invoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
        stop: list[str] | None = None, **kwargs: Any,
    ) -> AIMessage:  # fmt: skip
        return super().invoke(input, config, stop=stop, **_conversation(config, kwargs))

    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
        stop: list[str] | None = None, **kwargs: Any,
    ) -> AIMessage:  # fmt: skip
        return await super().ainvoke(input, config, stop=stop, **_conversation(config, kwargs))

    def stream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
        stop: list[str] | None = None, **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:  # fmt: skip
        return super().stream(input, config, stop=stop, **_conversation(config, kwargs))

    def astream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
        stop: list[str] | None = None, **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:  # fmt: skip
        return super().astream(input, config, stop=stop, **_conversation(config, kwargs))

    def _call_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        options = call_options(kwargs)
        session = options.pop("session_id", None) or self.runtime_session_id
        if session is None:
            key = kwargs.get(_CONVERSATION) or _conversation_key(ensure_config())
            session = session_id_for(str(key)) if key else None
        return {**options, "session_id": session}

    def _stops(self, stop: list[str] | None) -> StopSequences:
        return StopSequences(stop if stop is not None else self.stop)

    def _result(self, completion: Completion, stop: StopSequences) -> ChatResult:
        message = AIMessage(
            content=stop.apply(completion.text),
            response_metadata=_response_metadata(completion),
            usage_metadata=_usage_metadata(completion.usage),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        completion = self.client.invoke(_to_openai(messages), **self._call_options(kwargs))
        return self._result(completion, self._stops(stop))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        completion = await self.client.ainvoke(_to_openai(messages), **self._call_options(kwargs))
        return self._result(completion, self._stops(stop))

    # LangChain's stream()/astream() (and invoke with streaming=True) call on_llm_new_token for
    # every chunk these yield; the closing chunk carries usage and metadata, with empty text.
    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        stops = self._stops(stop)
        with self.client.stream(
            _to_openai(messages), keep_content=False, **self._call_options(kwargs)
        ) as events:
            for text in events.text(stop=stops):
                yield _text_chunk(text)
        yield _last_chunk(events.completion)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        stops = self._stops(stop)
        events = await self.client.astream(
            _to_openai(messages), keep_content=False, **self._call_options(kwargs)
        )
        async with events:
            async for text in events.text(stop=stops):
                yield _text_chunk(text)
        yield _last_chunk(events.completion)


def _conversation_key(config: RunnableConfig | None) -> str | None:
    configurable = (config or {}).get("configurable") or {}
    return next((str(configurable[k]) for k in _CONVERSATION_KEYS if configurable.get(k)), None)


def _conversation(config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    key = _conversation_key(config)
    return {**kwargs, _CONVERSATION: key} if key and _CONVERSATION not in kwargs else kwargs


def _to_openai(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    converted = convert_to_openai_messages(list(messages))
    return converted if isinstance(converted, list) else [converted]


def _response_metadata(completion: Completion) -> dict[str, Any]:
    return {
        "model_name": completion.model,
        "runtime_session_id": completion.session_id,
        "qualifier": completion.qualifier,
        "content_type": completion.content_type,
        "request_id": completion.request_id,
        "finish_reason": completion.finish_reason,
        "model_provider": "amazon_bedrock_agentcore",
        "a2a_task_state": completion.task_state,
    }


def _usage_metadata(usage: Usage | None) -> UsageMetadata | None:
    if usage is None:
        return None
    return UsageMetadata(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )


def _text_chunk(text: str) -> ChatGenerationChunk:
    return ChatGenerationChunk(message=AIMessageChunk(content=text))


def _last_chunk(completion: Completion) -> ChatGenerationChunk:
    """The closing chunk: the only one carrying usage (so summing chunks counts it once) and the
    response metadata."""
    return ChatGenerationChunk(
        message=AIMessageChunk(
            content="",
            usage_metadata=_usage_metadata(completion.usage),
            response_metadata=_response_metadata(completion),
            chunk_position="last",
        ),
        generation_info={"finish_reason": completion.finish_reason},
    )
