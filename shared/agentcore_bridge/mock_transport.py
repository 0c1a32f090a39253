"""An in-memory transport, sync and async, for fast tests of retries, deadlines, error mapping and
decoding: no sockets, no server (like httpx's ``MockTransport``).

``MockTransport(handler)``: ``handler(request)`` returns a :class:`MockResponse` (or raises a
:class:`~agentcore_bridge.transport.Failure`-made error, as a real shell would). Pass it as both
``transport=`` and ``async_transport=`` of ``AgentCoreClient``. The loopback tests against the
local runtime remain the truth; these are the quick complement.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentcore_bridge.transport import (
    ERROR_BODY_LIMIT,
    Failure,
    HttpRequest,
    ResponseHead,
    Timeouts,
    read_wait,
    transport_error,
)


@dataclass
class MockResponse:
    """What the handler answers: a status, headers and body chunks.

    ``fail_after``: after that many chunks, the body fails with ``failure`` (a dropped
    connection by default). ``stall_after``: after that many chunks, the body falls silent, so
    the read timeout (or the deadline) ends it, waited for for real.
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    chunks: Iterable[bytes] = ()
    fail_after: int | None = None
    failure: Failure = Failure.BROKEN_MID_BODY
    stall_after: int | None = None

    @classmethod
    def json(cls, value: Any, status: int = 200, **headers: str) -> MockResponse:
        body = json.dumps(value).encode()
        return cls(status, {"content-type": "application/json", **headers}, [body])

    @classmethod
    def sse(cls, values: Iterable[Any], **options: Any) -> MockResponse:
        """A ``text/event-stream`` of ``data: <json>`` events, one chunk each."""
        chunks = [f"data: {json.dumps(value)}\n\n".encode() for value in values]
        return cls(200, {"content-type": "text/event-stream"}, chunks, **options)

    @classmethod
    def error(cls, status: int, error_type: str, message: str = "mock error") -> MockResponse:
        return cls.json({"message": message}, status, **{"x-amzn-errortype": error_type})


Handler = Callable[[HttpRequest], MockResponse]


class _MockBody:
    def __init__(self, answer: MockResponse, timeouts: Timeouts, deadline: float | None) -> None:
        self.head = ResponseHead(answer.status, {k.lower(): v for k, v in answer.headers.items()})
        self._answer = answer
        self._chunks = list(answer.chunks)
        self._timeouts = timeouts
        self._deadline = deadline
        self._aborted = threading.Event()
        self.closed = False

    def _plan(self) -> Iterator[tuple[str, bytes]]:
        for index, chunk in enumerate(self._chunks):
            if self._answer.fail_after is not None and index >= self._answer.fail_after:
                yield "fail", b""
                return
            if self._answer.stall_after is not None and index >= self._answer.stall_after:
                yield "stall", b""
                return
            yield "chunk", chunk
        if self._answer.stall_after is not None and self._answer.stall_after >= len(self._chunks):
            yield "stall", b""
        elif self._answer.fail_after is not None and self._answer.fail_after >= len(self._chunks):
            yield "fail", b""

    def _stall_error(self) -> Exception:
        _wait, failure = read_wait(self._timeouts, self._deadline)
        return transport_error(failure, seconds=self._timeouts.read)

    def read_all_sync(self, limit: int) -> bytes:
        data = bytearray()
        for chunk in self.sync_chunks():
            data += chunk
            if len(data) >= limit:
                break
        return bytes(data)

    def sync_chunks(self) -> Iterator[bytes]:
        try:
            for action, chunk in self._plan():
                if self._aborted.is_set():
                    raise transport_error(Failure.CLIENT_CLOSED)
                if action == "fail":
                    raise transport_error(self._answer.failure)
                if action == "stall":
                    wait, _ = read_wait(self._timeouts, self._deadline)
                    if self._aborted.wait(max(wait, 0.0)):
                        raise transport_error(Failure.CLIENT_CLOSED)
                    raise self._stall_error()
                yield chunk
        finally:
            self.closed = True

    async def async_chunks(self) -> AsyncIterator[bytes]:
        try:
            for action, chunk in self._plan():
                await asyncio.sleep(0)
                if self._aborted.is_set():
                    raise transport_error(Failure.CLIENT_CLOSED)
                if action == "fail":
                    raise transport_error(self._answer.failure)
                if action == "stall":
                    wait, _ = read_wait(self._timeouts, self._deadline)
                    end = time.monotonic() + max(wait, 0.0)
                    while time.monotonic() < end:
                        if self._aborted.is_set():
                            raise transport_error(Failure.CLIENT_CLOSED)
                        await asyncio.sleep(min(0.01, max(end - time.monotonic(), 0.0)))
                    raise self._stall_error()
                yield chunk
        finally:
            self.closed = True

    def abort(self) -> None:
        self._aborted.set()


