"""AgentCoreClient: invoke, stream, ainvoke, astream and stop_session on AgentCore runtimes.

Every call runs the same steps, written once: prepare (target, session id, payload under the
history rule read from the session store, headers; all checks before anything is sent), send
with retries (a transport does the I/O, sync or async), then decode the body as it arrives
(``decoding``) into events and one Completion (``streams``). Only the loops that move bytes
differ between the sync and async paths.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import botocore.session
from botocore.credentials import Credentials

from agentcore_bridge import credentials
from agentcore_bridge.decoding import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_EVENT_BYTES,
)
from agentcore_bridge.errors import (
    AgentCoreError,
    InvalidRequestError,
    MalformedResponseError,
    error_from_response,
)
from agentcore_bridge.payloads import (
    A2A_CONTINUED_STATES,
    AgentProtocol,
    HistoryMode,
    Message,
    PayloadFormat,
    PayloadShaper,
    SessionState,
    agent_protocol,
    build_a2a_payload,
    build_payload,
    encode_payload,
    history_mode,
    normalize_messages,
    system_text,
)
from agentcore_bridge.results import Completion
from agentcore_bridge.session_store import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_LIFETIME,
    SessionRecord,
    SessionStore,
    check_timeouts,
    session_store_from,
    system_hash,
)
from agentcore_bridge.sessions import new_session_id, validate_session_id
from agentcore_bridge.signing import BearerSigner, Signer, SigV4Signer
from agentcore_bridge.streams import SESSION_HEADER, AsyncEventStream, EventStream, StreamState
from agentcore_bridge.targets import RuntimeTarget, parse_target
from agentcore_bridge.telemetry import CallTelemetry, start_call
from agentcore_bridge.transport import (
    AsyncResponse,
    AsyncTransport,
    HttpRequest,
    Response,
    ResponseHead,
    Timeouts,
    Transport,
)
from agentcore_bridge.transport_urllib3 import Urllib3Transport

logger = logging.getLogger(__name__)

USER_ID_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-User-Id"
CUSTOM_HEADER_PREFIX = "x-amzn-bedrock-agentcore-runtime-custom-"
# Header length limits from the service model.
_HEADER_LIMITS = {
    USER_ID_HEADER: (1, 1024),
    "X-Amzn-Trace-Id": (1, 128),
    "traceparent": (1, 128),
    "tracestate": (1, 512),
    "baggage": (1, 8192),
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Which failures are retried and how long to wait: only failures that cannot have reached
    the agent (no connection, 429, 409 RetryableConflict, 500/503 from the service), with the
    same session id, at most ``max_retries`` times, with exponential backoff and full jitter."""

    max_retries: int = 3
    base_delay: float = 0.25
    max_delay: float = 8.0

    def should_retry(self, error: AgentCoreError, attempt: int) -> bool:
        return error.retryable and attempt < self.max_retries

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))  # noqa: S311


@dataclass(slots=True)
class PreparedCall:
    """Everything about one call that is decided before the network: pure and inspectable."""

    target: RuntimeTarget
    session_id: str
    url: str
    headers: dict[str, str]
    body: bytes
    system_text: str | None
    remember: bool
    deadline: float | None
    operation: str = "invocations"
    method: str = "POST"
    attempts: int = field(default=0)
    messages: tuple[dict[str, Any], ...] | None = None
    """The messages the body carries, after the history rule (None for a raw payload)."""
    telemetry: CallTelemetry | None = None
    previous: SessionRecord | None = None
    """What the session store held for the session before this call (restored on failure)."""


_NO_CONVERSATION = "<raw payload>"
_MAX_WAITING_TASKS = 10_000
_PREPARE_DEFAULTS: dict[str, Any] = dict.fromkeys((
    "runtime", "session_id", "qualifier", "user_id", "history", "payload", "trace_id",
    "traceparent", "tracestate", "baggage", "headers", "timeout",
))  # fmt: skip
_PREPARE_DEFAULTS["streaming"] = True


