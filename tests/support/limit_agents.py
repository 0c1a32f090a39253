"""Raw ASGI agents that send far more than a client should accept (24 MiB), for the size-limit
tests; served by an ``agentcore-local`` process of their own, so what the test process
allocates is the client's alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

SENT = 24 << 20
PIECE = 64 << 10


def _agent(content_type: bytes, pieces: Callable[[], Iterator[bytes]]) -> Any:
    async def agent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"].endswith("/ping"):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": b'{"status": "Healthy"}'})
            return
        await receive()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type)]})  # fmt: skip
        try:
            for piece in pieces():
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client hung up once it had seen enough

    return agent


def _one_long_line() -> Iterator[bytes]:
    yield b'data: "'
    for _ in range(SENT // PIECE):
        yield b"x" * PIECE


def _many_data_lines() -> Iterator[bytes]:
    line = b"data: " + b"y" * 1000 + b"\n"
    for _ in range(SENT // PIECE):
        yield line * (PIECE // len(line))


def _huge_json() -> Iterator[bytes]:
    yield b'{"result": "'
    for _ in range(SENT // PIECE):
        yield b"z" * PIECE


sse_line = _agent(b"text/event-stream", _one_long_line)
sse_multi_line_event = _agent(b"text/event-stream", _many_data_lines)
json_body = _agent(b"application/json", _huge_json)