class MockSyncResponse:
    def __init__(self, body: _MockBody) -> None:
        self._body = body
        self.head = body.head

    def chunks(self) -> Iterator[bytes]:
        return self._body.sync_chunks()

    def read_all(self, limit: int = ERROR_BODY_LIMIT) -> bytes:
        return self._body.read_all_sync(limit)

    def close(self) -> None:
        self._body.closed = True

    def abort(self) -> None:
        self._body.abort()


class MockAsyncResponse:
    def __init__(self, body: _MockBody) -> None:
        self._body = body
        self.head = body.head

    def chunks(self) -> AsyncIterator[bytes]:
        return self._body.async_chunks()

    async def read_all(self, limit: int = ERROR_BODY_LIMIT) -> bytes:
        data = bytearray()
        async for chunk in self._body.async_chunks():
            data += chunk
            if len(data) >= limit:
                break
        return bytes(data)

    def close(self) -> None:
        self._body.closed = True

    def abort(self) -> None:
        self._body.abort()


class MockTransport:
    """Both a sync and an async transport over ``handler``; ``requests`` records every request
    sent (signed headers included), so tests can count attempts and read what was sent."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[HttpRequest] = []
        self.closed = False

    def send(
        self, request: HttpRequest, timeouts: Timeouts, deadline: float | None
    ) -> MockSyncResponse:
        self.requests.append(request)
        return MockSyncResponse(_MockBody(self._handler(request), timeouts, deadline))

    def close(self) -> None:
        self.closed = True

    async def asend(
        self, request: HttpRequest, timeouts: Timeouts, deadline: float | None
    ) -> MockAsyncResponse:
        await asyncio.sleep(0)
        self.requests.append(request)
        return MockAsyncResponse(_MockBody(self._handler(request), timeouts, deadline))

    async def aclose(self) -> None:
        self.closed = True

    @property
    def asynchronous(self) -> _AsyncView:
        """This transport seen as an :class:`~agentcore_bridge.transport.AsyncTransport`."""
        return _AsyncView(self)


class _AsyncView:
    def __init__(self, mock: MockTransport) -> None:
        self._mock = mock

    async def send(
        self, request: HttpRequest, timeouts: Timeouts, deadline: float | None
    ) -> MockAsyncResponse:
        return await self._mock.asend(request, timeouts, deadline)

    async def aclose(self) -> None:
        await self._mock.aclose()


def sequence(*answers: MockResponse | Exception) -> Handler:
    """A handler answering with ``answers`` in turn (an exception is raised, as a failed send);
    the last answer repeats."""
    items = list(answers)
    lock = threading.Lock()
    state = {"index": 0}

    def handler(request: HttpRequest) -> MockResponse:
        with lock:
            index = min(state["index"], len(items) - 1)
            state["index"] += 1
        answer = items[index]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


__all__ = ["Failure", "Handler", "MockResponse", "MockTransport", "sequence", "transport_error"]
