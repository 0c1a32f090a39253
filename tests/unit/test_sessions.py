"""Session ids: generated ones satisfy AgentCore; given ones are checked with the rule stated."""

import re

import pytest

from agentcore_bridge.errors import InvalidSessionIdError
from agentcore_bridge.sessions import new_session_id, session_id_for, validate_session_id


def test_new_session_ids_fit_the_agentcore_rule_and_are_unique() -> None:
    ids = {new_session_id() for _ in range(1000)}
    assert len(ids) == 1000
    for session_id in ids:
        assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]{32,99}", session_id)
        assert validate_session_id(session_id) == session_id


@pytest.mark.parametrize("length", [33, 100, 256])
def test_lengths_at_the_bounds_are_accepted(length: int) -> None:
    assert validate_session_id("s" * length) == "s" * length


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("s" * 32, "it has 32 characters"),
        ("s" * 257, "it has 257 characters"),
        ("litellm-session-" + "x" * 10, "it has 26 characters"),
        ("s" * 30 + " ab", "outside visible ASCII"),
        ("s" * 33 + "\n", "outside visible ASCII"),
        ("s" * 33 + "é", "outside visible ASCII"),
    ],
)
def test_bad_session_ids_are_refused_with_the_rule(value: str, problem: str) -> None:
    with pytest.raises(InvalidSessionIdError) as info:
        validate_session_id(value)
    assert problem in str(info.value)
    assert "33 to 256 visible ASCII characters" in str(info.value)


def test_non_string_session_id_is_refused() -> None:
    with pytest.raises(InvalidSessionIdError, match="must be a string, got int"):
        validate_session_id(12345678901234567890123456789012345)


def test_framework_keys_map_to_stable_valid_session_ids() -> None:
    mapped = session_id_for("user-42")
    assert mapped == session_id_for("user-42")
    assert mapped != session_id_for("user-43")
    assert validate_session_id(mapped) == mapped
    assert mapped.startswith("session-")
    already_valid = "thread-" + "7" * 40
    assert session_id_for(already_valid) == already_valid
    assert validate_session_id(session_id_for("ünïcode thread")) is not None
