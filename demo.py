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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
