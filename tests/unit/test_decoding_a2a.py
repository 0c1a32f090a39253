"""A2A JSON-RPC answers (agents deployed with AgentCore's A2A protocol): messages, tasks,
streamed artifact chunks, status messages, task states and failures."""

from __future__ import annotations

import json
from typing import Any

from agentcore_bridge import (
    AgentErrorEvent,
    FinalMessage,
    OtherEvent,
    TaskStatus,
    TextDelta,
    decode_body,
)
from agentcore_bridge.results import fold_events


def rpc(result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": "1", "result": result}


def text_part(text: str) -> dict[str, Any]:
    return {"kind": "text", "text": text}


def body(value: Any) -> list[Any]:
    return decode_body("application/json", [json.dumps(value).encode()])


def sse(*values: Any) -> list[Any]:
    frames = [f"data: {json.dumps(v)}\n\n".encode() for v in values]
    return decode_body("text/event-stream", frames)


def status(state: str, text: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"state": state}
    if text is not None:
        value["message"] = {"kind": "message", "role": "agent", "messageId": "m",
                            "parts": [text_part(text)]}  # fmt: skip
    return value


TASK = {"kind": "task", "id": "t-1", "contextId": "ctx"}


def test_a_message_answer_is_its_text() -> None:
    events = body(rpc({"kind": "message", "role": "agent", "messageId": "m",
                       "parts": [text_part("Hel"), text_part("lo")]}))  # fmt: skip
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("Hello")]
    assert fold_events(events).task_state is None


def test_a_task_answer_is_its_artifacts_with_its_state() -> None:
    task = {**TASK, "status": status("completed"),
            "artifacts": [{"artifactId": "a", "parts": [text_part("The answer.")]}]}  # fmt: skip
    completion = fold_events(body(rpc(task)))
    assert completion.text == "The answer."
    assert (completion.task_state, completion.task_id) == ("completed", "t-1")


def test_an_input_required_task_asks_in_its_status_message() -> None:
    completion = fold_events(body(rpc({**TASK, "status": status("input-required", "Which city?")})))
    assert completion.text == "Which city?"
    assert completion.task_state == "input-required"


def test_a_failed_task_is_the_agents_error_with_its_message() -> None:
    events = body(rpc({**TASK, "status": status("failed", "the tool broke")}))
    assert events[0] == TaskStatus("failed", "t-1", "ctx")
    assert isinstance(events[-1], AgentErrorEvent) and events[-1].message == "the tool broke"
    rejected = body(rpc({**TASK, "status": status("rejected")}))
    assert isinstance(rejected[-1], AgentErrorEvent)
    assert rejected[-1].message == "the agent's task ended rejected"


def test_a_jsonrpc_error_from_the_agent_is_an_agent_error() -> None:
    events = body({"jsonrpc": "2.0", "id": "1", "error": {"code": -32001, "message": "no task"}})
    assert events == [AgentErrorEvent("no task", "-32001", events[0].raw)]


def test_a_stream_hands_on_artifact_chunks_and_status_messages_as_they_arrive() -> None:
    events = sse(
        rpc({**TASK, "status": status("submitted")}),
        rpc({"kind": "status-update", "taskId": "t-1", "contextId": "ctx",
             "status": status("working", "Thinking. "), "final": False}),
        rpc({"kind": "artifact-update", "taskId": "t-1", "contextId": "ctx",
             "artifact": {"artifactId": "a", "parts": [text_part("The ")]}, "append": False}),
        rpc({"kind": "artifact-update", "taskId": "t-1", "contextId": "ctx",
             "artifact": {"artifactId": "a", "parts": [text_part("answer.")]}, "append": True,
             "lastChunk": True}),
        rpc({"kind": "status-update", "taskId": "t-1", "contextId": "ctx",
             "status": status("completed"), "final": True}),
    )  # fmt: skip
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Thinking. ", "The ", "answer."]
    states = [e.state for e in events if isinstance(e, TaskStatus)]
    assert states == ["submitted", "working", "completed"]
    completion = fold_events(events)
    assert (completion.task_state, completion.task_id) == ("completed", "t-1")


def test_a_final_task_repeating_streamed_text_adds_no_text() -> None:
    final = {**TASK, "status": status("completed"),
             "artifacts": [{"artifactId": "a", "parts": [text_part("The answer.")]}]}  # fmt: skip
    events = sse(
        rpc({"kind": "artifact-update", "taskId": "t-1", "contextId": "ctx",
             "artifact": {"artifactId": "a", "parts": [text_part("The answer.")]}}),
        rpc(final),
    )  # fmt: skip
    assert fold_events(events).text == "The answer."
    assert any(isinstance(e, FinalMessage) and e.streamed for e in events)


def test_a_failed_status_update_in_a_stream_is_the_agents_error() -> None:
    events = sse(
        rpc({"kind": "artifact-update", "taskId": "t-1", "contextId": "ctx",
             "artifact": {"artifactId": "a", "parts": [text_part("partial")]}}),
        rpc({"kind": "status-update", "taskId": "t-1", "contextId": "ctx",
             "status": status("failed", "it broke"), "final": True}),
    )  # fmt: skip
    assert isinstance(events[-1], AgentErrorEvent) and events[-1].message == "it broke"
    assert TaskStatus("failed", "t-1", "ctx") in events


def test_a_status_update_without_text_or_state_is_kept_not_dropped() -> None:
    events = sse(rpc({"kind": "status-update", "taskId": "t-1", "status": {}}))
    assert events and isinstance(events[0], OtherEvent)
