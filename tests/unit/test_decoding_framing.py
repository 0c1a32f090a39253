"""The decoder's framing and its robustness: SSE line rules, bodies, random input."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.shapes import all_fixture_names, load_fixture

from agentcore_bridge.decoding import (
    AgentErrorEvent,
    FinalMessage,
    OtherEvent,
    ResponseDecoder,
    TextDelta,
    Usage,
    decode_body,
)
from agentcore_bridge.errors import AgentCoreError, MalformedResponseError
from agentcore_bridge.results import fold_events

SSE = "text/event-stream; charset=utf-8"


def texts(events: list) -> list[str]:
    return [e.text for e in events if isinstance(e, TextDelta)]


def test_each_event_is_handed_on_as_soon_as_its_blank_line_arrives() -> None:
    decoder = ResponseDecoder(SSE)
    assert decoder.feed(b'data: "Hel') == []
    assert decoder.feed(b'"\n') == []
    assert decoder.feed(b"\n") == [TextDelta("Hel")]
    assert decoder.feed(b'data: "lo"\n\ndata: "!"\n\n') == [TextDelta("lo"), TextDelta("!")]
    assert decoder.close() == []


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_all_three_sse_line_endings(newline: bytes) -> None:
    body = newline.join([b'data: "a"', b"", b": keep-alive comment", b'data: "b"', b"", b""])
    assert texts(decode_body(SSE, [body])) == ["a", "b"]
    # a \r\n split between two reads is one line end, not two
    cut = body.index(b"\r") + 1 if newline == b"\r\n" else 3
    assert texts(decode_body(SSE, [body[:cut], body[cut:]])) == ["a", "b"]


def test_multi_line_data_and_other_fields() -> None:
    body = b'event: message\nid: 7\nretry: 100\ndata: {"result":\ndata: "x"}\n\n'
    events = decode_body(SSE, [body])
    assert texts(events) == ["x"]


def test_unterminated_last_event_is_still_decoded() -> None:
    assert texts(decode_body(SSE, [b'data: "a"\n\ndata: "tail"'])) == ["a", "tail"]


def test_non_json_data_is_text_and_done_marker_is_not() -> None:
    events = decode_body(SSE, [b"data: plain words\n\ndata: [DONE]\n\n"])
    assert events == [TextDelta("plain words"), OtherEvent("[DONE]")]


def test_python_repr_string_is_metadata_but_other_strings_are_text() -> None:
    body = b"data: \"{'data': 'x', 'agent': <Agent at 0x1>}\"\n\ndata: \"{not a repr}\"\n\n"
    events = decode_body(SSE, [body])
    assert events == [
        OtherEvent("{'data': 'x', 'agent': <Agent at 0x1>}"),
        TextDelta("{not a repr}"),
    ]


def test_final_message_without_deltas_is_the_text() -> None:
    body = b'data: {"message": {"role": "assistant", "content": [{"text": "whole"}]}}\n\n'
    events = decode_body(SSE, [body])
    assert texts(events) == ["whole"]
    assert isinstance(events[-1], FinalMessage) and not events[-1].streamed


def test_openai_chat_chunks_and_usage() -> None:
    frames = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]},
        {"choices": [{"index": 0, "delta": {"content": " you"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
    ]
    body = b"".join(b"data: " + json.dumps(f).encode() + b"\n\n" for f in frames)
    completion = fold_events(decode_body(SSE, [body]))
    assert completion.text == "Hi you"
    assert completion.usage == Usage(3, 2, 5)


def test_json_body_forms() -> None:
    assert texts(decode_body("application/json", [b'"a', b'b"'])) == ["ab"]
    assert texts(decode_body("text/plain; charset=utf-8", [b"just text"])) == ["just text"]
    assert texts(decode_body(None, [b'{"result": "untyped json"}'])) == ["untyped json"]
    assert texts(decode_body(None, [b"not json at all"])) == ["not json at all"]
    assert decode_body("application/json", [b""]) == []
    usage = fold_events(
        decode_body(
            "application/json", [b'{"result": "x", "usage": {"inputTokens": 2, "outputTokens": 1}}']
        )
    ).usage
    assert usage == Usage(2, 1, 3)


def test_json_rpc_error_and_ag_ui_run_error() -> None:
    rpc = decode_body(
        "application/json", [b'{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"bad"}}']
    )
    assert rpc == [
        AgentErrorEvent(
            "bad",
            "-32603",
            {"jsonrpc": "2.0", "id": 1, "error": {"code": -32603, "message": "bad"}},
        )
    ]
    agui = decode_body(SSE, [b'data: {"type":"RUN_ERROR","message":"tool crashed"}\n\n'])
    assert isinstance(agui[0], AgentErrorEvent) and agui[0].message == "tool crashed"


def test_broken_input_raises_our_typed_errors() -> None:
    with pytest.raises(MalformedResponseError, match="not valid JSON"):
        decode_body("application/json", [b'{"result": '])
    with pytest.raises(MalformedResponseError, match="not valid UTF-8"):
        decode_body(SSE, [b'data: "\xff\xfe"\n\n'])
    with pytest.raises(MalformedResponseError, match="not valid UTF-8"):
        decode_body("application/json", [b'"\xc3"'])


def test_feed_after_close_is_a_programming_error() -> None:
    decoder = ResponseDecoder(SSE)
    decoder.close()
    with pytest.raises(RuntimeError):
        decoder.feed(b"x")


def test_long_line_fed_in_small_pieces_is_buffered_once() -> None:
    big = "x" * 200_000
    frame = b'data: "' + big.encode() + b'"\n\n'
    decoder = ResponseDecoder(SSE)
    events = []
    for start in range(0, len(frame), 1000):
        events.extend(decoder.feed(frame[start : start + 1000]))
    assert events == [TextDelta(big)]
    assert len(decoder._buffer) == 0  # nothing retained once the event is out


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["type", "event", "result", "response", "content", "delta", "text",
                         "message", "error", "role", "messages", "choices", "usage", "parts",
                         "jsonrpc", "metadata", "contentBlockDelta", "data"]) | st.text(max_size=5),
        children,
        max_size=4,
    ),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_any_json_value_decodes_without_raising(value: object) -> None:
    encoded = json.dumps(value).encode()
    for events in (
        decode_body("application/json", [encoded]),
        decode_body(SSE, [b"data: " + encoded + b"\n\n"]),
    ):
        completion = fold_events(events)
        assert isinstance(completion.text, str)


@settings(max_examples=300, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=64), max_size=8),
    content_type=st.sampled_from([SSE, "application/json", None, "text/plain"]),
)
def test_random_bytes_raise_nothing_but_our_own_errors(
    chunks: list[bytes], content_type: str | None
) -> None:
    with contextlib.suppress(AgentCoreError):
        decode_body(content_type, chunks)


def _frames(fixture_name: str) -> list[object]:
    """The JSON values a recorded fixture carries: its body, or each SSE ``data:`` frame."""
    fixture = load_fixture(fixture_name)
    if fixture.content_type.startswith("text/event-stream"):
        lines = fixture.body.decode().splitlines()
        return [json.loads(line[5:]) for line in lines if line.startswith("data:")]
    return [json.loads(fixture.body)]


def _mutants(value: object) -> Iterator[object]:
    """``value`` with each nested value in turn replaced by every other JSON type."""
    for replacement in (None, True, 7, 1.5, "x", [], {}, [{}]):
        if type(value) is not type(replacement):
            yield replacement
    if isinstance(value, dict):
        for key, child in value.items():
            for mutant in _mutants(child):
                yield {**value, key: mutant}
    elif isinstance(value, list):
        for index, child in enumerate(value):
            for mutant in _mutants(child):
                yield [*value[:index], mutant, *value[index + 1 :]]


def test_every_recorded_frame_with_any_field_of_the_wrong_type_decodes_without_raising() -> None:
    """Each field a recorded agent sends, replaced by every other JSON type (the decoder reads
    fields by name, so a wrong type where an object is expected must not crash it)."""
    frames = {json.dumps(f, sort_keys=True) for n in all_fixture_names() for f in _frames(n)}
    decoded = 0
    for frame in sorted(frames):
        for mutant in _mutants(json.loads(frame)):
            encoded = json.dumps(mutant).encode()
            for events in (
                decode_body("application/json", [encoded]),
                decode_body(SSE, [b"data: " + encoded + b"\n\n"]),
            ):
                assert isinstance(fold_events(events).text, str)
                decoded += 1
    assert decoded > 10_000  # the sweep really ran over the recorded frames
