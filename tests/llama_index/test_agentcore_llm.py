"""AgentCore (the LlamaIndex LLM) against the local runtime: shapes x entry points,
instrumentation, metadata, query and chat engines (what reached the agent, turn by turn),
sessions, stop sequences, errors, cancellation, secrets and pickling, the docstring example,
image blocks."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    ChatResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
)
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionInProgressEvent,
    LLMCompletionStartEvent,
)
from pydantic import Field
from support.agents import cancel_after_first, first_event_then_hang
from support.shapes import SHAPE_TABLE, load_fixture, recorded_agent

from agentcore_bridge import (
    AgentError,
    InvalidRequestError,
    InvalidSessionIdError,
    RuntimeClientError,
    StreamInterruptedError,
)
from agentcore_bridge.local import Fault
from llama_index_agentcore import DEFAULT_CONTEXT_WINDOW, AgentCore

if TYPE_CHECKING:  # not imported at run time: another suite's conftest may own that name
    from conftest import LlamaIndexRuntime, RecordingAgent

ANSWER = "Let me think about that. You asked: {}. Here is my answer."
USAGE = {"prompt_tokens": 34, "completion_tokens": 12, "total_tokens": 46}
USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")
SECRET = "SENTINEL-LLAMAINDEX-SECRET-3c2b1a"


def make_llm(rt: LlamaIndexRuntime, arn: str | None = None, **kwargs: Any) -> AgentCore:
    return AgentCore(**{**rt.params(arn), **kwargs})


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


def received(response: ChatResponse) -> dict[str, Any]:
    """What the echo agent saw: its JSON answer (payload, session id, headers)."""
    return json.loads(str(response.message.content))


def run_async(llm: AgentCore, coroutine_fn: Callable[[], Any]) -> Any:
    """asyncio.run a coroutine, closing the LLM's async client in the same loop."""

    async def main() -> Any:
        try:
            return await coroutine_fn()
        finally:
            await llm.client.aclose()

    return asyncio.run(main())


# --- 1. every response shape x chat / stream_chat / achat / astream_chat ----------------------

SHAPES = [name for _, names in SHAPE_TABLE.values() for name in names]
MODES = ("chat", "stream_chat", "achat", "astream_chat")


def collect_stream(llm: AgentCore, mode: str, into: list[ChatResponse]) -> None:
    if mode == "stream_chat":
        for response in llm.stream_chat(user("hi")):
            into.append(response)
        return

    async def consume() -> None:
        async for response in await llm.astream_chat(user("hi")):
            into.append(response)

    run_async(llm, consume)


def run_mode(llm: AgentCore, mode: str, deltas: list[str]) -> ChatResponse:
    if mode == "chat":
        return llm.chat(user("hi"))
    if mode == "achat":
        return run_async(llm, lambda: llm.achat(user("hi")))
    responses: list[ChatResponse] = []
    try:
        collect_stream(llm, mode, responses)
    finally:
        deltas.extend(r.delta or "" for r in responses)
    final = responses[-1]
    # Deltas concatenate to the text; every response carries the text so far; usage only once.
    assert "".join(deltas) == final.message.content
    accumulated = ""
    for response in responses:
        accumulated += response.delta or ""
        assert response.message.content == accumulated
    assert all(
        not any(k in r.additional_kwargs for k in USAGE_KEYS) for r in responses[:-1]
    )  # usage is reported once, on the final response
    return final


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", SHAPES)
def test_every_shape_in_every_mode(li_runtime: LlamaIndexRuntime, name: str, mode: str) -> None:
    fixture = load_fixture(name)
    arn = li_runtime.add_agent(f"li-{name}-{mode}", recorded_agent(fixture))
    llm = make_llm(li_runtime, arn, max_retries=0)
    deltas: list[str] = []
    if fixture.status >= 300:
        with pytest.raises(RuntimeClientError, match="CloudWatch"):
            run_mode(llm, mode, deltas)
        assert deltas == []
        return
    if fixture.expected_error is not None:
        with pytest.raises(AgentError, match=fixture.expected_error[:20]):
            run_mode(llm, mode, deltas)
        # A stream shows the text the agent sent before it failed (all of it), and nothing more.
        assert "".join(deltas) == (fixture.expected_text if "stream" in mode else "")
        return
    response = run_mode(llm, mode, deltas)
    assert response.message.content == fixture.expected_text
    assert response.message.role == MessageRole.ASSISTANT
    extra = response.additional_kwargs
    assert extra["model"] == arn
    assert len(extra["runtime_session_id"]) >= 33
    if fixture.expected_usage is None:
        assert not any(k in extra for k in USAGE_KEYS)  # never invented
    else:
        expected = fixture.expected_usage
        assert {k: extra[k] for k in USAGE_KEYS} == {
            "prompt_tokens": expected["input_tokens"],
            "completion_tokens": expected["output_tokens"],
            "total_tokens": expected["total_tokens"],
        }


