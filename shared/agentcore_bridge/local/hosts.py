"""Where the local runtime's agents run: in-process ASGI apps, one process per session, or a URL.

Every host answers ``open(...)`` with an ``AgentResponse`` whose body is read chunk by chunk, so
the data plane passes a stream on as the agent produces it, whatever the host. ``open`` takes the
container-side method and path (``POST /invocations`` for HTTP agents, ``POST /`` and
``GET /.well-known/agent-card.json`` for A2A agents, ``POST /mcp`` for MCP servers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

logger = logging.getLogger(__name__)

Headers = list[tuple[bytes, bytes]]
ASGIApp = Callable[..., Awaitable[None]]


@dataclass
class AgentResponse:
    """The agent's answer: status and headers at once, then the body as it comes."""

    status: int
    headers: Headers
    body: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]]


class AgentHost(Protocol):
    async def open(
        self, session_id: str, headers: Headers, body: bytes, *, method: str = "POST",
        path: str = "/invocations",
    ) -> AgentResponse: ...  # fmt: skip

    async def stop_session(self, session_id: str) -> bool:
        """End the session's compute; False when the host has no such session."""
        ...

    async def aclose(self) -> None: ...


def speaks_lifespan(app: object) -> bool:
    """Whether an app is known to answer the ASGI lifespan protocol: Starlette apps (a
    ``BedrockAgentCoreApp``, a2a-sdk's and FastMCP's apps) are. A bare ASGI callable is served
    without it: many such apps (test doubles especially) treat every scope as a request."""
    return hasattr(getattr(app, "router", None), "lifespan_context")


class _Lifespan:
    """Runs an ASGI app's lifespan protocol, as uvicorn does: startup before the first request,
    shutdown when the host closes; an app that raises on the lifespan scope is served without
    it. (FastMCP's streamable-HTTP app needs this: its session manager only runs inside the
    lifespan.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self._stopped: asyncio.Future[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        started, stopped = loop.create_future(), loop.create_future()
        self._started, self._stopped = started, stopped

        async def send(message: dict[str, Any]) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete" and not started.done():
                started.set_result(None)
            elif kind == "lifespan.startup.failed" and not started.done():
                started.set_exception(
                    AgentUnreachable(f"agent app failed to start: {message.get('message', '')}")
                )
            elif kind.startswith("lifespan.shutdown") and not stopped.done():
                stopped.set_result(None)

        async def run() -> None:
            scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
            try:
                await self.app(scope, self._inbox.get, send)
            except Exception as exc:  # an app without lifespan support raises on the scope
                logger.debug("agent app has no lifespan: %r", exc)
            finally:
                for future in (started, stopped):
                    if not future.done():
                        future.set_result(None)

        self._task = asyncio.create_task(run())
        await self._inbox.put({"type": "lifespan.startup"})
        await started

    async def stop(self) -> None:
        task = self._task
        if task is None or task.done():
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        assert self._stopped is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._stopped), 10)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


class InProcessHost:
    """Calls an ASGI app (a ``BedrockAgentCoreApp``, an A2A or MCP server) in the runtime's own
    event loop, after running its lifespan startup.

    Fast, for tests; all sessions share the app, as with ``agentcore dev``. Apps holding
    event-loop-bound state (asyncio locks, task groups) must not be shared between runtimes.
    ``port`` is the container port the app believes it serves (``Host`` and ``server``).
    ``lifespan``: run the app's lifespan (default: when :func:`speaks_lifespan` says it can).
    """

    def __init__(self, app: ASGIApp, *, port: int = 8080, lifespan: bool | None = None) -> None:
        self.app = app
        self.port = port
        self._sessions: set[str] = set()
        self._lifespan = _Lifespan(app)
        self._runs_lifespan = speaks_lifespan(app) if lifespan is None else lifespan
        self._starting: asyncio.Task[None] | None = None

    async def open(
        self, session_id: str, headers: Headers, body: bytes, *, method: str = "POST",
        path: str = "/invocations",
    ) -> AgentResponse:  # fmt: skip
        if self._runs_lifespan:
            if self._starting is None:
                self._starting = asyncio.create_task(self._lifespan.start())
            await asyncio.shield(self._starting)
        self._sessions.add(session_id)
        messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        disconnected = asyncio.Event()
        body_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            await messages.put(message)

        if not any(name == b"host" for name, _ in headers):
            headers = [(b"host", f"127.0.0.1:{self.port}".encode()), *headers]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": ("127.0.0.1", self.port),
            "state": dict(self._lifespan.state),
        }

        async def run_app() -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                await messages.put({"type": "_done"})

        task = asyncio.create_task(run_app())

        async def close() -> None:
            disconnected.set()
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

        start = await messages.get()
        if start["type"] != "http.response.start":
            await close()
            exc = task.exception() if task.done() and not task.cancelled() else None
            raise AgentUnreachable(f"agent app ended without a response: {exc!r}")

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                message = await messages.get()
                if message["type"] == "_done":
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        raise AgentUnreachable(
                            f"agent app failed mid-response: {task.exception()!r}"
                        )
                    return
                if message["type"] == "http.response.body":
                    if message.get("body"):
                        yield message["body"]
                    if not message.get("more_body", False):
                        return

        return AgentResponse(start["status"], list(start.get("headers", [])), chunks(), close)

    async def stop_session(self, session_id: str) -> bool:
        if session_id not in self._sessions:
            return False
        self._sessions.discard(session_id)
        return True

    async def aclose(self) -> None:
        self._sessions.clear()
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting
            await self._lifespan.stop()
            self._starting = None


class AgentUnreachable(Exception):
    """The agent could not be reached or did not answer: AWS reports this as a 424."""


async def _forward(
    http: aiohttp.ClientSession, method: str, url: str, headers: Headers, body: bytes
) -> AgentResponse:
    try:
        response = await http.request(
            method,
            url,
            data=body if body or method not in ("GET", "HEAD", "DELETE") else None,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )
    except (aiohttp.ClientError, OSError) as exc:
        raise AgentUnreachable(f"cannot reach the agent at {url}: {exc}") from exc

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, OSError) as exc:
            raise AgentUnreachable(f"agent connection broke mid-response: {exc}") from exc
        finally:
            response.release()

    async def close() -> None:
        response.close()

    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
    return AgentResponse(response.status, raw, chunks(), close)


class UrlHost:
    """Forwards to an agent already serving (``agentcore dev`` on :8080, an A2A agent on :9000,
    an MCP server on :8000): ``url`` is the container's base URL."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._http: aiohttp.ClientSession | None = None
        self._sessions: set[str] = set()

    async def open(
        self, session_id: str, headers: Headers, body: bytes, *, method: str = "POST",
        path: str = "/invocations",
    ) -> AgentResponse:  # fmt: skip
        if self._http is None:
            self._http = aiohttp.ClientSession(auto_decompress=False)
        self._sessions.add(session_id)
        return await _forward(self._http, method, f"{self.url}{path}", headers, body)

    async def stop_session(self, session_id: str) -> bool:
        if session_id not in self._sessions:
            return False
        self._sessions.discard(session_id)
        return True

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


