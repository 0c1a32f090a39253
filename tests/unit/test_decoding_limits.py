"""The decoder's size limits (``max_event_bytes``, ``max_body_bytes``): an answer over a limit
raises ``ResponseTooLargeError`` from the feed that crosses it, before its bytes are kept, so
memory stays bounded by the settings whatever the agent sends; exactly at a limit is fine."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentcore_bridge.decoding import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_EVENT_BYTES,
    FinalMessage,
    ResponseDecoder,
    TextDelta,
    decode_body,
)
from agentcore_bridge.errors import MalformedResponseError, ResponseTooLargeError

SSE = "text/event-stream"
LIMIT = 1000
KIB = 1024
MIB = 1024 * KIB


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def feed_all(decoder: ResponseDecoder, chunks: Iterable[bytes]) -> list:
    events: list = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def crossing_feed(decoder: ResponseDecoder, chunks: list[bytes]) -> int:
    """The index of the chunk whose feed raised ResponseTooLargeError (the earlier ones must not)."""
    for index, chunk in enumerate(chunks):
        try:
            decoder.feed(chunk)
        except ResponseTooLargeError:
            return index
    decoder.close()
    raise AssertionError("no feed raised ResponseTooLargeError")


def string_line(size: int) -> bytes:
    """``data: "xx…"``: one SSE line of exactly ``size`` bytes (line end not counted)."""
    return b'data: "' + b"x" * (size - 8) + b'"'


def test_the_defaults() -> None:
    assert DEFAULT_MAX_EVENT_BYTES == 32 * MIB
    assert DEFAULT_MAX_BODY_BYTES == 128 * MIB
    decoder = ResponseDecoder(SSE)
    assert (decoder.max_event_bytes, decoder.max_body_bytes) == (32 * MIB, 128 * MIB)


# --- one SSE line ---------------------------------------------------------------------------


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
@pytest.mark.parametrize("size", [LIMIT, LIMIT - 1])
@pytest.mark.parametrize("chunk", [7, LIMIT, 10 * LIMIT])
def test_a_line_at_or_just_below_the_limit_passes(newline: bytes, size: int, chunk: int) -> None:
    body = string_line(size) + newline + newline + b'data: "next"' + newline + newline
    events = feed_all(ResponseDecoder(SSE, max_event_bytes=LIMIT), pieces(body, chunk))
    assert events == [TextDelta("x" * (size - 8)), TextDelta("next")]


def test_an_oversized_line_in_small_chunks_raises_from_the_feed_that_crosses_the_limit() -> None:
    chunks = pieces(string_line(LIMIT + 1) + b"\n\n", 7)
    decoder = ResponseDecoder(SSE, max_event_bytes=LIMIT)
    # Chunk k brings the line to 7 * (k + 1) bytes: the first over 1000 is k = 142 (1001 bytes).
    assert crossing_feed(decoder, chunks) == LIMIT // 7
    assert len(decoder._buffer) == 0  # what was held is let go


def test_an_oversized_line_in_one_chunk_raises_before_it_is_buffered() -> None:
    decoder = ResponseDecoder(SSE, max_event_bytes=LIMIT)
    with pytest.raises(ResponseTooLargeError, match=r"max_event_bytes=1000 bytes"):
        decoder.feed(b'data: "a"\n\n' + string_line(LIMIT + 1) + b"\n\n")
    assert len(decoder._buffer) == 0


def test_a_chunk_larger_than_the_limit_is_fine_when_its_events_are_small() -> None:
    frames = [b'data: "' + str(i).encode() + b'"\n\n' for i in range(500)]  # ~6 KB in all
    events = feed_all(ResponseDecoder(SSE, max_event_bytes=20), [b"".join(frames)])
    assert [e.text for e in events] == [str(i) for i in range(500)]


def test_an_oversized_line_after_small_ones_in_the_same_chunk_raises() -> None:
    decoder = ResponseDecoder(SSE, max_event_bytes=LIMIT)
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(b'data: "a"\n\n' + string_line(LIMIT + 1) + b'\n\ndata: "b"\n\n')


def test_an_oversized_comment_line_counts_too() -> None:
    decoder = ResponseDecoder(SSE, max_event_bytes=LIMIT)
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(b":" + b" " * LIMIT + b"\n")


# --- the data lines of one event ------------------------------------------------------------


def data_lines(count: int, size: int) -> list[bytes]:
    """``count`` lines ``data:aaa…`` of ``size`` bytes each (line end not counted)."""
    return [b"data:" + b"a" * (size - 5) for _ in range(count)]


def test_an_event_whose_data_lines_add_up_to_exactly_the_limit_passes() -> None:
    lines = data_lines(10, 100)  # 10 x 100 = LIMIT
    chunks = [line + b"\n" for line in lines] + [b"\n"]
    events = feed_all(ResponseDecoder(SSE, max_event_bytes=LIMIT), chunks)
    assert events == [TextDelta("\n".join(["a" * 95] * 10))]
    below = [*data_lines(9, 100), *data_lines(1, 99)]
    events = feed_all(ResponseDecoder(SSE, max_event_bytes=LIMIT), [b"\n".join(below) + b"\n\n"])
    assert events == [TextDelta("\n".join(["a" * 95] * 9 + ["a" * 94]))]


def test_an_event_of_many_small_data_lines_over_the_limit_raises() -> None:
    lines = data_lines(11, 100)  # each line is a tenth of the limit, together 1100 bytes
    decoder = ResponseDecoder(SSE, max_event_bytes=LIMIT)
    # The 11th line crosses the limit with its first byte: its feed raises.
    assert crossing_feed(decoder, [line + b"\n" for line in lines]) == 10
    decoder = ResponseDecoder(SSE, max_event_bytes=LIMIT)
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(b"\n".join(lines) + b"\n\n")


def test_the_limit_is_per_event() -> None:
    event = b"\n".join(data_lines(10, 100)) + b"\n\n"  # each event exactly at the limit
    events = feed_all(ResponseDecoder(SSE, max_event_bytes=LIMIT), pieces(event * 5, 333))
    assert len(events) == 5


# --- non-stream bodies ----------------------------------------------------------------------


def json_body(size: int) -> bytes:
    body = b'{"result": "' + b"y" * (size - 14) + b'"}'
    assert len(body) == size
    return body


@pytest.mark.parametrize("content_type", ["application/json", None])
@pytest.mark.parametrize("size", [LIMIT, LIMIT - 1])
def test_a_json_body_at_or_just_below_the_limit_passes(content_type: str | None, size: int) -> None:
    events = decode_body(content_type, pieces(json_body(size), 7), max_body_bytes=LIMIT)
    assert events[0] == TextDelta("y" * (size - 14))


@pytest.mark.parametrize("content_type", ["application/json", "text/plain; charset=utf-8", None])
@pytest.mark.parametrize("chunk", [7, LIMIT + 1])
def test_an_oversized_body_raises_from_the_feed_that_crosses_the_limit(
    content_type: str | None, chunk: int
) -> None:
    body = json_body(LIMIT + 1) if content_type != "text/plain; charset=utf-8" else b"z" * 1001
    decoder = ResponseDecoder(content_type, max_body_bytes=LIMIT)
    assert crossing_feed(decoder, pieces(body, chunk)) == LIMIT // chunk
    assert len(decoder._buffer) == 0


def test_a_text_body_exactly_at_the_limit_passes() -> None:
    events = decode_body("text/plain", pieces(b"z" * LIMIT, 64), max_body_bytes=LIMIT)
    assert events == [TextDelta("z" * LIMIT), FinalMessage("z" * LIMIT, "z" * LIMIT)]


def test_the_stream_limit_does_not_apply_to_bodies_nor_the_body_limit_to_streams() -> None:
    body = json_body(5 * LIMIT)
    assert decode_body("application/json", [body], max_event_bytes=LIMIT)[0].text == "y" * 4986
    stream = b"".join([b'data: "' + b"x" * 50 + b'"\n\n'] * 100)  # 6 KB of small events
    assert len(decode_body(SSE, [stream], max_body_bytes=LIMIT)) == 100


# --- the error ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "setting"), [(SSE, "max_event_bytes"), ("application/json", "max_body_bytes")]
)
def test_the_error_names_the_setting_and_the_decoder_stays_unusable(
    content_type: str, setting: str
) -> None:
    decoder = ResponseDecoder(content_type, max_event_bytes=LIMIT, max_body_bytes=LIMIT)
    with pytest.raises(ResponseTooLargeError) as raised:
        decoder.feed(b"[" + b"1," * LIMIT)
    message = str(raised.value)
    assert f"{setting}=1000 bytes" in message and f"raise {setting}" in message
    assert isinstance(raised.value, MalformedResponseError)
    with pytest.raises(ResponseTooLargeError, match=setting):
        decoder.feed(b"1]")
    with pytest.raises(ResponseTooLargeError, match=setting):
        decoder.feed(b"")
    with pytest.raises(ResponseTooLargeError, match=setting):
        decoder.close()


def test_decode_body_passes_the_limits_on() -> None:
    with pytest.raises(ResponseTooLargeError, match="max_event_bytes=1000"):
        decode_body(SSE, [string_line(LIMIT + 1) + b"\n\n"], max_event_bytes=LIMIT)
    with pytest.raises(ResponseTooLargeError, match="max_body_bytes=1000"):
        decode_body("application/json", [json_body(LIMIT + 1)], max_body_bytes=LIMIT)


# --- memory, measured -----------------------------------------------------------------------

CHUNK = 64 * KIB
STREAM = 64 * MIB
MEMORY_LIMIT = 1 * MIB


def oversized(kind: str) -> tuple[bytes, bytes]:
    """The first chunk and every later chunk of a 64 MiB answer in 64 KiB chunks: one endless
    line, one event of endless 1 KiB data lines, or one endless JSON body. Made before the
    measurement starts, and reused, so the test itself allocates nothing per chunk."""
    if kind == "line":
        first, rest = b'data: "' + b"x" * (CHUNK - 7), b"x" * CHUNK
    elif kind == "data lines":
        first = rest = (b"data:" + b"d" * (KIB - 6) + b"\n") * (CHUNK // KIB)
    else:
        first, rest = b'{"result": "' + b"j" * (CHUNK - 12), b"j" * CHUNK
    assert len(first) == len(rest) == CHUNK
    return first, rest


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [("line", SSE), ("data lines", SSE), ("body", "application/json")],
)
def test_peak_memory_stays_near_the_limit_however_much_the_agent_sends(
    kind: str, content_type: str
) -> None:
    first, rest = oversized(kind)
    decoder = ResponseDecoder(
        content_type, max_event_bytes=MEMORY_LIMIT, max_body_bytes=MEMORY_LIMIT
    )
    fed = 0
    raised = False
    tracemalloc.start()
    try:
        for index in range(STREAM // CHUNK):
            fed += CHUNK
            decoder.feed(rest if index else first)
    except ResponseTooLargeError:
        raised = True
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    # The decoder's buffer, at most the limit plus the chunk being fed, with bytearray's growth
    # slack and small objects: never the 64 MiB the agent sends.
    assert peak < MEMORY_LIMIT + 2 * CHUNK + 256 * KIB, f"peak {peak / MIB:.2f} MiB"
    assert raised
    # Stopped at the feed that crossed the limit: the limit's worth of chunks, plus that one.
    assert fed == MEMORY_LIMIT + CHUNK


# --- any split, any limit -------------------------------------------------------------------


@st.composite
def sse_bodies(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """An SSE body of data-only events; returns it and each event's data-line bytes."""
    newline = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    events = draw(st.lists(st.lists(st.integers(0, 60), min_size=1, max_size=4), max_size=6))
    body = b""
    sizes = []
    for lines in events:
        body += b"".join(b"data:" + b"q" * n + newline for n in lines) + newline
        sizes.append(sum(5 + n for n in lines))
    return body, sizes


@settings(max_examples=400, deadline=None)
@given(body=sse_bodies(), limit=st.integers(5, 150), data=st.data())
def test_any_split_raises_exactly_when_an_event_is_over_the_limit(
    body: tuple[bytes, list[int]], limit: int, data: st.DataObject
) -> None:
    raw, sizes = body
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    if any(size > limit for size in sizes):
        with pytest.raises(ResponseTooLargeError):
            decode_body(SSE, chunks, max_event_bytes=limit)
    else:
        assert decode_body(SSE, chunks, max_event_bytes=limit) == decode_body(SSE, [raw])


def test_json_events_over_the_limit_are_not_partly_decoded() -> None:
    big = json.dumps({"result": "r" * LIMIT}).encode()
    decoder = ResponseDecoder(SSE, max_event_bytes=LIMIT)
    assert decoder.feed(b'data: "before"\n\n') == [TextDelta("before")]
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(b"data: " + big + b"\n\n")
