"""Every recorded response shape x every way to call: invoke, stream, ainvoke, astream.

Each fixture's bytes are served by a raw ASGI agent (not the SDK) through the local runtime, in
97-byte pieces, so the client reads them off a real socket, split anywhere, as AgentCore relays
them. The expected text, usage and error come from the fixture's metadata (the same as the
decoder's unit tests), so a client that mishandles a shape on one path only shows up here.
"""

from __future__ import annotations

import pytest
from client_support import StreamOutcome, attempts, consume_stream, invoke, make_client
from support.local_runtimes import Runtime
from support.shapes import (
    SHAPE_TABLE,
    all_fixture_names,
    load_fixture,
    recorded_agent,
)

from agentcore_bridge.decoding import Usage
from agentcore_bridge.errors import (
    AgentCoreError,
    AgentError,
    ContentNotKeptError,
    RuntimeClientError,
)
from agentcore_bridge.results import Completion

pytestmark = pytest.mark.network

NAMES = [name for _, names in SHAPE_TABLE.values() for name in names]
FIXTURES = {name: load_fixture(name) for name in NAMES}
MODES = ("invoke", "stream", "ainvoke", "astream")

# The one fixture recorded with a non-2xx status: AgentCore reports an agent's own failure as
# 424 RuntimeClientError, without the agent's text.
AGENT_FAILURE = "06_sdk_handler_raises"


def test_the_matrix_covers_every_recorded_fixture() -> None:
    assert sorted(NAMES) == all_fixture_names()
    assert FIXTURES[AGENT_FAILURE].status == 500
    assert all(f.status == 200 for n, f in FIXTURES.items() if n != AGENT_FAILURE)


def _call(runtime: Runtime, arn: str, mode: str) -> tuple[Completion | None, StreamOutcome | None,
                                                          AgentCoreError | None]:  # fmt: skip
    client = make_client(runtime.local, arn)
    if mode in ("stream", "astream"):
        outcome = consume_stream(client, "sync" if mode == "stream" else "async", "hi")
        return outcome.completion, outcome, outcome.error
    try:
        return invoke(client, "sync" if mode == "invoke" else "async", "hi"), None, None
    except AgentCoreError as error:
        # An agent error carries the completion received up to it.
        return getattr(error, "completion", None), None, error


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NAMES)
def test_recorded_shape_through_the_local_runtime(runtime: Runtime, name: str, mode: str) -> None:
    fixture = FIXTURES[name]
    arn = runtime.add(recorded_agent(fixture))
    completion, outcome, error = _call(runtime, arn, mode)

    seen = attempts(runtime.local, arn)
    assert len(seen) == 1, "exactly one request: nothing here may be retried"

    if name == AGENT_FAILURE:
        assert type(error) is RuntimeClientError, repr(error)
        assert error.status_code == 424
        assert "CloudWatch" in str(error)
        assert fixture.expected_error not in str(error)  # AWS never passes the agent's text on
        assert error.session_id == seen[0].session_id
        assert seen[0].status == 424
        if outcome is not None:
            assert not outcome.started and outcome.deltas == []
        return

    assert seen[0].status == 200
    assert completion is not None
    if outcome is None:
        assert completion.text == fixture.expected_text
    else:
        # A stream hands its content on and keeps only usage, error and metadata.
        with pytest.raises(ContentNotKeptError):
            _ = completion.text
        assert completion.final_messages == [] and completion.other_events == []
    assert completion.session_id == seen[0].session_id
    assert completion.content_type == fixture.content_type
    if fixture.expected_usage is None:
        assert completion.usage is None, "usage must never be invented"
    else:
        assert completion.usage == Usage(**fixture.expected_usage)
    if fixture.expected_other is not None:
        others = len(completion.other_events) if outcome is None else outcome.others
        assert others == fixture.expected_other

    if fixture.expected_error is None:
        assert error is None, repr(error)
        assert completion.finish_reason == "stop"
    else:
        assert type(error) is AgentError, repr(error)
        assert fixture.expected_error in error.message
        assert error.session_id == seen[0].session_id
        assert completion.finish_reason == "error"

    if outcome is not None:
        assert outcome.session_id_before_iterating == seen[0].session_id
        # The deltas handed on are the answer, exactly once, up to the error if any.
        assert "".join(outcome.deltas) == fixture.expected_text
        if fixture.expected_text:
            assert outcome.deltas
