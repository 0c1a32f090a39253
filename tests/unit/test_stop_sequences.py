"""Stop sequences cut the text at the first stop, streamed in any pieces or whole."""

from itertools import pairwise

from hypothesis import example, given, settings
from hypothesis import strategies as st

from agentcore_bridge.results import StopSequences


def test_cut_at_the_first_stop_sequence() -> None:
    assert StopSequences(["\nUser:", "###"]).apply("Hi there\nUser: more") == "Hi there"
    assert StopSequences("###").apply("a ### b ### c") == "a "
    assert StopSequences(None).apply("untouched") == "untouched"
    assert StopSequences([""]).apply("empty stops are ignored") == "empty stops are ignored"


def test_a_stop_split_across_deltas_is_caught_and_nothing_after_it_leaks() -> None:
    stop = StopSequences(["END"])
    assert stop.feed("the answer E") == "the answer "  # "E" might start "END": held back
    assert stop.feed("N") == ""
    assert stop.feed("D and more") == ""
    assert stop.stopped
    assert stop.feed("later") == ""
    assert stop.flush() == ""


def test_held_back_text_that_never_became_a_stop_is_flushed() -> None:
    stop = StopSequences(["END"])
    assert stop.feed("almost EN") == "almost "
    assert stop.flush() == "EN"
    assert not stop.stopped


@settings(max_examples=1500, deadline=None)
@example(text="EDD", stops=["D", "EDD"], cuts=[2])  # a longer stop that starts earlier wins
@given(
    text=st.text(alphabet="abE ND#\n", max_size=60),
    stops=st.lists(st.text(alphabet="abEND#\n", min_size=1, max_size=4), max_size=3),
    cuts=st.lists(st.integers(0, 60), max_size=10),
)
def test_streaming_equals_whole_for_any_split(text: str, stops: list[str], cuts: list[int]) -> None:
    whole = StopSequences(stops).apply(text)
    stream = StopSequences(stops)
    bounds = [0, *sorted(c for c in set(cuts) if c <= len(text)), len(text)]
    streamed = "".join(stream.feed(text[a:b]) for a, b in pairwise(bounds)) + stream.flush()
    assert streamed == whole
    hits = [i for i in (text.find(s) for s in stops) if i != -1]
    assert whole == (text[: min(hits)] if hits else text)