# --- 2. instrumentation for every entry point ----------------------------------------------


class Recorder(BaseEventHandler):
    events: list[Any] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: Any, **kwargs: Any) -> None:
        self.events.append(event)


def call_entry_point(llm: AgentCore, entry: str) -> str:
    """Call one entry point to its end; returns the answer text."""
    messages, prompt = user("inst"), "inst"
    if entry == "chat":
        return str(llm.chat(messages).message.content)
    if entry == "complete":
        return llm.complete(prompt).text
    if entry == "stream_chat":
        return "".join(r.delta or "" for r in llm.stream_chat(messages))
    if entry == "stream_complete":
        return "".join(r.delta or "" for r in llm.stream_complete(prompt))

    async def run() -> str:
        if entry == "achat":
            return str((await llm.achat(messages)).message.content)
        if entry == "acomplete":
            return (await llm.acomplete(prompt)).text
        if entry == "astream_chat":
            return "".join([r.delta or "" async for r in await llm.astream_chat(messages)])
        assert entry == "astream_complete"
        return "".join([r.delta or "" async for r in await llm.astream_complete(prompt)])

    return run_async(llm, run)


CHAT_EVENTS = (LLMChatStartEvent, LLMChatEndEvent, LLMChatInProgressEvent)
COMPLETION_EVENTS = (LLMCompletionStartEvent, LLMCompletionEndEvent, LLMCompletionInProgressEvent)


@pytest.mark.parametrize(
    "entry",
    ["chat", "stream_chat", "achat", "astream_chat",
     "complete", "stream_complete", "acomplete", "astream_complete"],
)  # fmt: skip
def test_every_entry_point_fires_instrumentation(li_runtime: LlamaIndexRuntime, entry: str) -> None:
    dispatcher = get_dispatcher()
    recorder = Recorder()
    dispatcher.add_event_handler(recorder)
    try:
        text = call_entry_point(make_llm(li_runtime), entry)
    finally:
        dispatcher.event_handlers.remove(recorder)
    assert text == ANSWER.format("inst")
    start, end, progress = CHAT_EVENTS if "chat" in entry else COMPLETION_EVENTS
    kinds = [type(e) for e in recorder.events]
    assert kinds.count(start) == 1
    assert kinds.count(end) == 1
    assert kinds.index(start) < kinds.index(end)
    starts = [e for e in recorder.events if isinstance(e, start)]
    assert starts[0].model_dict["model_name"] == li_runtime.stream
    assert starts[0].model_dict["class_name"] == "AgentCore"
    ends = [e for e in recorder.events if isinstance(e, end)]
    if start is LLMChatStartEvent:
        assert ends[0].response.message.content == ANSWER.format("inst")
    else:
        assert ends[0].response.text == ANSWER.format("inst")
    if "stream" in entry:
        assert kinds.count(progress) >= 6  # one per streamed delta
    else:
        assert progress not in kinds
    assert recorder not in dispatcher.event_handlers


# --- 3. metadata ---------------------------------------------------------------------------


def test_metadata(li_runtime: LlamaIndexRuntime) -> None:
    metadata = make_llm(li_runtime).metadata
    assert metadata.is_chat_model is True
    assert metadata.is_function_calling_model is False
    assert metadata.model_name == li_runtime.stream
    assert metadata.context_window == DEFAULT_CONTEXT_WINDOW == 200_000
    assert make_llm(li_runtime, context_window=32_000).metadata.context_window == 32_000
    assert make_llm(li_runtime, num_output=512).metadata.num_output == 512
    assert AgentCore.class_name() == "AgentCore"


# --- 4. query engines and chat engines over a real index ------------------------------------

