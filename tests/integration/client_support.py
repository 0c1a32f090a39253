"""Helpers for the AgentCoreClient integration tests: clients on the local runtime, server-side
attempt counts, and one way to run a call on the sync or the async path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agentcore_bridge import AgentCoreClient
from agentcore_bridge.decoding import OtherEvent, TextDelta
from agentcore_bridge.errors import AgentCoreError
from agentcore_bridge.local import Invocation, LocalRuntime
from agentcore_bridge.results import Completion

T = TypeVar("T")
MODES = ("sync", "async")


def local_settings(local: LocalRuntime, **extra: Any) -> dict[str, Any]:
    """Connection settings for ``local``: its endpoint and the credentials it verifies."""
    return {
        "endpoint_url": local.endpoint_url,
        "aws_access_key_id": local.credentials.access_key_id,
        "aws_secret_access_key": local.credentials.secret_access_key,
        **extra,
    }


def make_client(local: LocalRuntime, arn: str | None, **options: Any) -> AgentCoreClient:
    """A client for ``arn`` on the local runtime, signing with its credentials, fast retries."""
    settings: dict[str, Any] = {
        "endpoint_url": local.endpoint_url,
        "aws_access_key_id": local.credentials.access_key_id,
        "aws_secret_access_key": local.credentials.secret_access_key,
        "retry_base_delay": 0.01,
    }
    settings.update(options)
    return AgentCoreClient(arn, **settings)


def attempts(local: LocalRuntime, arn: str, operation: str = "invocations") -> list[Invocation]:
    """The requests for ``arn`` the runtime received (retries included), oldest first."""
    return [i for i in local.invocations if i.runtime_arn == arn and i.operation == operation]


def run_async(client: AgentCoreClient, body: Callable[[], Awaitable[T]]) -> T:
    """Run ``body`` in a fresh event loop and close the client's connections in that loop."""

    async def main() -> T:
        try:
            return await body()
        finally:
            await client.aclose()

    return asyncio.run(main())


def invoke(client: AgentCoreClient, mode: str, messages: Any = "hi", **options: Any) -> Completion:
    """``invoke`` (sync) or ``ainvoke`` (async); the client is closed afterwards."""
    if mode == "sync":
        try:
            return client.invoke(messages, **options)
        finally:
            client.close()
    return run_async(client, lambda: client.ainvoke(messages, **options))


@dataclass
class StreamOutcome:
    """What a consumer of ``stream``/``astream`` saw."""

    deltas: list[str] = field(default_factory=list)
    others: int = 0
    """How many ``OtherEvent``s were handed on."""
    error: AgentCoreError | None = None
    session_id_before_iterating: str | None = None
    completion: Completion | None = None
    started: bool = False
    """The call returned a stream (the response headers arrived)."""


def consume_stream(
    client: AgentCoreClient, mode: str, messages: Any = "hi", **options: Any
) -> StreamOutcome:
    """``stream`` or ``astream`` read to the end; an AgentCoreError is caught into the outcome."""
    outcome = StreamOutcome()

    def take(event: object) -> None:
        if isinstance(event, TextDelta):
            outcome.deltas.append(event.text)
        elif isinstance(event, OtherEvent):
            outcome.others += 1

    if mode == "sync":
        try:
            with client.stream(messages, **options) as stream:
                outcome.started = True
                outcome.session_id_before_iterating = stream.session_id
                outcome.completion = stream.completion
                for event in stream:
                    take(event)
        except AgentCoreError as error:
            outcome.error = error
        finally:
            client.close()
        return outcome

    async def body() -> StreamOutcome:
        try:
            async with await client.astream(messages, **options) as stream:
                outcome.started = True
                outcome.session_id_before_iterating = stream.session_id
                outcome.completion = stream.completion
                async for event in stream:
                    take(event)
        except AgentCoreError as error:
            outcome.error = error
        return outcome

    return run_async(client, body)


def echoed(completion: Completion) -> dict[str, Any]:
    """What the echo agent received (its answer is a JSON object of an unrecognised shape)."""
    value = json.loads(completion.text)
    assert isinstance(value, dict) and "payload" in value, completion.text
    return value
