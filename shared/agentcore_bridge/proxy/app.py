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
import logging
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentcore_bridge.proxy.bindings import SessionBindings
from agentcore_bridge.proxy.chat import (
    SESSION_HEADER,
    ApiError,
    ChatCompletions,
    Receive,
    Scope,
    Send,
    rate_limited,
    upstream_error,
)
from agentcore_bridge.proxy.config import CONFIG_ENV, ProxyConfig, load_config
from agentcore_bridge.proxy.limits import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from agentcore_bridge.proxy.openapi import openapi_document
from agentcore_bridge.proxy.redis_link import RedisLink
from agentcore_bridge.proxy.routing import Router

__all__ = ["SESSION_HEADER", "ApiError", "ProxyApp", "create_app", "rate_limited", "upstream_error"]


def router_for(config: ProxyConfig) -> tuple[Router, RedisLink | None]:
    """The router for ``config``: counts and bindings in the shared Redis when one is
    configured, else in this process."""
    if config.shared_redis_url is None:
        return Router(config, MemoryRateLimiter()), None
    link = RedisLink(config.shared_redis_url)
    limiter: RateLimiter = RedisRateLimiter(link)
    return Router(config, limiter, SessionBindings(link)), link


CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})


class ProxyApp:
    """The proxy as an ASGI app: ``POST /v1/chat/completions`` (and ``/chat/completions``) go
    straight to the plain ASGI handler (``chat.ChatCompletions``); every other route, the
    lifespan included, to Starlette."""

    def __init__(
        self, config: ProxyConfig, router: Router, chat: ChatCompletions, others: Starlette
    ) -> None:
        self.config, self.router, self.chat, self.others = config, router, chat, others

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in CHAT_PATHS and scope["method"] == "POST":
            await self.chat(scope, receive, send)
        else:
            await self.others(scope, receive, send)


def create_app(config: ProxyConfig) -> ProxyApp:
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

    async def models(request: Request) -> Response:
        try:
            authorize(request)
        except ApiError as error:
            return _response(error)
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

    chat = ChatCompletions(config, router)
    others = Starlette(
        routes=[
            # Reached only by other methods (405): ProxyApp hands POSTs to the handler itself.
            *(Route(path, chat, methods=["POST"]) for path in sorted(CHAT_PATHS)),
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
    return ProxyApp(config, router, chat, others)


def app_from_environment() -> ProxyApp:
    """The app for the config file ``AGENTCORE_PROXY_CONFIG`` names: what each process of
    ``agentcore-proxy --workers N`` serves (uvicorn imports it as a factory)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    return create_app(load_config(os.environ[CONFIG_ENV]))


def _response(error: ApiError) -> Response:
    return Response(error.body(), error.status, error.headers, media_type="application/json")


async def _not_found(request: Request, exc: Exception) -> Response:
    return _response(
        ApiError(404, f"no route {request.url.path}", "invalid_request_error", "not_found")
    )


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return _response(
        ApiError(
            405,
            f"{request.method} is not allowed on {request.url.path}",
            "invalid_request_error",
            "method_not_allowed",
        )
    )
