"""The OpenAI-compatible proxy: ``/v1/chat/completions`` over AgentCoreClient, as an ASGI app.

Sessions: a caller names the AgentCore session with the ``X-AgentCore-Session-Id`` request
header and reads the session used from the same response header; without it each request gets
a fresh session (or the model's configured ``runtimeSessionId``). The OpenAI ``user`` field
becomes the runtime user id. Every API route needs ``Authorization: Bearer <master key>``.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agentcore_bridge.completions import ChunkMaker, to_chat_completion
from agentcore_bridge.errors import (
    AccessDeniedError,
    AgentCoreError,
    AgentCoreTimeoutError,
    InvalidRequestError,
    ThrottlingError,
)
from agentcore_bridge.proxy.config import ProxyConfig, ProxyModel
from agentcore_bridge.proxy.openapi import openapi_document
from agentcore_bridge.results import StopSequences
from agentcore_bridge.telemetry import ServerSpan, start_server_span

SESSION_HEADER = "X-AgentCore-Session-Id"
access_log = logging.getLogger("agentcore_bridge.proxy.access")


class ApiError(Exception):
    """An OpenAI-shaped error answer."""

    def __init__(self, status: int, message: str, kind: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=dict(headers or {}))


def upstream_error(error: AgentCoreError) -> ApiError:
    """AgentCore's failures in OpenAI's terms (the messages carry no secrets)."""
    message = str(error)
    if isinstance(error, InvalidRequestError):
        return ApiError(400, message, "invalid_request_error", "invalid_request")
    if isinstance(error, ThrottlingError):
        return ApiError(429, message, "rate_limit_error", "rate_limited")
    if isinstance(error, AgentCoreTimeoutError):
        return ApiError(504, message, "upstream_timeout", "upstream_timeout")
    if isinstance(error, AccessDeniedError):
        return ApiError(502, message, "upstream_error", "upstream_access_denied")
    return ApiError(502, message, "upstream_error", type(error).__name__)


def create_app(config: ProxyConfig) -> Starlette:
    """The proxy app for ``config``. With no master key the API is open (the CLI allows that
    only on loopback and only when asked)."""

    def authorize(request: Request) -> None:
        if config.master_key is None:
            return
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            key.strip().encode(), config.master_key.encode()
        ):
            raise ApiError(
                401,
                "missing or wrong API key: send Authorization: Bearer <key>",
                "authentication_error",
                "invalid_api_key",
            )

    async def read_json(request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.max_body_bytes:
            raise _too_large(config.max_body_bytes)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > config.max_body_bytes:
                raise _too_large(config.max_body_bytes)
        try:
            value = json.loads(body)
        except ValueError:
            raise ApiError(
                400, "the request body is not valid JSON", "invalid_request_error", "invalid_json"
            ) from None
        if not isinstance(value, dict):
            raise ApiError(
                400,
                "the request body must be a JSON object",
                "invalid_request_error",
                "invalid_json",
            )
        return value

    async def chat_completions(request: Request) -> Response:
        span = start_server_span(
            "POST", "/v1/chat/completions", request.headers, request.scope.get("server")
        )
        try:
            response = await _chat_completions(request, span)
        except BaseException:
            if span is not None:
                span.end(500, "exception")
            raise
        finally:
            if span is not None:
                span.detach()
        if span is not None and not isinstance(response, StreamingResponse):
            span.end(response.status_code)
        return response

    async def _chat_completions(request: Request, span: ServerSpan | None) -> Response:
        started = time.monotonic()
        record: dict[str, Any] = {
            "route": "chat.completions",
            "model": None,
            "stream": False,
            "session_id": None,
        }
        try:
            authorize(request)
            body = await read_json(request)
            model = _model(config, body)
            record.update(model=model.name, stream=bool(body.get("stream")))
            call = _call_options(request, body, model)
            record["session_id"] = call["session_id"]
            stop = StopSequences(_stop(body))
            if body.get("stream"):
                return await _stream(model, body, call, stop, record, started, span)
            completion = await model.client.ainvoke(body["messages"], **call)
            record["session_id"] = completion.session_id
            answer = to_chat_completion(completion, model.name, stop)
            headers = {SESSION_HEADER: completion.session_id or ""}
            _log(record, 200, started)
            return JSONResponse(answer.model_dump(exclude_none=True), headers=headers)
        except AgentCoreError as error:
            api_error = upstream_error(error)
        except ApiError as error:
            api_error = error
        _log(record, api_error.status, started)
        return api_error.response()

    async def models(request: Request) -> Response:
        try:
            authorize(request)
        except ApiError as error:
            return error.response()
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "amazon-bedrock-agentcore"}
            for name in config.models
        ]
        return JSONResponse({"object": "list", "data": data})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "models": len(config.models)})

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/models", models, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        exception_handlers={404: _not_found, 405: _not_allowed},
    )


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"the request body is larger than {limit} bytes",
        "invalid_request_error",
        "request_too_large",
    )


async def _not_found(request: Request, exc: Exception) -> Response:
    return ApiError(
        404, f"no route {request.url.path}", "invalid_request_error", "not_found"
    ).response()


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return ApiError(
        405,
        f"{request.method} is not allowed on {request.url.path}",
        "invalid_request_error",
        "method_not_allowed",
    ).response()


def _model(config: ProxyConfig, body: Mapping[str, Any]) -> ProxyModel:
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "model is required", "invalid_request_error", "missing_model")
    if name not in config.models:
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
    return config.models[name]


def _stop(body: Mapping[str, Any]) -> list[str] | None:
    stop = body.get("stop")
    if stop is None or isinstance(stop, str):
        return [stop] if stop else None
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return stop
    raise ApiError(
        400, "stop must be a string or a list of strings", "invalid_request_error", "invalid_stop"
    )


def _call_options(request: Request, body: Mapping[str, Any], model: ProxyModel) -> dict[str, Any]:
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise ApiError(400, "user must be a string", "invalid_request_error", "invalid_user")
    return {
        "session_id": request.headers.get(SESSION_HEADER) or model.default_session_id,
        "user_id": user or None,
    }


async def _stream(
    model: ProxyModel,
    body: Mapping[str, Any],
    call: dict[str, Any],
    stop: StopSequences,
    record: dict[str, Any],
    started: float,
    span: ServerSpan | None = None,
) -> Response:
    # Upstream failures before the first byte still get their own status.
    events = await model.client.astream(body["messages"], keep_content=False, **call)
    record["session_id"] = events.session_id
    options = body.get("stream_options") or {}
    maker = ChunkMaker(model.name, events.session_id, bool(options.get("include_usage")))

    async def frames() -> AsyncIterator[bytes]:
        status = 200
        try:
            async with events:
                async for text in events.text(stop=stop):
                    yield _sse(maker.chunk(text).model_dump(exclude_none=True))
            for chunk in maker.tail(events.completion):
                yield _sse(chunk.model_dump(exclude_none=True))
            yield b"data: [DONE]\n\n"
        except AgentCoreError as error:
            api_error = upstream_error(error)
            status = api_error.status
            yield _sse(
                {
                    "error": {
                        "message": api_error.message,
                        "type": api_error.kind,
                        "code": api_error.code,
                    }
                }
            )
        finally:
            _log(record, status, started)
            if span is not None:
                span.end(status)

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={SESSION_HEADER: events.session_id or "", "Cache-Control": "no-cache"},
    )


def _sse(value: Mapping[str, Any]) -> bytes:
    return (
        b"data: " + json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
    )


def _log(record: Mapping[str, Any], status: int, started: float) -> None:
    """A structured access log line: model, status, latency, session; never keys or bodies."""
    entry = {**record, "status": status, "latency_ms": round((time.monotonic() - started) * 1e3, 1)}
    access_log.info(json.dumps(entry), extra={"access": entry})
