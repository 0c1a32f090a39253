"""``POST /v1/chat/completions`` as a plain ASGI handler: the proxy's hot path.

It reads the request from the ASGI scope and ``receive`` and writes the answer with ``send``
(no Starlette request, response or middleware objects per request, no pydantic model per chunk:
together those were about a fifth of the proxy's CPU per request), asks the router for a
deployment, calls its client, and logs one access line. The other routes stay on Starlette.

A stream is cancelled when its caller goes away: a watcher task waits for ``http.disconnect``
and cancels the handler, which closes the upstream AgentCore stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from agentcore_bridge.errors import (
    AccessDeniedError,
    AgentCoreError,
    AgentCoreTimeoutError,
    InvalidRequestError,
    ThrottlingError,
)
from agentcore_bridge.proxy.config import ProxyConfig, ProxyModel
from agentcore_bridge.proxy.frames import ChunkWriter, completion_body, dumps, error_frame
from agentcore_bridge.proxy.routing import Choice, RateLimited, Router
from agentcore_bridge.results import StopSequences
from agentcore_bridge.sessions import validate_session_id
from agentcore_bridge.telemetry import ServerSpan, start_server_span

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SESSION_HEADER = "X-AgentCore-Session-Id"
_SESSION_KEY = SESSION_HEADER.lower()
_SESSION_HEADER_BYTES = _SESSION_KEY.encode()
_JSON = (b"content-type", b"application/json")
_SSE = (b"content-type", b"text/event-stream; charset=utf-8")
_NO_CACHE = (b"cache-control", b"no-cache")
CLIENT_CLOSED = 499
"""The status logged for a stream whose caller went away (nginx's convention)."""

access_log = logging.getLogger("agentcore_bridge.proxy.access")
logger = logging.getLogger("agentcore_bridge.proxy.app")


class ApiError(Exception):
    """An OpenAI-shaped error answer."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        return dumps({"error": {"message": self.message, "type": self.kind, "code": self.code}}
                     ).encode()  # fmt: skip


def upstream_error(error: AgentCoreError) -> ApiError:
    """AgentCore's failures in OpenAI's terms (the messages carry no secrets)."""
    message = str(error)
    if isinstance(error, InvalidRequestError):
        return ApiError(400, message, "invalid_request_error", "invalid_request")
    if isinstance(error, ThrottlingError):
        return ApiError(429, message, "rate_limit_error", "rate_limited", {"Retry-After": "1"})
    if isinstance(error, AgentCoreTimeoutError):
        return ApiError(504, message, "upstream_timeout", "upstream_timeout")
    if isinstance(error, AccessDeniedError):
        return ApiError(502, message, "upstream_error", "upstream_access_denied")
    return ApiError(502, message, "upstream_error", type(error).__name__)


def rate_limited(limited: RateLimited) -> ApiError:
    """OpenAI's 429 for a limit of ours, with the seconds to wait."""
    return ApiError(429, str(limited), "requests", "rate_limit_exceeded",
                    {"Retry-After": str(limited.retry_after)})  # fmt: skip


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is larger than {limit} bytes",
                    "invalid_request_error", "request_too_large")  # fmt: skip


class _Answering:
    """The request's ``send``, and whether the answer has begun (until then an unexpected
    failure can still be answered with a 500)."""

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send, self.started = send, False

    def start(self) -> Send:
        self.started = True
        return self.send