DOCS = [
    "The office opens at 9 and closes at 17.",
    "The cafeteria serves lunch from noon until 14.",
    "Visitors park in lot B behind the building.",
]
QUESTION = "When does the office open?"


@pytest.fixture(scope="module")
def index() -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(
        [Document(text=text) for text in DOCS], embed_model=MockEmbedding(embed_dim=8)
    )


def user_part(prompt: str) -> str:
    """The user turn of a rendered transcript: what follows the last 'User: '."""
    assert "\nUser: " in prompt, prompt
    return prompt.rsplit("\nUser: ", 1)[1]


def system_part(prompt: str) -> str:
    """The system block of a rendered transcript: what precedes the first 'User: ' line."""
    assert "\n\nUser: " in prompt, prompt
    return prompt.split("\n\nUser: ", 1)[0]


def retrieved(prompt_part: str) -> list[str]:
    return [text for text in DOCS if text in prompt_part]


def check_query_prompt(prompt: str) -> None:
    # Query engines put the retrieved context and the question in the user message.
    in_user = user_part(prompt)
    assert retrieved(in_user), prompt
    assert QUESTION in in_user
    assert not retrieved(system_part(prompt))


def test_query_engine_query_aquery_and_streaming(
    li_runtime: LlamaIndexRuntime, index: VectorStoreIndex
) -> None:
    llm = make_llm(li_runtime, li_runtime.echo)
    answer = index.as_query_engine(llm=llm).query(QUESTION)
    check_query_prompt(json.loads(str(answer))["payload"]["prompt"])
    assert {n.node.get_content() for n in answer.source_nodes} <= set(DOCS)

    async_answer = run_async(llm, lambda: index.as_query_engine(llm=llm).aquery(QUESTION))
    check_query_prompt(json.loads(str(async_answer))["payload"]["prompt"])

    streaming = index.as_query_engine(llm=llm, streaming=True).query(QUESTION)
    pieces = list(streaming.response_gen)
    assert len(pieces) >= 1
    check_query_prompt(json.loads("".join(pieces))["payload"]["prompt"])


TURNS = ["First: when does the office open?", "Second: where do I park?", "Third: lunch?"]
CONDENSE_MARK = "Standalone question:"


async def dispose_memory(engine: Any) -> None:
    """Close the SQL engine behind the chat engine's default ``Memory`` (an in-memory aiosqlite
    database, which LlamaIndex never closes: its connections would warn when collected)."""
    store = getattr(engine._memory, "sql_store", None)
    if store is not None and store._async_engine is not None:
        await store._async_engine.dispose()


