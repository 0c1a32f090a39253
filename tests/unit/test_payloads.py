"""Payloads and the history rule: conversations x modes x session states -> the exact body."""

import json
from typing import Any

import pytest

from agentcore_bridge.errors import InvalidRequestError, PayloadTooLargeError
from agentcore_bridge.payloads import (
    MAX_PAYLOAD_BYTES,
    HistoryMode,
    SessionMemory,
    encode_payload,
    prepare_payload,
)

SESSION = "table-session-000000000000000000000000001"
SYS = {"role": "system", "content": "Be brief."}
SYS_RAG = {"role": "system", "content": "Context: the office opens at 9."}
HI = {"role": "user", "content": "Hi"}
HELLO = {"role": "assistant", "content": "Hello!"}
HOW = {"role": "user", "content": "How are you?"}
FINE = {"role": "assistant", "content": "Fine."}
WHEN = {"role": "user", "content": [{"type": "text", "text": "When does it "}, {"type": "text", "text": "open?"}]}  # fmt: skip

# Conversations as frameworks hand them over (the whole history on every call).
ONE_USER = [HI]
SYSTEM_USER = [SYS, HI]
SYSTEM_TURNS = [SYS, HI, HELLO, HOW]
RAG_TURNS = [SYS_RAG, HI, HELLO, WHEN]
LONG = [SYS, HI, HELLO, HOW, FINE, WHEN]

# Session states: what this process last sent to the session (absent = never used here).
NEW = "new"
SEEN_SAME_SYSTEM = "seen, same system text"
SEEN_OTHER_SYSTEM = "seen, other system text"
SEEN_NO_SYSTEM = "seen, no system text"

TRANSCRIPT_SYSTEM_TURNS = "Be brief.\n\nUser: Hi\nAssistant: Hello!\nUser: How are you?"
TRANSCRIPT_RAG = (
    "Context: the office opens at 9.\n\nUser: Hi\nAssistant: Hello!\nUser: When does it open?"
)
TRANSCRIPT_LONG = (
    "Be brief.\n\nUser: Hi\nAssistant: Hello!\nUser: How are you?\nAssistant: Fine.\n"
    "User: When does it open?"
)

HISTORY_TABLE = [
    # conversation, mode, session state, expected prompt
    ("one user", ONE_USER, "auto", NEW, "Hi"),
    ("one user", ONE_USER, "auto", SEEN_NO_SYSTEM, "Hi"),
    ("one user", ONE_USER, "full", SEEN_NO_SYSTEM, "Hi"),
    ("one user", ONE_USER, "last", NEW, "Hi"),
    ("system+user", SYSTEM_USER, "auto", NEW, "Be brief.\n\nUser: Hi"),
    ("system+user", SYSTEM_USER, "auto", SEEN_SAME_SYSTEM, "Hi"),
    ("system+user", SYSTEM_USER, "auto", SEEN_OTHER_SYSTEM, "Be brief.\n\nUser: Hi"),
    ("system+user", SYSTEM_USER, "auto", SEEN_NO_SYSTEM, "Be brief.\n\nUser: Hi"),
    ("system+user", SYSTEM_USER, "full", SEEN_SAME_SYSTEM, "Be brief.\n\nUser: Hi"),
    ("system+user", SYSTEM_USER, "last", SEEN_SAME_SYSTEM, "Be brief.\n\nUser: Hi"),
    # [system, human, ai, human] never loses the system message or the history ...
    ("system+turns", SYSTEM_TURNS, "auto", NEW, TRANSCRIPT_SYSTEM_TURNS),
    ("system+turns", SYSTEM_TURNS, "full", NEW, TRANSCRIPT_SYSTEM_TURNS),
    ("system+turns", SYSTEM_TURNS, "full", SEEN_SAME_SYSTEM, TRANSCRIPT_SYSTEM_TURNS),
    # ... and a continued session gets no duplicated history.
    ("system+turns", SYSTEM_TURNS, "auto", SEEN_SAME_SYSTEM, "How are you?"),
    ("system+turns", SYSTEM_TURNS, "auto", SEEN_OTHER_SYSTEM, "Be brief.\n\nUser: How are you?"),
    ("system+turns", SYSTEM_TURNS, "last", NEW, "How are you?"),
    ("system+turns", SYSTEM_TURNS, "last", SEEN_OTHER_SYSTEM, "How are you?"),
    # RAG context in the system message changes every turn: it is re-sent when it changed.
    ("rag", RAG_TURNS, "auto", NEW, TRANSCRIPT_RAG),
    ("rag", RAG_TURNS, "auto", SEEN_SAME_SYSTEM,
     "Context: the office opens at 9.\n\nUser: When does it open?"),
    ("rag", RAG_TURNS, "last", SEEN_SAME_SYSTEM, "When does it open?"),
    ("long", LONG, "auto", NEW, TRANSCRIPT_LONG),
    ("long", LONG, "auto", SEEN_SAME_SYSTEM, "When does it open?"),
    ("long", LONG, "full", SEEN_SAME_SYSTEM, TRANSCRIPT_LONG),
    ("long", LONG, "last", NEW, "When does it open?"),
]  # fmt: skip


def memory_in_state(state: str) -> SessionMemory:
    memory = SessionMemory()
    if state == SEEN_SAME_SYSTEM:
        memory.remember(SESSION, "Be brief.")
    elif state == SEEN_OTHER_SYSTEM:
        memory.remember(SESSION, "You are a pirate.")
    elif state == SEEN_NO_SYSTEM:
        memory.remember(SESSION, None)
    return memory


