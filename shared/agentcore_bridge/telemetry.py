"""OpenTelemetry GenAI spans and metrics for agent calls, following the semantic conventions for
agent invocation (``invoke_agent``, status Development in semconv 1.41).

Nothing happens unless the application has configured OpenTelemetry: :func:`start_call` looks
for ``opentelemetry`` in ``sys.modules`` (it never imports it) and for a real tracer or meter
provider, and returns None otherwise, so an unconfigured caller pays one dictionary look-up per
call. When configured, every call of ``AgentCoreClient`` (and so of every adapter,
``completion()`` and the proxy) is a CLIENT span ``invoke_agent {agent name}``:

* ``gen_ai.operation.name`` = ``invoke_agent``, ``gen_ai.provider.name`` = ``aws.bedrock``,
  ``gen_ai.agent.id`` (the runtime id), ``gen_ai.agent.name`` (the runtime's name: its id
  without the 10-character suffix the control plane adds), ``gen_ai.conversation.id`` (the
  runtime session id actually used), ``gen_ai.usage.input_tokens``/``output_tokens`` when the
  agent reports usage, ``error.type`` on failure, ``server.address``/``server.port``;
* AgentCore's own under ``aws.bedrock.agentcore.``: ``qualifier``, ``request_id``,
  ``retry_count``, ``protocol``, ``runtime_arn``; each retry is a span event ``retry``;
* the ``traceparent`` sent to AgentCore is this span's, so the agent's spans join the trace
  (a ``traceparent`` given explicitly still wins);
* a stream's span ends when the stream ends, is closed or is cancelled.

Metrics: ``gen_ai.client.operation.duration`` (s), ``gen_ai.client.token.usage`` (by
``gen_ai.token.type``) and ``gen_ai.client.operation.time_to_first_chunk`` (s, streams).

Message content (``gen_ai.input.messages``, ``gen_ai.output.messages``) is recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``true``; secrets never are (they are
not part of what a span sees).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from agentcore_bridge.environment import getenv

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
SCOPE = "agentcore_bridge"
PREFIX = "aws.bedrock.agentcore."
# Control-plane runtime ids are "<name>-<10 alphanumerics>".
_RUNTIME_ID = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_]{0,47})-[A-Za-z0-9]{10}")
# Bounds from the semantic conventions' advice for these histograms.
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                     40.96, 81.92)  # fmt: skip
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                  16777216, 67108864)  # fmt: skip

_instruments: dict[tuple[int, int], Instruments] = {}


def agent_name(runtime_id: str) -> str:
    """The runtime's name: ``my_agent`` for ``my_agent-AbCdEf1234``, else the id itself."""
    match = _RUNTIME_ID.fullmatch(runtime_id)
    return match.group("name") if match else runtime_id


def capture_content() -> bool:
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true"


class Instruments:
    """The tracer and the three instruments of one (tracer provider, meter provider) pair."""

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        from opentelemetry import trace

        self.tracer = tracer_provider.get_tracer(SCOPE) if tracer_provider is not None else None
        self.trace = trace
        self.duration = self.tokens = self.first_chunk = None
        if meter_provider is not None:
            meter = meter_provider.get_meter(SCOPE)
            self.duration = meter.create_histogram(
                "gen_ai.client.operation.duration", unit="s",
                description="GenAI operation duration",
                explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
            )  # fmt: skip
            self.tokens = meter.create_histogram(
                "gen_ai.client.token.usage", unit="{token}",
                description="Number of input and output tokens used",
                explicit_bucket_boundaries_advisory=list(_TOKEN_BUCKETS),
            )  # fmt: skip
            self.first_chunk = meter.create_histogram(
                "gen_ai.client.operation.time_to_first_chunk", unit="s",
                description="Time to receive the first chunk of a streamed answer",
                explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
            )  # fmt: skip


_MISSING = object()


def _nothing_configured(trace_module: Any) -> bool:
    """True when no tracer or meter provider was set and no environment variable names one:
    the API's own globals, read without calling ``get_*_provider()`` (two environment look-ups
    and proxy objects per call). An API that keeps them elsewhere makes this False, and the
    caller takes the full path."""
    if getattr(trace_module, "_TRACER_PROVIDER", _MISSING) is not None:
        return False
    metrics_internal = sys.modules.get("opentelemetry.metrics._internal")
    if (
        metrics_internal is not None
        and getattr(metrics_internal, "_METER_PROVIDER", _MISSING) is not None
    ):
        return False
    return (
        getenv("OTEL_PYTHON_TRACER_PROVIDER") is None
        and getenv("OTEL_PYTHON_METER_PROVIDER") is None
    )


