"""AgentCore: a LlamaIndex LLM for Amazon Bedrock AgentCore runtimes.

It translates LlamaIndex ``ChatMessage``s to the core's OpenAI format and the core's events to
``ChatResponse``s; every AgentCore rule lives in ``agentcore_bridge``. Chat-native: the
completion entry points are derived from the chat ones, as LlamaIndex's own chat LLMs do.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Sequence
from typing import Any

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    ImageBlock,
    LLMMetadata,
    MessageRole,
    TextBlock,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.llm import LLM
from pydantic import PrivateAttr, SecretStr, field_serializer

from agentcore_bridge import (
    AgentCoreClient,
    Completion,
    InvalidRequestError,
    StopSequences,
    Usage,
)
from agentcore_bridge.results import usage_to_openai
from agentcore_bridge.settings import (
    DEFAULT_CONTEXT_WINDOW,
    DEFAULT_NUM_OUTPUT,
    LLAMA_INDEX,
    SECRET_FIELDS,
    call_options,
    current_client,
    mask_secret,
    pickled_state,
    settings_model,
    travelling_fields,
)

__all__ = [
    "DEFAULT_CONTEXT_WINDOW", "DEFAULT_NUM_OUTPUT", "PICKLED_BASE_FIELDS", "AgentCore",
    "AgentCoreSettings", "to_openai_messages",
]  # fmt: skip

# The base class holding the AgentCore fields, generated from the declaration (typed Any: its
# fields are made at import time).
AgentCoreSettings: Any = settings_model(LLAMA_INDEX, "AgentCoreSettings", __name__)
# LLM's fields that a pickle carries besides the declared non-secret settings: plain
# configuration. Live objects (callback_manager, rate_limiter) stay home: an unpickled model
# gets LlamaIndex's defaults for them.
PICKLED_BASE_FIELDS = (
    "system_prompt", "messages_to_prompt", "completion_to_prompt", "output_parser",
    "pydantic_program_mode", "query_wrapper_prompt",
)  # fmt: skip
_PICKLED = travelling_fields(LLAMA_INDEX, PICKLED_BASE_FIELDS)
_ROLES = {
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
}


class AgentCore(AgentCoreSettings, LLM):
    """LlamaIndex LLM over an Amazon Bedrock AgentCore agent runtime (InvokeAgentRuntime).

    Example (runs against the local runtime in the tests; ``runtime_arn`` and
    ``endpoint_url`` name it, credentials come from the environment):

    .. code-block:: python

        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.embeddings import MockEmbedding
        from llama_index.core.llms import ChatMessage
        from llama_index_agentcore import AgentCore

        llm = AgentCore(model=runtime_arn, endpoint_url=endpoint_url)
        reply = llm.chat([ChatMessage(role="user", content="What time is it in Tokyo?")])
        session = reply.additional_kwargs["runtime_session_id"]
        follow_up = llm.chat(
            [ChatMessage(role="user", content="And in Paris?")], runtime_session_id=session
        )
        text = "".join(r.delta for r in llm.stream_complete("Tell me a story"))

        index = VectorStoreIndex.from_documents(
            [Document(text="The office opens at 9.")], embed_model=MockEmbedding(embed_dim=8)
        )
        answer = index.as_query_engine(llm=llm).query("When does the office open?")
        assert str(answer)

    Fields have the same names and meanings as ``langchain_agentcore.ChatAgentCore``'s: ``model``
    (runtime ARN, ``bedrock/agentcore/<ARN>`` or runtime id), ``qualifier``,
    ``runtime_session_id`` (None: a fresh session per call), ``runtime_user_id``, ``history``
    (``auto``/``full``/``last``), ``region_name``, ``endpoint_url``, credentials,
    ``bearer_token``, ``payload_format``/``payload_extra``, ``timeout``/``connect_timeout``/
    ``read_timeout``, ``max_retries``, ``max_event_bytes``/``max_body_bytes``; ``context_window``
    defaults to ``DEFAULT_CONTEXT_WINDOW``. Every field is declared in
    ``agentcore_bridge.settings.SETTINGS`` (the README's configuration table lists them).
    Per call: ``runtime_session_id``, ``qualifier``, ``runtime_user_id``, ``history``, ``model``
    and ``stop``. Responses carry ``runtime_session_id``, ``request_id`` and, when the agent
    reports usage, ``prompt_tokens``/``completion_tokens``/``total_tokens`` in
    ``additional_kwargs``.
    """

    # The AgentCore fields come from AgentCoreSettings (agentcore_bridge.settings.SETTINGS,
    # declared once for both adapters): LlamaIndex's read no environment variable into the
    # fields (the client still reads the endpoint and credentials ones) and take no aliases.

    _client: AgentCoreClient | None = PrivateAttr(default=None)
    _client_key: tuple[Any, ...] | None = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "AgentCore"

    @field_serializer(*SECRET_FIELDS)
    def _serialize_secret(self, value: SecretStr | None) -> str | None:
        # LlamaIndex's to_dict()/to_json() dump every field: secrets appear masked.
        return mask_secret(value)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            is_chat_model=True,
            is_function_calling_model=False,
            model_name=self.model,
        )

    @property
    def client(self) -> AgentCoreClient:
        return current_client(self)

    # Pickles carry an allow-list (_PICKLED): no secrets, no client. LlamaIndex's __setstate__
    # runs __init__ on what travelled, so the rest take their defaults.
    def __getstate__(self) -> dict[Any, Any]:
        return pickled_state(type(self), super().__getstate__(), _PICKLED)

    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        options = call_options(kwargs)
        options.setdefault("session_id", self.runtime_session_id)
        return options

    def _stops(self, kwargs: dict[str, Any]) -> StopSequences:
        stop = kwargs.get("stop")
        return StopSequences(stop if stop is not None else self.stop)

    # --- chat -------------------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        completion = self.client.invoke(to_openai_messages(messages), **self._options(kwargs))
        return _response(completion, self._stops(kwargs).apply(completion.text))

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        completion = await self.client.ainvoke(
            to_openai_messages(messages), **self._options(kwargs)
        )
        return _response(completion, self._stops(kwargs).apply(completion.text))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        events = self.client.stream(
            to_openai_messages(messages), keep_content=False, **self._options(kwargs)
        )
        stops = self._stops(kwargs)

        def gen() -> Generator[ChatResponse, None, None]:
            text = ""
            with events:
                for delta in events.text(stop=stops):
                    text += delta
                    yield _response(events.completion, text, delta=delta, final=False)
            yield _response(events.completion, text, delta="")

        return gen()

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        events = await self.client.astream(
            to_openai_messages(messages), keep_content=False, **self._options(kwargs)
        )
        stops = self._stops(kwargs)

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            text = ""
            async with events:
                async for delta in events.text(stop=stops):
                    text += delta
                    yield _response(events.completion, text, delta=delta, final=False)
            yield _response(events.completion, text, delta="")

        return gen()

    # --- completion, derived from chat ------------------------------------------------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_decorator(self.chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return await achat_to_completion_decorator(self.achat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return stream_chat_to_completion_decorator(self.stream_chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        return await astream_chat_to_completion_decorator(self.astream_chat)(prompt, **kwargs)


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """LlamaIndex ChatMessages -> OpenAI-format dicts (llama-index-core has no such converter).

    Text blocks become the content string; images become ``image_url`` parts (which only the
    ``openai`` payload format can carry); other block kinds are refused rather than dropped.
    """
    result = []
    for message in messages:
        role = _ROLES.get(message.role, message.role.value)
        if all(isinstance(block, TextBlock) for block in message.blocks):
            content: Any = "".join(block.text for block in message.blocks)  # type: ignore[union-attr]
        else:
            content = [_part(block) for block in message.blocks]
        result.append({"role": role, "content": content})
    return result


def _part(block: Any) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ImageBlock):
        url = str(block.url) if block.url is not None else block.inline_url()
        return {"type": "image_url", "image_url": {"url": url}}
    raise InvalidRequestError(
        f"a {type(block).__name__} content block cannot be sent to an AgentCore agent; "
        "send text (or images with payload_format='openai')"
    )


def _usage_kwargs(usage: Usage | None) -> dict[str, int]:
    return {} if usage is None else usage_to_openai(usage)


def _response(
    completion: Completion, text: str, *, delta: str | None = None, final: bool = True
) -> ChatResponse:
    extra: dict[str, Any] = {
        "runtime_session_id": completion.session_id,
        "request_id": completion.request_id,
        "model": completion.model,
        "qualifier": completion.qualifier,
        "a2a_task_state": completion.task_state,
    }
    if final:
        extra.update(_usage_kwargs(completion.usage))
    return ChatResponse(
        message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
        delta=delta,
        raw={"final_messages": completion.final_messages} if final else None,
        additional_kwargs=extra,
    )
