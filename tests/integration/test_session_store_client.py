"""The shared session store through the models: several processes (and replicas) continuing one
conversation keep one history rule through Redis; sessions expire as AgentCore's do; a Redis that
is down or hung costs a warning and more history, never an answer. Against a real redis-server
and the local runtime's echo agent, which reports the prompt it received."""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from collections.abc import Iterator
from typing import Any

import pytest
from client_support import local_settings
from support.redis_server import RedisServer, require_redis_server
from support.session_workers import chat_worker

from agentcore_bridge import AgentCoreClient
from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import echo
from agentcore_bridge.sessions import new_session_id
from langchain_agentcore import ChatAgentCore

TURNS = ["one", "two", "three", "four"]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    require_redis_server()
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        yield runtime


@pytest.fixture(scope="module")
def arn(local: LocalRuntime) -> str:
    return local.add_agent("store-echo", echo.app)


def settings(local: LocalRuntime, arn: str, **extra: Any) -> dict[str, Any]:
    return local_settings(local, model=arn, **extra)


def store_client(local: LocalRuntime, arn: str, store: str, **options: Any) -> AgentCoreClient:
    return AgentCoreClient(arn, **local_settings(local, session_store=store, **options))


def prompt_of(reply: str) -> str:
    """What the echo agent received as its prompt."""
    return json.loads(reply)["payload"]["prompt"]


class Workers:
    """Worker processes (spawned: nothing inherited) answering turns of one conversation."""

    def __init__(self, kinds: list[str], worker_settings: dict[str, Any]) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes = []
        self.processes = []
        for kind in kinds:
            parent, child = context.Pipe()
            process = context.Process(target=chat_worker, args=(child, kind, worker_settings))
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def ask(self, index: int, conversation: list[tuple[str, str]], session: str) -> str:
        pipe = self.pipes[index]
        pipe.send((conversation, session))
        assert pipe.poll(60), "the worker did not answer"
        status, value = pipe.recv()
        assert status == "ok", value
        return value

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for process in self.processes:
            process.join(30)
            assert process.exitcode == 0


def alternate(workers: Workers, turns: list[str] = TURNS) -> list[str]:
    """Turns 1..n of one conversation, worker 0 and 1 taking turns; the prompts the agent got."""
    session = new_session_id()
    conversation: list[tuple[str, str]] = []
    received = []
    for index, text in enumerate(turns):
        conversation.append(("human", text))
        received.append(prompt_of(workers.ask(index % len(workers.pipes), conversation, session)))
        conversation.append(("ai", "ok"))
    return received


def test_two_processes_share_one_history_rule_through_redis(
    redis_server: RedisServer, local: LocalRuntime, arn: str
) -> None:
    workers = Workers(
        ["langchain", "langchain"], settings(local, arn, session_store=redis_server.url)
    )
    try:
        assert alternate(workers) == TURNS  # turn 1 whole (one message), then new turns only
    finally:
        workers.close()


def test_without_the_store_the_second_process_resends_the_conversation(
    local: LocalRuntime, arn: str
) -> None:
    workers = Workers(["langchain", "langchain"], settings(local, arn))
    try:
        received = alternate(workers)
    finally:
        workers.close()
    # The failure the store exists for: worker 1 never saw the session, so the agent gets turn 1
    # a second time.
    assert received[1] == "User: one\nAssistant: ok\nUser: two"
    assert received != TURNS


def test_langchain_llamaindex_and_completion_processes_share_the_store(
    redis_server: RedisServer, local: LocalRuntime, arn: str
) -> None:
    workers = Workers(
        ["langchain", "llama", "completion"], settings(local, arn, session_store=redis_server.url)
    )
    try:
        assert alternate(workers, TURNS[:3]) == TURNS[:3]
    finally:
        workers.close()


def conversation_after(turns: list[str]) -> list[dict[str, str]]:
    messages = []
    for text in turns[:-1]:
        messages += [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]
    return [*messages, {"role": "user", "content": turns[-1]}]


