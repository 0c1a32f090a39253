"""Every response shape in the shape table, recorded from real agents, decodes to the right text once.

The shape table (tests/support/shapes.py) maps each numbered shape to the fixtures that show it. Fixture bytes were recorded by tests/fixtures/recorders/ from agents
written with the official bedrock_agentcore SDK (Strands, LangGraph, OpenAI Agents running on
scripted models where the shape comes from them).
"""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.shapes import SHAPE_TABLE, ShapeFixture, all_fixture_names, load_fixture

from agentcore_bridge.decoding import (
    AgentErrorEvent,
    AgentEvent,
    FinalMessage,
    OtherEvent,
    TextDelta,
    Usage,
    decode_body,
    decode_json_answer,
)
from agentcore_bridge.decoding.shapes import (
    ANSWER_SHAPES,
    BODY_SHAPES,
    NO_TEXT,
    STREAM_SHAPES,
    StreamDecoder,
    answer_text,
)
from agentcore_bridge.results import fold_events

TABLE_NAMES = [name for _, names in SHAPE_TABLE.values() for name in names]
FIXTURES = {name: load_fixture(name) for name in all_fixture_names()}


def decode_whole(fixture: ShapeFixture) -> list[AgentEvent]:
    return decode_body(fixture.content_type, [fixture.body])


def test_every_recorded_fixture_is_in_the_shape_table() -> None:
    assert sorted(TABLE_NAMES) == sorted(FIXTURES)
    for shape, (_, names) in SHAPE_TABLE.items():
        assert names, f"shape {shape} has no fixture"
        for name in names:
            # A fixture may sit under the shape its bytes show (09_strands_stream_data_only is
            # plain strings, shape 8), never under an unrelated one.
            assert FIXTURES[name].shape == shape, name


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_shape_decodes_to_the_expected_text_exactly_once(name: str) -> None:
    fixture = FIXTURES[name]
    events = decode_whole(fixture)
    completion = fold_events(events)
    assert completion.text == fixture.expected_text
    if fixture.expected_usage is None:
        assert completion.usage is None, "usage must never be invented"
    else:
        assert completion.usage == Usage(**fixture.expected_usage)
    if fixture.expected_error is None:
        assert completion.error is None
        assert completion.finish_reason == "stop"
    else:
        assert completion.error is not None
        assert fixture.expected_error in completion.error.message
        assert completion.finish_reason == "error"
    if fixture.expected_other is not None:
        assert len(completion.other_events) == fixture.expected_other


@pytest.mark.parametrize("name", [n for n in TABLE_NAMES if "stream" in FIXTURES[n].content_type])
def test_stream_hands_on_text_as_deltas_and_keeps_everything_else(name: str) -> None:
    fixture = FIXTURES[name]
    events = decode_whole(fixture)
    frames = fixture.body.count(b"data:")
    # Every frame the agent sent is accounted for by at least one event: nothing dropped.
    assert len(events) >= frames
    deltas = [e for e in events if isinstance(e, TextDelta)]
    if fixture.expected_text:
        assert len(deltas) >= 1
    # Python-repr strings (Strands' unserialisable events) are metadata, never text.
    for event in deltas:
        assert not event.text.startswith("{'")


def test_strands_stream_sums_usage_and_keeps_repeated_messages_aside() -> None:
    events = decode_whole(FIXTURES["09_strands_stream_async"])
    usages = [e for e in events if isinstance(e, Usage)]
    assert usages == [Usage(11, 5, 16), Usage(23, 7, 30)]
    finals = [e for e in events if isinstance(e, FinalMessage)]
    # Both assistant messages repeat streamed text: kept, marked streamed, not re-emitted.
    assert len(finals) == 2 and all(f.streamed for f in finals)
    # The tool result (a role=user message) is never answer text.
    assert "21:07 JST in Tokyo" not in "".join(e.text for e in events if isinstance(e, TextDelta))
    reprs = [e for e in events if isinstance(e, OtherEvent) and isinstance(e.raw, str)]
    assert len(reprs) == FIXTURES["09_strands_stream_async"].body.count(b"data: \"{'")


def test_json_answer_keeps_the_parsed_value() -> None:
    fixture = FIXTURES["99_sdk_unknown_json"]
    completion = fold_events(decode_whole(fixture))
    assert completion.final_messages == [{"answer_v2": {"score": 0.93, "label": "spam"}}]


def test_agent_error_carries_type_and_message() -> None:
    events = decode_whole(FIXTURES["14_sdk_error_frame_midstream"])
    errors = [e for e in events if isinstance(e, AgentErrorEvent)]
    assert len(errors) == 1
    assert errors[0].error_type == "ValueError"
    assert errors[0].message == "upstream model timed out"
    assert events[-1] == errors[0]


# --- split invariance: the bytes may arrive in any pieces -----------------------------------


def decode_in_pieces(fixture: ShapeFixture, cuts: list[int]) -> list[AgentEvent]:
    bounds = [0, *sorted(set(cuts)), len(fixture.body)]
    return decode_body(fixture.content_type, [fixture.body[a:b] for a, b in pairwise(bounds)])


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_byte_by_byte_feeding_gives_the_same_events(name: str) -> None:
    fixture = FIXTURES[name]
    assert decode_in_pieces(fixture, list(range(len(fixture.body)))) == decode_whole(fixture)


