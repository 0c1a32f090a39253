"""`make demo`: the main job, offline: an agent behind the embedded local AgentCore runtime,
called the way an application calls a deployed one. No AWS account needed.

With AGENTCORE_RUNTIME_ARN set (and AWS credentials), the same calls go to that runtime instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from agentcore_bridge import AgentCoreClient, TextDelta, completion

SEED_ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime"


@contextlib.contextmanager
def runtime_to_call() -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """(runtime ARN, echo runtime ARN or None, client settings): real AWS or the local runtime."""
    arn = os.environ.get("AGENTCORE_RUNTIME_ARN")
    if arn:
        yield arn, None, {}
        return
    from agentcore_bridge.local import LocalRuntime
    from agentcore_bridge.local.agents import echo, strands_stream

    # The SDK logs every invocation at INFO as JSON; the demo shows the client's side.
    for name in ("bedrock_agentcore", "bedrock_agentcore.app"):
        logging.getLogger(name).setLevel(logging.WARNING)

    with LocalRuntime() as local:
        stream_arn = local.add_agent("my-agent-runtime", strands_stream.app)
        echo_arn = local.add_agent("echo", echo.app)
        env = local.environment()
        settings: dict[str, Any] = {
            "endpoint_url": local.endpoint_url,
            "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        }
        print(f"local AgentCore runtime on {local.endpoint_url} (SigV4 verified, as AWS does)")
        yield stream_arn, echo_arn, settings


def main() -> int:
    out = sys.stdout
    with runtime_to_call() as (arn, echo_arn, settings):
        client = AgentCoreClient(arn, **settings)
        out.write(f"runtime {arn}\n\n1. invoke\n")
        answer = client.invoke("What time is it in Tokyo?")
        out.write(f"   text:    {answer.text}\n   usage:   {answer.usage}\n")
        out.write(f"   session: {answer.session_id}\n\n2. stream (deltas as they arrive)\n   ")
        with client.stream("Tell me a story", session_id=answer.session_id) as events:
            for event in events:
                if isinstance(event, TextDelta):
                    out.write(f"[{event.text}]")
                    out.flush()
        out.write("\n\n3. async fan-out: 20 concurrent calls on one event loop\n")

        async def fan_out() -> list[str]:
            async with client:
                results = await asyncio.gather(*(client.ainvoke(f"q{i}") for i in range(20)))
            return [r.text for r in results]

        texts = asyncio.run(fan_out())
        out.write(f"   {len(texts)} answers, e.g. {texts[7]!r}\n")

        if echo_arn is not None:
            out.write("\n4. continuing a session: what the agent receives (echo agent)\n")
            conversation = [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hi"},
            ]
            first = client.invoke(conversation, runtime=echo_arn)
            conversation += [
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "What did I say?"},
            ]
            second = client.invoke(conversation, runtime=echo_arn, session_id=first.session_id)
            for label, result in (("first call ", first), ("second call", second)):
                sent = json.loads(result.text)["payload"]
                out.write(f"   {label} sends {json.dumps(sent, ensure_ascii=False)}\n")
            out.write("   (the session already holds the system prompt and the first turn)\n")

        out.write("\n5. the seed's completion() call shape, OpenAI-format result\n")
        response = completion(
            model=f"bedrock/agentcore/{arn}",
            messages=[{"role": "user", "content": "Explain machine learning in simple terms"}],
            api_base=settings.get("endpoint_url"),
            aws_access_key_id=settings.get("aws_access_key_id"),
            aws_secret_access_key=settings.get("aws_secret_access_key"),
        )
        out.write(f"   {response.choices[0].message.content}\n   usage: {response.usage}\n")
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