async def send_json(
    answering: _Answering | Send, status: int, body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:  # fmt: skip
    send = answering.start() if isinstance(answering, _Answering) else answering
    start = [_JSON, (b"content-length", str(len(body)).encode()), *(headers or ())]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: _Answering | Send, error: ApiError) -> None:
    headers = [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send_json(send, error.status, error.body(), headers)


class ChatCompletions:
    """The handler; one per app."""

    def __init__(self, config: ProxyConfig, router: Router) -> None:
        self.config = config
        self.router = router
        self._key = None if config.master_key is None else config.master_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        span = start_server_span("POST", "/v1/chat/completions", headers, scope.get("server"))
        answering = _Answering(send)
        try:
            status = await self._handle(headers, receive, answering, span)
        except BaseException:
            if span is not None:
                span.end(500, "exception")
            if not answering.started:
                with contextlib.suppress(Exception):
                    await send_error(send, ApiError(500, "internal error", "server_error"))
            raise
        finally:
            if span is not None:
                span.detach()
        if span is not None:
            span.end(status)

    def _authorize(self, headers: Mapping[str, str]) -> None:
        if self._key is None:
            return
        scheme, _, key = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(key.strip().encode(), self._key):
            raise ApiError(
                401,
                "missing or wrong API key: send Authorization: Bearer <key>",
                "authentication_error",
                "invalid_api_key",
            )

    async def _read_json(self, headers: Mapping[str, str], receive: Receive) -> dict[str, Any]:
        limit = self.config.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large(limit)
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ApiError(400, "the request body was cut off", "invalid_request_error",
                               "incomplete_body")  # fmt: skip
            body += message.get("body", b"")
            if len(body) > limit:
                raise too_large(limit)
            if not message.get("more_body", False):
                break
        try:
            value = json.loads(body)
        except ValueError:
            raise ApiError(
                400, "the request body is not valid JSON", "invalid_request_error", "invalid_json"
            ) from None
        if not isinstance(value, dict):
            raise ApiError(
                400, "the request body must be a JSON object", "invalid_request_error",
                "invalid_json",
            )  # fmt: skip
        return value

    async def _handle(
        self, headers: Mapping[str, str], receive: Receive, send: _Answering,
        span: ServerSpan | None,
    ) -> int:  # fmt: skip
        """Answer the request; returns the status (logged, and the span's)."""
        started = time.monotonic()
        record: dict[str, Any] = {
            "route": "chat.completions", "model": None, "stream": False, "session_id": None,
        }  # fmt: skip
        try:
            self._authorize(headers)
            body = await self._read_json(headers, receive)
            model = _model(self.config, body)
            stream = bool(body.get("stream"))
            record["model"], record["stream"] = model.name, stream
            user = _user(body)
            session = _session(headers, model)
            record["session_id"] = session
            stops = _stop(body)
            stop = StopSequences(stops) if stops else None
            return await self._dispatch(
                model, session, body, user, stop, stream, record, started, receive, send
            )
        except AgentCoreError as error:
            api_error = upstream_error(error)
        except ApiError as error:
            api_error = error
        _log(record, api_error.status, started)
        await send_error(send, api_error)
        return api_error.status

    async def _dispatch(
        self, model: ProxyModel, session: str | None, body: Mapping[str, Any], user: str | None,
        stop: StopSequences | None, stream: bool, record: dict[str, Any], started: float,
        receive: Receive, send: _Answering,
    ) -> int:  # fmt: skip
        """Choose a deployment and call it; a request without a session moves on to another
        deployment after a failure that cannot have reached the agent."""
        router = self.router
        tried: list[str] = []
        failure: AgentCoreError | None = None
        while True:
            try:
                choice = await router.choose(model, session, tried)
            except RateLimited as limited:
                if failure is not None:
                    raise failure from None
                raise rate_limited(limited) from None
            if choice is None:
                assert failure is not None
                raise failure
            deployment = choice.deployment
            record["deployment"] = deployment.id
            router.started(deployment)
            try:
                if stream:
                    return await self._stream(choice, model, body, user, stop, record, started,
                                              receive, send)  # fmt: skip
                called = time.monotonic()
                completion = await deployment.client.ainvoke(
                    body["messages"], session_id=choice.session_id, user_id=user
                )
                record["upstream_ms"] = round((time.monotonic() - called) * 1e3, 1)
            except AgentCoreError as error:
                if not error.retryable:
                    raise
                router.failed(deployment)
                if session is not None:
                    raise  # a session never moves to another runtime
                tried.append(deployment.id)
                failure = error
                logger.info(
                    "model %s: deployment %s failed before reaching its agent (%s); trying "
                    "another", model.name, deployment.id, type(error).__name__,
                )  # fmt: skip
                continue
            finally:
                if not stream:
                    router.finished(deployment)
            break
        record["session_id"] = completion.session_id
        answer = completion_body(completion, model.name, stop)
        _log(record, 200, started)
        session_header = (completion.session_id or "").encode()
        await send_json(send, 200, answer, [(_SESSION_HEADER_BYTES, session_header)])
        await router.record_usage(deployment, completion.usage)
        return 200

    async def _stream(
        self, choice: Choice, model: ProxyModel, body: Mapping[str, Any], user: str | None,
        stop: StopSequences | None, record: dict[str, Any], started: float, receive: Receive,
        answering: _Answering,
    ) -> int:  # fmt: skip
        deployment = choice.deployment
        try:
            # Upstream failures before the first byte still get their own status (and may move
            # a request without a session to another deployment): astream raises them here.
            events = await deployment.client.astream(
                body["messages"], keep_content=False, session_id=choice.session_id, user_id=user
            )
        except BaseException:
            self.router.finished(deployment)
            raise
        record["session_id"] = events.session_id
        options = body.get("stream_options") or {}
        writer = ChunkWriter(model.name, events.session_id, bool(options.get("include_usage")))
        status = 200
        task = asyncio.current_task()
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()
            if task is not None:
                task.cancel()

        watcher = asyncio.create_task(watch())
        send = answering.start()
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                _SSE, _NO_CACHE, (_SESSION_HEADER_BYTES, (events.session_id or "").encode()),
            ]})  # fmt: skip
            last = b""
            try:
                async with events:
                    async for text in events.text(stop=stop):
                        await send({"type": "http.response.body", "body": writer.text(text),
                                    "more_body": True})  # fmt: skip
                last = writer.tail(events.completion)
            except AgentCoreError as error:
                api_error = upstream_error(error)
                status = api_error.status
                last = error_frame(api_error.message, api_error.kind, api_error.code)
            watcher.cancel()
            await send({"type": "http.response.body", "body": last, "more_body": False})
        except asyncio.CancelledError:
            if not gone.is_set():
                raise
            if task is not None:
                task.uncancel()
            status = CLIENT_CLOSED
        finally:
            watcher.cancel()
            await events.aclose()  # already closed unless the caller went before the first byte
            self.router.finished(deployment)
            _log(record, status, started)
        if status == 200:
            await self.router.record_usage(deployment, events.completion.usage)
        return status