def chat_turns(
    make_engine: Callable[[], Any], llm: AgentCore, use_async: bool, *, stream: bool = False
) -> list[str]:
    """The turns, with a chat engine built (and its memory closed) in the loop that runs them."""
    if use_async:

        async def run() -> list[str]:
            engine = make_engine()
            try:
                return [str(await engine.achat(turn)) for turn in TURNS]
            finally:
                await dispose_memory(engine)

        return run_async(llm, run)
    # LlamaIndex's Memory runs its async store on the thread's current event loop (creating one
    # when there is none, and never closing it): give it one, and close it afterwards.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        engine = make_engine()
        try:
            if stream:
                return ["".join(engine.stream_chat(turn).response_gen) for turn in TURNS]
            return [str(engine.chat(turn)) for turn in TURNS]
        finally:
            loop.run_until_complete(dispose_memory(engine))
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@pytest.mark.parametrize("use_async", [False, True], ids=["chat", "achat"])
@pytest.mark.parametrize("pinned", [False, True], ids=["fresh-sessions", "pinned-session"])
@pytest.mark.parametrize("chat_mode", ["context", "condense_plus_context"])
def test_chat_engines_send_context_in_system_text_and_history_once(
    li_runtime: LlamaIndexRuntime,
    recording_agent: RecordingAgent,
    index: VectorStoreIndex,
    chat_mode: str,
    pinned: bool,
    use_async: bool,
) -> None:
    session = f"li-engine-session-{chat_mode}-{use_async}-".replace("_", "-") + "s" * 33
    llm = make_llm(li_runtime, recording_agent.arn, runtime_session_id=session if pinned else None)
    answers = chat_turns(lambda: index.as_chat_engine(chat_mode=chat_mode, llm=llm), llm, use_async)

    prompts = recording_agent.prompts
    condense = [p for p in prompts if CONDENSE_MARK in p]
    chats = [p for p in prompts if CONDENSE_MARK not in p]
    # condense_plus_context condenses every turn after the first with one more LLM call.
    assert len(condense) == (2 if chat_mode == "condense_plus_context" else 0)
    assert len(prompts) == len(TURNS) + len(condense)
    assert len(chats) == len(TURNS)
    # What the user got back is what the agent answered to each chat call (not to condensing).
    assert answers == [f"answer {prompts.index(p) + 1}" for p in chats]
    if pinned:
        assert set(recording_agent.session_ids) == {session}
    else:
        assert len(set(recording_agent.session_ids)) == len(prompts)  # a fresh session per call

    # Turn 1 (every session sees it whole): context in the system part, then the question.
    assert retrieved(system_part(chats[0]))
    assert user_part(chats[0]) == TURNS[0]
    assert not retrieved(user_part(chats[0]))
    sent_system = system_part(chats[0])
    for turn in (1, 2):
        prompt = chats[turn]
        if not pinned:
            # A fresh session gets the whole conversation: each earlier turn exactly once.
            assert retrieved(system_part(prompt))
            for earlier in range(turn + 1):
                assert prompt.count(TURNS[earlier]) == 1, prompt
            for earlier_answer in answers[:turn]:
                assert prompt.count(earlier_answer) == 1, prompt
            assert user_part(prompt) == TURNS[turn]
            continue
        # A continued session gets only the new question, plus the system text when it changed
        # since the session's previous call (a condensing call in between sent none).
        for earlier in range(turn):
            assert TURNS[earlier] not in prompt
        for earlier_answer in answers[:turn]:
            assert earlier_answer not in prompt
        previous = prompts[prompts.index(prompt) - 1]
        previous_system = None if CONDENSE_MARK in previous else sent_system
        if previous_system == sent_system:
            assert prompt == TURNS[turn]  # unchanged context is not piled up
        else:
            assert system_part(prompt) == sent_system
            assert user_part(prompt) == TURNS[turn]
            assert retrieved(system_part(prompt))
    for prompt in condense:  # LlamaIndex's condense prompt: one user message, sent verbatim
        assert not prompt.startswith("User: ")


@pytest.mark.parametrize("chat_mode", ["context", "condense_plus_context"])
def test_streaming_chat_engine_keeps_history_once(
    li_runtime: LlamaIndexRuntime,
    recording_agent: RecordingAgent,
    index: VectorStoreIndex,
    chat_mode: str,
) -> None:
    llm = make_llm(li_runtime, recording_agent.arn)
    answers = chat_turns(
        lambda: index.as_chat_engine(chat_mode=chat_mode, llm=llm), llm, False, stream=True
    )
    chats = [p for p in recording_agent.prompts if CONDENSE_MARK not in p]
    assert answers == [f"answer {recording_agent.prompts.index(p) + 1}" for p in chats]
    last = chats[-1]
    assert retrieved(system_part(last))
    assert [last.count(turn) for turn in TURNS] == [1, 1, 1]
    assert [last.count(answer) for answer in answers[:2]] == [1, 1]


# --- 5. sessions and per-call overrides ---------------------------------------------------


def test_session_id_is_returned_and_continues_per_call(li_runtime: LlamaIndexRuntime) -> None:
    llm = make_llm(li_runtime, li_runtime.echo)
    first = llm.chat(user("Remember 7"))
    session = first.additional_kwargs["runtime_session_id"]
    assert received(first)["session_id"] == session
    assert first.additional_kwargs["request_id"]
    conversation = [
        *user("Remember 7"),
        ChatMessage(role=MessageRole.ASSISTANT, content="Noted."),
        *user("Which number?"),
    ]
    again = llm.chat(conversation, runtime_session_id=session)
    assert again.additional_kwargs["runtime_session_id"] == session
    assert received(again)["session_id"] == session
    assert received(again)["payload"] == {"prompt": "Which number?"}  # the session has the rest
    fresh = llm.chat(conversation)
    assert fresh.additional_kwargs["runtime_session_id"] != session
    assert received(fresh)["payload"] == {
        "prompt": "User: Remember 7\nAssistant: Noted.\nUser: Which number?"
    }

    async def streamed() -> list[ChatResponse]:
        return [r async for r in await llm.astream_chat(user("async"), runtime_session_id=session)]

    final = run_async(llm, streamed)[-1]
    assert received(final)["session_id"] == session