@pytest.mark.parametrize(
    ("conversation", "mode", "state", "expected"),
    [pytest.param(c, m, s, e, id=f"{name}-{m}-{s}") for name, c, m, s, e in HISTORY_TABLE],
)
def test_history_rule_table(
    conversation: list[dict[str, Any]], mode: str, state: str, expected: str
) -> None:
    prepared = prepare_payload(
        conversation, session_id=SESSION, memory=memory_in_state(state), history=mode
    )
    assert json.loads(prepared.body) == {"prompt": expected}


def test_a_conversation_continued_over_three_calls_sends_each_message_once() -> None:
    memory = SessionMemory()
    sent = []
    conversation: list[dict[str, Any]] = [SYS, HI]
    for reply, follow_up in [(HELLO, HOW), (FINE, WHEN)]:
        prepared = prepare_payload(conversation, session_id=SESSION, memory=memory)
        memory.remember(SESSION, prepared.system_text)
        sent.append(json.loads(prepared.body)["prompt"])
        conversation = [*conversation, reply, follow_up]
    prepared = prepare_payload(conversation, session_id=SESSION, memory=memory)
    sent.append(json.loads(prepared.body)["prompt"])
    assert sent == ["Be brief.\n\nUser: Hi", "How are you?", "When does it open?"]


def test_memory_is_only_read_by_prepare_payload() -> None:
    memory = SessionMemory()
    prepare_payload(SYSTEM_USER, session_id=SESSION, memory=memory)
    assert SESSION not in memory  # a failed call must not make the session look seen


def test_memory_forgets_least_recently_used_sessions() -> None:
    memory = SessionMemory(max_sessions=2)
    for name in ("a", "b", "a", "c"):
        memory.remember(name, None)
    assert "a" in memory and "c" in memory and "b" not in memory
    assert len(memory) == 2


def test_openai_format_passes_selected_messages_and_parts_through() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    conversation = [SYS, HI, HELLO, {"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]}]  # fmt: skip
    memory = memory_in_state(SEEN_SAME_SYSTEM)
    prepared = prepare_payload(
        conversation, session_id=SESSION, memory=memory, payload_format="openai"
    )
    assert json.loads(prepared.body) == {"messages": [conversation[-1]]}
    full = prepare_payload(conversation, payload_format="openai", history=HistoryMode.FULL)
    assert json.loads(full.body) == {"messages": conversation}


def test_converse_format_separates_system_and_merges_roles() -> None:
    tool_turn = [SYS, HI, {"role": "assistant", "content": "Hello!"}, HOW, WHEN]
    body = json.loads(prepare_payload(tool_turn, payload_format="converse").body)
    assert body == {
        "system": [{"text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"text": "Hi"}]},
            {"role": "assistant", "content": [{"text": "Hello!"}]},
            {"role": "user", "content": [{"text": "How are you?"}, {"text": "When does it open?"}]},
        ],
    }


def test_custom_shaper_and_extra_fields() -> None:
    def shaper(messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"input": {"question": messages[-1]["content"], "n": len(messages)}}

    body = json.loads(
        prepare_payload(SYSTEM_TURNS, payload_format=shaper, extra={"user_id": "u-1"}).body
    )
    assert body == {"input": {"question": "How are you?", "n": 4}, "user_id": "u-1"}
    prompt = json.loads(prepare_payload("Hi", extra={"user_id": "u-1", "stream": True}).body)
    assert prompt == {"prompt": "Hi", "user_id": "u-1", "stream": True}
    with pytest.raises(InvalidRequestError, match=r"payload_extra sets \['prompt'\]"):
        prepare_payload("Hi", extra={"prompt": "other"})


def test_non_ascii_is_sent_as_utf8_not_escaped() -> None:
    body = prepare_payload("Grüße — 東京").body
    assert body == '{"prompt":"Grüße — 東京"}'.encode()


def test_tool_calls_and_results_appear_in_the_transcript() -> None:
    conversation = [
        HI,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"city":"Tokyo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "21:07"},
    ]
    prompt = json.loads(prepare_payload(conversation, history="full").body)["prompt"]
    assert prompt == (
        'User: Hi\nAssistant: [called get_time({"city":"Tokyo"})]\nTool result: 21:07'
    )


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "non-empty list"),
        ([{"role": "robot", "content": "x"}], "has role 'robot'"),
        (["hi"], "is a str"),
        ([{"role": "user", "content": 3}], "must be a string or a list"),
        ([SYS], "nothing new to send"),
        ([HI, HELLO], "nothing new to send"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
            "payload_format='openai'",
        ),
    ],
)
def test_bad_messages_raise_before_anything_is_sent(messages: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        prepare_payload(messages, history="full")


def test_bad_modes_and_formats_are_named() -> None:
    with pytest.raises(InvalidRequestError, match="history must be one of"):
        prepare_payload("Hi", history="everything")
    with pytest.raises(InvalidRequestError, match="payload_format must be one of"):
        prepare_payload("Hi", payload_format="xml")


def test_payload_limit_is_enforced_locally() -> None:
    assert len(encode_payload(b"x" * MAX_PAYLOAD_BYTES)) == MAX_PAYLOAD_BYTES
    with pytest.raises(PayloadTooLargeError, match="100,000,001 bytes"):
        encode_payload(b"x" * (MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(InvalidRequestError, match="not JSON-serialisable"):
        encode_payload({"when": object()})
