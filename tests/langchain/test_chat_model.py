"""ChatAgentCore beyond the standard suites: shapes, history, sessions, errors, cancellation,
overrides, LangChain features, serialization and pickling, against the local runtime."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from support.agents import cancel_after_first, first_event_then_hang
from support.langchain_runtime import LangChainRuntime
from support.shapes import SHAPE_TABLE, load_fixture, recorded_agent
from syrupy.assertion import SnapshotAssertion

from agentcore_bridge import (
    AgentError,
    InvalidSessionIdError,
    InvalidTargetError,
    ResourceNotFoundError,
    RuntimeClientError,
    StreamInterruptedError,
)
from agentcore_bridge.local import Fault
from agentcore_bridge.sessions import session_id_for
from langchain_agentcore import ChatAgentCore

ANSWER = "Let me think about that. You asked: {}. Here is my answer."
SECRET = "SENTINEL-LANGCHAIN-SECRET-7f6e5d"


def llm(rt: LangChainRuntime, arn: str | None = None, **kwargs: Any) -> ChatAgentCore:
    return ChatAgentCore(**{**rt.params(arn), **kwargs})


def sent(message: AIMessage) -> Any:
    """What the echo agent received: the payload of the call."""
    return json.loads(str(message.content))["payload"]


# --- every response shape x invoke / stream / ainvoke / astream -------------------------------

SHAPES = [name for _, names in SHAPE_TABLE.values() for name in names]
MODES = ("invoke", "stream", "ainvoke", "astream")


def run_mode(model: ChatAgentCore, mode: str) -> AIMessage | AIMessageChunk:
    if mode == "invoke":
        return model.invoke("hi")
    if mode == "ainvoke":
        return asyncio.run(model.ainvoke("hi"))
    if mode == "stream":
        chunks = list(model.stream("hi"))
    else:

        async def collect() -> list[AIMessageChunk]:
            return [c async for c in model.astream("hi")]

        chunks = asyncio.run(collect())
    assert chunks[-1].chunk_position == "last"
    assert sum(1 for c in chunks if c.usage_metadata) <= 1  # usage counted once
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    return merged


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", SHAPES)
def test_every_shape_in_every_mode(lc_runtime: LangChainRuntime, name: str, mode: str) -> None:
    fixture = load_fixture(name)
    arn = lc_runtime.local.add_agent(f"lc-{name}-{mode}".replace("_", "-"), recorded_agent(fixture))
    model = llm(lc_runtime, arn, max_retries=0)
    if fixture.status >= 300:
        with pytest.raises(RuntimeClientError, match="CloudWatch"):
            run_mode(model, mode)
        return
    if fixture.expected_error is not None:
        with pytest.raises(AgentError, match=fixture.expected_error[:20]):
            run_mode(model, mode)
        return
    message = run_mode(model, mode)
    assert message.content == fixture.expected_text
    assert message.response_metadata["model_name"] == arn
    assert len(message.response_metadata["runtime_session_id"]) >= 33
    if fixture.expected_usage is None:
        assert not message.usage_metadata  # never invented
    else:
        assert message.usage_metadata is not None
        assert dict(message.usage_metadata) == {
            k: fixture.expected_usage[k] for k in ("input_tokens", "output_tokens", "total_tokens")
        }


# --- the history rule, seen from what the agent received -------------------------------------

CONVERSATION = [
    SystemMessage("You are terse."),
    HumanMessage("Hi"),
    AIMessage("Hello."),
    HumanMessage("What did I say?"),
]
TRANSCRIPT = "You are terse.\n\nUser: Hi\nAssistant: Hello.\nUser: What did I say?"


@pytest.mark.parametrize(
    ("history", "first_sent", "continued_sent"),
    [
        ("auto", TRANSCRIPT, "And now?"),
        ("full", TRANSCRIPT, TRANSCRIPT + "\nAssistant: Fine.\nUser: And now?"),
        ("last", "What did I say?", "And now?"),
    ],
)
def test_history_modes_as_the_agent_sees_them(
    lc_runtime: LangChainRuntime, history: str, first_sent: str, continued_sent: str
) -> None:
    model = llm(lc_runtime, lc_runtime.echo, history=history)
    first = model.invoke(CONVERSATION)
    assert sent(first) == {"prompt": first_sent}
    session = first.response_metadata["runtime_session_id"]
    more = [*CONVERSATION, AIMessage("Fine."), HumanMessage("And now?")]
    second = model.invoke(more, runtime_session_id=session)
    assert sent(second) == {"prompt": continued_sent}
    assert second.response_metadata["runtime_session_id"] == session


def test_continuing_is_a_one_liner_and_the_model_field_pins_a_session(
    lc_runtime: LangChainRuntime,
) -> None:
    model = llm(lc_runtime, lc_runtime.echo)
    first = model.invoke("Remember 7")
    again = model.invoke("Which number?", runtime_session_id=first.response_metadata["runtime_session_id"])  # fmt: skip
    assert json.loads(str(again.content))["session_id"] == first.response_metadata["runtime_session_id"]  # fmt: skip
    pinned = llm(lc_runtime, lc_runtime.echo, runtime_session_id="pinned-session-" + "p" * 30)
    a, b = pinned.invoke("one"), pinned.invoke("two")
    assert a.response_metadata["runtime_session_id"] == b.response_metadata["runtime_session_id"]
    assert a.response_metadata["runtime_session_id"] == "pinned-session-" + "p" * 30


def test_runnable_with_message_history_session_becomes_the_agentcore_session(
    lc_runtime: LangChainRuntime,
) -> None:
    store: dict[str, InMemoryChatMessageHistory] = {}
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are terse."), MessagesPlaceholder("history"), ("human", "{question}")]
    )
    chain = RunnableWithMessageHistory(
        prompt | llm(lc_runtime, lc_runtime.echo),
        lambda session_id: store.setdefault(session_id, InMemoryChatMessageHistory()),
        input_messages_key="question",
        history_messages_key="history",
    )
    config = {"configurable": {"session_id": "user-42"}}
    first = chain.invoke({"question": "Hi"}, config=config)
    second = chain.invoke({"question": "And again?"}, config=config)
    assert first.response_metadata["runtime_session_id"] == session_id_for("user-42")
    assert second.response_metadata["runtime_session_id"] == session_id_for("user-42")
    assert sent(first) == {"prompt": "You are terse.\n\nUser: Hi"}
    assert sent(second) == {"prompt": "And again?"}  # no duplicated history
    assert len(store["user-42"].messages) == 4


def test_langgraph_thread_id_becomes_the_agentcore_session(lc_runtime: LangChainRuntime) -> None:
    # LangGraph hands its config (configurable.thread_id) to the model call inside a node.
    model = llm(lc_runtime, lc_runtime.echo)
    config = {"configurable": {"thread_id": "thread-1"}}
    answer = model.invoke("Hi", config=config)
    assert answer.response_metadata["runtime_session_id"] == session_id_for("thread-1")
    other = model.invoke("Hi", config={"configurable": {"thread_id": "thread-2"}})
    assert other.response_metadata["runtime_session_id"] == session_id_for("thread-2")


# --- overrides, metadata, usage, stop ------------------------------------------------------


def test_per_call_overrides_reach_the_agent(lc_runtime: LangChainRuntime) -> None:
    model = llm(lc_runtime, lc_runtime.echo)
    session = "override-session-" + "o" * 30
    answer = model.invoke("x", runtime_session_id=session, runtime_user_id="user-9")
    received = json.loads(str(answer.content))
    assert received["session_id"] == session
    assert received["headers"]["x-amzn-bedrock-agentcore-runtime-user-id"] == "user-9"
    prod = llm(lc_runtime).invoke("x", qualifier="prod")
    assert prod.response_metadata["qualifier"] == "prod"
    with pytest.raises(ResourceNotFoundError):
        llm(lc_runtime, max_retries=0).invoke("x", qualifier="missing")
    moved = model.invoke("hello", model=lc_runtime.other)
    assert moved.response_metadata["model_name"] == lc_runtime.other
    assert moved.content == ANSWER.format("hello")


def test_response_metadata_and_usage(lc_runtime: LangChainRuntime) -> None:
    answer = llm(lc_runtime).invoke("meta")
    meta = answer.response_metadata
    assert meta["model_name"] == lc_runtime.stream
    assert meta["content_type"].startswith("text/event-stream")
    assert meta["request_id"]
    assert meta["qualifier"] is None
    assert answer.usage_metadata == {"input_tokens": 34, "output_tokens": 12, "total_tokens": 46}
    assert llm(lc_runtime, lc_runtime.echo).invoke("x").usage_metadata is None


def test_stop_sequences_invoke_and_stream(lc_runtime: LangChainRuntime) -> None:
    model = llm(lc_runtime)
    assert model.invoke("x", stop=["You asked"]).content == "Let me think about that. "
    streamed = "".join(str(c.content) for c in model.stream("x", stop=["asked: x"]))
    assert streamed == "Let me think about that. You "
    fielded = llm(lc_runtime, stop=["Here is"])
    assert fielded.invoke("y").content == "Let me think about that. You asked: y. "


# --- LangChain features ------------------------------------------------------------------------


class TokenCounter(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)


def test_callbacks_get_each_streamed_delta(lc_runtime: LangChainRuntime) -> None:
    counter = TokenCounter()
    text = "".join(
        str(c.content) for c in llm(lc_runtime).stream("cb", config={"callbacks": [counter]})
    )
    deltas = ["Let me think about ", "that. ", "You asked: ", "cb", ". ", "Here is my answer."]
    assert counter.tokens == [*deltas, ""]  # then the closing chunk (usage, metadata)
    assert "".join(counter.tokens) == text
    streaming = llm(lc_runtime, streaming=True)
    counter2 = TokenCounter()
    answer = streaming.invoke("s", config={"callbacks": [counter2]})
    assert answer.content == ANSWER.format("s")
    assert answer.usage_metadata == {"input_tokens": 34, "output_tokens": 12, "total_tokens": 46}
    assert len([t for t in counter2.tokens if t]) == 6


def test_lcel_batch_retry_fallbacks_and_events(lc_runtime: LangChainRuntime) -> None:
    chain = ChatPromptTemplate.from_template("{q}") | llm(lc_runtime) | StrOutputParser()
    assert chain.invoke({"q": "pipe"}) == ANSWER.format("pipe")
    results = llm(lc_runtime).batch(["a", "b", "c", "d"], config={"max_concurrency": 2})
    assert [r.content for r in results] == [ANSWER.format(x) for x in "abcd"]
    broken = llm(lc_runtime, "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/nope", max_retries=0)  # fmt: skip
    assert broken.with_fallbacks([llm(lc_runtime)]).invoke("fb").content == ANSWER.format("fb")
    assert broken.with_retry(stop_after_attempt=2).with_fallbacks([llm(lc_runtime)]).invoke("r").content == ANSWER.format("r")  # fmt: skip

    async def events() -> list[str]:
        kinds = []
        async for event in llm(lc_runtime).astream_events("ev", version="v2"):
            kinds.append(event["event"])
        results = await llm(lc_runtime).abatch(["x", "y"], config={"max_concurrency": 2})
        assert [r.content for r in results] == [ANSWER.format("x"), ANSWER.format("y")]
        return kinds

    kinds = asyncio.run(events())
    assert kinds[0] == "on_chat_model_start"
    assert kinds.count("on_chat_model_stream") >= 6
    assert kinds[-1] == "on_chat_model_end"


# --- errors and cancellation ----------------------------------------------------------------


def test_errors_surface_typed(lc_runtime: LangChainRuntime) -> None:
    model = llm(lc_runtime, max_retries=0)
    before = len(lc_runtime.local.invocations)
    with pytest.raises(InvalidSessionIdError):
        model.invoke("x", runtime_session_id="short")
    with pytest.raises(InvalidTargetError):
        llm(lc_runtime, region_name="eu-west-1").invoke("x")
    assert len(lc_runtime.local.invocations) == before  # refused before any request
    arn = lc_runtime.local.add_agent("lc-drop", recorded_agent(load_fixture("09_strands_stream_async"), piece=400))  # fmt: skip
    lc_runtime.local.inject(Fault.DROP_MID_STREAM, runtime_arn=arn, after_chunks=3)
    chunks: list[AIMessageChunk] = []

    def consume() -> None:
        for chunk in llm(lc_runtime, arn, max_retries=0).stream("x"):
            chunks.append(chunk)

    with pytest.raises(StreamInterruptedError):
        consume()
    assert chunks  # some text arrived first ...
    assert not any(c.chunk_position == "last" for c in chunks)  # ... and it never ended quietly


def test_cancelling_astream_stops_the_agent(lc_runtime: LangChainRuntime) -> None:
    agent, agent_finished = first_event_then_hang()

    arn = lc_runtime.local.add_agent("lc-cancel", agent)

    model = llm(lc_runtime, arn)

    async def texts() -> AsyncIterator[str]:
        async def gen() -> AsyncIterator[str]:
            async for chunk in model.astream("x"):
                yield str(chunk.content)

        return gen()

    assert asyncio.run(cancel_after_first(texts)) == "first "
    assert agent_finished.wait(10)  # seen server side: the agent's finally ran


# --- serialization, secrets, pickling ----------------------------------------------------------


def test_no_secrets_in_repr_str_or_dumps(lc_runtime: LangChainRuntime) -> None:
    model = llm(lc_runtime, aws_secret_access_key=SECRET, bearer_token=SECRET + "-bearer")
    for text in (repr(model), str(model), dumps(model), json.dumps(dumpd(model))):
        assert SECRET not in text
    assert model.lc_secrets["aws_secret_access_key"] == "AWS_SECRET_ACCESS_KEY"
    assert model.lc_secrets["bearer_token"] == "AGENTCORE_BEARER_TOKEN"


def test_serdes_round_trip(lc_runtime: LangChainRuntime, snapshot: SnapshotAssertion) -> None:
    model = ChatAgentCore(
        model="arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/unit-test-agent",
        endpoint_url="http://127.0.0.1:9", aws_access_key_id="AKIAUNITTEST00000001",
        aws_secret_access_key="unit-test-secret", qualifier="prod", history="full",
    )  # fmt: skip
    serialized = dumpd(model)
    assert serialized == snapshot(name="serialized")
    revived = load(
        serialized,
        valid_namespaces=["langchain_agentcore"],
        allowed_objects=[ChatAgentCore],
        secrets_map={"AWS_ACCESS_KEY_ID": "AKIAUNITTEST00000001", "AWS_SECRET_ACCESS_KEY": "s2"},
    )
    assert isinstance(revived, ChatAgentCore)
    assert (revived.model, revived.qualifier, revived.history) == (model.model, "prod", "full")
    assert revived.aws_secret_access_key is not None
    assert revived.aws_secret_access_key.get_secret_value() == "s2"


def test_pickles_without_secrets_and_works_in_another_process(
    lc_runtime: LangChainRuntime, tmp_path: Any
) -> None:
    model = llm(lc_runtime, aws_secret_access_key=lc_runtime.local.credentials.secret_access_key)
    model.invoke("warm up: a client exists and must not travel")
    blob = pickle.dumps(model)
    assert lc_runtime.local.credentials.secret_access_key.encode() not in blob
    (tmp_path / "model.pkl").write_bytes(blob)
    script = textwrap.dedent(f"""
        import pickle
        model = pickle.loads(open({str(tmp_path / "model.pkl")!r}, "rb").read())
        print(model.invoke("from another process").content)
    """)
    env = {**os.environ, **lc_runtime.local.environment()}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == ANSWER.format("from another process")


def test_class_docstring_examples_run(lc_runtime: LangChainRuntime, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    for key, value in lc_runtime.local.environment().items():
        monkeypatch.setenv(key, value)
    doc = ChatAgentCore.__doc__ or ""
    blocks = [
        textwrap.dedent(block.split("\n\n", 1)[1]) if "\n\n" in block else ""
        for block in doc.split(".. code-block:: python")[1:]
    ]
    namespace: dict[str, Any] = {"runtime_arn": lc_runtime.stream, "endpoint_url": lc_runtime.local.endpoint_url}  # fmt: skip
    executed = 0
    for block in blocks:
        code = textwrap.dedent("\n".join(
            line for line in block.splitlines() if line.startswith("    ") or not line.strip()
        ))  # fmt: skip
        exec(compile(code, "<ChatAgentCore docstring>", "exec"), namespace)
        executed += 1
    assert executed == 7
    assert isinstance(namespace["llm"], ChatAgentCore)


def test_langgraph_graph_with_checkpointer(lc_runtime: LangChainRuntime) -> None:
    """The documented LangGraph idiom: the graph's thread_id becomes the AgentCore session, and
    the agent receives each turn once although the graph hands the model the whole history."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, MessagesState, StateGraph

    model = llm(lc_runtime, lc_runtime.echo)

    def call_model(state: MessagesState) -> dict[str, list[Any]]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", call_model)
    builder.add_edge(START, "agent")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "graph-thread-1"}}
    first = graph.invoke({"messages": [("system", "Be brief."), ("human", "Hi")]}, config)
    second = graph.invoke({"messages": [("human", "Again?")]}, config)
    assert len(second["messages"]) == 5  # the graph keeps the whole conversation ...
    for state in (first, second):
        answer = state["messages"][-1]
        assert answer.response_metadata["runtime_session_id"] == session_id_for("graph-thread-1")
    assert sent(first["messages"][-1]) == {"prompt": "Be brief.\n\nUser: Hi"}
    assert sent(second["messages"][-1]) == {"prompt": "Again?"}  # ... the agent gets it once


def test_fields_changed_after_first_use_take_effect(lc_runtime: LangChainRuntime) -> None:
    model = llm(lc_runtime)
    assert model.invoke("a").response_metadata["model_name"] == lc_runtime.stream
    model.model = lc_runtime.other
    model.qualifier = None
    assert model.invoke("b").response_metadata["model_name"] == lc_runtime.other


def test_payload_extra_changed_in_place_takes_effect(lc_runtime: LangChainRuntime) -> None:
    model = llm(lc_runtime, lc_runtime.echo, payload_extra={"tenant": "a"})
    assert sent(model.invoke("x"))["tenant"] == "a"
    model.payload_extra["tenant"] = "b"  # the same dict, changed: not a field assignment
    assert sent(model.invoke("x"))["tenant"] == "b"