def test_model_field_pins_the_session_and_changed_system_text_is_resent(
    li_runtime: LlamaIndexRuntime,
) -> None:
    pinned_id = "li-pinned-session-" + "p" * 30
    llm = make_llm(li_runtime, li_runtime.echo, runtime_session_id=pinned_id)
    system = ChatMessage(role=MessageRole.SYSTEM, content="Context A.")
    a = llm.chat([system, *user("one")])
    b = llm.chat([system, *user("one"), ChatMessage(role="assistant", content="1"), *user("two")])
    changed = ChatMessage(role=MessageRole.SYSTEM, content="Context B.")
    c = llm.chat([changed, *user("one"), ChatMessage(role="assistant", content="1"), *user("three")])  # fmt: skip
    for response in (a, b, c):
        assert response.additional_kwargs["runtime_session_id"] == pinned_id
        assert received(response)["session_id"] == pinned_id
    assert received(a)["payload"] == {"prompt": "Context A.\n\nUser: one"}
    assert received(b)["payload"] == {"prompt": "two"}
    assert received(c)["payload"] == {"prompt": "Context B.\n\nUser: three"}


def test_per_call_overrides_reach_the_agent(li_runtime: LlamaIndexRuntime) -> None:
    llm = make_llm(li_runtime, li_runtime.echo)
    echoed = received(llm.chat(user("x"), runtime_user_id="li-user-9"))
    assert echoed["headers"]["x-amzn-bedrock-agentcore-runtime-user-id"] == "li-user-9"
    fielded = received(make_llm(li_runtime, li_runtime.echo, runtime_user_id="li-user-1").chat(user("x")))  # fmt: skip
    assert fielded["headers"]["x-amzn-bedrock-agentcore-runtime-user-id"] == "li-user-1"

    prod = make_llm(li_runtime).chat(user("q"), qualifier="prod")
    assert prod.additional_kwargs["qualifier"] == "prod"
    assert li_runtime.local.invocations[-1].qualifier == "prod"
    assert prod.message.content == ANSWER.format("q")

    moved = llm.chat(user("hello"), model=li_runtime.other)
    assert moved.additional_kwargs["model"] == li_runtime.other
    assert li_runtime.local.invocations[-1].runtime_arn == li_runtime.other
    assert moved.message.content == ANSWER.format("hello")
    streamed = list(llm.stream_chat(user("s"), model=li_runtime.other))
    assert streamed[-1].message.content == ANSWER.format("s")

    conversation = [*user("a"), ChatMessage(role="assistant", content="b"), *user("c")]
    last_only = received(llm.chat(conversation, history="last"))
    assert last_only["payload"] == {"prompt": "c"}


def test_usage_is_reported_and_never_invented(li_runtime: LlamaIndexRuntime) -> None:
    answer = make_llm(li_runtime).chat(user("u"))
    assert {k: answer.additional_kwargs[k] for k in USAGE_KEYS} == USAGE
    assert answer.raw is not None and answer.raw["final_messages"]
    echoed = make_llm(li_runtime, li_runtime.echo).chat(user("u"))
    assert not any(k in echoed.additional_kwargs for k in USAGE_KEYS)


def test_fields_assigned_after_a_call_take_effect(li_runtime: LlamaIndexRuntime) -> None:
    llm = make_llm(li_runtime, li_runtime.echo)
    assert received(llm.chat(user("first")))["payload"] == {"prompt": "first"}
    llm.model = li_runtime.other
    assert llm.metadata.model_name == li_runtime.other
    moved = llm.chat(user("second"))
    assert moved.additional_kwargs["model"] == li_runtime.other
    assert moved.message.content == ANSWER.format("second")


# --- 6. stop sequences -----------------------------------------------------------------------


