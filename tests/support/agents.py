"""Small raw ASGI agents the test folders share."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

ASGIAgent = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def first_event_then_hang() -> tuple[ASGIAgent, threading.Event]:
    """An agent that streams ``data: "first "``, then waits 20 s; the event is set when its
    ``finally`` runs, i.e. when the runtime cancelled it because the caller went away."""
    finished = threading.Event()

    async def agent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
        try:
            await send({"type": "http.response.body", "body": b'data: "first "\n\n', "more_body": True})  # fmt: skip
            await asyncio.sleep(20)
        finally:
            finished.set()

    return agent, finished
