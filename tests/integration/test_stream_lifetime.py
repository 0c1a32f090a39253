"""A stream keeps alive everything it reads from, and no read waits past ``read_timeout``.

Every stream entry point is opened on an object created inline; after the first piece every
reference the test could hold is gone and ``gc.collect()`` runs, and the stream must still read
to the end. Against an agent that falls silent after its first event, the same entry points
must end with ``AgentCoreTimeoutError`` within ``read_timeout`` plus a margin. Closing the client
explicitly ends its open streams with ``StreamInterruptedError`` at once.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from client_support import local_settings
from llama_index.core.llms import ChatMessage
from support.agents import first_event_then_hang

from agentcore_bridge import (
    AgentCoreClient,
    AgentCoreTimeoutError,
    StreamInterruptedError,
    acompletion,
    completion,
)
from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import strands_stream
from langchain_agentcore import ChatAgentCore
from llama_index_agentcore import AgentCore

EXPECTED = "Let me think about that. You asked: hi. Here is my answer."
READ_TIMEOUT = 1.0
MARGIN = 3.0  # loopback, a 2-core machine under a parallel test load


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        yield runtime


@pytest.fixture(scope="module")
def talking(local: LocalRuntime) -> str:
    return local.add_agent("lifetime-stream", strands_stream.app)


@pytest.fixture
def silent(local: LocalRuntime) -> str:
    agent, _ = first_event_then_hang()
    return local.add_agent(f"lifetime-silent-{time.monotonic_ns()}", agent)


settings = local_settings


# Each opener makes its object inline and returns only an iterator of text pieces: nothing
# else refers to the model or client afterwards.
USER = [ChatMessage(role="user", content="hi")]


def client_stream(arn: str, kw: dict[str, Any]) -> Iterator[str]:
    return AgentCoreClient(arn, **kw).stream("hi").text()


def chat_stream(arn: str, kw: dict[str, Any]) -> Iterator[str]:
    return (chunk.text for chunk in ChatAgentCore(model=arn, **kw).stream("hi"))


def llama_stream_chat(arn: str, kw: dict[str, Any]) -> Iterator[str]:
    return (r.delta or "" for r in AgentCore(model=arn, **kw).stream_chat(USER))


def llama_stream_complete(arn: str, kw: dict[str, Any]) -> Iterator[str]:
    return (r.delta or "" for r in AgentCore(model=arn, **kw).stream_complete("hi"))


def completion_stream(arn: str, kw: dict[str, Any]) -> Iterator[str]:
    chunks = completion(
        model=f"bedrock/agentcore/{arn}",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        api_base=kw["endpoint_url"],
        **{k: v for k, v in kw.items() if k != "endpoint_url"},
    )
    return (c.choices[0].delta.content or "" for c in chunks if c.choices)


async def client_astream(arn: str, kw: dict[str, Any]) -> AsyncIterator[str]:
    return (await AgentCoreClient(arn, **kw).astream("hi")).text()


async def chat_astream(arn: str, kw: dict[str, Any]) -> AsyncIterator[str]:
    return (chunk.text async for chunk in ChatAgentCore(model=arn, **kw).astream("hi"))


async def llama_astream_chat(arn: str, kw: dict[str, Any]) -> AsyncIterator[str]:
    gen = await AgentCore(model=arn, **kw).astream_chat(USER)
    return (r.delta or "" async for r in gen)


async def llama_astream_complete(arn: str, kw: dict[str, Any]) -> AsyncIterator[str]:
    gen = await AgentCore(model=arn, **kw).astream_complete("hi")
    return (r.delta or "" async for r in gen)


async def acompletion_stream(arn: str, kw: dict[str, Any]) -> AsyncIterator[str]:
    chunks = await acompletion(
        model=f"bedrock/agentcore/{arn}",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        api_base=kw["endpoint_url"],
        **{k: v for k, v in kw.items() if k != "endpoint_url"},
    )
    return (c.choices[0].delta.content or "" async for c in chunks if c.choices)


SYNC: dict[str, Callable[[str, dict[str, Any]], Iterator[str]]] = {
    "AgentCoreClient.stream": client_stream,
    "ChatAgentCore.stream": chat_stream,
    "AgentCore.stream_chat": llama_stream_chat,
    "AgentCore.stream_complete": llama_stream_complete,
    "completion(stream=True)": completion_stream,
}
ASYNC: dict[str, Callable[[str, dict[str, Any]], Any]] = {
    "AgentCoreClient.astream": client_astream,
    "ChatAgentCore.astream": chat_astream,
    "AgentCore.astream_chat": llama_astream_chat,
    "AgentCore.astream_complete": llama_astream_complete,
    "acompletion(stream=True)": acompletion_stream,
}


def read_dropping(pieces: Iterator[str]) -> str:
    got = []
    for piece in pieces:
        got.append(piece)
        if len(got) == 1:
            gc.collect()
    return "".join(got)


async def aread_dropping(pieces: AsyncIterator[str]) -> str:
    got = []
    async for piece in pieces:
        got.append(piece)
        if len(got) == 1:
            gc.collect()
    return "".join(got)


@pytest.mark.parametrize("name", list(SYNC))
def test_dropped_object_keeps_its_sync_stream(name: str, local: LocalRuntime, talking: str) -> None:
    text = read_dropping(SYNC[name](talking, settings(local, read_timeout=5)))
    assert text == EXPECTED


@pytest.mark.parametrize("name", list(ASYNC))
def test_dropped_object_keeps_its_async_stream(
    name: str, local: LocalRuntime, talking: str
) -> None:
    async def main() -> str:
        return await aread_dropping(await ASYNC[name](talking, settings(local, read_timeout=5)))

    assert asyncio.run(asyncio.wait_for(main(), 30)) == EXPECTED


@pytest.mark.parametrize("name", list(SYNC))
def test_silent_agent_ends_sync_stream_within_read_timeout(
    name: str, local: LocalRuntime, silent: str
) -> None:
    pieces = SYNC[name](silent, settings(local, read_timeout=READ_TIMEOUT))
    started = time.monotonic()
    with pytest.raises(AgentCoreTimeoutError, match="read_timeout"):
        read_dropping(pieces)
    assert time.monotonic() - started < READ_TIMEOUT + MARGIN


@pytest.mark.parametrize("name", list(ASYNC))
def test_silent_agent_ends_async_stream_within_read_timeout(
    name: str, local: LocalRuntime, silent: str
) -> None:
    async def main() -> str:
        pieces = await ASYNC[name](silent, settings(local, read_timeout=READ_TIMEOUT))
        return await aread_dropping(pieces)

    started = time.monotonic()
    with pytest.raises(AgentCoreTimeoutError, match="read_timeout"):
        asyncio.run(asyncio.wait_for(main(), 30))
    assert time.monotonic() - started < READ_TIMEOUT + MARGIN


def test_close_ends_a_sync_stream_read_in_another_thread(local: LocalRuntime, silent: str) -> None:
    client = AgentCoreClient(silent, **settings(local, read_timeout=60))
    stream = client.stream("hi")
    caught: list[BaseException] = []
    first = threading.Event()

    def read() -> None:
        try:
            for _ in stream:
                first.set()
        except BaseException as exc:
            caught.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    assert first.wait(10)
    started = time.monotonic()
    client.close()
    reader.join(10)
    assert not reader.is_alive()
    assert time.monotonic() - started < 2
    assert len(caught) == 1 and isinstance(caught[0], StreamInterruptedError)
    assert "client was closed" in str(caught[0])


@pytest.mark.parametrize("closer", ["aclose", "close"])
def test_close_ends_an_async_stream(local: LocalRuntime, silent: str, closer: str) -> None:
    async def main() -> tuple[BaseException | None, float]:
        client = AgentCoreClient(silent, **settings(local, read_timeout=60))
        stream = await client.astream("hi")
        first = asyncio.Event()

        async def read() -> None:
            async for _ in stream:
                first.set()

        task = asyncio.create_task(read())
        await asyncio.wait_for(first.wait(), 10)
        started = time.monotonic()
        if closer == "aclose":
            await client.aclose()
        else:
            client.close()
        try:
            await asyncio.wait_for(task, 10)
        except BaseException as exc:
            return exc, time.monotonic() - started
        finally:
            await client.aclose()
        return None, time.monotonic() - started

    error, elapsed = asyncio.run(main())
    assert isinstance(error, StreamInterruptedError), error
    assert elapsed < 2


def test_a_closed_client_still_makes_new_calls(local: LocalRuntime, talking: str) -> None:
    client = AgentCoreClient(talking, **settings(local))
    client.close()
    assert client.invoke("hi").text == EXPECTED
    client.close()