def test_stop_sequences_on_chat_and_stream_chat(li_runtime: LlamaIndexRuntime) -> None:
    llm = make_llm(li_runtime)
    assert llm.chat(user("x"), stop=["You asked"]).message.content == "Let me think about that. "
    streamed = list(llm.stream_chat(user("x"), stop=["asked: x"]))
    assert "".join(r.delta or "" for r in streamed) == "Let me think about that. You "
    assert streamed[-1].message.content == "Let me think about that. You "
    fielded = make_llm(li_runtime, stop=["Here is"])
    assert fielded.chat(user("y")).message.content == "Let me think about that. You asked: y. "
    assert (
        "".join(r.delta or "" for r in fielded.stream_chat(user("y")))
        == "Let me think about that. You asked: y. "
    )
    # A per-call stop replaces the field's.
    assert fielded.chat(user("z"), stop=["that"]).message.content == "Let me think about "
    assert fielded.complete("w").text == "Let me think about that. You asked: w. "

    async def astreamed() -> str:
        return "".join(
            [r.delta or "" async for r in await llm.astream_chat(user("a"), stop=["a."])]
        )

    assert run_async(llm, astreamed) == "Let me think about that. You asked: "


# --- 7. errors -----------------------------------------------------------------------------


def test_invalid_session_id_fails_before_any_request(li_runtime: LlamaIndexRuntime) -> None:
    llm = make_llm(li_runtime, max_retries=0)
    before = len(li_runtime.local.invocations)
    with pytest.raises(InvalidSessionIdError):
        llm.chat(user("x"), runtime_session_id="short")
    with pytest.raises(InvalidSessionIdError):
        llm.stream_chat(user("x"), runtime_session_id="short")
    with pytest.raises(InvalidSessionIdError):
        make_llm(li_runtime, runtime_session_id="bad id with spaces").chat(user("x"))
    with pytest.raises(InvalidSessionIdError):
        run_async(llm, lambda: llm.achat(user("x"), runtime_session_id="short"))
    assert len(li_runtime.local.invocations) == before  # refused before any request


def test_mid_stream_drop_raises_after_some_deltas(li_runtime: LlamaIndexRuntime) -> None:
    fixture = load_fixture("09_strands_stream_async")
    arn = li_runtime.add_agent("li-drop", recorded_agent(fixture, piece=400))
    li_runtime.local.inject(Fault.DROP_MID_STREAM, runtime_arn=arn, after_chunks=3)
    responses: list[ChatResponse] = []

    def consume() -> None:
        for response in make_llm(li_runtime, arn, max_retries=0).stream_chat(user("x")):
            responses.append(response)

    with pytest.raises(StreamInterruptedError):
        consume()
    assert responses  # some text arrived first ...
    text = "".join(r.delta or "" for r in responses)
    assert text and fixture.expected_text.startswith(text)
    assert text != fixture.expected_text
    assert all(r.raw is None for r in responses)  # ... and it never ended quietly


# --- 8. cancellation -------------------------------------------------------------------------


def test_cancelling_astream_chat_stops_the_agent(li_runtime: LlamaIndexRuntime) -> None:
    agent, agent_finished = first_event_then_hang()

    llm = make_llm(li_runtime, li_runtime.add_agent("li-cancel", agent))

    async def deltas() -> AsyncIterator[str]:
        async def gen() -> AsyncIterator[str]:
            async for response in await llm.astream_chat(user("x")):
                yield response.delta or ""

        return gen()

    assert run_async(llm, lambda: cancel_after_first(deltas)) == "first "
    assert agent_finished.wait(10)  # seen server side: the agent's finally ran


# --- 9. secrets and pickling -----------------------------------------------------------------


def test_no_secrets_in_repr_str_or_json(li_runtime: LlamaIndexRuntime) -> None:
    llm = make_llm(
        li_runtime, aws_secret_access_key=SECRET, aws_session_token=SECRET + "-token",
        bearer_token=SECRET + "-bearer",
    )  # fmt: skip
    dumped = llm.model_dump_json()
    payload = json.dumps(llm.to_payload())  # what instrumentation events carry
    for text in (repr(llm), str(llm), dumped, repr(llm.client), payload, repr(llm.to_dict())):
        assert SECRET not in text
    assert json.loads(dumped)["aws_secret_access_key"] == "**********"
    assert llm.aws_secret_access_key is not None
    assert llm.aws_secret_access_key.get_secret_value() == SECRET  # kept, only hidden


def test_to_json_works_without_secrets(li_runtime: LlamaIndexRuntime) -> None:
    llm = make_llm(li_runtime, aws_secret_access_key=SECRET)
    data = json.loads(llm.to_json())
    assert SECRET not in json.dumps(data)
    assert data["model"] == li_runtime.stream
    assert data["class_name"] == "AgentCore"


