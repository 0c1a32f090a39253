"""Results: events folded into one completion, and OpenAI chat.completion / chunk shapes."""

import pytest

from agentcore_bridge.decoding import (
    AgentErrorEvent,
    FinalMessage,
    OtherEvent,
    TextDelta,
    Usage,
)
from agentcore_bridge.errors import ContentNotKeptError
from agentcore_bridge.results import fold_events, usage_to_openai


def test_fold_sums_usage_and_keeps_metadata() -> None:
    completion = fold_events(
        [
            TextDelta("Hel"),
            OtherEvent({"start": True}),
            Usage(11, 5, 16),
            TextDelta("lo"),
            Usage(23, 7, 30),
            FinalMessage("Hello", {"role": "assistant"}, streamed=True),
        ],
        session_id="s" * 33,
        model="arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/x",
    )
    assert completion.text == "Hello"
    assert completion.usage == Usage(34, 12, 46)
    assert completion.other_events == [{"start": True}]
    assert completion.final_messages == [{"role": "assistant"}]
    assert completion.finish_reason == "stop"
    assert completion.session_id == "s" * 33


def test_a_completion_that_keeps_no_content_refuses_to_report_an_empty_text() -> None:
    events = [TextDelta("Hel"), OtherEvent({"start": True}), Usage(11, 5, 16), TextDelta("lo")]
    completion = fold_events(events, keep_content=False)
    with pytest.raises(ContentNotKeptError, match="keep_content=True"):
        _ = completion.text
    assert completion.usage == Usage(11, 5, 16)
    assert completion.other_events == [] and completion._parts == []


def test_agent_error_sets_finish_reason() -> None:
    completion = fold_events([TextDelta("partial"), AgentErrorEvent("boom", "ValueError")])
    assert completion.finish_reason == "error"
    assert completion.error == AgentErrorEvent("boom", "ValueError")
    assert completion.text == "partial"


def test_usage_in_openai_fields() -> None:
    assert usage_to_openai(Usage(3, 1, 4)) == {
        "prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4,
    }  # fmt: skip
