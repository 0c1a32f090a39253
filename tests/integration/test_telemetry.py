"""OpenTelemetry GenAI spans and metrics for agent calls, read from the SDK's in-memory span
exporter and metric reader, against the local runtime (which logs the traceparent it received).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from client_support import local_settings
from langchain_core.runnables import RunnableLambda
from llama_index.core.llms import ChatMessage
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util._once import Once
from support.agents import cancel_after_first, first_event_then_hang

from agentcore_bridge import AgentCoreClient, AgentError
from agentcore_bridge.local import Fault, LocalRuntime
from agentcore_bridge.local.agents import echo, strands_stream
from agentcore_bridge.telemetry import CAPTURE_CONTENT_ENV
from langchain_agentcore import ChatAgentCore
from llama_index_agentcore import AgentCore

EXPECTED = "Let me think about that. You asked: hi. Here is my answer."


def _reset_globals() -> None:
    # The API sets its providers once per process; tests put them back (as OTel's own do).
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics._internal._METER_PROVIDER_SET_ONCE = Once()
    metrics._internal._METER_PROVIDER = None


class Telemetry:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def agent_spans(self) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name.startswith("invoke_agent")]

    def one_span(self) -> ReadableSpan:
        spans = self.agent_spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


@pytest.fixture(scope="module")
def otel() -> Iterator[Telemetry]:
    _reset_globals()
    telemetry = Telemetry()
    trace.set_tracer_provider(telemetry.tracer_provider)
    metrics.set_meter_provider(telemetry.meter_provider)
    yield telemetry
    telemetry.tracer_provider.shutdown()
    telemetry.meter_provider.shutdown()
    _reset_globals()


@pytest.fixture
def spans(otel: Telemetry) -> Telemetry:
    otel.exporter.clear()
    otel.reader.get_metrics_data()  # cumulative: tests compare counts before and after
    return otel


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        yield runtime


@pytest.fixture(scope="module")
def agent(local: LocalRuntime) -> str:
    return local.add_agent("otel_agent-AbCdEf1234", strands_stream.app)


@pytest.fixture(scope="module")
def echo_agent(local: LocalRuntime) -> str:
    return local.add_agent("otel_echo-AbCdEf1234", echo.app)


def kw(local: LocalRuntime, **extra: Any) -> dict[str, Any]:
    return local_settings(local, retry_base_delay=0.01, **extra)


def check_common(span: ReadableSpan, local: LocalRuntime, arn: str, session: str) -> None:
    attrs = dict(span.attributes or {})
    assert span.kind is SpanKind.CLIENT
    assert span.name == "invoke_agent otel_agent"
    assert attrs["gen_ai.operation.name"] == "invoke_agent"
    assert attrs["gen_ai.provider.name"] == "aws.bedrock"
    assert attrs["gen_ai.agent.id"] == "otel_agent-AbCdEf1234"
    assert attrs["gen_ai.agent.name"] == "otel_agent"
    assert attrs["gen_ai.conversation.id"] == session
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == int(local.endpoint_url.rsplit(":", 1)[1])
    assert attrs["aws.bedrock.agentcore.runtime_arn"] == arn
    assert attrs["aws.bedrock.agentcore.request_id"]
    # The agent reports 34 input and 12 output tokens over two model calls.
    assert attrs["gen_ai.usage.input_tokens"] == 34
    assert attrs["gen_ai.usage.output_tokens"] == 12


def test_invoke_is_one_client_span_with_the_genai_attributes(
    spans: Telemetry, local: LocalRuntime, agent: str
) -> None:
    completion = AgentCoreClient(agent, **kw(local)).invoke("hi", qualifier="DEFAULT")
    span = spans.one_span()
    check_common(span, local, agent, completion.session_id or "")
    attrs = dict(span.attributes or {})
    assert attrs["aws.bedrock.agentcore.qualifier"] == "DEFAULT"
    assert attrs["aws.bedrock.agentcore.retry_count"] == 0
    assert "error.type" not in attrs and span.status.status_code is StatusCode.UNSET


def test_the_traceparent_sent_is_the_spans_own(
    spans: Telemetry, local: LocalRuntime, agent: str
) -> None:
    completion = AgentCoreClient(agent, **kw(local)).invoke("hi")
    span = spans.one_span()
    received = [i for i in local.invocations if i.session_id == completion.session_id]
    traceparent = received[-1].headers["traceparent"]
    context = span.get_span_context()
    version, trace_id, span_id, _flags = traceparent.split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{context.trace_id:032x}",
        f"{context.span_id:016x}",
    )


def test_an_explicit_traceparent_still_wins(
    spans: Telemetry, local: LocalRuntime, agent: str
) -> None:
    given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    completion = AgentCoreClient(agent, **kw(local)).invoke("hi", traceparent=given)
    received = [i for i in local.invocations if i.session_id == completion.session_id]
    assert received[-1].headers["traceparent"] == given
    assert len(spans.agent_spans()) == 1


def test_a_streams_span_ends_when_the_stream_ends_not_when_it_starts(
    spans: Telemetry, local: LocalRuntime, agent: str
) -> None:
    stream = AgentCoreClient(agent, **kw(local)).stream("hi")
    events = iter(stream)
    next(events)
    assert spans.agent_spans() == []  # still open
    for _ in events:
        pass
    span = spans.one_span()
    check_common(span, local, agent, stream.session_id or "")
    assert span.end_time is not None and span.start_time is not None
    first_chunks = spans.points("gen_ai.client.operation.time_to_first_chunk")
    assert first_chunks and first_chunks[0].count >= 1


def test_a_cancelled_astream_ends_its_span_as_cancelled(
    spans: Telemetry, local: LocalRuntime
) -> None:
    hang, _ = first_event_then_hang()
    arn = local.add_agent("otel_hang-AbCdEf1234", hang)

    async def main() -> None:
        client = AgentCoreClient(arn, **kw(local))

        async def pieces() -> AsyncIterator[str]:
            return (await client.astream("hi")).text()

        assert await cancel_after_first(pieces) == "first "
        await client.aclose()

    asyncio.run(main())
    span = spans.one_span()
    assert span.attributes["error.type"] == "cancelled"
    assert span.status.status_code is StatusCode.ERROR


def test_an_agent_error_is_error_type_agent_error(spans: Telemetry, local: LocalRuntime) -> None:
    from bedrock_agentcore.runtime import BedrockAgentCoreApp

    app = BedrockAgentCoreApp()

    @app.entrypoint
    async def failing(payload: Any, context: Any) -> Any:
        yield "partial "
        raise ValueError("the agent broke")

    arn = local.add_agent("otel_fail-AbCdEf1234", app)
    with pytest.raises(AgentError):
        AgentCoreClient(arn, **kw(local)).invoke("hi")
    span = spans.one_span()
    assert span.attributes["error.type"] == "AgentError"
    assert span.status.status_code is StatusCode.ERROR
    assert "the agent broke" in (span.status.description or "")
    errors = [p for p in spans.points("gen_ai.client.operation.duration")
              if p.attributes.get("error.type") == "AgentError"]  # fmt: skip
    assert errors and errors[0].count >= 1


def test_throttled_then_successful_call_shows_its_retries(
    spans: Telemetry, local: LocalRuntime, agent: str
) -> None:
    local.inject(Fault.THROTTLE, times=2, runtime_arn=agent)
    AgentCoreClient(agent, **kw(local)).invoke("hi")
    span = spans.one_span()
    assert span.attributes["aws.bedrock.agentcore.retry_count"] == 2
    retries = [e for e in span.events if e.name == "retry"]
    assert [e.attributes["error.type"] for e in retries] == ["ThrottlingError"] * 2
    assert "error.type" not in span.attributes


def test_token_usage_and_duration_metrics(
    spans: Telemetry, local: LocalRuntime, agent: str
) -> None:
    def total(kind: str) -> int:
        return sum(p.sum for p in spans.points("gen_ai.client.token.usage")
                   if p.attributes["gen_ai.token.type"] == kind)  # fmt: skip

    def calls() -> int:
        return sum(p.count for p in spans.points("gen_ai.client.operation.duration"))

    before = (total("input"), total("output"), calls())
    asyncio.run(AgentCoreClient(agent, **kw(local)).ainvoke("hi"))
    after = (total("input"), total("output"), calls())
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (34, 12, 1)


def test_adapter_calls_nest_under_the_application_span(
    spans: Telemetry, local: LocalRuntime, agent: str
) -> None:
    tracer = trace.get_tracer("app")
    chain = RunnableLambda(lambda text: text) | ChatAgentCore(model=agent, **kw(local))
    with tracer.start_as_current_span("langchain chain") as parent:
        assert chain.invoke("hi").content == EXPECTED
        llm = AgentCore(model=agent, **kw(local))
        reply = asyncio.run(llm.achat([ChatMessage(role="user", content="hi")]))
        assert reply.message.content == EXPECTED
    ours = spans.agent_spans()
    assert len(ours) == 2
    parent_id = parent.get_span_context().span_id
    assert all(s.parent is not None and s.parent.span_id == parent_id for s in ours)


@pytest.mark.parametrize("capture", [False, True])
def test_message_content_only_when_opted_in(
    spans: Telemetry, local: LocalRuntime, agent: str, capture: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    if capture:
        monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
    else:
        monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    secret = local.credentials.secret_access_key
    AgentCoreClient(agent, **kw(local)).invoke(
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]
    )
    attrs = dict(spans.one_span().attributes or {})
    if capture:
        sent = json.loads(attrs["gen_ai.input.messages"])
        assert [m["role"] for m in sent] == ["system", "user"]
        output = json.loads(attrs["gen_ai.output.messages"])
        assert output[0]["parts"][0]["content"].startswith("Let me think about that.")
    else:
        assert "gen_ai.input.messages" not in attrs and "gen_ai.output.messages" not in attrs
    assert secret not in json.dumps({k: str(v) for k, v in attrs.items()})


def test_a_proxy_request_is_a_server_span_parenting_the_client_span(
    spans: Telemetry, local: LocalRuntime, agent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    from agentcore_bridge.proxy import create_app
    from agentcore_bridge.proxy.config import build_config

    params = {
        "model": f"bedrock/agentcore/{agent}",
        "aws_region_name": "us-west-2",
        "aws_access_key_id": local.credentials.access_key_id,
        "aws_secret_access_key": local.credentials.secret_access_key,
    }
    raw = {
        "model_list": [{"model_name": "otel", "litellm_params": params}],
        "general_settings": {"master_key": "sk-otel-test-master-key-0123456789"},
    }
    for key, value in local.environment().items():
        monkeypatch.setenv(key, value)  # the endpoint, as it would point at AWS
    config = build_config(raw, dict(local.environment()))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/chat/completions"
        for stream in (False, True):
            response = httpx.post(url, json={
                "model": "otel", "stream": stream, "messages": [{"role": "user", "content": "hi"}],
            }, headers={"Authorization": "Bearer sk-otel-test-master-key-0123456789",
                        "traceparent": caller}, timeout=30)  # fmt: skip
            assert response.status_code == 200, response.text
            assert "Here is my answer." in response.text
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    finished = spans.exporter.get_finished_spans()
    servers = [s for s in finished if s.kind is SpanKind.SERVER]
    clients = spans.agent_spans()
    assert len(servers) == 2 and len(clients) == 2
    for server_span, client_span in zip(servers, clients, strict=True):
        assert server_span.name == "POST /v1/chat/completions"
        assert f"{server_span.context.trace_id:032x}" == caller.split("-")[1]
        assert (
            server_span.parent is not None
            and f"{server_span.parent.span_id:016x}" == caller.split("-")[2]
        )
        assert client_span.parent is not None
        assert client_span.parent.span_id == server_span.context.span_id
        assert server_span.attributes["http.response.status_code"] == 200


def test_an_unconfigured_api_costs_no_provider_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenTelemetry's API imported (by a dependency) but no provider set: the common case, which
    # must stay free. Set providers, or one named by the environment, take the full path.
    from agentcore_bridge import telemetry as module

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(metrics._internal, "_METER_PROVIDER", None)
    monkeypatch.delenv("OTEL_PYTHON_TRACER_PROVIDER", raising=False)
    monkeypatch.delenv("OTEL_PYTHON_METER_PROVIDER", raising=False)
    lookups: list[str] = []

    def looked_up(name: str, provider: Any) -> Any:
        return lambda: (lookups.append(name), provider)[1]

    monkeypatch.setattr(
        trace, "get_tracer_provider", looked_up("trace", trace.NoOpTracerProvider())
    )
    monkeypatch.setattr(
        metrics, "get_meter_provider", looked_up("metrics", metrics.NoOpMeterProvider())
    )
    assert module.start_call("invoke", streaming=False) is None
    assert lookups == []

    monkeypatch.setenv("OTEL_PYTHON_METER_PROVIDER", "some_entry_point")
    assert module.start_call("invoke", streaming=False) is None  # no-op providers after all
    assert lookups == ["trace", "metrics"]

    monkeypatch.delenv("OTEL_PYTHON_METER_PROVIDER")
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", trace.NoOpTracerProvider())
    assert not module._nothing_configured(trace)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(metrics._internal, "_METER_PROVIDER", metrics.NoOpMeterProvider())
    assert not module._nothing_configured(trace)
    monkeypatch.delattr(trace, "_TRACER_PROVIDER")  # an API that keeps it elsewhere
    monkeypatch.setattr(metrics._internal, "_METER_PROVIDER", None)
    assert not module._nothing_configured(trace)