@dataclass(slots=True)
class _Plan:
    target: RuntimeTarget
    session: str
    system_hash: str | None
    """The conversation's system-text hash, or ``_NO_CONVERSATION`` for a raw payload."""
    messages: list[dict[str, Any]] | None = None
    system: str | None = None
    previous: SessionRecord | None = None


class AgentCoreClient:
    """Calls AgentCore runtimes: ``invoke``/``stream`` and ``ainvoke``/``astream``.

    ``runtime`` is a runtime ARN, ``bedrock/agentcore/<ARN>``, or a runtime id (with
    ``account_id`` and ``region_name``); it can be overridden per call. Auth is SigV4 with
    boto3's credential chain (explicit keys, ``profile_name``, environment, SSO, roles; refreshed
    as needed), or ``bearer_token`` (or ``AGENTCORE_BEARER_TOKEN``) for OAuth runtimes. The
    endpoint comes from boto3's resolver (``AWS_ENDPOINT_URL_BEDROCK_AGENTCORE``, FIPS and China
    included) unless ``endpoint_url`` is given.

    Sessions: a call without ``session_id`` gets a fresh one, reported back as
    ``completion.session_id``; pass it again to continue the conversation. ``history`` says what
    a call sends of the conversation it is given (``auto``: what the session has not seen).

    Secrets given here never appear in ``repr``, errors or logs, and are not pickled: an
    unpickled client takes its credentials from the environment (or the profile) instead.
    """

    def __init__(
        self,
        runtime: str | None = None,
        *,
        qualifier: str | None = None,
        region_name: str | None = None,
        account_id: str | None = None,
        endpoint_url: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        profile_name: str | None = None,
        botocore_session: botocore.session.Session | None = None,
        bearer_token: str | None = None,
        runtime_user_id: str | None = None,
        protocol: AgentProtocol | str = AgentProtocol.HTTP,
        history: HistoryMode | str = HistoryMode.AUTO,
        payload_format: PayloadFormat | str | PayloadShaper = PayloadFormat.PROMPT,
        payload_extra: Mapping[str, Any] | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 900.0,
        timeout: float | None = None,
        max_retries: int = 3,
        retry_base_delay: float = 0.25,
        verify: bool | str | None = None,
        session_store: SessionStore | str | None = None,
        session_idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        session_max_lifetime: float = DEFAULT_MAX_LIFETIME,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        transport: Transport | None = None,
        async_transport: AsyncTransport | None = None,
    ) -> None:
        # A session token without keys (a stray AWS_SESSION_TOKEN an adapter read) is ignored,
        # as boto3's environment provider ignores it.
        static = credentials.static_credentials(
            aws_access_key_id,
            aws_secret_access_key,
            aws_session_token if aws_access_key_id is not None else None,
        )
        if max_retries < 0:
            raise InvalidRequestError("max_retries must be 0 or more")
        if max_event_bytes < 1 or max_body_bytes < 1:
            raise InvalidRequestError("max_event_bytes and max_body_bytes must be positive")
        self.max_event_bytes = max_event_bytes
        self.max_body_bytes = max_body_bytes
        self.runtime = runtime
        self.qualifier = qualifier
        self.region_name = region_name
        self.account_id = account_id
        self.endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        self.profile_name = profile_name
        self.runtime_user_id = runtime_user_id
        self.protocol = agent_protocol(protocol)
        self.history = history_mode(history)
        self.payload_format = payload_format
        self.payload_extra = dict(payload_extra) if payload_extra else None
        self.timeouts = Timeouts(connect=connect_timeout, read=read_timeout, total=timeout)
        self.retry = RetryPolicy(max_retries=max_retries, base_delay=retry_base_delay)
        self.verify = verify
        check_timeouts(session_idle_timeout, session_max_lifetime)
        self.session_idle_timeout = float(session_idle_timeout)
        self.session_max_lifetime = float(session_max_lifetime)
        self.session_store = session_store_from(session_store)
        if runtime is not None:  # bad targets fail here, not at the first call
            parse_target(runtime, region=region_name, account_id=account_id, qualifier=qualifier)
        self._static_credentials = static
        self._bearer_token = bearer_token
        self._botocore_session = botocore_session
        self._given_transports = (transport, async_transport)
        self._setup()

    def _setup(self) -> None:
        self._lock = threading.Lock()
        self._credentials: Credentials | None = None
        self._signers: dict[str, SigV4Signer] = {}
        self._endpoints: dict[str, str] = {}
        self._targets: dict[tuple[str, str | None, str | None, str | None], RuntimeTarget] = {}
        self._sync: Transport | None = self._given_transports[0]
        self._async: AsyncTransport | None = self._given_transports[1]
        # Responses of open streams, so close() can end them (weak: a dropped stream goes).
        self._streams: weakref.WeakSet[Response | AsyncResponse] = weakref.WeakSet()
        # A2A: the task each session's agent is waiting on (input-required, auth-required).
        self._waiting_tasks: OrderedDict[str, str] = OrderedDict()

    # --- pickling and repr: never the secrets ------------------------------------------------

    # What a pickled client carries: its settings, never secrets, credentials, connections or
    # transports. An allow-list, so a new attribute stays home unless it is added here.
    _PICKLED = (
        "runtime", "qualifier", "region_name", "account_id", "endpoint_url", "profile_name",
        "protocol",
        "runtime_user_id", "history", "payload_format", "payload_extra", "timeouts", "retry",
        "verify", "session_store", "session_idle_timeout", "session_max_lifetime",
        "max_event_bytes", "max_body_bytes",
    )  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        return {name: self.__dict__[name] for name in self._PICKLED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({name: state[name] for name in self._PICKLED if name in state})
        self._static_credentials = None
        self._bearer_token = None
        self._botocore_session = None
        self._given_transports = (None, None)
        self._setup()

    def __repr__(self) -> str:
        auth = "bearer" if self._bearer() else "sigv4"
        return (
            f"AgentCoreClient(runtime={self.runtime!r}, qualifier={self.qualifier!r}, "
            f"region_name={self.region_name!r}, endpoint_url={self.endpoint_url!r}, auth={auth!r})"
        )

    # --- what is decided before the network ------------------------------------------------

    def _bearer(self) -> str | None:
        return credentials.resolve_bearer_token(self._bearer_token)

    def _session(self) -> botocore.session.Session:
        if self._botocore_session is None:
            self._botocore_session = credentials.botocore_session(self.profile_name)
        return self._botocore_session

    def _signer(self, region: str) -> Signer:
        token = self._bearer()
        if token:
            return BearerSigner(token)
        signer = self._signers.get(region)
        if signer is not None:
            return signer
        with self._lock:
            if self._credentials is None:
                self._credentials = credentials.resolve_credentials(
                    self._session(), self._static_credentials
                )
            # One signer per region: it keeps the day's signing key.
            signer = self._signers.setdefault(region, SigV4Signer(self._credentials, region))
            return signer

    def _endpoint(self, region: str) -> str:
        if self.endpoint_url:
            return self.endpoint_url
        with self._lock:
            endpoint = self._endpoints.get(region)
            if endpoint is None:
                # boto3's resolver, once per region, with no credential lookup.
                endpoint = credentials.resolve_endpoint(self._session(), region)
                self._endpoints[region] = endpoint
            return endpoint

    def prepare(
        self,
        messages: Sequence[Message] | str | None = None,
        *,
        runtime: str | None = None,
        session_id: str | None = None,
        qualifier: str | None = None,
        user_id: str | None = None,
        history: HistoryMode | str | None = None,
        payload: Any = None,
        trace_id: str | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
        baggage: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        streaming: bool = True,
    ) -> PreparedCall:
        """Check everything and build the request, without sending it: the target, then the
        body (under the history rule), then the headers. ``streaming`` chooses A2A's
        ``message/stream`` over ``message/send`` (HTTP-protocol agents choose for themselves).

        A conversation's call is recorded in the session store here, in the one round trip
        that also reads what the session has seen; a call that is then not accepted by
        AgentCore is taken back (:meth:`_rollback`)."""
        options = {
            "runtime": runtime, "session_id": session_id, "qualifier": qualifier,
            "user_id": user_id, "history": history, "payload": payload, "trace_id": trace_id,
            "traceparent": traceparent, "tracestate": tracestate, "baggage": baggage,
            "headers": headers, "timeout": timeout, "streaming": streaming,
        }  # fmt: skip
        plan = self._plan(messages, options)
        if plan.system_hash is not _NO_CONVERSATION:
            plan.previous = self.session_store.exchange(
                plan.session,
                plan.system_hash,
                idle_timeout=self.session_idle_timeout,
                max_lifetime=self.session_max_lifetime,
            )
        return self._assemble(messages, plan, options)

    async def _aprepare(
        self, messages: Sequence[Message] | str | None, options: dict[str, Any]
    ) -> PreparedCall:
        """:meth:`prepare` for the async paths: the session store is asked asynchronously."""
        options = {**_PREPARE_DEFAULTS, **options}
        unknown = set(options) - set(_PREPARE_DEFAULTS)
        if unknown:
            raise TypeError(f"unexpected keyword arguments: {sorted(unknown)}")
        plan = self._plan(messages, options)
        if plan.system_hash is not _NO_CONVERSATION:
            plan.previous = await self.session_store.aexchange(
                plan.session,
                plan.system_hash,
                idle_timeout=self.session_idle_timeout,
                max_lifetime=self.session_max_lifetime,
            )
        return self._assemble(messages, plan, options)

    def _plan(self, messages: Sequence[Message] | str | None, options: dict[str, Any]) -> _Plan:
        """What can be checked before the session store is asked: the target, the session id,
        whether there is a conversation, and its system text's hash."""
        target = self._target(options["runtime"], options["qualifier"])
        session_id = options["session_id"]
        session = validate_session_id(session_id) if session_id is not None else new_session_id()
        payload = options["payload"]
        if payload is not None:
            if messages is not None:
                raise InvalidRequestError("give messages or payload, not both")
            return _Plan(target, session, _NO_CONVERSATION)
        if messages is None:
            raise InvalidRequestError("give messages (or a raw payload=)")
        normalized = normalize_messages(messages)
        system = system_text(normalized)
        return _Plan(target, session, system_hash(system), normalized, system)

    def _assemble(
        self, messages: Sequence[Message] | str | None, plan: _Plan, options: dict[str, Any]
    ) -> PreparedCall:
        session = plan.session
        body, system, selected = self._body(plan, options["payload"], options)
        trace = {"X-Amzn-Trace-Id": options["trace_id"], "traceparent": options["traceparent"],
                 "tracestate": options["tracestate"], "baggage": options["baggage"]}  # fmt: skip
        request_headers = self._headers(session, options["user_id"], trace, options["headers"])
        target = plan.target
        return PreparedCall(
            target=target,
            session_id=session,
            url=self._endpoint(target.region) + target.path_and_query(self._operation()),
            headers=request_headers,
            body=body,
            system_text=system,
            remember=plan.system_hash is not _NO_CONVERSATION,
            deadline=self._deadline(options["timeout"]),
            messages=selected,
            previous=plan.previous,
        )

    def _deadline(self, timeout: float | None) -> float | None:
        total = timeout if timeout is not None else self.timeouts.total
        return None if total is None else time.monotonic() + total

    def _target(self, runtime: str | None, qualifier: str | None) -> RuntimeTarget:
        model = runtime or self.runtime
        if model is None:
            raise InvalidRequestError("no runtime: pass runtime= here or to AgentCoreClient(...)")
        qualifier = qualifier if qualifier is not None else self.qualifier
        # Parsed targets are kept (a few per client): parsing is pure, and a per-call cost.
        key = (model, qualifier, self.region_name, self.account_id)
        target = self._targets.get(key)
        if target is None:
            target = parse_target(
                model, region=self.region_name, account_id=self.account_id, qualifier=qualifier
            )
            if len(self._targets) >= 32:
                self._targets.clear()
            self._targets[key] = target
        return target

    def _body(
        self, plan: _Plan, payload: Any, options: dict[str, Any]
    ) -> tuple[bytes, str | None, tuple[dict[str, Any], ...] | None]:
        """The request body, the conversation's system text, and the messages the body carries
        (under the history rule, from what the store said the session has seen)."""
        if plan.messages is None:
            return encode_payload(payload), None, None
        history = options["history"] if options["history"] is not None else self.history
        state = SessionState.of(plan.previous)
        if self.protocol is AgentProtocol.A2A:
            prepared = build_a2a_payload(
                plan.messages,
                plan.system,
                session_id=plan.session,
                state=state,
                history=history,
                streaming=options["streaming"],
                task_id=self._waiting_tasks.get(plan.session),
                metadata=self.payload_extra,
            )
        else:
            prepared = build_payload(
                plan.messages,
                plan.system,
                session_id=plan.session,
                state=state,
                history=history,
                payload_format=self.payload_format,
                extra=self.payload_extra,
            )
        return prepared.body, prepared.system_text, prepared.messages

    def _headers(
        self,
        session: str,
        user_id: str | None,
        trace: dict[str, str | None],
        custom: Mapping[str, str] | None,
    ) -> dict[str, str]:
        request_headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream, application/json",
            SESSION_HEADER: session,
        }
        user = user_id if user_id is not None else self.runtime_user_id
        if user is not None:
            request_headers[USER_ID_HEADER] = _checked_header(USER_ID_HEADER, user)
        if trace["traceparent"] is None and "opentelemetry.context" in sys.modules:
            # The active OpenTelemetry span fills only what the caller did not give.
            for name, found in _current_trace_context().items():
                if trace.get(name) is None:
                    trace[name] = found
        for name, value in trace.items():
            if value is not None:
                request_headers[name] = _checked_header(name, value)
        if not custom:
            return request_headers
        for name, value in custom.items():
            if not (isinstance(value, str) and value.isascii() and value.isprintable()):
                raise InvalidRequestError(f"custom header {name!r} must be printable ASCII")
            if not name.lower().startswith(CUSTOM_HEADER_PREFIX):
                raise InvalidRequestError(
                    f"custom header {name!r} must start with "
                    "'X-Amzn-Bedrock-AgentCore-Runtime-Custom-' (AgentCore passes on only those)"
                )
            request_headers[name] = value
        return request_headers

    def _operation(self) -> str:
        # A2A's JSON-RPC endpoint is the invocations URL with a trailing slash (AWS's form).
        return "invocations/" if self.protocol is AgentProtocol.A2A else "invocations"

    def _error(self, call: PreparedCall, head: ResponseHead, body: bytes) -> AgentCoreError:
        message = None
        code = None
        try:
            data = json.loads(body)
            if isinstance(data, dict):
                message = data.get("message") or data.get("Message")
                rpc = data.get("error")  # A2A runtimes: a JSON-RPC error body
                if isinstance(rpc, dict):
                    message = message or rpc.get("message")
                    code = rpc.get("code") if isinstance(rpc.get("code"), int) else None
        except ValueError:
            message = body[:300].decode("utf-8", "replace") if body else None
        return error_from_response(
            head.status,
            head.get("x-amzn-errortype"),
            message if isinstance(message, str) else None,
            request_id=head.get("x-amzn-requestid"),
            session_id=call.session_id,
            jsonrpc_code=code,
        )

    def _rollback(self, call: PreparedCall) -> None:
        """The call was not accepted: the session has not seen it after all."""
        if call.remember:
            self.session_store.restore(call.session_id, call.previous)

    async def _arollback(self, call: PreparedCall) -> None:
        if call.remember:
            await self.session_store.arestore(call.session_id, call.previous)

    def _limits(self) -> tuple[int, int]:
        return self.max_event_bytes, self.max_body_bytes

    # Shared by the sync and async send loops: each attempt is signed afresh (a retry after a
    # wait must not reuse an old X-Amz-Date), and one rule decides whether and when to retry.

    @staticmethod
    def _signed(call: PreparedCall, signer: Signer) -> HttpRequest:
        headers = signer.sign(call.method, call.url, call.headers, call.body)
        return HttpRequest(call.method, call.url, headers, call.body)

    def _finished(self, completion: Completion) -> None:
        """After a whole answer: remember which A2A task, if any, the session's agent waits on."""
        session = completion.session_id
        if self.protocol is not AgentProtocol.A2A or session is None:
            return
        with self._lock:
            if completion.task_state in A2A_CONTINUED_STATES and completion.task_id:
                self._waiting_tasks[session] = completion.task_id
                self._waiting_tasks.move_to_end(session)
                while len(self._waiting_tasks) > _MAX_WAITING_TASKS:
                    self._waiting_tasks.popitem(last=False)
            else:
                self._waiting_tasks.pop(session, None)

    def _retry_delay(self, call: PreparedCall, error: AgentCoreError) -> float | None:
        """Seconds to wait before the next attempt, or None to give up (then raise ``error``)."""
        if call.deadline is not None and time.monotonic() >= call.deadline:
            return None
        if not self.retry.should_retry(error, call.attempts):
            return None
        return self.retry.delay(call.attempts)

    def _next_attempt(self, call: PreparedCall, error: AgentCoreError, delay: float) -> None:
        logger.info(
            "retrying %s on %s (attempt %d of %d) in %.2fs after %s",
            call.operation, call.target.runtime_id, call.attempts + 1,
            self.retry.max_retries, delay, type(error).__name__,
        )  # fmt: skip
        call.attempts += 1
        if call.telemetry is not None:
            call.telemetry.retry(call.attempts, error, delay)

    def _observe(self, call: PreparedCall, options: Mapping[str, Any]) -> None:
        """Open the call's OpenTelemetry span when OpenTelemetry is configured; the request
        then carries this span's traceparent unless the caller gave one."""
        telemetry = start_call(call.operation, streaming=bool(options.get("streaming", True)))
        if telemetry is None:
            return
        target = call.target
        telemetry.begin(
            runtime=target.runtime, runtime_id=target.runtime_id, qualifier=target.qualifier,
            session_id=call.session_id, url=call.url, protocol=self.protocol.value,
            messages=call.messages,
        )  # fmt: skip
        if options.get("traceparent") is None:
            call.headers.update(telemetry.trace_headers())
        call.telemetry = telemetry

    @staticmethod
    def _send_failed(call: PreparedCall, error: BaseException) -> None:
        if call.telemetry is not None:
            call.telemetry.end(
                error=error, retries=call.attempts, session_id=call.session_id,
                request_id=getattr(error, "request_id", None),
            )  # fmt: skip

    # --- sync ----------------------------------------------------------------------------------

    def _transport(self) -> Transport:
        transport = self._sync
        if transport is not None:
            return transport
        with self._lock:
            if self._sync is None:
                shell = Urllib3Transport(verify=self.verify)
                # A client dropped without close() still closes its sockets (no ResourceWarning).
                weakref.finalize(self, shell.close)
                self._sync = shell
            return self._sync

    def _send(self, call: PreparedCall) -> Response:
        transport = self._transport()
        signer = self._signer(call.target.region)
        while True:
            try:
                response = transport.send(self._signed(call, signer), self.timeouts, call.deadline)
                if response.head.status >= 300:
                    raise self._error(call, response.head, response.read_all())
                return response
            except AgentCoreError as error:
                error.session_id = error.session_id or call.session_id
                delay = self._retry_delay(call, error)
                if delay is None:
                    raise
                self._next_attempt(call, error, delay)
                time.sleep(delay)

    def stream(
        self, messages: Sequence[Message] | str | None = None, *, keep_content: bool = False,
        **options: Any,
    ) -> EventStream:  # fmt: skip
        """Start a call and return its events as they arrive (see :meth:`prepare` for options).

        Events are handed on, not kept: ``stream.completion`` holds usage, error and metadata,
        so memory stays flat however long the answer. Pass ``keep_content=True`` to have it
        also collect the text, complete messages and other events.
        """
        return self._stream(messages, options, keep_content=keep_content)

    def _stream(
        self, messages: Sequence[Message] | str | None, options: dict[str, Any], *,
        keep_content: bool,
    ) -> EventStream:  # fmt: skip
        call = self.prepare(messages, **options)
        self._observe(call, options)
        try:
            response = self._send(call)
        except BaseException as error:
            self._rollback(call)
            self._send_failed(call, error)
            raise
        self._streams.add(response)
        state = StreamState(call, response.head, keep_content, self._limits())
        return EventStream(self, state, response)

    def invoke(self, messages: Sequence[Message] | str | None = None, **options: Any) -> Completion:
        """One whole answer: text, usage (summed, when the agent reports it), session id."""
        options.setdefault("streaming", False)
        with self._stream(messages, options, keep_content=True) as events:
            for _ in events:
                pass
        return events.completion

    def stop_session(
        self, session_id: str, *, runtime: str | None = None, qualifier: str | None = None
    ) -> None:
        """End a runtime session (StopRuntimeSession): AgentCore stops its microVM."""
        call = self._stop_call(session_id, runtime, qualifier)
        self._send(call).close()
        self.session_store.forget(call.session_id)

    def _stop_call(
        self, session_id: str, runtime: str | None, qualifier: str | None
    ) -> PreparedCall:
        target = self._target(runtime, qualifier)
        session = validate_session_id(session_id)
        trace: dict[str, str | None] = dict.fromkeys(
            ("X-Amzn-Trace-Id", "traceparent", "tracestate", "baggage")
        )
        return PreparedCall(
            target=target,
            session_id=session,
            url=self._endpoint(target.region) + target.path_and_query("stopruntimesession"),
            headers=self._headers(session, None, trace, None),
            body=encode_payload({"clientToken": str(uuid.uuid4())}),
            system_text=None,
            remember=False,
            deadline=self._deadline(None),
            operation="stopruntimesession",
        )

    def agent_card(
        self,
        *,
        runtime: str | None = None,
        qualifier: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """The A2A runtime's agent card (GetAgentCard), as a dict."""
        call = self._card_call(runtime, qualifier, session_id)
        response = self._send(call)
        return self._card(call, response.head, response.read_all(self.max_body_bytes))

    async def aagent_card(
        self,
        *,
        runtime: str | None = None,
        qualifier: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """Async :meth:`agent_card`."""
        call = self._card_call(runtime, qualifier, session_id)
        response = await self._asend(call)
        return self._card(call, response.head, await response.read_all(self.max_body_bytes))

    def _card_call(
        self, runtime: str | None, qualifier: str | None, session_id: str | None
    ) -> PreparedCall:
        target = self._target(runtime, qualifier)
        session = validate_session_id(session_id) if session_id is not None else new_session_id()
        trace: dict[str, str | None] = dict.fromkeys(
            ("X-Amzn-Trace-Id", "traceparent", "tracestate", "baggage")
        )
        headers = self._headers(session, None, trace, None)
        del headers["Content-Type"]
        headers["Accept"] = "application/json"
        path = target.path_and_query("invocations/.well-known/agent-card.json")
        return PreparedCall(
            target=target,
            session_id=session,
            url=self._endpoint(target.region) + path,
            headers=headers,
            body=b"",
            system_text=None,
            remember=False,
            deadline=self._deadline(None),
            operation="agentcard",
            method="GET",
        )

    @staticmethod
    def _card(call: PreparedCall, head: ResponseHead, body: bytes) -> dict[str, Any]:
        try:
            card = json.loads(body)
        except ValueError:
            card = None
        if not isinstance(card, dict):
            raise MalformedResponseError(
                f"the agent card of {call.target.runtime_id} is not a JSON object",
                request_id=head.get("x-amzn-requestid"),
            )
        return card

    def close(self) -> None:
        """End this client's open streams (their next read raises ``StreamInterruptedError``)
        and release pooled connections; async sessions close with their event loop or
        ``aclose()``. The client stays usable: a later call opens new connections."""
        for response in list(self._streams):
            response.abort()
        self._streams.clear()
        with self._lock:
            if self._sync is not None and self._given_transports[0] is None:
                self._sync.close()
                self._sync = None

    def __enter__(self) -> AgentCoreClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    # --- async ---------------------------------------------------------------------------------

    def _async_transport(self) -> AsyncTransport:
        transport = self._async
        if transport is not None:
            return transport
        with self._lock:
            if self._async is None:
                from agentcore_bridge.transport_aiohttp import AiohttpTransport

                self._async = AiohttpTransport(verify=self.verify)
            return self._async

    async def _asend(self, call: PreparedCall) -> AsyncResponse:
        signer = self._signer(call.target.region)
        transport = self._async_transport()
        while True:
            try:
                response = await transport.send(
                    self._signed(call, signer), self.timeouts, call.deadline
                )
                if response.head.status >= 300:
                    raise self._error(call, response.head, await response.read_all())
                return response
            except AgentCoreError as error:
                error.session_id = error.session_id or call.session_id
                delay = self._retry_delay(call, error)
                if delay is None:
                    raise
                self._next_attempt(call, error, delay)
                await asyncio.sleep(delay)

    async def astream(
        self, messages: Sequence[Message] | str | None = None, *, keep_content: bool = False,
        **options: Any,
    ) -> AsyncEventStream:  # fmt: skip
        """Async :meth:`stream`: ``async for event in await client.astream(...)``."""
        return await self._astream(messages, options, keep_content=keep_content)

    async def _astream(
        self, messages: Sequence[Message] | str | None, options: dict[str, Any], *,
        keep_content: bool,
    ) -> AsyncEventStream:  # fmt: skip
        call = await self._aprepare(messages, options)
        self._observe(call, options)
        try:
            response = await self._asend(call)
        except BaseException as error:
            await self._arollback(call)
            self._send_failed(call, error)
            raise
        self._streams.add(response)
        state = StreamState(call, response.head, keep_content, self._limits())
        return AsyncEventStream(self, state, response)

    async def ainvoke(
        self, messages: Sequence[Message] | str | None = None, **options: Any
    ) -> Completion:
        options.setdefault("streaming", False)
        async with await self._astream(messages, options, keep_content=True) as events:
            async for _ in events:
                pass
        return events.completion

    async def astop_session(
        self, session_id: str, *, runtime: str | None = None, qualifier: str | None = None
    ) -> None:
        call = self._stop_call(session_id, runtime, qualifier)
        (await self._asend(call)).close()
        await self.session_store.aforget(call.session_id)

    async def aclose(self) -> None:
        """End open streams and close this event loop's connections (and the sync pool)."""
        for response in list(self._streams):
            response.abort()
        if self._async is not None and self._given_transports[1] is None:
            await self._async.aclose()
        self.close()

    async def __aenter__(self) -> AgentCoreClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _checked_header(name: str, value: str) -> str:
    low, high = _HEADER_LIMITS[name]
    if not low <= len(value) <= high or not (value.isascii() and value.isprintable()):
        raise InvalidRequestError(
            f"{name} must be {low} to {high} printable ASCII characters (it is an HTTP header), "
            f"got {value!r}"
        )
    return value


def _current_trace_context() -> dict[str, str]:
    """traceparent/tracestate/baggage of the active OpenTelemetry context. Called only when the
    application has loaded OpenTelemetry's context already (nothing is imported otherwise)."""
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {k: v for k, v in carrier.items() if k in ("traceparent", "tracestate", "baggage")}