def prompts(client: AgentCoreClient, session: str, gaps: list[float]) -> list[str]:
    """Turns of one conversation in ``session`` with ``gaps`` seconds before turns 2, 3, ..."""
    received = []
    for index in range(len(gaps) + 1):
        if index:
            time.sleep(gaps[index - 1])
        reply = client.invoke(conversation_after(TURNS[: index + 1]), session_id=session)
        received.append(json.loads(reply.text)["payload"]["prompt"])
    return received


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_an_idle_session_counts_as_new_again(
    redis_server: RedisServer, local: LocalRuntime, arn: str, store: str
) -> None:
    url = redis_server.url if store == "redis" else "memory"
    client = store_client(local, arn, url, session_idle_timeout=1.0)
    received = prompts(client, new_session_id(), gaps=[0.2, 1.3])
    assert received[:2] == ["one", "two"]
    assert received[2] == "User: one\nAssistant: ok\nUser: two\nAssistant: ok\nUser: three"


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_a_session_older_than_its_lifetime_counts_as_new_again(
    redis_server: RedisServer, local: LocalRuntime, arn: str, store: str
) -> None:
    url = redis_server.url if store == "redis" else "memory"
    client = store_client(local, arn, url, session_max_lifetime=1.5)
    received = prompts(client, new_session_id(), gaps=[0.8, 0.9])
    assert received[:2] == ["one", "two"]  # busy, but 1.7 s old at turn 3
    assert received[2].startswith("User: one\n")


def test_redis_down_mid_run_answers_warns_and_recovers(
    local: LocalRuntime, arn: str, caplog: pytest.LogCaptureFixture
) -> None:
    require_redis_server()
    with RedisServer() as server:
        client = store_client(local, arn, server.url)
        session = new_session_id()
        first = client.invoke(conversation_after(TURNS[:1]), session_id=session)
        assert json.loads(first.text)["payload"]["prompt"] == "one"
        server.stop()
        caplog.set_level(logging.WARNING, logger="agentcore_bridge.session_store")
        started = time.monotonic()
        second = client.invoke(conversation_after(TURNS[:2]), session_id=session)
        third = client.invoke(conversation_after(TURNS[:3]), session_id=session)
        assert time.monotonic() - started < 3
        # The in-process rule carried on: only the new turns.
        assert [json.loads(r.text)["payload"]["prompt"] for r in (second, third)] == [
            "two",
            "three",
        ]
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "session store" in warnings[0].getMessage().lower()
        server.start()
        store = client.session_store
        deadline = time.monotonic() + 15
        while not store.redis_available and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.2)
            client.invoke(conversation_after(TURNS[:4]), session_id=new_session_id())
        assert store.redis_available  # type: ignore[attr-defined]
        import redis

        raw = redis.Redis.from_url(server.url)
        assert raw.keys("agentcore:session:*")
        raw.close()
        client.session_store.close()


def test_a_hung_redis_costs_at_most_the_store_timeout(local: LocalRuntime, arn: str) -> None:
    require_redis_server()
    with RedisServer() as server:
        client = store_client(local, arn, server.url)
        client.invoke("warm up")
        server.pause()
        try:
            started = time.monotonic()
            answer = client.invoke("still answered")
            elapsed = time.monotonic() - started
        finally:
            server.resume()
        assert json.loads(answer.text)["payload"]["prompt"] == "still answered"
        assert elapsed < 2.0  # the store's 0.25 s timeouts, not a hang
        client.session_store.close()


def test_the_environment_variable_selects_the_store(
    redis_server: RedisServer, local: LocalRuntime, arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTCORE_SESSION_STORE", redis_server.url)
    llm = ChatAgentCore(**settings(local, arn))
    assert type(llm.client.session_store).__name__ == "RedisSessionStore"
    session = new_session_id()
    llm.invoke("one", runtime_session_id=session)
    other = ChatAgentCore(**settings(local, arn))  # another model, as another process would be
    reply = other.invoke(
        [("human", "one"), ("ai", "ok"), ("human", "two")], runtime_session_id=session
    )
    assert prompt_of(str(reply.content)) == "two"
