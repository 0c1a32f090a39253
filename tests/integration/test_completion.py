"""The seed's SDK examples, verbatim but for the import, against the local runtime.

The local runtime registers the seed's runtime ARN
(arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime); the environment
variables boto3 reads point at it, as they would point at AWS.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Iterator
from typing import Any

import pytest

import agentcore_bridge
from agentcore_bridge import completions
from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import echo, strands_stream

SEED_ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime"
SEED_MODEL = f"bedrock/agentcore/{SEED_ARN}"


@pytest.fixture(scope="module")
def seed_runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime() as local:
        arn = local.add_agent("my-agent-runtime", strands_stream.app, qualifiers=("production",))
        assert arn == SEED_ARN
        local.add_agent("echo-runtime", echo.app)
        yield local


@pytest.fixture
def seed_env(seed_runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> LocalRuntime:
    for key, value in seed_runtime.environment().items():
        monkeypatch.setenv(key, value)
    completions._clients.clear()  # clients resolve the endpoint from the environment
    yield seed_runtime
    completions._clients.clear()  # closes them


def run_printed(snippet: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(snippet, "<seed snippet>", "exec"), {})
    return out.getvalue()


# The seed's examples, with `import litellm` changed to our import and nothing else.
BASIC = """
import agentcore_bridge as litellm

# Make a completion request to your AgentCore runtime
response = litellm.completion(
    model="bedrock/agentcore/arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime",
    messages=[
        {
            "role": "user",
            "content": "Explain machine learning in simple terms"
        }
    ],
)

print(response.choices[0].message.content)
print(f"Usage: {response.usage}")
"""

STREAMING = """
import agentcore_bridge as litellm

# Stream responses from your AgentCore runtime
response = litellm.completion(
    model="bedrock/agentcore/arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime",
    messages=[
        {
            "role": "user",
            "content": "What are the key principles of software architecture?"
        }
    ],
    stream=True,
)

for chunk in response:
    if chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="")
"""

PROVIDER_PARAMS = """
import agentcore_bridge as litellm

response = litellm.completion(
    model="bedrock/agentcore/arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime",
    messages=[{"role": "user", "content": "Hello"}],
    stream=True,
    qualifier="production",
    runtimeSessionId="my-session-id-that-is-long-enough-33-chars",
)

for chunk in response:
    if chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="")
