"""`make demo`: the main job, offline. An agent runs behind the embedded local AgentCore runtime
(SigV4 verified, as AWS does) and is called the way an application calls a deployed one: from
LangChain, streamed, from a LlamaIndex query engine, across a continued session, from the core
client's async fan-out and from the seed's completion() call shape; then an A2A-protocol agent
from LangChain. No AWS account needed.

With AGENTCORE_RUNTIME_ARN set (and AWS credentials), the same calls go to that runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding

from agentcore_bridge import AgentCoreClient, completion
from langchain_agentcore import ChatAgentCore
from llama_index_agentcore import AgentCore


@contextlib.contextmanager
def runtime_to_call() -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """(runtime ARN, echo runtime ARN or None, connection settings): AWS or the local runtime."""
    arn = os.environ.get("AGENTCORE_RUNTIME_ARN")
    if arn:
        print(f"calling the runtime in AGENTCORE_RUNTIME_ARN: {arn}")
        yield arn, None, {}
        return
    from agentcore_bridge.local import LocalRuntime
    from agentcore_bridge.local.agents import echo, strands_stream

    # The SDK logs every invocation at INFO as JSON; the demo shows the caller's side.
    for name in ("bedrock_agentcore", "bedrock_agentcore.app"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with LocalRuntime() as local:
        stream_arn = local.add_agent("my-agent-runtime", strands_stream.app)
        echo_arn = local.add_agent("echo", echo.app)
        env = local.environment()
        print(f"local AgentCore runtime on {local.endpoint_url}, hosting {stream_arn}")
        yield (
            stream_arn,
            echo_arn,
            {
                "endpoint_url": local.endpoint_url,
                "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
            },
        )


def a2a_step(out: Any) -> None:
    """An agent deployed with AgentCore's A2A protocol, called from LangChain: the same chat
    model with protocol="a2a" (AGENTCORE_A2A_RUNTIME_ARN names a deployed one)."""
    out.write("\n7. an A2A agent (a2a-sdk server) from LangChain: protocol='a2a'\n")
    arn = os.environ.get("AGENTCORE_A2A_RUNTIME_ARN")
    if arn:
        llm = ChatAgentCore(model=arn, protocol="a2a")
        reply = llm.invoke("Hello")
        out.write(f"   {reply.content} (task state {reply.response_metadata['a2a_task_state']})\n")
        return
    if os.environ.get("AGENTCORE_RUNTIME_ARN"):
        out.write("   skipped: set AGENTCORE_A2A_RUNTIME_ARN to call a deployed A2A runtime\n")
        return
    from agentcore_bridge.local import LocalRuntime
    from agentcore_bridge.local.agents import a2a_echo

    with LocalRuntime() as local:
        arn = local.add_agent("my-a2a-agent", a2a_echo.build_app(), protocol="a2a")
        env = local.environment()
        llm = ChatAgentCore(
            model=arn, protocol="a2a", endpoint_url=local.endpoint_url,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )  # fmt: skip
        card = llm.client.agent_card()
        out.write(f"   agent card: {card['name']!r}, skills {[s['id'] for s in card['skills']]}\n")
        out.write("   streamed: ")
        for chunk in llm.stream("stream the answer"):
            out.write(f"[{chunk.content}]" if chunk.content else "")
        question = llm.invoke("input needed")
        session = question.response_metadata["runtime_session_id"]
        state = question.response_metadata["a2a_task_state"]
        out.write(f"\n   the agent asks: {question.content!r} (task state {state})\n")
        answer = llm.invoke(
            [HumanMessage("input needed"), question, HumanMessage("Ada")],
            runtime_session_id=session,
        )
        state = answer.response_metadata["a2a_task_state"]
        out.write(f"   same session, the task continues: {indented(answer.content)} ({state})\n")


def mcp_tools_step(out: Any) -> None:
    """Tools served over MCP by an AgentCore runtime, used by agents: a LangGraph agent (model
    node, ToolNode) and a LlamaIndex FunctionAgent, each driven by a scripted tool-calling model
    (no LLM needed) that asks for add(2, 3), then answers with the tool's result. The MCP server
    runs on the local runtime (AGENTCORE_MCP_RUNTIME_ARN names a deployed one: its tools listed)."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage, ToolMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
    from llama_index.core.llms import MockFunctionCallingLLM

    from langchain_agentcore import load_agentcore_tools
    from llama_index_agentcore import AgentCoreToolSpec

    out.write("\n8. MCP tools on AgentCore: a LangGraph and a LlamaIndex agent call add(2, 3)\n")
    deployed = os.environ.get("AGENTCORE_MCP_RUNTIME_ARN")
    if deployed:
        names = [t.name for t in asyncio.run(load_agentcore_tools(deployed))]
        out.write(f"   tools of {deployed}: {names}\n")
        return
    if os.environ.get("AGENTCORE_RUNTIME_ARN"):
        out.write("   (an MCP server on a local runtime: no MCP runtime named)\n")

    class ScriptedToolCaller(BaseChatModel):
        """Asks for add(2, 3), then answers with what the tool returned."""

        @property
        def _llm_type(self) -> str:
            return "scripted-tool-caller"

        def _generate(
            self, messages: list[BaseMessage], stop: list[str] | None = None,
            run_manager: Any = None, **kwargs: Any,
        ) -> ChatResult:  # fmt: skip
            last = messages[-1]
            if isinstance(last, ToolMessage):
                reply = AIMessage(f"2 + 3 = {last.text}")
            else:
                call = {
                    "name": "add",
                    "args": {"a": 2, "b": 3},
                    "id": "call-1",
                    "type": "tool_call",
                }
                reply = AIMessage("", tool_calls=[call])
            return ChatResult(generations=[ChatGeneration(message=reply)])

    def scripted_llama(messages: list[ChatMessage], **kwargs: Any) -> ChatMessage:
        results = [m for m in messages if m.role == MessageRole.TOOL]
        if results:
            return ChatMessage(role=MessageRole.ASSISTANT, content=f"2 + 3 = {results[-1].content}")
        call = ToolCallBlock(tool_call_id="call-1", tool_name="add", tool_kwargs={"a": 2, "b": 3})
        return ChatMessage(role=MessageRole.ASSISTANT, blocks=[call])

    from agentcore_bridge.local import LocalRuntime
    from agentcore_bridge.local.agents import mcp_tools

    with LocalRuntime() as local:
        arn = local.add_agent("my-mcp-tools", mcp_tools.build_app(), protocol="mcp")
        env = local.environment()
        settings = {
            "endpoint_url": local.endpoint_url,
            "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        }

        async def run() -> tuple[list[str], str, str]:
            tools = await load_agentcore_tools(arn, **settings)
            model = ScriptedToolCaller()

            async def call_model(state: MessagesState) -> dict[str, list[BaseMessage]]:
                return {"messages": [await model.ainvoke(state["messages"])]}

            graph = StateGraph(MessagesState)
            graph.add_node("model", call_model)
            graph.add_node("tools", ToolNode(tools))
            graph.add_edge(START, "model")
            graph.add_conditional_edges("model", tools_condition)
            graph.add_edge("tools", "model")
            state = await graph.compile().ainvoke({"messages": [HumanMessage("What is 2 + 3?")]})
            langgraph_answer = str(state["messages"][-1].content)

            spec = AgentCoreToolSpec(arn, **settings)
            llama_tools: list[Any] = await spec.to_tool_list_async()
            agent = FunctionAgent(
                tools=llama_tools,
                llm=MockFunctionCallingLLM(response_generator=scripted_llama),
            )
            llama_answer = str(await agent.run("What is 2 + 3?"))
            return [t.name for t in tools], langgraph_answer, llama_answer

        names, langgraph_answer, llama_answer = asyncio.run(run())
        out.write(f"   the MCP runtime's tools: {names}\n")
        out.write(f"   LangGraph agent: {langgraph_answer}\n")
        out.write(f"   LlamaIndex FunctionAgent: {llama_answer}\n")


def indented(text: object) -> str:
    return str(text).replace("\n", "\n   | ")


def main() -> int:
    out = sys.stdout
    with runtime_to_call() as (arn, echo_arn, settings):
        llm = ChatAgentCore(model=arn, **settings)

        out.write(
            "\n1. LangChain: ChatAgentCore.invoke (the demo agent repeats what it received)\n"
        )
        reply = llm.invoke(
            [SystemMessage("You are terse."), HumanMessage("What time is it in Tokyo?")]
        )
        session = reply.response_metadata["runtime_session_id"]
        out.write(f"   {indented(reply.content)}\n   usage {reply.usage_metadata}\n")
        out.write(f"   session {session}\n")

        out.write("\n2. streamed, delta by delta\n   ")
        for chunk in llm.stream("Tell me a story"):
            out.write(f"[{chunk.content}]" if chunk.content else "")
            out.flush()

        out.write("\n\n3. LlamaIndex: a query engine over two documents\n")
        documents = [Document(text="The office opens at 9."), Document(text="Lunch is at noon.")]
        index = VectorStoreIndex.from_documents(documents, embed_model=MockEmbedding(embed_dim=8))
        engine = index.as_query_engine(llm=AgentCore(model=arn, **settings))
        out.write(f"   {indented(engine.query('When does the office open?'))}\n")

        out.write("\n4. a continued session: the agent receives each message once\n")
        probe = ChatAgentCore(model=echo_arn or arn, **settings)
        conversation = [SystemMessage("You are terse."), HumanMessage("Hi")]
        first = probe.invoke(conversation)
        conversation += [AIMessage("Hello."), HumanMessage("What did I say?")]
        second = probe.invoke(
            conversation, runtime_session_id=first.response_metadata["runtime_session_id"]
        )
        for label, message in (("first call ", first), ("second call", second)):
            if echo_arn:  # the echo agent answers with the payload it received
                sent = json.loads(str(message.content))["payload"]
                out.write(f"   {label} sent {json.dumps(sent, ensure_ascii=False)}\n")
            else:
                out.write(f"   {label}: {message.content}\n")

        out.write("\n5. the core client: 20 concurrent calls on one event loop\n")
        client = AgentCoreClient(arn, **settings)

        async def fan_out() -> list[str]:
            async with client:
                answers = await asyncio.gather(*(client.ainvoke(f"q{i}") for i in range(20)))
            return [answer.text for answer in answers]

        texts = asyncio.run(fan_out())
        out.write(f"   {len(texts)} answers, e.g. {texts[7]!r}\n")

        out.write("\n6. the seed's completion() call shape, OpenAI-format result\n")
        response = completion(
            model=f"bedrock/agentcore/{arn}",
            messages=[{"role": "user", "content": "Explain machine learning in simple terms"}],
            api_base=settings.get("endpoint_url"),
            aws_access_key_id=settings.get("aws_access_key_id"),
            aws_secret_access_key=settings.get("aws_secret_access_key"),
        )
        out.write(f"   {response.choices[0].message.content}\n   usage: {response.usage}\n")
    a2a_step(out)
    mcp_tools_step(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
