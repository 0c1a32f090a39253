"""Streamed answers: the events of one response as they arrive, sync (:class:`EventStream`) and
async (:class:`AsyncEventStream`), over one shared state (decoder, running Completion, span).

A stream holds its client: dropping the client (or the model that made it) while the stream is
read changes nothing for the stream; ``client.close()`` ends it with ``StreamInterruptedError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from agentcore_bridge.decoding import AgentErrorEvent, AgentEvent, ResponseDecoder, TextDelta
from agentcore_bridge.errors import AgentCoreError, AgentError
from agentcore_bridge.results import Completion, StopSequences
from agentcore_bridge.transport import AsyncResponse, Response, ResponseHead

if TYPE_CHECKING:
    from agentcore_bridge.client import AgentCoreClient, PreparedCall

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
R = TypeVar("R", Response, AsyncResponse)


class StreamState:
    """Decoder + running Completion for one response; shared by the sync and async streams."""

    def __init__(
        self, call: PreparedCall, head: ResponseHead, keep_content: bool, limits: tuple[int, int]
    ) -> None:
        content_type = head.get("content-type")
        self.decoder = ResponseDecoder(
            content_type, max_event_bytes=limits[0], max_body_bytes=limits[1]
        )
        self.completion = Completion(
            keep_content=keep_content,
            session_id=head.get(SESSION_HEADER) or call.session_id,
            model=call.target.runtime,
            qualifier=call.target.qualifier,
            content_type=content_type,
            request_id=head.get("x-amzn-requestid"),
        )
        self.telemetry = call.telemetry
        self.attempts = call.attempts

    def accept(self, events: list[AgentEvent]) -> tuple[list[AgentEvent], AgentError | None]:
        """Fold events in; an agent error ends the stream after the events before it."""
        telemetry = self.telemetry
        for index, event in enumerate(events):
            self.completion.add(event)
            if telemetry is not None:
                telemetry.chunk(event.text if isinstance(event, TextDelta) else None)
            if isinstance(event, AgentErrorEvent):
                return events[:index], self._agent_error(event)
        return events, None

    def finish(self, error: BaseException | None) -> None:
        """The stream is over (ended, failed, closed or cancelled): close its span."""
        telemetry = self.telemetry
        if telemetry is None:
            return
        self.telemetry = None  # the span ends once, whoever ends the stream first
        completion = self.completion
        telemetry.end(
            error=None if isinstance(error, GeneratorExit) else error,
            usage=completion.usage,
            request_id=completion.request_id,
            retries=self.attempts,
            session_id=completion.session_id,
            finish_reason=completion.finish_reason,
        )

    def _agent_error(self, event: AgentErrorEvent) -> AgentError:
        kind = f" ({event.error_type})" if event.error_type else ""
        error = AgentError(
            f"the agent reported an error{kind}: {event.message}",
            error_type=event.error_type,
            request_id=self.completion.request_id,
            session_id=self.completion.session_id,
        )
        error.completion = self.completion
        return error

    def tag(self, error: AgentCoreError) -> AgentCoreError:
        error.session_id = error.session_id or self.completion.session_id
        error.request_id = error.request_id or self.completion.request_id
        return error


class _Stream(Generic[R]):
    """What the sync and async streams share: their client, state and response, and closing
    them once (the response released, the client told, the span ended)."""

    def __init__(self, client: AgentCoreClient, state: StreamState, response: R) -> None:
        self._client = client
        self._state = state
        self._response: R = response
        self._closed = False
        self.completion = state.completion
        self.session_id = state.completion.session_id
        self.request_id = state.completion.request_id

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._response.close()
        self._client._streams.discard(self._response)
        self._state.finish(None)


class EventStream(_Stream[Response]):
    """A streamed answer: iterate for events (``TextDelta``, ``Usage``, ...) as they arrive.

    ``session_id`` and ``request_id`` are known before the first event; ``completion`` holds the
    usage, error and metadata received so far (and the text and other events too when the stream
    was started with ``keep_content=True``). An agent error raises ``AgentError`` after the text
    before it; a connection cut mid-answer raises ``StreamInterruptedError``: a stream never ends
    quietly with half an answer.

    A stream keeps its client alive: dropping every other reference to the client (or to the
    model that made it) while the stream is read changes nothing. ``client.close()`` ends the
    client's open streams with ``StreamInterruptedError``; no read waits past ``read_timeout``.
    """

    def __iter__(self) -> Iterator[AgentEvent]:
        state = self._state
        failure: BaseException | None = None
        try:
            for chunk in self._response.chunks():
                events, error = state.accept(state.decoder.feed(chunk))
                yield from events
                if error is not None:
                    raise error
            events, error = state.accept(state.decoder.close())
            yield from events
            if error is not None:
                raise error
        except AgentCoreError as error:
            failure = error
            raise state.tag(error) from error.__cause__
        except BaseException as error:
            failure = error
            raise
        finally:
            state.finish(failure)
            self.close()
            self._client._finished(state.completion)

    def text(self, stop: StopSequences | Sequence[str] | None = None) -> Iterator[str]:
        """Only the answer text, delta by delta; cut at the first ``stop`` sequence (the stream
        is closed there: the agent is not left running for text nobody will read)."""
        stops = stop if isinstance(stop, StopSequences) else StopSequences(stop)
        for event in self:
            if isinstance(event, TextDelta) and (text := stops.feed(event.text)):
                yield text
            if stops.stopped:
                self.close()
                break
        if rest := stops.flush():
            yield rest

    def close(self) -> None:
        self._close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncEventStream(_Stream[AsyncResponse]):
    """The async twin of :class:`EventStream` (``async for event in stream``)."""

    async def __aiter__(self) -> AsyncIterator[AgentEvent]:
        state = self._state
        failure: BaseException | None = None
        try:
            async for chunk in self._response.chunks():
                events, error = state.accept(state.decoder.feed(chunk))
                for event in events:
                    yield event
                if error is not None:
                    raise error
            events, error = state.accept(state.decoder.close())
            for event in events:
                yield event
            if error is not None:
                raise error
        except AgentCoreError as error:
            failure = error
            raise state.tag(error) from error.__cause__
        except BaseException as error:
            failure = error
            raise
        finally:
            state.finish(failure)
            self._close()
            self._client._finished(state.completion)

    async def text(self, stop: StopSequences | Sequence[str] | None = None) -> AsyncIterator[str]:
        """Async :meth:`EventStream.text`."""
        stops = stop if isinstance(stop, StopSequences) else StopSequences(stop)
        async for event in self:
            if isinstance(event, TextDelta) and (text := stops.feed(event.text)):
                yield text
            if stops.stopped:
                await self.aclose()
                break
        if rest := stops.flush():
            yield rest

    async def aclose(self) -> None:
        self._close()

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