def _instruments_now() -> Instruments | None:
    """The instruments for the configured providers, or None when OpenTelemetry is not set up
    (not imported, or only the API's proxy providers with nothing behind them)."""
    trace_module = sys.modules.get("opentelemetry.trace")
    if trace_module is None or _nothing_configured(trace_module):
        return None
    tracer_provider: Any = trace_module.get_tracer_provider()
    if isinstance(
        tracer_provider, trace_module.ProxyTracerProvider | trace_module.NoOpTracerProvider
    ):
        tracer_provider = None
    meter_provider: Any = None
    metrics_module = sys.modules.get("opentelemetry.metrics")
    if metrics_module is not None:
        meter_provider = metrics_module.get_meter_provider()
        if type(meter_provider).__name__ in ("_ProxyMeterProvider", "NoOpMeterProvider"):
            meter_provider = None
    if tracer_provider is None and meter_provider is None:
        return None
    key = (id(tracer_provider), id(meter_provider))
    found = _instruments.get(key)
    if found is None:
        if len(_instruments) > 16:  # providers replaced over and over (tests): stay bounded
            _instruments.clear()
        found = _instruments[key] = Instruments(tracer_provider, meter_provider)
    return found


class CallTelemetry:
    """The span and measurements of one agent call. Made by :func:`start_call`."""

    def __init__(self, instruments: Instruments, operation: str, streaming: bool) -> None:
        self._instruments = instruments
        self._streaming = streaming
        self._started = time.monotonic()
        self._first_chunk: float | None = None
        self._ended = False
        self._capture = capture_content()
        self._output: list[str] = []
        self._attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": "aws.bedrock",
        }
        self.span: Any = None
        self._operation = operation

    def begin(
        self,
        *,
        runtime: str,
        runtime_id: str,
        qualifier: str | None,
        session_id: str,
        url: str,
        protocol: str,
        messages: Sequence[Mapping[str, Any]] | None,
    ) -> None:
        """Open the span once the call is prepared (target, session, URL are known)."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        name = agent_name(runtime_id)
        attributes = self._attributes
        attributes.update({
            "gen_ai.agent.id": runtime_id,
            "gen_ai.agent.name": name,
            "gen_ai.conversation.id": session_id,
            "server.address": parts.hostname or "",
            "server.port": port,
            PREFIX + "protocol": protocol,
            PREFIX + "operation": self._operation,
        })  # fmt: skip
        if runtime.startswith("arn:"):
            attributes[PREFIX + "runtime_arn"] = runtime
        if qualifier is not None:
            attributes[PREFIX + "qualifier"] = qualifier
        if self._capture and messages is not None:
            attributes["gen_ai.input.messages"] = json.dumps(
                [_message_part(m) for m in messages], ensure_ascii=False
            )
        tracer = self._instruments.tracer
        if tracer is not None:
            trace = self._instruments.trace
            self.span = tracer.start_span(
                f"invoke_agent {name}", kind=trace.SpanKind.CLIENT, attributes=attributes
            )

    def trace_headers(self) -> dict[str, str]:
        """``traceparent`` (and ``tracestate``) of this span, for the request to AgentCore."""
        if self.span is None:
            return {}
        from opentelemetry import propagate, trace

        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(self.span))
        return {k: v for k, v in carrier.items() if k in ("traceparent", "tracestate", "baggage")}

    def retry(self, attempt: int, error: BaseException, delay: float) -> None:
        if self.span is not None:
            self.span.add_event("retry", {
                PREFIX + "attempt": attempt, "error.type": type(error).__name__,
                PREFIX + "retry_delay_s": round(delay, 4),
            })  # fmt: skip

    def chunk(self, text: str | None = None) -> None:
        """An event of the answer arrived (``text`` when it carried answer text)."""
        if self._first_chunk is None:
            self._first_chunk = time.monotonic() - self._started
        if self._capture and text:
            self._output.append(text)

    def end(
        self,
        *,
        error: BaseException | None = None,
        usage: Any = None,
        request_id: str | None = None,
        retries: int = 0,
        session_id: str | None = None,
        finish_reason: str | None = None,
    ) -> None:
        """Close the span and record the metrics; idempotent (a stream ends once)."""
        if self._ended:
            return
        self._ended = True
        duration = time.monotonic() - self._started
        attributes = self._attributes
        if session_id:
            attributes["gen_ai.conversation.id"] = session_id
        metric_attributes: dict[str, Any] = {
            k: attributes[k]
            for k in ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.agent.name",
                      "server.address", "server.port")
            if k in attributes
        }  # fmt: skip
        error_type = _error_type(error) if error is not None else None
        if error_type is not None:
            metric_attributes["error.type"] = error_type
        span = self.span
        if span is not None:
            span.set_attribute(PREFIX + "retry_count", retries)
            if session_id:
                span.set_attribute("gen_ai.conversation.id", session_id)
            if request_id:
                span.set_attribute(PREFIX + "request_id", request_id)
            if finish_reason and error is None:
                span.set_attribute("gen_ai.response.finish_reasons", [finish_reason])
            if usage is not None:
                span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
            if self._capture and self._output:
                output = {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": "".join(self._output)}],
                    "finish_reason": finish_reason or "stop",
                }
                span.set_attribute("gen_ai.output.messages", json.dumps([output]))
            if error is not None:
                trace = self._instruments.trace
                span.set_attribute("error.type", error_type)
                span.set_status(trace.Status(trace.StatusCode.ERROR, _error_text(error)))
            span.end()
        instruments = self._instruments
        if instruments.duration is not None:
            instruments.duration.record(duration, metric_attributes)
            if usage is not None and instruments.tokens is not None:
                for kind, count in (("input", usage.input_tokens), ("output", usage.output_tokens)):
                    instruments.tokens.record(
                        count, {**metric_attributes, "gen_ai.token.type": kind}
                    )
            if (
                self._streaming
                and self._first_chunk is not None
                and instruments.first_chunk is not None
            ):
                instruments.first_chunk.record(self._first_chunk, metric_attributes)


def start_call(operation: str, *, streaming: bool) -> CallTelemetry | None:
    """A :class:`CallTelemetry` when OpenTelemetry is configured, else None (the common,
    free case)."""
    instruments = _instruments_now()
    if instruments is None:
        return None
    return CallTelemetry(instruments, operation, streaming)


def _message_part(message: Mapping[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    return {"role": message.get("role"), "parts": [{"type": "text", "content": text}]}


def _error_type(error: BaseException) -> str:
    import asyncio

    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return "cancelled"
    return type(error).__name__


def _error_text(error: BaseException) -> str:
    # The package's errors never carry secrets; a foreign exception is named, not quoted.
    from agentcore_bridge.errors import AgentCoreError

    return str(error) if isinstance(error, AgentCoreError) else type(error).__name__


class ServerSpan:
    """The proxy's SERVER span for one request: the parent of the client span of the agent call,
    itself the child of the caller's ``traceparent`` when the request carries one."""

    def __init__(self, span: Any, token: object) -> None:
        self.span = span
        self._token = token
        self._ended = False

    def detach(self) -> None:
        """Leave the span's context (the request handler returns; a stream may go on)."""
        from opentelemetry import context

        if self._token is not None:
            context.detach(self._token)  # type: ignore[arg-type]
            self._token = None

    def end(self, status: int, error_type: str | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        from opentelemetry import trace

        self.span.set_attribute("http.response.status_code", status)
        if status >= 500 or error_type is not None:
            self.span.set_attribute("error.type", error_type or str(status))
            if status >= 500:
                self.span.set_status(trace.Status(trace.StatusCode.ERROR))
        self.span.end()


def start_server_span(
    method: str, route: str, headers: Mapping[str, str], server: tuple[str, int] | None
) -> ServerSpan | None:
    """A SERVER span made current for the request, or None when tracing is not configured."""
    instruments = _instruments_now()
    if instruments is None or instruments.tracer is None:
        return None
    from opentelemetry import context, propagate, trace

    parent = propagate.extract(headers)
    attributes: dict[str, Any] = {"http.request.method": method, "http.route": route}
    if server is not None:
        attributes["server.address"], attributes["server.port"] = server
    span = instruments.tracer.start_span(
        f"{method} {route}", context=parent, kind=trace.SpanKind.SERVER, attributes=attributes
    )
    token = context.attach(trace.set_span_in_context(span, parent))
    return ServerSpan(span, token)
