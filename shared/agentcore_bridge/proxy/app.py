"""The OpenAI-compatible proxy: ``/v1/chat/completions`` over AgentCoreClient, as an ASGI app.

Sessions: a caller names the AgentCore session with the ``X-AgentCore-Session-Id`` request
header and reads the session used from the same response header; without it each request gets
a fresh session (or the model's configured ``runtimeSessionId``). A model with several
deployments keeps each session on one of them and spreads the rest (``routing``); limits answer
429 with ``Retry-After``. The OpenAI ``user`` field becomes the runtime user id. Every API route
needs ``Authorization: Bearer <master key>``; the health routes need none.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
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
from agentcore_bridge.proxy.bindings import SessionBindings
from agentcore_bridge.proxy.config import (
    CONFIG_ENV,
    Deployment,
    ProxyConfig,
    ProxyModel,
    load_config,
)
from agentcore_bridge.proxy.limits import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from agentcore_bridge.proxy.openapi import openapi_document
from agentcore_bridge.proxy.redis_link import RedisLink
from agentcore_bridge.proxy.routing import RateLimited, Router
from agentcore_bridge.results import StopSequences
from agentcore_bridge.sessions import validate_session_id
from agentcore_bridge.telemetry import ServerSpan, start_server_span

SESSION_HEADER = "X-AgentCore-Session-Id"
access_log = logging.getLogger("agentcore_bridge.proxy.access")
logger = logging.getLogger(__name__)


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

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


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
    return ApiError(
        429,
        str(limited),
        "requests",
        "rate_limit_exceeded",
        {"Retry-After": str(limited.retry_after)},
    )


def router_for(config: ProxyConfig) -> tuple[Router, RedisLink | None]:
    """The router for ``config``: counts and bindings in the shared Redis when one is
    configured, else in this process."""
    if config.shared_redis_url is None:
        return Router(config, MemoryRateLimiter()), None
    link = RedisLink(config.shared_redis_url)
    limiter: RateLimiter = RedisRateLimiter(link)
    return Router(config, limiter, SessionBindings(link)), link


def create_app(config: ProxyConfig) -> Starlette:
    """The proxy app for ``config``. With no master key the API is open (the CLI allows that
    only on loopback and only when asked)."""
    router, link = router_for(config)
    master_key = None if config.master_key is None else config.master_key.encode()

    def authorize(request: Request) -> None:
        if master_key is None:
            return
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(key.strip().encode(), master_key):
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
            stream = bool(body.get("stream"))
            record.update(model=model.name, stream=stream)
            user = _user(body)
            session = _session(request, model)
            record["session_id"] = session
            stop = StopSequences(_stop(body))
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
                call = {"session_id": choice.session_id, "user_id": user}
                router.started(deployment)
                try:
                    if stream:
                        return await _stream(
                            router, model, deployment, body, call, stop, record, started, span
                        )
                    completion = await deployment.client.ainvoke(body["messages"], **call)
                except AgentCoreError as error:
                    router.finished(deployment)
                    if not error.retryable:
                        raise
                    router.failed(deployment)
                    if session is not None:
                        raise  # a session never moves to another runtime
                    tried.append(deployment.id)
                    failure = error
                    logger.info(
                        "model %s: deployment %s failed before reaching its agent (%s); "
                        "trying another", model.name, deployment.id, type(error).__name__,
                    )  # fmt: skip
                    continue
                except BaseException:
                    router.finished(deployment)
                    raise
                router.finished(deployment)
                break
            record["session_id"] = completion.session_id
            answer = to_chat_completion(completion, model.name, stop)
            headers = {SESSION_HEADER: completion.session_id or ""}
            _log(record, 200, started)
            usage = completion.usage
            background = (
                BackgroundTask(router.record_usage, deployment, usage)
                if usage is not None and deployment.tpm is not None
                else None
            )
            return JSONResponse(
                answer.model_dump(exclude_none=True), headers=headers, background=background
            )
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

    async def liveliness(request: Request) -> Response:
        return JSONResponse("I'm alive!")

    async def readiness(request: Request) -> Response:
        redis = None
        if link is not None:
            redis = "connected" if await link.ping() else "unavailable"
        return JSONResponse({
            "status": "healthy",
            "pid": os.getpid(),
            "models": len(config.models),
            "deployments": sum(len(m.deployments) for m in config.models.values()),
            "routing_strategy": config.routing_strategy,
            "session_store": "redis" if config.shared_redis_url else "memory",
            "redis": redis,
        })  # fmt: skip

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # Open streams have finished (or were cut at the grace period): close what is pooled.
        for model in config.models.values():
            for deployment in model.deployments:
                with contextlib.suppress(Exception):
                    await deployment.client.aclose()
        if link is not None:
            await link.aclose()
        if config.session_store is not None:
            with contextlib.suppress(Exception):
                await config.session_store.aclose()

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/models", models, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/health/liveliness", liveliness, methods=["GET"]),
            Route("/health/liveness", liveliness, methods=["GET"]),
            Route("/health/readiness", readiness, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        exception_handlers={404: _not_found, 405: _not_allowed},
        lifespan=lifespan,
    )


def app_from_environment() -> Starlette:
    """The app for the config file ``AGENTCORE_PROXY_CONFIG`` names: what each process of
    ``agentcore-proxy --workers N`` serves (uvicorn imports it as a factory)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    return create_app(load_config(os.environ[CONFIG_ENV]))


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


def _user(body: Mapping[str, Any]) -> str | None:
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise ApiError(400, "user must be a string", "invalid_request_error", "invalid_user")
    return user or None


def _session(request: Request, model: ProxyModel) -> str | None:
    """The session the caller names (checked before any routing), else the model's own."""
    session = request.headers.get(SESSION_HEADER) or model.default_session_id
    if session is None:
        return None
    try:
        return validate_session_id(session)
    except InvalidRequestError as error:
        raise upstream_error(error) from None


async def _stream(
    router: Router,
    model: ProxyModel,
    deployment: Deployment,
    body: Mapping[str, Any],
    call: dict[str, Any],
    stop: StopSequences,
    record: dict[str, Any],
    started: float,
    span: ServerSpan | None = None,
) -> Response:
    # Upstream failures before the first byte still get their own status (and may move a
    # request without a session to another deployment): astream raises them here.
    events = await deployment.client.astream(body["messages"], keep_content=False, **call)
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
            router.finished(deployment)
            _log(record, status, started)
            if span is not None:
                span.end(status)
        await router.record_usage(deployment, events.completion.usage)

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
