"""Worker processes that continue one conversation turn by turn, for the tests of the shared
session store: each holds its own model (so its own in-process memory), as a gunicorn worker or
a proxy replica would."""

from __future__ import annotations

from multiprocessing.connection import Connection
from typing import Any


def chat_worker(conn: Connection, kind: str, settings: dict[str, Any]) -> None:
    """Answer ``(conversation, session_id)`` requests with the agent's reply text until None.

    ``kind``: ``langchain`` (ChatAgentCore), ``llama`` (LlamaIndex AgentCore) or ``completion``
    (the seed's completion()); ``conversation`` is a list of ``(role, text)`` pairs."""
    if kind == "langchain":
        from langchain_agentcore import ChatAgentCore

        llm = ChatAgentCore(**settings)

        def answer(conversation: list[tuple[str, str]], session: str) -> str:
            return str(llm.invoke(conversation, runtime_session_id=session).content)

    elif kind == "llama":
        from llama_index.core.llms import ChatMessage

        from llama_index_agentcore import AgentCore

        index_llm = AgentCore(**settings)

        def answer(conversation: list[tuple[str, str]], session: str) -> str:
            roles = {"human": "user", "ai": "assistant", "system": "system"}
            messages = [ChatMessage(role=roles[r], content=t) for r, t in conversation]
            reply = index_llm.chat(messages, runtime_session_id=session)
            return str(reply.message.content)

    else:
        from agentcore_bridge import completion

        options = dict(settings)
        model = "bedrock/agentcore/" + options.pop("model")
        options["api_base"] = options.pop("endpoint_url")

        def answer(conversation: list[tuple[str, str]], session: str) -> str:
            roles = {"human": "user", "ai": "assistant", "system": "system"}
            messages = [{"role": roles[r], "content": t} for r, t in conversation]
            reply = completion(model=model, messages=messages, runtimeSessionId=session, **options)
            return str(reply.choices[0].message.content)

    while True:
        request = conn.recv()
        if request is None:
            break
        try:
            conn.send(("ok", answer(*request)))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