"""


def test_basic_completion_snippet(seed_env: LocalRuntime) -> None:
    out = run_printed(BASIC).splitlines()
    assert out[0] == (
        "Let me think about that. You asked: Explain machine learning in simple terms. "
        "Here is my answer."
    )
    assert out[1] == "Usage: prompt_tokens=34 completion_tokens=12 total_tokens=46"


def test_streaming_snippet(seed_env: LocalRuntime) -> None:
    assert run_printed(STREAMING) == (
        "Let me think about that. You asked: What are the key principles of software "
        "architecture?. Here is my answer."
    )


def test_provider_parameters_snippet(seed_env: LocalRuntime) -> None:
    before = len(seed_env.invocations)
    assert run_printed(PROVIDER_PARAMS) == (
        "Let me think about that. You asked: Hello. Here is my answer."
    )
    seen = seed_env.invocations[before:]
    assert [(i.qualifier, i.session_id, i.status) for i in seen] == [
        ("production", "my-session-id-that-is-long-enough-33-chars", 200)
    ]


def test_system_prompt_and_history_reach_the_agent(seed_env: LocalRuntime) -> None:
    response = agentcore_bridge.completion(
        model=SEED_ARN.replace("my-agent-runtime", "echo-runtime"),
        messages=[
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Bonjour"},
            {"role": "user", "content": "How are you?"},
        ],
        temperature=0.2,  # accepted for compatibility, not sent
    )
    import json

    sent = json.loads(response.choices[0].message.content)["payload"]
    assert sent == {
        "prompt": "Answer in French.\n\nUser: Hi\nAssistant: Bonjour\nUser: How are you?"
    }
    assert response.usage is None  # the echo agent reports none: nothing is invented
    assert response.runtime_session_id is not None
    assert len(response.runtime_session_id) >= 33


def test_stream_options_include_usage_and_stop(seed_env: LocalRuntime) -> None:
    chunks = list(
        agentcore_bridge.completion(
            model=SEED_MODEL,
            messages=[{"role": "user", "content": "x"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 46
    stopped = agentcore_bridge.completion(
        model=SEED_MODEL, messages=[{"role": "user", "content": "x"}], stop=["You asked"]
    )
    assert stopped.choices[0].message.content == "Let me think about that. "


def test_acompletion_and_async_stream(seed_env: LocalRuntime) -> None:
    async def main() -> tuple[Any, str]:
        whole = await agentcore_bridge.acompletion(
            model=SEED_MODEL, messages=[{"role": "user", "content": "async"}]
        )
        stream = await agentcore_bridge.acompletion(
            model=SEED_MODEL, messages=[{"role": "user", "content": "streamed"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        return whole, text

    whole, text = asyncio.run(main())
    assert whole.choices[0].message.content.endswith("You asked: async. Here is my answer.")
    assert whole.usage.total_tokens == 46
    assert text == "Let me think about that. You asked: streamed. Here is my answer."


def test_unknown_keyword_is_an_error_not_silently_dropped(seed_env: LocalRuntime) -> None:
    with pytest.raises(TypeError, match="runtime_sesion_id"):
        agentcore_bridge.completion(
            model=SEED_MODEL, messages=[{"role": "user", "content": "x"}], runtime_sesion_id="x"
        )


# --- the client cache: bounded, keyed without secrets, clients reused and closed -------------

ECHO_ARN = SEED_ARN.replace("my-agent-runtime", "echo-runtime")


class RecordingClient(completions.AgentCoreClient):
    """An AgentCoreClient that records its close() calls."""

    closed: list[RecordingClient]

    def close(self) -> None:
        RecordingClient.closed.append(self)
        super().close()


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> list[RecordingClient]:
    RecordingClient.closed = []
    monkeypatch.setattr(completions, "AgentCoreClient", RecordingClient)
    return RecordingClient.closed


def acquire(**kwargs: Any) -> completions._Entry:
    entry, _ = completions._client_and_call(SEED_MODEL, kwargs)
    completions._clients.release(entry)
    return entry


def test_same_settings_reuse_the_client(seed_env: LocalRuntime) -> None:
    first = agentcore_bridge.completion(
        model=SEED_MODEL, messages=[{"role": "user", "content": "a"}]
    )
    clients = completions._clients.clients()
    second = agentcore_bridge.completion(
        model=SEED_MODEL, messages=[{"role": "user", "content": "b"}]
    )
    assert first.choices[0].message.content and second.choices[0].message.content
    assert len(clients) == 1
    assert completions._clients.clients() == clients  # the same object, not an equal one
    assert acquire(max_retries=3).client is acquire(max_retries=3).client
    assert acquire(max_retries=2).client is not acquire(max_retries=3).client


def test_different_secrets_never_share_a_client_and_keys_hold_no_secret(
    seed_env: LocalRuntime,
) -> None:
    secrets = {
        "aws_access_key_id": "AKIACACHEKEYTEST0001",
        "aws_secret_access_key": "cache-key-secret-value-1",
        "aws_session_token": "cache-key-session-token-1",
    }
    one = acquire(**secrets)
    other = acquire(**{**secrets, "aws_secret_access_key": "cache-key-secret-value-2"})
    bearer = acquire(api_key="cache-key-bearer-token-1")
    bearer_2 = acquire(api_key="cache-key-bearer-token-2")
    assert len({id(e.client) for e in (one, other, bearer, bearer_2)}) == 4
    assert acquire(**secrets).client is one.client
    keys = repr(completions._clients.keys())
    for secret in [*secrets.values(), "cache-key-secret-value-2", "cache-key-bearer-token-1",
                   "cache-key-bearer-token-2"]:  # fmt: skip
        assert secret not in keys


def test_the_cache_is_bounded_and_evicted_clients_are_closed(
    seed_env: LocalRuntime, recording: list[RecordingClient]
) -> None:
    size = completions.MAX_CACHED_CLIENTS
    assert size == 64
    made = [acquire(payload_extra={"n": n}).client for n in range(size + 6)]
    assert len(completions._clients) == size
    assert recording == made[:6]  # the least recently used, in order
    assert completions._clients.clients() == made[6:]
    # Use refreshes: the oldest survivor, used again, outlives the next one.
    assert acquire(payload_extra={"n": 6}).client is made[6]
    acquire(payload_extra={"n": "new"})
    assert recording[-1] is made[7]
    assert len(completions._clients) == size


def test_an_evicted_client_serving_a_stream_is_closed_when_the_stream_ends(
    seed_env: LocalRuntime, recording: list[RecordingClient]
) -> None:
    stream = agentcore_bridge.completion(
        model=SEED_MODEL, messages=[{"role": "user", "content": "long"}], stream=True
    )
    first = next(stream)
    (busy,) = completions._clients.clients()
    for n in range(completions.MAX_CACHED_CLIENTS):  # real calls, each a new client
        agentcore_bridge.completion(
            model=ECHO_ARN, messages=[{"role": "user", "content": "x"}], payload_extra={"n": n},
            api_base=seed_env.endpoint_url,  # no endpoint resolution per client: faster
        )  # fmt: skip
    assert busy not in completions._clients.clients()  # evicted ...
    assert busy not in recording  # ... but not closed under its running stream
    rest = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert (first.choices[0].delta.content or "") + rest == (
        "Let me think about that. You asked: long. Here is my answer."
    )
    assert recording.count(busy) == 1  # closed when the stream ended


def test_acompletion_releases_its_client(
    seed_env: LocalRuntime, recording: list[RecordingClient]
) -> None:
    async def main() -> str:
        stream = await agentcore_bridge.acompletion(
            model=SEED_MODEL, messages=[{"role": "user", "content": "a"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        whole = await agentcore_bridge.acompletion(
            model=SEED_MODEL, messages=[{"role": "user", "content": "b"}]
        )
        return text + "|" + whole.choices[0].message.content

    assert "You asked: a." in asyncio.run(main())
    (client,) = completions._clients.clients()
    completions._clients.clear()
    assert recording == [client]  # idle: closed at once


def test_a_failed_call_releases_its_client(
    seed_env: LocalRuntime, recording: list[RecordingClient]
) -> None:
    with pytest.raises(agentcore_bridge.InvalidSessionIdError):
        agentcore_bridge.completion(
            model=SEED_MODEL, messages=[{"role": "user", "content": "x"}], runtimeSessionId="short"
        )
    with pytest.raises(agentcore_bridge.InvalidSessionIdError):
        agentcore_bridge.completion(
            model=SEED_MODEL, messages=[{"role": "user", "content": "x"}], stream=True,
            runtimeSessionId="short",
        )  # fmt: skip
    (client,) = completions._clients.clients()
    completions._clients.clear()
    assert recording == [client]
