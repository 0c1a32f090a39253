"""The A2A twin of bench_agents' 200 ms agent: an a2a-sdk server whose executor sleeps 0.2 s
and answers the Message ``done`` (asynchronously, so hundreds of calls run at once)."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.apps import A2AStarletteApplication
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.tasks import InMemoryTaskStore
from a2a.types import AgentCapabilities, AgentCard, AgentSkill, Message, Part, Role, TextPart
from starlette.applications import Starlette


class SleepThenDone(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        await asyncio.sleep(0.2)
        await event_queue.enqueue_event(
            Message(
                role=Role.agent,
                message_id=uuid4().hex,
                context_id=context.context_id,
                parts=[Part(root=TextPart(text="done"))],
            )
        )

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        return None


def build_app() -> Starlette:
    card = AgentCard(
        name="bench-a2a",
        description="Sleeps 200 ms, answers done",
        url="http://127.0.0.1:9000/",
        version="1.0.0",
        default_input_modes=["text"],
        default_output_modes=["text"],
        capabilities=AgentCapabilities(streaming=True),
        skills=[AgentSkill(id="sleep", name="sleep", description="sleep", tags=["bench"])],
    )
    handler = DefaultRequestHandler(agent_executor=SleepThenDone(), task_store=InMemoryTaskStore())
    return A2AStarletteApplication(agent_card=card, http_handler=handler).build()


app = build_app()