def test_pickles_without_secrets_and_works_in_another_process(
    li_runtime: LlamaIndexRuntime, tmp_path: Any
) -> None:
    secret = li_runtime.local.credentials.secret_access_key
    llm = make_llm(li_runtime)  # its params carry the runtime's secret key
    assert llm.chat(user("warm up: a client exists")).message.content  # it must not travel
    with_bearer = make_llm(li_runtime, bearer_token=SECRET)
    for model in (llm, with_bearer):
        blob = pickle.dumps(model)
        assert secret.encode() not in blob
        assert SECRET.encode() not in blob
    (tmp_path / "llm.pkl").write_bytes(pickle.dumps(llm))
    script = textwrap.dedent(f"""
        import pickle
        from llama_index.core.llms import ChatMessage
        llm = pickle.loads(open({str(tmp_path / "llm.pkl")!r}, "rb").read())
        print(llm.chat([ChatMessage(role="user", content="from another process")]).message.content)
        print(llm.complete("completed there").text)
    """)
    env = {**os.environ, **li_runtime.local.environment()}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines() == [
        ANSWER.format("from another process"),
        ANSWER.format("completed there"),
    ]


# --- 10. the class docstring example -------------------------------------------------------


def docstring_code(doc: str) -> str:
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if ".. code-block:: python" in line)
    directive_indent = len(lines[start]) - len(lines[start].lstrip())
    code: list[str] = []
    for line in lines[start + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= directive_indent:
            break
        code.append(line)
    return textwrap.dedent("\n".join(code)).strip() + "\n"


def test_class_docstring_example_runs(
    li_runtime: LlamaIndexRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in li_runtime.local.environment().items():
        monkeypatch.setenv(key, value)
    code = docstring_code(AgentCore.__doc__ or "")
    assert "index.as_query_engine(llm=llm)" in code
    namespace: dict[str, Any] = {
        "runtime_arn": li_runtime.stream,
        "endpoint_url": li_runtime.local.endpoint_url,
    }
    exec(compile(code, "<AgentCore docstring>", "exec"), namespace)
    assert isinstance(namespace["llm"], AgentCore)
    assert namespace["reply"].message.content == ANSWER.format("What time is it in Tokyo?")
    session = namespace["session"]
    assert namespace["follow_up"].additional_kwargs["runtime_session_id"] == session
    assert namespace["text"] == ANSWER.format("Tell me a story")
    assert "Here is my answer." in str(namespace["answer"])


# --- 11. image blocks ------------------------------------------------------------------------

IMAGE_URL = "https://example.com/cat.png"


def image_message() -> ChatMessage:
    return ChatMessage(
        role=MessageRole.USER,
        blocks=[TextBlock(text="What is in this picture?"), ImageBlock(url=IMAGE_URL)],
    )


def test_image_with_prompt_payload_is_refused_not_dropped(li_runtime: LlamaIndexRuntime) -> None:
    llm = make_llm(li_runtime, li_runtime.echo)
    before = len(li_runtime.local.invocations)
    with pytest.raises(InvalidRequestError, match="openai"):
        llm.chat([image_message()])
    with pytest.raises(InvalidRequestError, match="openai"):
        llm.stream_chat([image_message()])
    assert len(li_runtime.local.invocations) == before
    audio = ChatMessage(role="user", blocks=[TextBlock(text="hear"), AudioBlock(audio=b"RIFF", format="wav")])  # fmt: skip
    with pytest.raises(InvalidRequestError, match="AudioBlock"):
        make_llm(li_runtime, li_runtime.echo, payload_format="openai").chat([audio])
    assert len(li_runtime.local.invocations) == before


def test_image_with_openai_payload_reaches_the_agent(li_runtime: LlamaIndexRuntime) -> None:
    llm = make_llm(li_runtime, li_runtime.echo, payload_format="openai")
    payload = received(llm.chat([image_message()]))["payload"]
    assert payload == {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": IMAGE_URL}},
                ],
            }
        ]
    }
    inline = ChatMessage(
        role="user", blocks=[ImageBlock(image=b"\x89PNG\r\n\x1a\n", image_mimetype="image/png")]
    )
    parts = received(llm.chat([inline]))["payload"]["messages"][0]["content"]
    assert parts[0]["type"] == "image_url"
    assert parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
