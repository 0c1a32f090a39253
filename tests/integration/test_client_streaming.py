"""AgentCoreClient end to end on the local runtime: prompt streaming, cancellation seen by the
agent, sessions and the history rule, per-call options, stopping sessions, refusals before any
request, bearer auth and OpenTelemetry trace propagation.

Promptness is proven without timings: the agent blocks on an event the test controls, so the
first delta can only have arrived before the agent was released if the client handed it on as
soon as its bytes came.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from client_support import (
    MODES,
    attempts,
    consume_stream,
    echoed,
    invoke,
    make_client,
    run_async,
)
from opentelemetry import baggage as otel_baggage
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from support.local_runtimes import Runtime

from agentcore_bridge import AgentCoreClient
from agentcore_bridge.decoding import TextDelta, Usage
from agentcore_bridge.errors import (
    AccessDeniedError,
    ContentNotKeptError,
    InvalidSessionIdError,
    InvalidTargetError,
    PayloadTooLargeError,
    ResourceNotFoundError,
)
from agentcore_bridge.local.agents import echo
from agentcore_bridge.payloads import MAX_PAYLOAD_BYTES

pytestmark = pytest.mark.network

USER_ID_HEADER = "x-amzn-bedrock-agentcore-runtime-user-id"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


# --- promptness ----------------------------------------------------------------------------------


@dataclass
class Gate:
    release: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)


def gated_agent() -> tuple[BedrockAgentCoreApp, Gate]:
    """Yields "first", then waits (off its event loop) until the test releases it."""
    app = BedrockAgentCoreApp()
    gate = Gate()

    @app.entrypoint
    async def gated(payload: Any) -> AsyncIterator[str]:
        try:
            yield "first "
            released = await asyncio.to_thread(gate.release.wait, 10)
            yield "second" if released else "never released"
        finally:
            gate.finished.set()

    return app, gate


def test_stream_hands_on_the_first_delta_while_the_agent_still_runs(runtime: Runtime) -> None:
    app, gate = gated_agent()
    client = make_client(runtime.local, runtime.add(app))
    try:
        with client.stream("hi", keep_content=True) as stream:
            events = iter(stream)
            first = next(e for e in events if isinstance(e, TextDelta))
            # The agent is still blocked: the delta was handed on as soon as it arrived.
            assert first.text == "first "
            assert not gate.release.is_set()
            assert not gate.finished.is_set()
            gate.release.set()
            rest = [e.text for e in events if isinstance(e, TextDelta)]
        assert rest == ["second"]
        assert stream.completion.text == "first second"
    finally:
        gate.release.set()
        client.close()


def test_astream_hands_on_the_first_delta_while_the_agent_still_runs(runtime: Runtime) -> None:
    app, gate = gated_agent()
    client = make_client(runtime.local, runtime.add(app))

    async def body() -> list[str]:
        texts: list[str] = []
        async with await client.astream("hi") as stream:
            async for event in stream:
                if not isinstance(event, TextDelta):
                    continue
                texts.append(event.text)
                if len(texts) == 1:
                    # The runtime runs in its own thread and loop: this loop is free, and the
                    # agent is still blocked when the first delta is here.
                    assert not gate.release.is_set()
                    assert not gate.finished.is_set()
                    gate.release.set()
        return texts

    try:
        assert run_async(client, body) == ["first ", "second"]
    finally:
        gate.release.set()


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_keeps_its_text_only_when_asked(runtime: Runtime, mode: str) -> None:
    handed_on = consume_stream(make_client(runtime.local, runtime.stream), mode)
    assert handed_on.error is None and handed_on.deltas and handed_on.others
    completion = handed_on.completion
    assert completion is not None
    # Not kept: usage and metadata only, and reading the text says so instead of returning "".
    assert completion.usage == Usage(34, 12, 46)
    assert completion.session_id == handed_on.session_id_before_iterating
    with pytest.raises(ContentNotKeptError, match="keep_content=True"):
        _ = completion.text
    assert completion.other_events == [] and completion.final_messages == []

    kept = consume_stream(make_client(runtime.local, runtime.stream), mode, keep_content=True)
    assert kept.completion is not None
    assert kept.completion.text == "".join(kept.deltas) == "".join(handed_on.deltas)
    assert len(kept.completion.other_events) == kept.others == handed_on.others
    assert kept.completion.usage == Usage(34, 12, 46)


# --- cancellation reaches the agent ---------------------------------------------------------------


@dataclass
class Ticks:
    finished: threading.Event = field(default_factory=threading.Event)
    completed: bool = False
    ticks: int = 0


TICKS = 400  # 0.05 s apart: 20 s if nobody stops the agent


def ticking_sdk_agent() -> tuple[BedrockAgentCoreApp, Ticks]:
    app = BedrockAgentCoreApp()
    state = Ticks()

    @app.entrypoint
    async def ticking(payload: Any) -> AsyncIterator[str]:
        try:
            yield "first "
            for i in range(TICKS):
                await asyncio.sleep(0.05)
                state.ticks += 1
                yield f"tick{i} "
            state.completed = True
        finally:
            state.finished.set()

    return app, state


def raw_blocking_agent() -> tuple[Any, Ticks]:
    """A raw ASGI agent (no SDK): one event, then one long await inside try/finally."""
    state = Ticks()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        start = {"type": "http.response.start", "status": 200,
                 "headers": [(b"content-type", b"text/event-stream")]}  # fmt: skip
        await send(start)
        try:
            await send({"type": "http.response.body", "body": b'data: "first "\n\n',
                        "more_body": True})  # fmt: skip
            await asyncio.sleep(20)
            state.completed = True
            await send({"type": "http.response.body", "body": b'data: "late"\n\n'})
        finally:
            state.finished.set()

    return app, state


def wait_for_agent_finally(state: Ticks, *, collect: bool) -> bool:
    """Wait (bounded) for the agent's finally. With ``collect``, run the cyclic GC meanwhile.

    Why the GC, for SDK agents only: bedrock-agentcore 1.25 runs an async-generator entrypoint on
    a worker loop behind a sync generator (``_async_gen_to_sync_gen``) that Starlette iterates in
    a thread; only closing that sync generator cancels the agent. On disconnect Starlette's task
    group cancels the stream task, and anyio's ``TaskGroup._spawn.task_done`` keeps the
    CancelledError in a local (``exc = e``) whose traceback holds that frame: a reference cycle
    that keeps Starlette's ``iterate_in_threadpool`` frame, and so the sync generator, alive
    until the cyclic GC runs. Until then the SDK producer fills its 100-slot queue and parks; the
    agent's finally does not run. The raw agent below shows the runtime cancels the app at once.
    """
    for _ in range(100):
        if state.finished.wait(0.1):
            return True
        if collect:
            gc.collect()
    return state.finished.is_set()


@pytest.mark.parametrize("how", ["task-cancel", "break-and-aclose"])
@pytest.mark.parametrize("agent", ["sdk", "raw"])
def test_cancelling_astream_stops_the_agent(runtime: Runtime, how: str, agent: str) -> None:
    app, state = ticking_sdk_agent() if agent == "sdk" else raw_blocking_agent()
    arn = runtime.add(app)
    client = make_client(runtime.local, arn)

    async def body() -> list[str]:
        deltas: list[str] = []
        stream = await client.astream("hi")
        if how == "break-and-aclose":
            async for event in stream:
                if isinstance(event, TextDelta):
                    deltas.append(event.text)
                    break
            await stream.aclose()
            return deltas
        first = asyncio.Event()

        async def consume() -> None:
            async for event in stream:
                if isinstance(event, TextDelta):
                    deltas.append(event.text)
                    first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return deltas

    deltas = run_async(client, body)
    assert deltas[0] == "first "
    assert wait_for_agent_finally(state, collect=agent == "sdk"), "the agent's finally never ran"
    assert not state.completed, "the agent ran to its end: it was never cancelled"
    assert state.ticks < TICKS
    assert len(attempts(runtime.local, arn)) == 1


def test_closing_a_sync_stream_stops_the_agent(runtime: Runtime) -> None:
    app, state = raw_blocking_agent()
    client = make_client(runtime.local, runtime.add(app))
    try:
        with client.stream("hi") as stream:
            first = next(e for e in stream if isinstance(e, TextDelta))
            assert first.text == "first "
    finally:
        client.close()
    assert wait_for_agent_finally(state, collect=False)
    assert not state.completed


# --- sessions and the history rule ----------------------------------------------------------------

SYSTEM = {"role": "system", "content": "Answer in one word."}
USER_1 = {"role": "user", "content": "Capital of France?"}
ASSISTANT_1 = {"role": "assistant", "content": "Paris"}
USER_2 = {"role": "user", "content": "And of Italy?"}


@pytest.mark.parametrize("mode", MODES)
def test_a_session_continues_and_receives_only_what_it_has_not_seen(
    runtime: Runtime, mode: str
) -> None:
    arn = runtime.add(echo.app)
    client = make_client(runtime.local, arn)
    first = invoke(client, mode, [SYSTEM, USER_1])
    assert echoed(first)["payload"] == {"prompt": "Answer in one word.\n\nUser: Capital of France?"}
    session = first.session_id
    assert session is not None and echoed(first)["session_id"] == session

    conversation = [SYSTEM, USER_1, ASSISTANT_1, USER_2]
    second = invoke(client, mode, conversation, session_id=session)
    assert second.session_id == session
    assert echoed(second)["session_id"] == session
    # The session has seen the system text and the first turn: only the new user text goes.
    assert echoed(second)["payload"] == {"prompt": "And of Italy?"}

    full = invoke(client, mode, conversation, session_id=session, history="full")
    assert echoed(full)["payload"] == {
        "prompt": "Answer in one word.\n\n"
        "User: Capital of France?\nAssistant: Paris\nUser: And of Italy?"
    }
    assert {i.session_id for i in attempts(runtime.local, arn)} == {session}
    assert len(attempts(runtime.local, arn)) == 3


# --- per-call options reach the agent -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_qualifier_user_id_trace_and_custom_headers_reach_the_agent(
    runtime: Runtime, mode: str
) -> None:
    arn = runtime.add(echo.app, qualifiers=("prod",))
    client = make_client(runtime.local, arn, runtime_user_id="client-default-user")
    completion = invoke(
        client,
        mode,
        "hi",
        qualifier="prod",
        user_id="user-42",
        trace_id="Root=1-5759e988-bd862e3fe1be46a994272793",
        traceparent=TRACEPARENT,
        tracestate="vendor=abc",
        baggage="tenant=acme",
        headers={"X-Amzn-Bedrock-AgentCore-Runtime-Custom-Team": "blue"},
    )
    headers = echoed(completion)["headers"]
    assert headers[USER_ID_HEADER] == "user-42"  # the per-call value beats the client's
    assert headers["x-amzn-trace-id"] == "Root=1-5759e988-bd862e3fe1be46a994272793"
    assert headers["traceparent"] == TRACEPARENT
    assert headers["tracestate"] == "vendor=abc"
    assert headers["baggage"] == "tenant=acme"
    assert headers["x-amzn-bedrock-agentcore-runtime-custom-team"] == "blue"
    assert attempts(runtime.local, arn)[-1].qualifier == "prod"

    # Without per-call values: the client's user id, the service's default endpoint.
    plain = invoke(client, mode, "hi")
    assert echoed(plain)["headers"][USER_ID_HEADER] == "client-default-user"
    assert attempts(runtime.local, arn)[-1].qualifier == "DEFAULT"


@pytest.mark.parametrize("mode", MODES)
def test_unknown_qualifier_is_not_found_and_not_retried(runtime: Runtime, mode: str) -> None:
    arn = runtime.add(echo.app, qualifiers=("prod",))
    with pytest.raises(ResourceNotFoundError):
        invoke(make_client(runtime.local, arn, qualifier="prod"), mode, "hi", qualifier="staging")
    assert [(i.status, i.qualifier) for i in attempts(runtime.local, arn)] == [(404, "staging")]


# --- stopping a session ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_stop_session_then_a_second_stop_is_not_found(runtime: Runtime, mode: str) -> None:
    arn = runtime.add(echo.app)
    client = make_client(runtime.local, arn)
    session = invoke(client, mode, [SYSTEM, USER_1]).session_id
    assert session is not None and session in client.session_store

    if mode == "sync":
        try:
            client.stop_session(session)
            assert session not in client.session_store  # its next call sends the whole conversation
            with pytest.raises(ResourceNotFoundError) as caught:
                client.stop_session(session)
        finally:
            client.close()
    else:

        async def body() -> Any:
            await client.astop_session(session)
            assert session not in client.session_store
            with pytest.raises(ResourceNotFoundError) as caught:
                await client.astop_session(session)
            return caught

        caught = run_async(client, body)
    assert caught.value.status_code == 404
    stops = attempts(runtime.local, arn, "stopruntimesession")
    assert [(i.status, i.session_id) for i in stops] == [(200, session), (404, session)]


# --- bad input fails before any request -----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", ["session-id", "region", "payload-size"])
def test_bad_input_is_refused_before_any_request(runtime: Runtime, mode: str, case: str) -> None:
    before = len(runtime.local.invocations)
    options: dict[str, Any] = {}
    if case == "session-id":
        client = make_client(runtime.local, runtime.echo)
        options = {"session_id": "too-short"}
        expected: type[Exception] = InvalidSessionIdError
    elif case == "region":
        client = make_client(runtime.local, None, region_name="eu-central-1")
        options = {"runtime": runtime.echo}  # the ARN says us-west-2
        expected = InvalidTargetError
    else:
        client = make_client(runtime.local, runtime.echo)
        options = {"payload": b"x" * (MAX_PAYLOAD_BYTES + 1)}
        expected = PayloadTooLargeError
    messages = None if case == "payload-size" else "hi"
    with pytest.raises(expected):
        invoke(client, mode, messages, **options)
    assert len(runtime.local.invocations) == before


def test_a_region_disagreeing_with_the_arn_is_refused_when_the_client_is_made(
    runtime: Runtime,
) -> None:
    with pytest.raises(InvalidTargetError, match="disagrees"):
        make_client(runtime.local, runtime.echo, region_name="eu-central-1")


# --- bearer (OAuth) runtimes ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_bearer_token_is_accepted_and_a_wrong_one_refused(runtime: Runtime, mode: str) -> None:
    arn = runtime.add(echo.app, bearer_tokens=("tok",))
    no_keys = {"aws_access_key_id": None, "aws_secret_access_key": None}
    good = invoke(make_client(runtime.local, arn, bearer_token="tok", **no_keys), mode, "hi")
    assert echoed(good)["payload"] == {"prompt": "hi"}
    assert echoed(good)["headers"]["authorization"] == "Bearer tok"

    with pytest.raises(AccessDeniedError, match="token is not valid"):
        invoke(make_client(runtime.local, arn, bearer_token="wrong", **no_keys), mode, "hi")
    with pytest.raises(AccessDeniedError, match="mismatch"):  # SigV4 to an OAuth runtime
        invoke(make_client(runtime.local, arn), mode, "hi")
    assert [i.status for i in attempts(runtime.local, arn)] == [200, 403, 403]


def test_bearer_token_from_the_environment(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = runtime.add(echo.app, bearer_tokens=("env-tok",))
    monkeypatch.setenv("AGENTCORE_BEARER_TOKEN", "env-tok")
    with AgentCoreClient(arn, endpoint_url=runtime.local.endpoint_url) as client:
        assert echoed(client.invoke("hi"))["headers"]["authorization"] == "Bearer env-tok"


# --- OpenTelemetry --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_active_span_reaches_the_agent_as_traceparent(runtime: Runtime, mode: str) -> None:
    provider = TracerProvider()
    tracer = provider.get_tracer("agentcore-tests")
    arn = runtime.add(echo.app)
    try:
        outside = invoke(make_client(runtime.local, arn), mode, "hi")
        with tracer.start_as_current_span("call-agent") as span:
            context = span.get_span_context()
            inside = invoke(make_client(runtime.local, arn), mode, "hi")
            explicit = invoke(make_client(runtime.local, arn), mode, "hi", traceparent=TRACEPARENT)
    finally:
        provider.shutdown()
    assert "traceparent" not in echoed(outside)["headers"], "no span: no invented trace"
    _, trace_id, span_id, _ = echoed(inside)["headers"]["traceparent"].split("-")
    assert trace_id == f"{context.trace_id:032x}"
    assert span_id == f"{context.span_id:016x}"
    assert echoed(explicit)["headers"]["traceparent"] == TRACEPARENT


def test_explicit_baggage_wins_over_the_opentelemetry_context(runtime: Runtime) -> None:
    provider = TracerProvider()
    tracer = provider.get_tracer("agentcore-tests")
    token = otel_context.attach(otel_baggage.set_baggage("tenant", "from-otel"))
    try:
        with tracer.start_as_current_span("call-agent"):
            completion = invoke(
                make_client(runtime.local, runtime.echo), "sync", "hi", baggage="tenant=explicit"
            )
    finally:
        otel_context.detach(token)
        provider.shutdown()
    assert echoed(completion)["headers"]["baggage"] == "tenant=explicit"
