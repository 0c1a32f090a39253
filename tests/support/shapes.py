"""The recorded agent responses in tests/fixtures/shapes (see its recorders/) and the table
that maps each answer shape agents send (numbered, described below) to the fixtures showing it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHAPES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "shapes"

SHAPE_TABLE: dict[int, tuple[str, list[str]]] = {
    1: ("a JSON string", ["01_sdk_json_string", "01_strands_str_result", "01_langgraph_last_content"]),
    2: ('{"result": "<text>"}', ["02_sdk_result_text", "02_openai_agents_final_output"]),
    3: ('{"result": <Strands message>}', ["03_strands_message"]),
    4: ("a LangChain message dump, alone or under result",
        ["04_langchain_message_dump", "04_langchain_message_blocks_under_result"]),
    5: ('{"response": <text or blocks>}', ["05_sdk_response_text", "05_sdk_response_blocks"]),
    6: ('{"error": ...}', ["06_sdk_error_dict", "06_sdk_handler_raises"]),
    7: ("A2A JSON-RPC", ["07_a2a_parts", "07_a2a_message_parts"]),
    8: ("plain JSON string events", ["08_sdk_plain_strings", "09_strands_stream_data_only"]),
    9: ("Strands stream_async events", ["09_strands_stream_async"]),
    10: ("LangGraph messages / lone chunks / updates",
         ["10_langgraph_messages_mode", "10_langgraph_lone_chunks", "10_langgraph_updates_mode"]),
    11: ("OpenAI Agents SDK deltas", ["11_openai_agents_stream"]),
    12: ("LlamaIndex agent_stream / done / error", ["12_llamaindex_agent_stream", "12_llamaindex_error_event"]),
    13: ("AG-UI TEXT_MESSAGE_CONTENT", ["13_agui_text_message"]),
    14: ("error frames", ["14_sdk_error_frame_midstream", "14_stream_error_type"]),
    99: ("unknown JSON body / unknown stream events", ["99_sdk_unknown_json", "99_sdk_unknown_stream_events"]),
}  # fmt: skip


@dataclass(frozen=True)
class ShapeFixture:
    name: str
    shape: int
    status: int
    content_type: str
    body: bytes
    expected_text: str
    expected_usage: dict[str, int] | None
    expected_error: str | None
    expected_other: int | None
    source: str


def load_fixture(name: str) -> ShapeFixture:
    meta: dict[str, Any] = json.loads((SHAPES_DIR / f"{name}.json").read_text())
    return ShapeFixture(
        name=name,
        shape=meta["shape"],
        status=meta["status"],
        content_type=meta["content_type"],
        body=(SHAPES_DIR / f"{name}.body").read_bytes(),
        expected_text=meta["expected_text"],
        expected_usage=meta["expected_usage"],
        expected_error=meta["expected_error"],
        expected_other=meta["expected_other"],
        source=meta["source"],
    )


def all_fixture_names() -> list[str]:
    return sorted(p.stem for p in SHAPES_DIR.glob("*.json"))


def recorded_agent(fixture: ShapeFixture, piece: int = 97) -> Any:
    """A raw ASGI agent answering with the fixture's status, content type and exact bytes,
    sent in ``piece``-byte writes (so clients read them split anywhere)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while True:  # read the request body to its end
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if not message.get("more_body", False):
                break
        await send(
            {
                "type": "http.response.start",
                "status": fixture.status,
                "headers": [(b"content-type", fixture.content_type.encode("latin-1"))],
            }
        )
        body = fixture.body
        for start in range(0, len(body), piece):
            part = body[start : start + piece]
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app
