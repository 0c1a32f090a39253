"""OpenAI ``chat.completion`` bodies and ``chat.completion.chunk`` SSE frames, written as bytes.

The JSON is exactly what ``agentcore_bridge.completions`` models dump (``model_dump(exclude_none=
True)``, keys in the same order), which ``tests/proxy/test_frames.py`` holds it to; what differs
is the cost. A stream's fixed parts (id, created, model, session) are encoded once, and each text
delta costs one ``json.dumps`` of its text: building and dumping two pydantic models per delta
was the largest share of the proxy's own CPU on streams.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from typing import Any

from agentcore_bridge.results import Completion, StopSequences, usage_to_openai

DONE = b"data: [DONE]\n\n"

# Completion ids as ``results.new_completion_id`` shapes them (``chatcmpl-`` + 32 hex digits),
# from a random per-process prefix and a counter: unique without a uuid4 (an os.urandom call)
# per request.
_ID_PREFIX = "chatcmpl-" + secrets.token_hex(8)
_ids = itertools.count()


def new_completion_id() -> str:
    return f"{_ID_PREFIX}{next(_ids) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


def dumps(value: Any) -> str:
    """JSON as the proxy writes it (Starlette's JSONResponse settings)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def completion_body(completion: Completion, model: str, stop: StopSequences | None) -> bytes:
    """A whole answer as an OpenAI ``chat.completion``."""
    text = stop.apply(completion.text) if stop is not None else completion.text
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}}
    if completion.finish_reason is not None:
        choice["finish_reason"] = completion.finish_reason
    body: dict[str, Any] = {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }
    if completion.usage is not None:
        body["usage"] = usage_to_openai(completion.usage)
    if completion.session_id is not None:
        body["runtime_session_id"] = completion.session_id
    if completion.request_id is not None:
        body["request_id"] = completion.request_id
    return dumps(body).encode()


class ChunkWriter:
    """One stream's SSE frames: a frame per text delta, then the closing ones."""

    def __init__(self, model: str, session_id: str | None, include_usage: bool) -> None:
        self.id = new_completion_id()
        self.created = int(time.time())
        head = dumps({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                      "model": model})  # fmt: skip
        self._head = "data: " + head[:-1] + ',"choices":'
        self._session = "" if session_id is None else ',"runtime_session_id":' + dumps(session_id)
        self._include_usage = include_usage
        self._first = True

    def _frame(self, delta: str, finish: str | None = None) -> str:
        choice = '[{"index":0,"delta":{' + delta + "}"
        if finish is not None:
            choice += ',"finish_reason":' + dumps(finish)
        return self._head + choice + "}]" + self._session + "}\n\n"

    def _role(self) -> str:
        if self._first:
            self._first = False
            return '"role":"assistant"'
        return ""

    def text(self, text: str) -> bytes:
        role = self._role()
        return self._frame((role + "," if role else "") + '"content":' + dumps(text)).encode()

    def tail(self, completion: Completion) -> bytes:
        """The finishing chunk, the usage chunk when asked for, and ``[DONE]``: one write."""
        frames = self._frame(self._role(), completion.finish_reason)
        if self._include_usage:
            usage = completion.usage
            usage_part = "" if usage is None else ',"usage":' + dumps(usage_to_openai(usage))
            frames += self._head + "[]" + usage_part + self._session + "}\n\n"
        return frames.encode() + DONE


def error_frame(message: str, kind: str, code: str | None) -> bytes:
    return ("data: " + dumps({"error": {"message": message, "type": kind, "code": code}})
            + "\n\n").encode()  # fmt: skip
