"""Small raw ASGI agents the test folders share."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
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


async def cancel_after_first(pieces: Callable[[], Awaitable[AsyncIterator[str]]]) -> str:
    """Consume ``pieces()`` in a task, cancel the task once the first piece arrived, and return
    what was received: what a caller abandoning a stream does."""
    got: list[str] = []
    first = asyncio.Event()

    async def consume() -> None:
        async for piece in await pieces():
            got.append(piece)
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 10)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return "".join(got)
    raise AssertionError("the consuming task ended without being cancelled")
