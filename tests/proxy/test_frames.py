"""The proxy's byte-level OpenAI JSON (``proxy.frames``) is exactly what the pydantic models of
``agentcore_bridge.completions`` dump: the declaration the frames are held to."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from agentcore_bridge.completions import ChunkMaker, to_chat_completion
from agentcore_bridge.decoding import TextDelta, Usage
from agentcore_bridge.proxy.frames import DONE, ChunkWriter, completion_body
from agentcore_bridge.results import Completion, StopSequences

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
optional = st.none() | st.text(min_size=1, max_size=20)
finishes = st.sampled_from(["stop", "error"])
usages = st.none() | st.builds(Usage, st.integers(0, 10**6), st.integers(0, 10**6),
                                st.integers(0, 10**6))  # fmt: skip


def old_sse(value: dict) -> bytes:  # type: ignore[type-arg]
    """What the proxy wrote per chunk before (pydantic model_dump, then json.dumps)."""
    return (
        b"data: " + json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
    )


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(texts, max_size=4), model=st.text(min_size=1, max_size=12),
       session=optional, finish=finishes, usage=usages, include_usage=st.booleans())  # fmt: skip
def test_stream_frames_match_the_chunk_models(
    pieces: list[str], model: str, session: str | None, finish: str,
    usage: Usage | None, include_usage: bool,
) -> None:  # fmt: skip
    writer = ChunkWriter(model, session, include_usage)
    maker = ChunkMaker(model, session, include_usage)
    maker.id, maker.created = writer.id, writer.created
    for piece in pieces:
        assert writer.text(piece) == old_sse(maker.chunk(piece).model_dump(exclude_none=True))
    done = Completion(keep_content=False, session_id=session)
    done.usage, done.finish_reason = usage, finish
    expected = b"".join(old_sse(c.model_dump(exclude_none=True)) for c in maker.tail(done))
    assert writer.tail(done) == expected + DONE


@settings(max_examples=300, deadline=None)
@given(text=texts, model=st.text(min_size=1, max_size=12), session=optional, request=optional,
       finish=finishes, usage=usages, stop=st.none() | st.lists(st.text(min_size=1, max_size=3),
                                                                max_size=2))  # fmt: skip
def test_completion_body_matches_the_completion_model(
    text: str, model: str, session: str | None, request: str | None, finish: str,
    usage: Usage | None, stop: list[str] | None,
) -> None:  # fmt: skip
    done = Completion(keep_content=True, session_id=session, request_id=request)
    if text:
        done.add(TextDelta(text))
    done.usage, done.finish_reason = usage, finish
    ours = json.loads(completion_body(done, model, StopSequences(stop)))
    theirs = to_chat_completion(done, model, StopSequences(stop)).model_dump(exclude_none=True)
    for volatile in ("id", "created"):
        assert ours.pop(volatile) and theirs.pop(volatile)
    assert ours == theirs
    assert list(ours) == list(theirs)  # the same key order too