@dataclass
class _Worker:
    process: asyncio.subprocess.Process
    port: int
    last_used: float = field(default_factory=time.monotonic)
    active: int = 0


class ProcessPerSessionHost:
    """One worker process per session, as AgentCore gives each session its own microVM.

    The worker imports the agent module (``path/to/agent.py:app`` or ``package.module:app``)
    and serves it with uvicorn on a free loopback port; module-global state is per session.
    A worker idle for ``idle_timeout`` seconds, or whose session is stopped, is terminated.
    ``environment`` gives extra variables for each new worker (read when it starts), such as
    the ``AGENTCORE_RUNTIME_URL`` AgentCore gives A2A containers.
    """

    def __init__(
        self,
        agent: str,
        *,
        idle_timeout: float = 900.0,
        start_timeout: float = 60.0,
        environment: Callable[[], Mapping[str, str]] | None = None,
    ):
        self.agent = agent
        self.idle_timeout = idle_timeout
        self.start_timeout = start_timeout
        self.environment = environment
        self._workers: dict[str, _Worker] = {}
        self._starting: dict[str, asyncio.Future[_Worker]] = {}
        self._http: aiohttp.ClientSession | None = None
        self._reaper: asyncio.Task[None] | None = None

    def pids(self) -> dict[str, int]:
        """Session id -> worker process id, for the sessions alive now."""
        return {
            sid: w.process.pid for sid, w in self._workers.items() if w.process.returncode is None
        }

    async def open(
        self, session_id: str, headers: Headers, body: bytes, *, method: str = "POST",
        path: str = "/invocations",
    ) -> AgentResponse:  # fmt: skip
        if self._http is None:
            self._http = aiohttp.ClientSession(auto_decompress=False)
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_idle())
        worker = await self._worker(session_id)
        worker.active += 1
        worker.last_used = time.monotonic()
        try:
            response = await _forward(
                self._http, method, f"http://127.0.0.1:{worker.port}{path}", headers, body
            )
        except BaseException:
            worker.active -= 1
            raise
        inner_close, inner_body = response.close, response.body

        async def body_then_release() -> AsyncIterator[bytes]:
            try:
                async for chunk in inner_body:
                    yield chunk
            finally:
                worker.active -= 1
                worker.last_used = time.monotonic()

        response.body = body_then_release()
        response.close = inner_close
        return response

    async def _worker(self, session_id: str) -> _Worker:
        worker = self._workers.get(session_id)
        if worker is not None and worker.process.returncode is None:
            return worker
        pending = self._starting.get(session_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        self._starting[session_id] = future
        try:
            worker = await self._spawn(session_id)
            self._workers[session_id] = worker
            future.set_result(worker)
            return worker
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._starting[session_id]

    async def _spawn(self, session_id: str) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agentcore_bridge.local.worker",
            self.agent,
            stdout=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            env={
                **os.environ,
                **(self.environment() if self.environment is not None else {}),
                "AGENTCORE_LOCAL_SESSION_ID": session_id,
            },
        )
        assert process.stdout is not None
        try:
            # The worker prints its port once it listens.
            line = await asyncio.wait_for(process.stdout.readline(), self.start_timeout)
        except TimeoutError:
            line = b""
        if not line.startswith(b"PORT "):
            await _terminate(process)
            raise AgentUnreachable(
                f"worker for {self.agent!r} did not start (exit code {process.returncode}); "
                "see its stderr"
            )
        logger.info("session %s: started worker pid %d", session_id, process.pid)
        return _Worker(process, int(line.split()[1]))

    async def stop_session(self, session_id: str) -> bool:
        worker = self._workers.pop(session_id, None)
        if worker is None:
            return False
        await _terminate(worker.process)
        logger.info("session %s: stopped worker pid %d", session_id, worker.process.pid)
        return True

    async def _reap_idle(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.idle_timeout / 2))
            now = time.monotonic()
            for session_id, worker in list(self._workers.items()):
                if worker.active == 0 and now - worker.last_used > self.idle_timeout:
                    logger.info(
                        "session %s: idle for %.0fs, stopping", session_id, self.idle_timeout
                    )
                    await self.stop_session(session_id)

    async def aclose(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for session_id in list(self._workers):
            await self.stop_session(session_id)
        if self._http is not None:
            await self._http.close()
            self._http = None


async def _terminate(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()
