"""`make demo`: the core at work on a recorded agent answer, with no network and no AWS account.

Until the local runtime lands, this replays the bytes a real Strands agent (hosted by the official
bedrock_agentcore SDK) sent, in small network-sized pieces, through the sans-IO decoder, and shows
what a client gets: the streamed text, the usage summed over the agent loop, and what was kept
aside as metadata; then the request a multi-turn conversation becomes under the history rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from agentcore_bridge.decoding import ResponseDecoder, TextDelta
from agentcore_bridge.payloads import SessionMemory, prepare_payload
from agentcore_bridge.results import Completion
from agentcore_bridge.sessions import new_session_id
from agentcore_bridge.targets import parse_target

DEFAULT_RECORDING = Path("tests/fixtures/shapes/09_strands_stream_async.body")
SEED_MODEL = (
    "bedrock/agentcore/arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", nargs="?", type=Path, default=DEFAULT_RECORDING)
    parser.add_argument("--piece-size", type=int, default=7, help="bytes fed at a time")
    args = parser.parse_args(argv)
    out = sys.stdout

    target = parse_target(SEED_MODEL, qualifier="production")
    out.write(f"runtime  {target.runtime}\nregion   {target.region}\n")
    out.write(f"request  POST {target.path_and_query()}\n\n")

    body = args.recording.read_bytes()
    out.write(
        f"replaying {args.recording} ({len(body):,} bytes) in {args.piece_size}-byte pieces\n"
    )
    out.write("streamed text: ")
    decoder = ResponseDecoder("text/event-stream; charset=utf-8")
    completion = Completion(model=target.runtime, session_id=new_session_id())
    for start in range(0, len(body), args.piece_size):
        for event in decoder.feed(body[start : start + args.piece_size]):
            completion.add(event)
            if isinstance(event, TextDelta):
                out.write(event.text)
                out.flush()
    for event in decoder.close():
        completion.add(event)
    kinds = Counter(
        "python-repr string" if isinstance(raw, str) and raw.startswith("{'") else "json event"
        for raw in completion.other_events
    )
    out.write("\n\n")
    out.write(f"usage (summed over the agent loop): {completion.usage}\n")
    out.write(
        f"complete messages kept aside (text already streamed): {len(completion.final_messages)}\n"
    )
    out.write(f"other events kept as metadata: {dict(kinds)}\n\n")
    openai = completion.to_openai()
    out.write("as an OpenAI chat.completion:\n")
    out.write(
        json.dumps(
            {k: openai[k] for k in ("object", "choices", "usage")}, ensure_ascii=False, indent=2
        )
    )
    out.write("\n\n")

    memory = SessionMemory()
    session = new_session_id()
    conversation = [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "What time is it in Tokyo?"},
    ]
    first = prepare_payload(conversation, session_id=session, memory=memory)
    memory.remember(session, first.system_text)
    conversation += [
        {"role": "assistant", "content": completion.text},
        {"role": "user", "content": "And in Paris?"},
    ]
    second = prepare_payload(conversation, session_id=session, memory=memory)
    out.write(f"history rule, new session {session}:\n  first call sends  {first.body.decode()}\n")
    out.write(f"  second call sends {second.body.decode()}  (the session remembers the rest)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
