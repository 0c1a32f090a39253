"""AgentCoreClient(protocol="a2a") against real A2A servers (a2a-sdk's AgentExecutor server, and
Strands' A2A server) hosted by the local runtime under AgentCore's A2A contract.

The scripted a2a-sdk agent (agentcore_bridge.local.agents.a2a_echo) answers as the first word of
the text says; what the agent received is read from the runtime's request log (the JSON-RPC
request it forwarded) and from the ``received`` metadata the agent puts in its messages.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from client_support import attempts, make_client, run_async
from support.a2a_cases import CASES, MODES

from agentcore_bridge import (
    AgentCoreClient,
    AgentError,
    Completion,
    RuntimeClientError,
    TaskStatus,
    TextDelta,
    ThrottlingError,
)
from agentcore_bridge.local import Fault, LocalRuntime
from agentcore_bridge.local.agents import a2a_echo, a2a_strands


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        yield runtime


@pytest.fixture(scope="module")
def echo_arn(local: LocalRuntime) -> str:
    return local.add_agent("a2a-echo", a2a_echo.build_app(), protocol="a2a")


def client(local: LocalRuntime, arn: str, **options: Any) -> AgentCoreClient:
    return make_client(local, arn, protocol="a2a", **options)


def call(c: AgentCoreClient, mode: str, messages: Any, **options: Any) -> tuple[str, Completion]:
    """One call in ``mode``; returns the text (joined deltas for streams) and the completion."""
    if mode == "invoke":
        completion = c.invoke(messages, **options)
        return completion.text, completion
    if mode == "stream":
        with c.stream(messages, **options) as stream:
            text = "".join(stream.text())
        return text, stream.completion

    async def body() -> tuple[str, Completion]:
        if mode == "ainvoke":
            completion = await c.ainvoke(messages, **options)
            return completion.text, completion
        stream = await c.astream(messages, **options)
        pieces = [piece async for piece in stream.text()]
        return "".join(pieces), stream.completion

    return run_async(c, body)


def forwarded(local: LocalRuntime, arn: str) -> list[dict[str, Any]]:
    """The JSON-RPC requests the runtime forwarded to the agent, oldest first."""
    return [json.loads(i.body) for i in attempts(local, arn) if i.body]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(CASES))
def test_every_answer_shape_through_every_call(
    local: LocalRuntime, echo_arn: str, case: str, mode: str
) -> None:
    text, expected, state = CASES[case]
    c = client(local, echo_arn)
    if expected is None:
        with pytest.raises(AgentError) as caught:
            call(c, mode, text)
        message = str(caught.value)
        assert (a2a_echo.FAILURE_TEXT if case == "failed" else "Scripted agent error") in message
        if case == "failed":
            assert caught.value.completion is not None
            assert caught.value.completion.task_state == "failed"
        return
    got, completion = call(c, mode, text)
    assert got == expected
    assert completion.task_state == state
    sent = forwarded(local, echo_arn)[-1]
    expected_method = "message/send" if mode in ("invoke", "ainvoke") else "message/stream"
    assert sent["method"] == expected_method
    assert sent["params"]["message"]["contextId"] == completion.session_id


def test_streamed_chunks_are_handed_on_one_by_one(local: LocalRuntime, echo_arn: str) -> None:
    with client(local, echo_arn).stream("stream") as stream:
        events = list(stream)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas == list(a2a_echo.STREAM_CHUNKS)
    assert [e.state for e in events if isinstance(e, TaskStatus)][-1] == "completed"


@pytest.mark.parametrize("mode", MODES)
def test_a_session_is_one_a2a_conversation_and_an_input_required_task_continues(
    local: LocalRuntime, echo_arn: str, mode: str
) -> None:
    c = client(local, echo_arn)
    first_text, first = call(c, mode, "input please")
    assert first.task_state == "input-required" and first.task_id
    conversation = [
        {"role": "user", "content": "input please"},
        {"role": "assistant", "content": first_text},
        {"role": "user", "content": "Ada"},
    ]
    second_text, second = call(c, mode, conversation, session_id=first.session_id)
    assert second_text == "Hello, Ada.\n\nDone."
    assert second.task_state == "completed"
    requests = forwarded(local, echo_arn)[-2:]
    turn_1, turn_2 = (r["params"]["message"] for r in requests)
    assert turn_1["contextId"] == turn_2["contextId"] == first.session_id
    assert "taskId" not in turn_1
    assert turn_2["taskId"] == first.task_id  # the waiting task is continued
    assert [p["text"] for p in turn_2["parts"]] == ["Ada"]  # only the new turn
    # A third call in the session starts a new task (nothing waits any more).
    call(c, mode, [*conversation, {"role": "assistant", "content": second_text},
                   {"role": "user", "content": "hello"}], session_id=first.session_id)  # fmt: skip
    assert "taskId" not in forwarded(local, echo_arn)[-1]["params"]["message"]


def test_a_new_session_gets_the_whole_conversation_as_the_text_part(
    local: LocalRuntime, echo_arn: str
) -> None:
    conversation = [
        {"role": "system", "content": "Be polite."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "hello again"},
    ]
    answer = client(local, echo_arn).invoke(conversation)
    part = forwarded(local, echo_arn)[-1]["params"]["message"]["parts"][0]["text"]
    assert part == "Be polite.\n\nUser: hi\nAssistant: Hello!\nUser: hello again"
    assert answer.text.startswith("Echo: Be polite.")


def test_the_agent_sees_the_session_id_as_its_context(local: LocalRuntime, echo_arn: str) -> None:
    c = client(local, echo_arn)
    completion = c.invoke("hello")
    raw = completion.final_messages[-1]
    received = raw["result"]["metadata"]["received"]
    assert received["contextId"] == completion.session_id
    assert received["texts"] == ["hello"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_agent_card(local: LocalRuntime, echo_arn: str, mode: str) -> None:
    c = client(local, echo_arn)
    card = c.agent_card() if mode == "sync" else run_async(c, c.aagent_card)
    assert card["name"] and card["skills"]
    assert card["url"].startswith(local.endpoint_url)


@pytest.mark.parametrize("mode", MODES)
def test_throttling_is_retried_with_the_same_session(
    local: LocalRuntime, echo_arn: str, mode: str
) -> None:
    before = len(attempts(local, echo_arn))
    local.inject(Fault.THROTTLE, times=2, runtime_arn=echo_arn)
    text, completion = call(client(local, echo_arn), mode, "hello")
    assert text == "Echo: hello"
    seen = attempts(local, echo_arn)[before:]
    assert [i.status for i in seen] == [429, 429, 200]
    assert {i.session_id for i in seen} == {completion.session_id}


@pytest.mark.parametrize("mode", MODES)
def test_runtime_client_error_is_never_retried(local: LocalRuntime, mode: str) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def broken(request: Request) -> JSONResponse:
        return JSONResponse({"detail": "agent crashed"}, status_code=500)

    app = Starlette(routes=[Route("/", broken, methods=["POST"])])
    arn = local.add_agent(f"a2a-broken-{mode}", app, protocol="a2a")
    with pytest.raises(RuntimeClientError) as caught:
        call(client(local, arn), mode, "hello")
    assert caught.value.status_code == 424
    assert len(attempts(local, arn)) == 1


def test_a_throttled_call_with_retries_off_is_a_throttling_error(
    local: LocalRuntime, echo_arn: str
) -> None:
    local.inject(Fault.THROTTLE, times=1, runtime_arn=echo_arn)
    with pytest.raises(ThrottlingError):
        client(local, echo_arn, max_retries=0).invoke("hello")


def test_a_stream_cut_mid_way_raises(local: LocalRuntime, echo_arn: str) -> None:
    from agentcore_bridge import StreamInterruptedError

    local.inject(Fault.DROP_MID_STREAM, times=1, runtime_arn=echo_arn)
    with pytest.raises(StreamInterruptedError), client(local, echo_arn).stream("slow") as stream:
        list(stream)


@pytest.mark.parametrize("mode", MODES)
def test_strands_a2a_server(local: LocalRuntime, mode: str) -> None:
    arn = local.add_agent(f"a2a-strands-{mode}", a2a_strands.build_app(), protocol="a2a")
    text, completion = call(client(local, arn), mode, "What is AgentCore?")
    assert text == a2a_strands.scripted_answer("What is AgentCore?")
    assert completion.task_state in (None, "completed")


def test_a2a_fan_out(local: LocalRuntime, echo_arn: str) -> None:
    c = client(local, echo_arn)

    async def main() -> list[str]:
        answers = await asyncio.gather(*(c.ainvoke(f"hello {i}") for i in range(50)))
        await c.aclose()
        return [a.text for a in answers]

    assert asyncio.run(main()) == [f"Echo: hello {i}" for i in range(50)]