@pytest.mark.parametrize("name", TABLE_NAMES)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_split_gives_the_same_events(name: str, data: st.DataObject) -> None:
    fixture = FIXTURES[name]
    cuts = data.draw(st.lists(st.integers(0, len(fixture.body)), max_size=40))
    assert decode_in_pieces(fixture, cuts) == decode_whole(fixture)


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_cut_inside_every_utf8_character_gives_the_same_events(name: str) -> None:
    fixture = FIXTURES[name]
    # Every position that falls inside a multi-byte UTF-8 sequence (continuation bytes).
    cuts = [i for i, byte in enumerate(fixture.body) if 0x80 <= byte < 0xC0]
    assert decode_in_pieces(fixture, cuts) == decode_whole(fixture)


# --- the registries: which shape wins is declared once, in order ----------------------------


def test_the_registries_in_their_order() -> None:
    assert [name for name, _ in ANSWER_SHAPES] == [
        "json_string",
        "result",
        "response",
        "langchain_message",
        "strands_message",
        "openai_chat_completion",
    ]
    assert [name for name, _ in BODY_SHAPES] == [
        "plain_text",
        "agent_error",
        "a2a_jsonrpc",
        "answer",
    ]
    assert [name for name, _ in STREAM_SHAPES] == [
        "done_marker",
        "plain_text",
        "python_repr",
        "text_string",
        "langgraph_message_tuple",
        "agent_error",
        "a2a_jsonrpc",
        "converse_event",
        "typed_event",
        "langchain_message",
        "strands_message",
        "final_answer",
        "openai_chat_chunk",
        "langgraph_updates",
    ]


def test_every_recogniser_says_who_sends_its_shape() -> None:
    for registry in (ANSWER_SHAPES, BODY_SHAPES, STREAM_SHAPES):
        for name, recognise in registry:
            assert recognise.__doc__ and len(recognise.__doc__) > 40, name


def claims(value: object) -> list[tuple[str, list[AgentEvent]]]:
    """Every stream entry that claims ``value`` on its own, with the events it would give."""
    found = []
    for name, recognise in STREAM_SHAPES:
        events = recognise(value, StreamDecoder())
        if events is not None:
            found.append((name, events))
    return found


def test_in_a_stream_the_first_entry_that_claims_a_value_decides() -> None:
    # AG-UI's RUN_ERROR is a typed event too: listed first, the error entry makes it an error.
    run_error = {"type": "RUN_ERROR", "message": "tool crashed"}
    (first, first_events), (second, second_events) = claims(run_error)
    assert (first, second) == ("agent_error", "typed_event")
    assert first_events == [AgentErrorEvent("tool crashed", "RUN_ERROR", run_error)]
    assert second_events == [OtherEvent(run_error)]
    assert StreamDecoder().decode(run_error) == first_events
    # A LangChain message has a string "type" but the typed-event entry leaves it alone; this
    # one also looks like a LangGraph update, which comes later and so never sees it.
    message = {
        "type": "ai",
        "content": "Hi",
        "agent": {"messages": [{"type": "ai", "content": "Yo"}]},
    }
    assert [name for name, _ in claims(message)] == ["langchain_message", "langgraph_updates"]
    assert StreamDecoder().decode(message) == [TextDelta("Hi"), FinalMessage("Hi", message)]


def test_in_an_answer_the_first_shape_decides_even_when_it_has_no_text() -> None:
    # Both "result" (a number: no answer text) and "response" would claim this value; "result"
    # comes first and finds no text, so the value is unrecognised: its JSON is the answer.
    value = {"result": 5, "response": "never read"}
    (_, by_result), (_, by_response) = [
        (name, recognise(value)) for name, recognise in ANSWER_SHAPES if recognise(value)
    ]
    assert by_result is NO_TEXT and by_response == "never read"
    assert answer_text(value) is None
    assert decode_json_answer(value)[0] == TextDelta('{"result": 5, "response": "never read"}')
    # An error answer is an error even when it also has a result.
    both = {"error": "boom", "result": "text"}
    assert decode_json_answer(both) == [AgentErrorEvent("boom", None, both)]


def _registry_walk(value: object) -> list[AgentEvent]:
    for _name, recognise in BODY_SHAPES:
        events = recognise(value)
        if events is not None:
            return events
    text = json.dumps(value, ensure_ascii=False)  # no shape: the JSON is the answer
    return [TextDelta(text), FinalMessage(text, value)]


@pytest.mark.parametrize(
    "value",
    ["ok", "", "日本語", {"result": "ok"}, {"result": ""}, {"result": None}, {"result": 3},
     {"result": {"role": "assistant", "content": [{"text": "hi"}]}}, {"error": "boom"},
     {"result": "ok", "usage": {"inputTokens": 1, "outputTokens": 2}},
     {"result": "ok", "jsonrpc": "2.0"}, {"result": "ok", "error": "both"}],
)  # fmt: skip
def test_the_quick_path_for_common_answers_agrees_with_the_registry(value: object) -> None:
    # decode_json_answer answers a JSON string and a lone {"result": "<text>"} without
    # walking BODY_SHAPES; whatever the value, its events are the registry's.
    assert decode_json_answer(value) == _registry_walk(value)
