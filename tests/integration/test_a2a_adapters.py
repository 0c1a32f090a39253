"""A2A runtimes through every entry point beyond the core client: ChatAgentCore, AgentCore
(LlamaIndex), completion(), and the proxy (a config mixing an HTTP and an A2A runtime, read with
the official openai client). The agent is a2a-sdk's server scripted by its first word
(agentcore_bridge.local.agents.a2a_echo), hosted by the local runtime."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import uvicorn
from client_support import attempts, local_settings
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.messages import HumanMessage
from langchain_core.runnables.history import RunnableWithMessageHistory
from llama_index.core.llms import ChatMessage
from support.a2a_cases import CASES, MODES

from agentcore_bridge import AgentError, acompletion, completion
from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import a2a_echo, strands_stream
from agentcore_bridge.proxy import create_app
from agentcore_bridge.proxy.config import build_config
from langchain_agentcore import ChatAgentCore
from llama_index_agentcore import AgentCore


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        yield runtime


@pytest.fixture(scope="module")
def arn(local: LocalRuntime) -> str:
    return local.add_agent("a2a-adapters", a2a_echo.build_app(), protocol="a2a")


def params(local: LocalRuntime, arn: str, **extra: Any) -> dict[str, Any]:
    return local_settings(local, model=arn, protocol="a2a", **extra)


def langchain_call(llm: ChatAgentCore, mode: str, text: Any, **kw: Any) -> tuple[str, dict]:
    """The answer text and the metadata carrying the task state."""
    if mode == "invoke":
        message = llm.invoke(text, **kw)
        return str(message.content), message.response_metadata
    if mode == "stream":
        chunks = list(llm.stream(text, **kw))
        merged = chunks[0]
        for chunk in chunks[1:]:
            merged = merged + chunk
        return str(merged.content), merged.response_metadata

    async def body() -> tuple[str, dict]:
        if mode == "ainvoke":
            message = await llm.ainvoke(text, **kw)
            return str(message.content), message.response_metadata
        chunks = [chunk async for chunk in llm.astream(text, **kw)]
        merged = chunks[0]
        for chunk in chunks[1:]:
            merged = merged + chunk
        return str(merged.content), merged.response_metadata

    return asyncio.run(body())


def llama_call(llm: AgentCore, mode: str, text: str, **kw: Any) -> tuple[str, dict]:
    messages = [ChatMessage(role="user", content=text)]
    if mode == "invoke":
        reply = llm.chat(messages, **kw)
        return str(reply.message.content), reply.additional_kwargs
    if mode == "stream":
        replies = list(llm.stream_chat(messages, **kw))
        return str(replies[-1].message.content), replies[-1].additional_kwargs

    async def body() -> tuple[str, dict]:
        if mode == "ainvoke":
            reply = await llm.achat(messages, **kw)
            return str(reply.message.content), reply.additional_kwargs
        replies = [reply async for reply in await llm.astream_chat(messages, **kw)]
        return str(replies[-1].message.content), replies[-1].additional_kwargs

    return asyncio.run(body())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("adapter", ["ChatAgentCore", "AgentCore"])
def test_every_answer_shape_through_both_adapters(
    local: LocalRuntime, arn: str, adapter: str, case: str, mode: str
) -> None:
    text, expected, state = CASES[case]
    if adapter == "ChatAgentCore":
        run = lambda: langchain_call(ChatAgentCore(**params(local, arn)), mode, text)  # noqa: E731
    else:
        run = lambda: llama_call(AgentCore(**params(local, arn)), mode, text)  # noqa: E731
    if expected is None:
        with pytest.raises(AgentError):
            run()
        return
    answer, metadata = run()
    assert answer == expected
    assert metadata["a2a_task_state"] == state


def test_stop_sequences_and_callbacks_work_on_a2a_streams(local: LocalRuntime, arn: str) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    tokens: list[str] = []

    class Collect(BaseCallbackHandler):
        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            tokens.append(token)

    llm = ChatAgentCore(**params(local, arn), callbacks=[Collect()])
    chunks = [c.content for c in llm.stream("stream please", stop=[" for"])]
    assert "".join(str(c) for c in chunks) == "Streamed answer"
    assert "".join(tokens) == "Streamed answer"


def test_a_langgraph_thread_is_one_a2a_conversation(local: LocalRuntime, arn: str) -> None:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, MessagesState, StateGraph

    llm = ChatAgentCore(**params(local, arn))

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [llm.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_edge(START, "agent")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "a2a-thread-1"}}
    before = len(attempts(local, arn))
    first = app.invoke({"messages": [HumanMessage("input please")]}, config)
    assert first["messages"][-1].response_metadata["a2a_task_state"] == "input-required"
    second = app.invoke({"messages": [HumanMessage("Ada")]}, config)
    assert second["messages"][-1].content == "Hello, Ada.\n\nDone."
    sent = [json.loads(i.body)["params"]["message"] for i in attempts(local, arn)[before:]]
    assert sent[0]["contextId"] == sent[1]["contextId"]
    assert sent[1]["taskId"]  # the waiting task continued
    assert [p["text"] for p in sent[1]["parts"]] == ["Ada"]


def test_runnable_with_message_history_keeps_one_a2a_context(local: LocalRuntime, arn: str) -> None:
    histories: dict[str, InMemoryChatMessageHistory] = {}
    chain = RunnableWithMessageHistory(
        ChatAgentCore(**params(local, arn)),
        lambda session_id: histories.setdefault(session_id, InMemoryChatMessageHistory()),
    )
    config = {"configurable": {"session_id": "a2a-user-7"}}
    before = len(attempts(local, arn))
    chain.invoke([HumanMessage("hello one")], config)
    chain.invoke([HumanMessage("hello two")], config)
    sent = [json.loads(i.body)["params"]["message"] for i in attempts(local, arn)[before:]]
    assert sent[0]["contextId"] == sent[1]["contextId"]
    assert [p["text"] for p in sent[1]["parts"]] == ["hello two"]


@pytest.mark.parametrize("stream", [False, True])
def test_completion_with_protocol_a2a(local: LocalRuntime, arn: str, stream: bool) -> None:
    kw = {
        "api_base": local.endpoint_url,
        "aws_access_key_id": local.credentials.access_key_id,
        "aws_secret_access_key": local.credentials.secret_access_key,
        "protocol": "a2a",
    }
    messages = [{"role": "user", "content": "stream please"}]
    model = f"bedrock/agentcore/{arn}"
    if stream:
        chunks = completion(model=model, messages=messages, stream=True, **kw)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        text = completion(model=model, messages=messages, **kw).choices[0].message.content
    assert text == "Streamed answer for you."

    async def async_text() -> str:
        answer = await acompletion(model=model, messages=messages, **kw)
        return answer.choices[0].message.content

    assert asyncio.run(async_text()) == "Streamed answer for you."


def test_the_proxy_serves_an_http_and_an_a2a_runtime_to_the_openai_client(
    local: LocalRuntime, arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_arn = local.add_agent("a2a-proxy-http-neighbour", strands_stream.app)
    credentials = {
        "aws_region_name": "us-west-2",
        "aws_access_key_id": local.credentials.access_key_id,
        "aws_secret_access_key": local.credentials.secret_access_key,
    }
    raw = {
        "model_list": [
            {"model_name": "http-agent",
             "litellm_params": {"model": f"bedrock/agentcore/{http_arn}", **credentials}},
            {"model_name": "a2a-agent",
             "litellm_params": {"model": f"bedrock/agentcore/{arn}", "protocol": "a2a",
                                **credentials}},
        ],
        "general_settings": {"master_key": "sk-a2a-proxy-test-key-0123456789"},
    }  # fmt: skip
    for key, value in local.environment().items():
        monkeypatch.setenv(key, value)
    config = build_config(raw, dict(local.environment()))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{sock.getsockname()[1]}/v1",
            api_key="sk-a2a-proxy-test-key-0123456789",
        )
        answers = {}
        for model, prompt in (("http-agent", "hi"), ("a2a-agent", "stream please")):
            stream = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": prompt}], stream=True
            )
            answers[model] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        whole = client.chat.completions.create(
            model="a2a-agent", messages=[{"role": "user", "content": "status please"}]
        )
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    assert answers["http-agent"] == "Let me think about that. You asked: hi. Here is my answer."
    assert answers["a2a-agent"] == "Streamed answer for you."
    assert whole.choices[0].message.content == "Status-only answer."
