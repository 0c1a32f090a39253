"""An A2A agent scripted by the user's text, for driving every A2A answer shape in tests.

Built with a2a-sdk's server (an ``AgentExecutor`` behind ``DefaultRequestHandler`` and
``A2AStarletteApplication``, tasks in memory). The first word of the user's text picks the answer:

- ``stream``: a Task whose text arrives as artifact-update chunks (``Streamed``, `` answer``,
  `` for you.``; ``append`` on all but the first, ``lastChunk`` on the last), then completed;
- ``slow``: as ``stream``, with ``SLOW_CHUNK_DELAY`` seconds before each chunk;
- ``status``: a Task answered only by its completed status message (no artifact);
- ``input``: a Task in ``input-required`` asking for a name; the follow-up message with the same
  ``taskId`` completes it with the artifact ``Hello, <text>.``;
- ``fail``: a Task that fails, with a status message;
- ``error``: a JSON-RPC error from the agent (code ``AGENT_ERROR_CODE``);
- anything else: a plain Message ``Echo: <text>``.

Every agent Message (the plain answer, each status message) carries ``metadata.received``: the
``contextId`` and ``taskId`` the agent worked under, whether the task already existed, the text
parts of the message it received (only the new turn, if the client sends turns one by one), the
AgentCore headers it saw and ``AGENTCORE_RUNTIME_URL``. Each streamed artifact's first chunk
carries it too.

``build_app()`` makes a fresh app; its task store and locks belong to the event loop that first
uses them, so each in-process ``LocalRuntime`` needs its own. ``app`` is one for worker
processes: ``add_agent(name, "agentcore_bridge.local.agents.a2a_echo:app", protocol="a2a")``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any
from uuid import uuid4

from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.apps import A2AStarletteApplication
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentSkill,
    JSONRPCError,
    Message,
    Part,
    Role,
    TaskState,
    TextPart,
    UnsupportedOperationError,
)
from a2a.utils import new_task
from a2a.utils.errors import ServerError
from starlette.applications import Starlette

STREAM_CHUNKS = ("Streamed", " answer", " for you.")
SLOW_CHUNK_DELAY = 0.3
AGENT_ERROR_CODE = -32099
FAILURE_TEXT = "The scripted task failed."
INPUT_QUESTION = "What is your name?"
DEFAULT_URL = "http://127.0.0.1:9000/"
# Headers the agent reports back (never Authorization: an OAuth runtime forwards the token).
_REPORTED_HEADER_PREFIXES = ("x-amzn-bedrock-agentcore-", "traceparent", "mcp-", "a2a-")


def _received(context: RequestContext) -> dict[str, Any]:
    message = context.message
    texts = [
        part.root.text for part in (message.parts if message else []) if part.root.kind == "text"
    ]
    state = context.call_context.state if context.call_context is not None else {}
    headers = {
        name.lower(): value
        for name, value in dict(state.get("headers", {})).items()
        if name.lower().startswith(_REPORTED_HEADER_PREFIXES)
    }
    return {
        "contextId": context.context_id,
        "taskId": context.task_id,
        "existingTask": context.current_task is not None,
        "texts": texts,
        "headers": headers,
        "runtimeUrl": os.environ.get("AGENTCORE_RUNTIME_URL"),
        "pid": os.getpid(),
    }


def _text_message(
    text: str, context_id: str | None, task_id: str | None, received: dict[str, Any]
) -> Message:
    return Message(
        role=Role.agent,
        parts=[Part(root=TextPart(text=text))],
        message_id=str(uuid4()),
        context_id=context_id,
        task_id=task_id,
        metadata={"received": received},
    )


class ScriptedEchoExecutor(AgentExecutor):
    """Answers as the first word of the user's text says (see the module docstring)."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        text = context.get_user_input()
        received = _received(context)
        current = context.current_task
        if current is not None and current.status.state == TaskState.input_required:
            updater = TaskUpdater(event_queue, current.id, current.context_id)
            await updater.add_artifact([Part(root=TextPart(text=f"Hello, {text}."))])
            await updater.complete(_text_message("Done.", current.context_id, current.id, received))
            return
        command = text.split(maxsplit=1)[0].lower() if text.strip() else ""
        if command == "error":
            raise ServerError(
                error=JSONRPCError(
                    code=AGENT_ERROR_CODE, message="Scripted agent error", data=received
                )
            )
        if command not in ("stream", "slow", "status", "input", "fail"):
            await event_queue.enqueue_event(
                _text_message(f"Echo: {text}", context.context_id, context.task_id, received)
            )
            return
        assert context.message is not None
        task = new_task(context.message)
        await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        await updater.start_work()
        if command in ("stream", "slow"):
            for index, chunk in enumerate(STREAM_CHUNKS):
                if command == "slow":
                    await asyncio.sleep(SLOW_CHUNK_DELAY)
                await updater.add_artifact(
                    [Part(root=TextPart(text=chunk))],
                    artifact_id="answer",
                    name="answer",
                    metadata={"received": received} if index == 0 else None,
                    append=index > 0,
                    last_chunk=index == len(STREAM_CHUNKS) - 1,
                )
            await updater.complete()
        elif command == "status":
            await updater.complete(
                _text_message("Status-only answer.", task.context_id, task.id, received)
            )
        elif command == "input":
            await updater.requires_input(
                _text_message(INPUT_QUESTION, task.context_id, task.id, received), final=True
            )
        else:
            await updater.failed(_text_message(FAILURE_TEXT, task.context_id, task.id, received))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise ServerError(error=UnsupportedOperationError())


def agent_card(url: str | None = None) -> AgentCard:
    return AgentCard(
        name="a2a-echo",
        description="Scripted A2A echo agent for the local AgentCore runtime",
        url=url or os.environ.get("AGENTCORE_RUNTIME_URL", DEFAULT_URL),
        version="1.0.0",
        protocol_version="0.3.0",
        default_input_modes=["text"],
        default_output_modes=["text"],
        capabilities=AgentCapabilities(streaming=True),
        skills=[
            AgentSkill(
                id="echo",
                name="echo",
                description="Echoes the text, or answers as its first word scripts",
                tags=["test"],
            )
        ],
    )


def build_app() -> Starlette:
    """A fresh A2A Starlette app (its own task store)."""
    handler = DefaultRequestHandler(
        agent_executor=ScriptedEchoExecutor(), task_store=InMemoryTaskStore()
    )
    return A2AStarletteApplication(agent_card=agent_card(), http_handler=handler).build()


app = build_app()