def _model(config: ProxyConfig, body: Mapping[str, Any]) -> ProxyModel:
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "model is required", "invalid_request_error", "missing_model")
    model = config.models.get(name)
    if model is None:
        raise ApiError(
            404,
            f"the model {name!r} does not exist; GET /v1/models lists them",
            "invalid_request_error",
            "model_not_found",
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(
            400, "messages must be a non-empty list", "invalid_request_error", "invalid_messages"
        )
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise ApiError(
            400, "stream must be true or false", "invalid_request_error", "invalid_stream"
        )
    options = body.get("stream_options")
    if options is not None and not (
        isinstance(options, dict) and isinstance(options.get("include_usage", False), bool)
    ):
        raise ApiError(
            400,
            'stream_options must be an object like {"include_usage": true}',
            "invalid_request_error",
            "invalid_stream_options",
        )
    return model


def _stop(body: Mapping[str, Any]) -> list[str] | None:
    stop = body.get("stop")
    if stop is None or isinstance(stop, str):
        return [stop] if stop else None
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return stop
    raise ApiError(
        400, "stop must be a string or a list of strings", "invalid_request_error", "invalid_stop"
    )


def _user(body: Mapping[str, Any]) -> str | None:
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise ApiError(400, "user must be a string", "invalid_request_error", "invalid_user")
    return user or None


def _session(headers: Mapping[str, str], model: ProxyModel) -> str | None:
    """The session the caller names (checked before any routing), else the model's own."""
    session = headers.get(_SESSION_KEY) or model.default_session_id
    if session is None:
        return None
    try:
        return validate_session_id(session)
    except InvalidRequestError as error:
        raise upstream_error(error) from None


def _log(record: Mapping[str, Any], status: int, started: float) -> None:
    """A structured access log line: model, status, latency, session; never keys or bodies.

    The record is made and handed to the logger's handlers directly: ``Logger.info`` would
    walk the stack to find the caller's file and line, which cost more than everything else
    the proxy does for a request (they are always this function's)."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    entry = {**record, "status": status, "latency_ms": round((time.monotonic() - started) * 1e3, 1)}
    line = access_log.makeRecord(
        access_log.name, logging.INFO, __file__, 0, json.dumps(entry), (), None, "_log",
        {"access": entry},
    )  # fmt: skip
    access_log.handle(line)
