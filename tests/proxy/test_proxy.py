"""The OpenAI-compatible proxy, end to end over HTTP on 127.0.0.1: the seed's configs and calls,
sessions, auth and bad input, the CLI, client disconnects, schemathesis, and a bounded load test.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from proxy_support import Runtime, serve, write_config
from seed_configs import (
    BAD_SECRET,
    BAD_SECRET_MODEL,
    ECHO_ARN,
    ECHO_MODEL,
    MASTER_KEY,
    SEED_ARN_1,
    SEED_ARN_2,
    SEED_CONFIG_1,
    SEED_CONFIG_2,
    SERVED_CONFIG,
    THROTTLED_ARN,
    THROTTLED_MODEL,
    Proxy,
    model_entry,
)

from agentcore_bridge.local import Fault
from agentcore_bridge.proxy import SESSION_HEADER, ConfigError, create_app, load_config

pytestmark = pytest.mark.network

CHAT = "/v1/chat/completions"
USAGE = (34, 12, 46)


def answer(prompt: str) -> str:
    """What strands_stream answers to ``prompt``."""
    return f"Let me think about that. You asked: {prompt}. Here is my answer."


def answer_pieces(prompt: str) -> list[str]:
    """The text pieces strands_stream streams for ``prompt``, in order."""
    return ["Let me think about ", "that. ", "You asked: ", prompt, ". ", "Here is my answer."]


def user(content: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


def new_session() -> str:
    return f"proxy-test-session-{uuid.uuid4().hex}"  # 51 characters


def assert_no_secrets(text: str, runtime: Runtime) -> None:
    for secret in (MASTER_KEY, runtime.secret_access_key, BAD_SECRET):
        assert secret not in text


def assert_openai_error(
    response: httpx.Response, status: int, runtime: Runtime, code: str | None = None
) -> dict[str, Any]:
    """The status, the OpenAI error JSON shape, and no secret anywhere in the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert_no_secrets(response.text, runtime)
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if code is not None:
        assert error["code"] == code
    return error


def sse_data(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def stream_content(frames: Iterable[str]) -> str:
    return "".join(
        chunk["choices"][0]["delta"].get("content") or ""
        for chunk in map(json.loads, frames)
        if chunk.get("choices")
    )


def echo_seen(content: str) -> dict[str, Any]:
    """The echo agent's report (payload, session id, headers) from an answer's content."""
    seen = json.loads(content)
    assert set(seen) >= {"payload", "session_id", "headers"}
    return seen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "agentcore_bridge.proxy.access"]


# --- 1. the seed: configs, curl, OpenAI SDK ----------------------------------------------------


def test_seed_configs_load_unchanged(tmp_path: Path, runtime: Runtime) -> None:
    first = load_config(write_config(tmp_path, SEED_CONFIG_1, "example1.yaml"))
    second = load_config(write_config(tmp_path, SEED_CONFIG_2, "example2.yaml"))
    assert (tmp_path / "example1.yaml").read_text() == SEED_CONFIG_1
    assert list(first.models) == ["agentcore-runtime-1", "agentcore-runtime-2"]
    assert first.models["agentcore-runtime-1"].runtime == SEED_ARN_1
    assert first.models["agentcore-runtime-2"].runtime == SEED_ARN_2
    assert first.models["agentcore-runtime-1"].qualifier is None
    assert list(second.models) == ["agentcore-runtime-prod"]
    assert second.models["agentcore-runtime-prod"].runtime == SEED_ARN_1
    assert second.models["agentcore-runtime-prod"].qualifier == "production"
    assert first.master_key is None and second.master_key is None
    # The served config is the seed's text with entries and the key appended, nothing edited.
    assert SERVED_CONFIG.startswith(SEED_CONFIG_1)
    assert SEED_CONFIG_2.split("model_list:\n", 1)[1] in SERVED_CONFIG
    # Nothing secret in the objects' reprs.
    assert_no_secrets(repr(first) + repr(second), runtime)


def test_seed_curl_non_stream(proxy: Proxy) -> None:
    prompt = "Explain machine learning in simple terms"
    response = httpx.post(
        f"{proxy.url}{CHAT}",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {MASTER_KEY}"},
        content=json.dumps({"model": "agentcore-runtime-1", "messages": user(prompt)}),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "agentcore-runtime-1"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": answer(prompt)}
    usage = body["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == USAGE
    seen = proxy.runtime.local.invocations[-1]
    assert seen.runtime_arn == SEED_ARN_1
    assert seen.qualifier == "DEFAULT"
    assert json.loads(seen.body) == {"prompt": prompt}


def test_seed_curl_stream(proxy: Proxy) -> None:
    prompt = "Explain the differences between SQL and NoSQL databases"
    with httpx.stream(
        "POST",
        f"{proxy.url}{CHAT}",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {MASTER_KEY}"},
        content=json.dumps(
            {"model": "agentcore-runtime-2", "messages": user(prompt), "stream": True}
        ),
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = response.read().decode()
    frames = sse_data(text)
    assert frames[-1] == "[DONE]"
    assert text.endswith("data: [DONE]\n\n")
    chunks = [json.loads(f) for f in frames[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert stream_content(frames[:-1]) == answer(prompt)
    assert all("usage" not in c for c in chunks)  # only asked for with include_usage
    seen = proxy.runtime.local.invocations[-1]
    assert seen.runtime_arn == SEED_ARN_2  # us-east-1, account 987654321098


@pytest.mark.parametrize("suffix", ["", "/v1"])
def test_seed_openai_sdk_sync(proxy: Proxy, suffix: str) -> None:
    prompt = "What are best practices for API design?"
    with openai.OpenAI(base_url=proxy.url + suffix, api_key=MASTER_KEY, max_retries=0) as client:
        response = client.chat.completions.create(
            model="agentcore-runtime-1", messages=[{"role": "user", "content": prompt}]
        )
        assert response.choices[0].message.content == answer(prompt)
        assert response.usage is not None
        usage = response.usage
        assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == USAGE

        stream = client.chat.completions.create(
            model="agentcore-runtime-2",
            messages=[{"role": "user", "content": "Explain REST in one line"}],
            stream=True,
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == answer("Explain REST in one line")
    assert proxy.runtime.local.invocations[-1].runtime_arn == SEED_ARN_2


def test_seed_openai_sdk_stream_include_usage(proxy: Proxy) -> None:
    prompt = "Describe event sourcing"
    with openai.OpenAI(base_url=proxy.url, api_key=MASTER_KEY, max_retries=0) as client:
        chunks = list(
            client.chat.completions.create(
                model="agentcore-runtime-2",
                messages=[{"role": "user", "content": prompt}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == answer(prompt)
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (
        USAGE
    )
    assert all(c.usage is None for c in chunks[:-1])


async def test_seed_openai_sdk_async(proxy: Proxy) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url, api_key=MASTER_KEY, max_retries=0) as client:
        prompt = "What are best practices for API design?"
        response = await client.chat.completions.create(
            model="agentcore-runtime-1", messages=[{"role": "user", "content": prompt}]
        )
        assert response.choices[0].message.content == answer(prompt)
        assert response.usage is not None and response.usage.total_tokens == 46

        stream = await client.chat.completions.create(
            model="agentcore-runtime-2",
            messages=[{"role": "user", "content": "Explain the CAP theorem"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces, usage = [], None
        async for chunk in stream:
            if chunk.choices:
                pieces.append(chunk.choices[0].delta.content or "")
            if chunk.usage is not None:
                usage = chunk.usage
        assert "".join(pieces) == answer("Explain the CAP theorem")
        assert usage is not None
        assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == USAGE


@pytest.mark.parametrize("stream", [False, True])
def test_seed_config_2_qualifier_reaches_runtime(proxy: Proxy, stream: bool) -> None:
    with httpx.Client(base_url=proxy.url, headers=proxy.auth, timeout=30) as client:
        response = client.post(
            CHAT,
            json={"model": "agentcore-runtime-prod", "messages": user("hi"), "stream": stream},
        )
        assert response.status_code == 200
        seen = proxy.runtime.local.invocations[-1]
        assert seen.runtime_arn == SEED_ARN_1
        assert seen.qualifier == "production"
        # The same runtime without the config's qualifier gets the DEFAULT endpoint.
        client.post(CHAT, json={"model": "agentcore-runtime-1", "messages": user("hi")})
        assert proxy.runtime.local.invocations[-1].qualifier == "DEFAULT"


# --- 2. sessions ------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_session_header_names_the_session(proxy: Proxy, stream: bool) -> None:
    session = new_session()
    response = httpx.post(
        f"{proxy.url}{CHAT}",
        headers={**proxy.auth, SESSION_HEADER: session},
        json={"model": "agentcore-runtime-1", "messages": user("remember me"), "stream": stream},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers[SESSION_HEADER] == session
    assert proxy.runtime.local.invocations[-1].session_id == session
    if stream:
        frames = sse_data(response.text)
        assert frames[-1] == "[DONE]"
        assert {json.loads(f)["runtime_session_id"] for f in frames[:-1]} == {session}
    else:
        assert response.json()["runtime_session_id"] == session


@pytest.mark.parametrize("stream", [False, True])
def test_without_session_header_each_request_gets_a_fresh_session(
    proxy: Proxy, stream: bool
) -> None:
    sessions = []
    with httpx.Client(base_url=proxy.url, headers=proxy.auth, timeout=30) as client:
        for _ in range(3):
            response = client.post(
                CHAT,
                json={"model": "agentcore-runtime-1", "messages": user("hi"), "stream": stream},
            )
            assert response.status_code == 200
            session = response.headers[SESSION_HEADER]
            assert 33 <= len(session) <= 256
            assert proxy.runtime.local.invocations[-1].session_id == session
            sessions.append(session)
    assert len(set(sessions)) == 3


def test_history_rule_sends_only_the_new_turn(proxy: Proxy) -> None:
    session = new_session()
    with httpx.Client(base_url=proxy.url, headers=proxy.auth, timeout=30) as client:
        first = client.post(
            CHAT,
            headers={SESSION_HEADER: session},
            json={"model": ECHO_MODEL, "messages": user("first question")},
        )
        assert first.status_code == 200
        first_content = first.json()["choices"][0]["message"]["content"]
        assert echo_seen(first_content)["payload"] == {"prompt": "first question"}
        conversation = [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": first_content},
            {"role": "user", "content": "second question"},
        ]
        second = client.post(
            CHAT,
            headers={SESSION_HEADER: session},
            json={"model": ECHO_MODEL, "messages": conversation},
        )
        assert second.status_code == 200
        seen = echo_seen(second.json()["choices"][0]["message"]["content"])
        assert seen["session_id"] == session
        assert seen["payload"] == {"prompt": "second question"}
        # A session that has seen nothing yet gets the whole conversation.
        other = client.post(
            CHAT,
            headers={SESSION_HEADER: new_session()},
            json={"model": ECHO_MODEL, "messages": conversation},
        )
        prompt = echo_seen(other.json()["choices"][0]["message"]["content"])["payload"]["prompt"]
        assert "User: first question" in prompt and "User: second question" in prompt


@pytest.mark.parametrize("stream", [False, True])
def test_user_field_becomes_runtime_user_id(proxy: Proxy, stream: bool) -> None:
    user_header = "x-amzn-bedrock-agentcore-runtime-user-id"
    with httpx.Client(base_url=proxy.url, headers=proxy.auth, timeout=30) as client:

        def seen_headers(**extra: Any) -> dict[str, str]:
            body = {"model": ECHO_MODEL, "messages": user("who am I"), "stream": stream, **extra}
            response = client.post(CHAT, json=body)
            assert response.status_code == 200, response.text
            if stream:
                content = stream_content(sse_data(response.text)[:-1])
            else:
                content = response.json()["choices"][0]["message"]["content"]
            return echo_seen(content)["headers"]

        assert seen_headers(user="alice-42")[user_header] == "alice-42"
        assert user_header not in seen_headers()


def test_config_runtime_session_id_warns_and_is_the_default(
    runtime: Runtime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fixed = "configured-session-0123456789abcdef0123456789"
    text = (
        "model_list:\n"
        + model_entry("shared-session-echo", ECHO_ARN, runtimeSessionId=fixed)
        + f"general_settings:\n  master_key: {MASTER_KEY}\n"
    )
    with caplog.at_level(logging.WARNING, logger="agentcore_bridge.proxy.config"):
        config = load_config(write_config(tmp_path, text))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "shared-session-echo" in warnings[0].getMessage()
    assert "runtimeSessionId" in warnings[0].getMessage()
    auth = {"Authorization": f"Bearer {MASTER_KEY}"}
    body = {"model": "shared-session-echo", "messages": user("hello")}
    with serve(create_app(config)) as url, httpx.Client(base_url=url, timeout=30) as client:
        for stream in (False, True):
            response = client.post(CHAT, headers=auth, json={**body, "stream": stream})
            assert response.status_code == 200
            assert response.headers[SESSION_HEADER] == fixed
            assert runtime.local.invocations[-1].session_id == fixed
        # The request header still wins over the configured default.
        mine = new_session()
        response = client.post(CHAT, headers={**auth, SESSION_HEADER: mine}, json=body)
        assert response.headers[SESSION_HEADER] == mine
        assert runtime.local.invocations[-1].session_id == mine


# --- 3. auth and bad input --------------------------------------------------------------------

GOOD_BODY = {"model": "agentcore-runtime-1", "messages": user("hi")}
BAD_REQUESTS = [
    pytest.param({}, GOOD_BODY, 401, "invalid_api_key", id="missing-key"),
    pytest.param({"Authorization": "Bearer sk-wrong"}, GOOD_BODY, 401, "invalid_api_key", id="wrong-key"),
    pytest.param({"Authorization": f"Bearer {MASTER_KEY}x"}, GOOD_BODY, 401, "invalid_api_key", id="key-plus-suffix"),
    pytest.param({"Authorization": f"Basic {MASTER_KEY}"}, GOOD_BODY, 401, "invalid_api_key", id="basic-scheme"),
    pytest.param(None, b'{"model": "agentcore-runtime-1", "messages": [', 400, "invalid_json", id="malformed-json"),
    pytest.param(None, b"[1, 2]", 400, "invalid_json", id="json-array"),
    pytest.param(None, {"messages": user("hi")}, 400, "missing_model", id="missing-model"),
    pytest.param(None, {"model": 7, "messages": user("hi")}, 400, "missing_model", id="model-not-a-string"),
    pytest.param(None, {"model": "gpt-4o", "messages": user("hi")}, 404, "model_not_found", id="unknown-model"),
    pytest.param(None, {"model": "agentcore-runtime-1", "messages": []}, 400, "invalid_messages", id="empty-messages"),
    pytest.param(None, {"model": "agentcore-runtime-1"}, 400, "invalid_messages", id="no-messages"),
    pytest.param(None, {"model": "agentcore-runtime-1", "messages": "hi"}, 400, "invalid_messages", id="messages-string"),
    pytest.param(None, {**GOOD_BODY, "user": 42}, 400, "invalid_user", id="user-not-a-string"),
    pytest.param(None, {**GOOD_BODY, "stop": [1]}, 400, "invalid_stop", id="bad-stop"),
    pytest.param(None, {"model": "agentcore-runtime-1", "messages": [{"role": "robot", "content": "x"}]}, 400, None, id="bad-role"),
    pytest.param(None, {"model": "agentcore-runtime-1", "messages": [*user("hi"), {"role": "assistant", "content": "x"}]}, 400, None, id="ends-with-assistant"),
]  # fmt: skip


@pytest.mark.parametrize(("headers", "body", "status", "code"), BAD_REQUESTS)
@pytest.mark.parametrize("stream", [False, True])
def test_bad_requests_get_openai_errors(
    proxy: Proxy,
    headers: dict[str, str] | None,
    body: Any,
    status: int,
    code: str | None,
    stream: bool,
) -> None:
    before = len(proxy.runtime.local.invocations)
    if isinstance(body, dict) and stream:
        body = {**body, "stream": True}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.post(
        f"{proxy.url}{CHAT}",
        headers={
            "Content-Type": "application/json",
            **(proxy.auth if headers is None else headers),
        },
        content=content,
        timeout=30,
    )
    assert_openai_error(response, status, proxy.runtime, code)
    assert len(proxy.runtime.local.invocations) == before  # nothing reached the runtime


@pytest.mark.parametrize("session", ["abcde", "x" * 32, "x" * 257, "has spaces" * 5])
@pytest.mark.parametrize("stream", [False, True])
def test_invalid_session_header_is_a_400(proxy: Proxy, session: str, stream: bool) -> None:
    before = len(proxy.runtime.local.invocations)
    response = httpx.post(
        f"{proxy.url}{CHAT}",
        headers={**proxy.auth, SESSION_HEADER: session},
        json={**GOOD_BODY, "stream": stream},
        timeout=30,
    )
    error = assert_openai_error(response, 400, proxy.runtime)
    assert error["type"] == "invalid_request_error"
    assert "session" in error["message"]
    assert len(proxy.runtime.local.invocations) == before


def test_oversized_body_is_a_413(runtime: Runtime, tmp_path: Path) -> None:
    text = SEED_CONFIG_1 + "general_settings:\n  max_request_body_bytes: 512\n"
    config = load_config(
        write_config(tmp_path, text),
        environ={**runtime.env, "AGENTCORE_PROXY_MASTER_KEY": MASTER_KEY},
    )
    assert config.max_body_bytes == 512
    auth = {"Authorization": f"Bearer {MASTER_KEY}"}
    big = json.dumps({**GOOD_BODY, "messages": user("x" * 2000)}).encode()
    with serve(create_app(config)) as url, httpx.Client(base_url=url, timeout=30) as client:
        before = len(runtime.local.invocations)
        # A declared Content-Length over the limit, and a chunked body that grows over it.
        assert_openai_error(
            client.post(CHAT, headers=auth, content=big), 413, runtime, "request_too_large"
        )
        chunked = client.post(CHAT, headers=auth, content=iter([big[:300], big[300:]]))
        assert "content-length" not in chunked.request.headers
        assert_openai_error(chunked, 413, runtime, "request_too_large")
        assert len(runtime.local.invocations) == before
        # A body under the limit goes through.
        small = client.post(CHAT, headers=auth, json={**GOOD_BODY, "messages": user("ok")})
        assert small.status_code == 200
        assert small.json()["choices"][0]["message"]["content"] == answer("ok")


def test_health_needs_no_key(proxy: Proxy) -> None:
    response = httpx.get(f"{proxy.url}/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "models": len(proxy.config.models)}


@pytest.mark.parametrize("path", ["/v1/models", "/models"])
def test_models_list_needs_the_key(proxy: Proxy, path: str) -> None:
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        listed = client.get(path, headers=proxy.auth)
        assert listed.status_code == 200
        body = listed.json()
        assert body["object"] == "list"
        assert [m["id"] for m in body["data"]] == list(proxy.config.models)
        assert {"agentcore-runtime-1", "agentcore-runtime-2", "agentcore-runtime-prod"} <= {
            m["id"] for m in body["data"]
        }
        assert_openai_error(client.get(path), 401, proxy.runtime, "invalid_api_key")
        assert_openai_error(
            client.get(path, headers={"Authorization": "Bearer nope"}), 401, proxy.runtime
        )


def test_unknown_route_and_wrong_method_get_openai_errors(proxy: Proxy) -> None:
    with httpx.Client(base_url=proxy.url, headers=proxy.auth, timeout=10) as client:
        assert_openai_error(client.get("/v1/nothing-here"), 404, proxy.runtime, "not_found")
        assert_openai_error(client.get(CHAT), 405, proxy.runtime, "method_not_allowed")


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_throttling_is_a_429(proxy: Proxy, stream: bool) -> None:
    def throttled_calls() -> int:
        return sum(i.runtime_arn == THROTTLED_ARN for i in proxy.runtime.local.invocations)

    before = throttled_calls()
    proxy.runtime.local.inject(Fault.THROTTLE, times=10, runtime_arn=THROTTLED_ARN)
    response = httpx.post(
        f"{proxy.url}{CHAT}",
        headers=proxy.auth,
        json={"model": THROTTLED_MODEL, "messages": user("hi"), "stream": stream},
        timeout=30,
    )
    error = assert_openai_error(response, 429, proxy.runtime, "rate_limited")
    assert error["type"] == "rate_limit_error"
    assert throttled_calls() == before + 1  # max_retries: 0 in litellm_params: one attempt


def test_upstream_auth_failure_leaks_no_secret(proxy: Proxy) -> None:
    response = httpx.post(
        f"{proxy.url}{CHAT}",
        headers=proxy.auth,
        json={"model": BAD_SECRET_MODEL, "messages": user("hi")},
        timeout=30,
    )
    error = assert_openai_error(response, 502, proxy.runtime, "upstream_access_denied")
    assert "signature" in error["message"].lower()


def test_missing_environment_variable_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, SEED_CONFIG_1)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"})
    assert "AWS_SECRET_ACCESS_KEY" in str(caught.value)
    assert "model_list[0]" in str(caught.value)
    text = SEED_CONFIG_1 + "general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n"
    env = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}
    with pytest.raises(ConfigError, match="LITELLM_MASTER_KEY"):
        load_config(write_config(tmp_path, text, "with-key.yaml"), environ=env)
    config = load_config(path, environ={**env, "AGENTCORE_PROXY_MASTER_KEY": MASTER_KEY})
    assert config.master_key == MASTER_KEY


def test_access_log_records(proxy: Proxy, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agentcore_bridge.proxy.access")
    prompt = f"ACCESS-LOG-PROMPT-{uuid.uuid4().hex}"
    with httpx.Client(base_url=proxy.url, timeout=30) as client:
        ok = client.post(CHAT, headers=proxy.auth, json={**GOOD_BODY, "messages": user(prompt)})
        streamed = client.post(
            CHAT,
            headers=proxy.auth,
            json={"model": "agentcore-runtime-2", "messages": user(prompt), "stream": True},
        )
        wrong = client.post(
            CHAT, headers={"Authorization": f"Bearer {MASTER_KEY}x"}, json=GOOD_BODY
        )
        unknown = client.post(CHAT, headers=proxy.auth, json={**GOOD_BODY, "model": "nope"})
        denied = client.post(
            CHAT, headers=proxy.auth, json={**GOOD_BODY, "model": BAD_SECRET_MODEL}
        )
    assert [r.status_code for r in (ok, streamed, wrong, unknown, denied)] == [
        200,
        200,
        401,
        404,
        502,
    ]
    sessions = {ok.headers[SESSION_HEADER], streamed.headers[SESSION_HEADER]}
    deadline = time.monotonic() + 10  # the stream's record is written as its generator ends
    while time.monotonic() < deadline:
        entries = [r.access for r in access_records(caplog)]  # type: ignore[attr-defined]
        if sessions <= {e["session_id"] for e in entries} and len(entries) >= 5:
            break
        time.sleep(0.02)
    records = access_records(caplog)
    entries = [r.access for r in records]  # type: ignore[attr-defined]
    by_session = {e["session_id"]: e for e in entries}
    assert by_session[ok.headers[SESSION_HEADER]]["model"] == "agentcore-runtime-1"
    assert by_session[ok.headers[SESSION_HEADER]]["stream"] is False
    assert by_session[streamed.headers[SESSION_HEADER]]["model"] == "agentcore-runtime-2"
    assert by_session[streamed.headers[SESSION_HEADER]]["stream"] is True
    assert {e["status"] for e in entries} >= {200, 401, 404, 502}
    for record, entry in zip(records, entries, strict=True):
        assert {"model", "status", "latency_ms", "session_id"} <= set(entry)
        assert isinstance(entry["status"], int)
        assert isinstance(entry["latency_ms"], int | float) and entry["latency_ms"] >= 0
        assert json.loads(record.getMessage()) == entry
        everything = record.getMessage() + repr(vars(record))
        assert prompt not in everything  # no request bodies
        assert "You asked" not in everything  # no answers
        assert_no_secrets(everything, proxy.runtime)


# --- 3b. regressions: bugs these tests found at fd4db3f (fixed in the working tree) ----------


@pytest.mark.parametrize("options", [5, "yes", [True], {"include_usage": "yes"}])
def test_stream_options_not_an_object_is_a_400(proxy: Proxy, options: Any) -> None:
    """Was: a plain-text 500 (AttributeError in app._stream) after the upstream was opened."""
    before = len(proxy.runtime.local.invocations)
    response = httpx.post(
        f"{proxy.url}{CHAT}",
        headers=proxy.auth,
        json={**GOOD_BODY, "stream": True, "stream_options": options},
        timeout=30,
    )
    assert_openai_error(response, 400, proxy.runtime)
    assert len(proxy.runtime.local.invocations) == before


@pytest.mark.parametrize("value", ["false", 1])
def test_non_boolean_stream_is_a_400(proxy: Proxy, value: Any) -> None:
    """Was: any truthy value (even "false") was answered with an SSE stream."""
    before = len(proxy.runtime.local.invocations)
    response = httpx.post(
        f"{proxy.url}{CHAT}", headers=proxy.auth, json={**GOOD_BODY, "stream": value}, timeout=30
    )
    assert_openai_error(response, 400, proxy.runtime)
    assert len(proxy.runtime.local.invocations) == before


def test_numeric_master_key_is_usable_or_refused(runtime: Runtime, tmp_path: Path) -> None:
    """Was: YAML ``master_key: 123456`` loaded, then every authenticated route answered 500."""
    text = SEED_CONFIG_1 + "general_settings:\n  master_key: 123456\n"
    try:
        config = load_config(write_config(tmp_path, text))
    except ConfigError:
        return  # refusing it at load is fine too
    with serve(create_app(config)) as url, httpx.Client(base_url=url, timeout=10) as client:
        assert (
            client.get("/v1/models", headers={"Authorization": "Bearer 123456"}).status_code == 200
        )
        assert_openai_error(client.get("/v1/models"), 401, runtime)


def _extra_model(key: str, value: str) -> str:
    return f"  - model_name: m\n    litellm_params:\n      model: bedrock/agentcore/{ECHO_ARN}\n      {key}: {value}\n"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("general_settings:\n  max_request_body_bytes: lots\n", "max_request_body_bytes"),
        ("general_settings:\n  max_request_body_bytes: 0\n", "max_request_body_bytes"),
        (_extra_model("max_retries", "many"), "max_retries"),
        (_extra_model("max_retries", "-1"), "max_retries"),
        (_extra_model("history", "bogus"), "history"),
        (_extra_model("timeout", "soon"), "timeout"),
        (_extra_model("max_event_bytes", "0"), "max_event_bytes"),
        (_extra_model("max_body_bytes", "lots"), "max_body_bytes"),
    ],
    ids=["body-bytes-text", "body-bytes-zero", "retries-text", "retries-negative", "history", "timeout",
         "event-bytes-zero", "response-body-bytes-text"],
)  # fmt: skip
def test_malformed_config_values_are_config_errors(
    runtime: Runtime, tmp_path: Path, extra: str, named: str
) -> None:
    """Was: ValueError (the CLI died with a traceback, exit 1), or accepted and a 500 later."""
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, SEED_CONFIG_1 + extra))
    assert named in str(caught.value)


def test_config_response_limits_reach_the_client(runtime: Runtime, tmp_path: Path) -> None:
    """litellm_params.max_event_bytes/max_body_bytes: the client's limits on the agent's
    responses (the request limit stays general_settings.max_request_body_bytes)."""
    from agentcore_bridge.decoding import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENT_BYTES

    text = SEED_CONFIG_1 + _extra_model("max_event_bytes", "4096") + "      max_body_bytes: 65536\n"
    config = load_config(write_config(tmp_path, text))
    client = config.models["m"].client
    assert (client.max_event_bytes, client.max_body_bytes) == (4096, 65536)
    default = config.models["agentcore-runtime-1"].client
    assert (default.max_event_bytes, default.max_body_bytes) == (
        DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_BODY_BYTES,
    )  # fmt: skip
    assert config.max_body_bytes == 10 * 1024 * 1024  # the request limit: unchanged


@pytest.mark.parametrize("stream", [False, True])
def test_non_ascii_user_is_not_an_upstream_failure(proxy: Proxy, stream: bool) -> None:
    """Was: the user id header broke SigV4 (403 InvalidSignatureException) and the proxy answered
    502 upstream_access_denied "check the credentials" for ``"user": "José"``."""
    before = len(proxy.runtime.local.invocations)
    response = httpx.post(
        f"{proxy.url}{CHAT}",
        headers=proxy.auth,
        json={"model": ECHO_MODEL, "messages": user("hi"), "user": "José", "stream": stream},
        timeout=30,
    )
    if response.status_code != 200:
        error = assert_openai_error(response, 400, proxy.runtime)
        assert error["type"] == "invalid_request_error"
        assert len(proxy.runtime.local.invocations) == before


# --- 4. the CLI -------------------------------------------------------------------------------


def _cli() -> str:
    found = shutil.which("agentcore-proxy", path=str(Path(sys.executable).parent))
    assert found is not None, "the agentcore-proxy console script is not installed"
    return found


def _cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENTCORE_PROXY_MASTER_KEY"}
    return {**env, **extra}


def test_cli_refuses_to_start_without_a_master_key(runtime: Runtime, tmp_path: Path) -> None:
    path = write_config(tmp_path, SEED_CONFIG_1)
    result = subprocess.run(
        [_cli(), "--config", str(path), "--port", str(free_port())],
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "no master key" in result.stderr
    assert "agentcore-proxy on" not in result.stdout


def test_cli_allow_open_is_refused_off_loopback(runtime: Runtime, tmp_path: Path) -> None:
    path = write_config(tmp_path, SEED_CONFIG_1)
    result = subprocess.run(
        [
            _cli(),
            "--config",
            str(path),
            "--allow-open",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr


def test_cli_bad_config_exits_2(tmp_path: Path) -> None:
    path = write_config(tmp_path, SEED_CONFIG_1)
    env = {k: v for k, v in _cli_env().items() if k != "AWS_SECRET_ACCESS_KEY"}
    result = subprocess.run(
        [_cli(), "--config", str(path)], env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "AWS_SECRET_ACCESS_KEY" in result.stderr
    bad = write_config(
        tmp_path, SEED_CONFIG_1 + "general_settings:\n  max_request_body_bytes: lots\n", "bad.yaml"
    )
    result = subprocess.run(
        [_cli(), "--config", str(bad)], env=_cli_env(AGENTCORE_PROXY_MASTER_KEY=MASTER_KEY),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "max_request_body_bytes" in result.stderr
    assert "Traceback" not in result.stderr


class CliServer:
    """``agentcore-proxy`` as a subprocess on a free loopback port, output to files."""

    def __init__(self, tmp_path: Path, args: list[str], env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out_path, self.err_path = tmp_path / "cli.out", tmp_path / "cli.err"
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.process = subprocess.Popen(
                [_cli(), *args, "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=err,
            )

    def wait_healthy(self, seconds: float = 30) -> httpx.Response:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.err_path.read_text()
            try:
                return httpx.get(f"{self.url}/health", timeout=2)
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"the CLI did not serve /health: {self.err_path.read_text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return int(self.process.returncode)


def test_cli_serves_with_a_master_key(runtime: Runtime, tmp_path: Path) -> None:
    path = write_config(tmp_path, SEED_CONFIG_1)
    server = CliServer(
        tmp_path, ["--config", str(path)], _cli_env(AGENTCORE_PROXY_MASTER_KEY=MASTER_KEY)
    )
    try:
        health = server.wait_healthy()
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "models": 2}
        with openai.OpenAI(base_url=server.url, api_key=MASTER_KEY, max_retries=0) as client:
            prompt = "What are best practices for API design?"
            response = client.chat.completions.create(
                model="agentcore-runtime-1", messages=[{"role": "user", "content": prompt}]
            )
            assert response.choices[0].message.content == answer(prompt)
        assert runtime.local.invocations[-1].runtime_arn == SEED_ARN_1
        assert httpx.get(f"{server.url}/v1/models", timeout=10).status_code == 401
    finally:
        server.stop()
    out = server.out_path.read_text()
    assert (
        f"agentcore-proxy on {server.url} serving agentcore-runtime-1, agentcore-runtime-2" in out
    )
    logs = server.out_path.read_text() + server.err_path.read_text()
    assert_no_secrets(logs, runtime)
    assert "best practices" not in logs  # the access log carries no bodies


def test_cli_allow_open_on_loopback_serves(runtime: Runtime, tmp_path: Path) -> None:
    path = write_config(tmp_path, SEED_CONFIG_1)
    server = CliServer(tmp_path, ["--config", str(path), "--allow-open"], _cli_env())
    try:
        assert server.wait_healthy().status_code == 200
        models = httpx.get(f"{server.url}/v1/models", timeout=10)  # no key needed: it is open
        assert models.status_code == 200
        assert [m["id"] for m in models.json()["data"]] == [
            "agentcore-runtime-1",
            "agentcore-runtime-2",
        ]
    finally:
        server.stop()


def test_python_m_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agentcore_bridge.proxy", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--config" in result.stdout and "--allow-open" in result.stdout
    assert result.stdout.startswith("usage: agentcore-proxy")


# --- 5. a client that goes away mid-stream -----------------------------------------------------


def test_client_disconnect_cancels_the_upstream_stream(runtime: Runtime, tmp_path: Path) -> None:
    sent_first = threading.Event()
    finished = threading.Event()
    sleep_completed = threading.Event()

    async def slow_agent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        try:
            await send(
                {
                    "type": "http.response.body",
                    "body": b'data: "first piece"\n\n',
                    "more_body": True,
                }
            )
            sent_first.set()
            await asyncio.sleep(20)
            sleep_completed.set()
            await send(
                {"type": "http.response.body", "body": b'data: "late"\n\n', "more_body": False}
            )
        finally:
            finished.set()

    arn = runtime.local.add_agent(f"slow-agent-{uuid.uuid4().hex[:8]}", slow_agent)
    text = (
        "model_list:\n"
        + model_entry("agentcore-slow", arn)
        + f"general_settings:\n  master_key: {MASTER_KEY}\n"
    )
    config = load_config(write_config(tmp_path, text))
    with serve(create_app(config)) as url, httpx.Client(timeout=30) as client:
        with client.stream(
            "POST",
            f"{url}{CHAT}",
            headers={"Authorization": f"Bearer {MASTER_KEY}"},
            json={"model": "agentcore-slow", "messages": user("take your time"), "stream": True},
        ) as response:
            assert response.status_code == 200
            first = next(line for line in response.iter_lines() if line.startswith("data: "))
            assert json.loads(first[len("data: ") :])["choices"][0]["delta"]["content"] == (
                "first piece"
            )
            assert sent_first.is_set() and not finished.is_set()
            closed_at = time.monotonic()
        # Leaving the block closes the connection with the body unread.
        assert finished.wait(10), "the agent kept running after the client went away"
        assert time.monotonic() - closed_at < 10
        assert not sleep_completed.is_set()


# --- 6. schemathesis against /openapi.json ----------------------------------------------------


def test_schemathesis_against_the_openapi_document(proxy: Proxy) -> None:
    """Positive and negative cases from /openapi.json, 30 per operation and mode, derandomized.

    Asserted: no 5xx, documented statuses and content types, JSON answers matching the schema,
    no secret in error bodies. Reported only (printed): schema-violating requests the proxy
    accepts (negative_data_rejection); it ignores fields it does not use, such as max_tokens.
    """
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_url(f"{proxy.url}/openapi.json", timeout=10)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    failures: list[str] = []
    lenient: set[str] = set()
    calls: dict[tuple[str, str], int] = {}
    statuses: dict[int, int] = {}

    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == {
        "POST /v1/chat/completions",
        "GET /v1/models",
        "GET /health",
        "GET /health/liveliness",
        "GET /health/readiness",
    }

    def fuzz(operation: Any, mode: GenerationMode) -> None:
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode), use_echo=st.booleans())
        def run(case: Any, use_echo: bool) -> None:
            body = case.body
            if use_echo and isinstance(body, dict) and isinstance(body.get("model"), str):
                # Reach an agent, not only the 404 path. Any string is a valid model, so in
                # negative cases the invalid part stays invalid.
                body["model"] = ECHO_MODEL
            key = (operation.label, mode.value)
            calls[key] = calls.get(key, 0) + 1
            response = case.call(base_url=proxy.url, headers=proxy.auth, timeout=30)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            try:
                case.validate_response(response, checks=checks)
            except FailureGroup as group:
                failures.append(f"{operation.label} [{mode.value}] {group!s:.800}")
            if mode is GenerationMode.NEGATIVE:
                try:
                    case.validate_response(response, checks=[negative_data_rejection])
                except FailureGroup as group:
                    lenient.add(str(group).split("Invalid component:", 1)[-1][:160].strip())
            if response.status_code >= 400:
                assert_no_secrets(response.text, proxy.runtime)

        run()

    for operation in operations:
        fuzz(operation, GenerationMode.POSITIVE)
        if operation.method.upper() == "POST":  # the GETs take no input to make invalid
            fuzz(operation, GenerationMode.NEGATIVE)

    print(f"\nschemathesis: calls {calls}, statuses {sorted(statuses.items())}")
    for item in sorted(lenient):
        print("schemathesis (reported, not asserted): accepted invalid input:", item)
    for failure in failures:
        print("schemathesis failure:", failure)
    assert sum(calls.values()) >= 60
    assert 200 in statuses and 400 in statuses  # generated requests reached an agent and failed
    assert not failures, "\n\n".join(failures[:5])


def test_streamed_answer_conforms_to_the_openapi_document(proxy: Proxy) -> None:
    """Was: the SSE answer was declared {"type": "string"}; schemathesis 4 validates each event
    against it, so every streamed 200 failed (ST108 "SSE event violates schema")."""
    import schemathesis
    from schemathesis.specs.openapi.checks import response_schema_conformance

    schema = schemathesis.openapi.from_url(f"{proxy.url}/openapi.json", timeout=10)
    case = schema["/v1/chat/completions"]["POST"].Case(
        body={"model": "agentcore-runtime-1", "messages": user("hi"), "stream": True},
        media_type="application/json",
    )
    response = case.call(base_url=proxy.url, headers=proxy.auth, timeout=30)
    assert response.status_code == 200
    assert stream_content(sse_data(response.text)[:-1]) == answer("hi")
    case.validate_response(response, checks=[response_schema_conformance])


# --- 7. a bounded load test -------------------------------------------------------------------


async def test_load_500_concurrent_streams(proxy: Proxy) -> None:
    count = 500
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    run = uuid.uuid4().hex[:8]
    before = len(proxy.runtime.local.invocations)
    async with (
        openai.DefaultAsyncHttpxClient(limits=limits, timeout=120) as http,
        openai.AsyncOpenAI(
            base_url=proxy.url, api_key=MASTER_KEY, http_client=http, max_retries=0
        ) as client,
    ):

        async def one(index: int) -> tuple[str, list[str], str | None]:
            prompt = f"load {run} request {index}: what is {index} squared?"
            stream = await client.chat.completions.create(
                model="agentcore-runtime-1",
                messages=[{"role": "user", "content": prompt}],
                stream=True,
            )
            pieces: list[str] = []
            finish = None
            async with stream:
                async for chunk in stream:
                    if chunk.choices:
                        if chunk.choices[0].delta.content:
                            pieces.append(chunk.choices[0].delta.content)
                        finish = chunk.choices[0].finish_reason or finish
            return prompt, pieces, finish

        started = time.monotonic()
        results = await asyncio.wait_for(
            asyncio.gather(*(one(i) for i in range(count))), timeout=120
        )
        elapsed = time.monotonic() - started
    print(
        f"\nload test: {count} concurrent streams in {elapsed:.2f} s = {count / elapsed:.1f} req/s"
    )
    assert elapsed < 120
    assert len(results) == count
    assert len({prompt for prompt, _, _ in results}) == count
    for prompt, pieces, finish in results:
        assert pieces == answer_pieces(prompt)  # every chunk, in order, none from another stream
        assert "".join(pieces) == answer(prompt)
        assert finish == "stop"
    new = proxy.runtime.local.invocations[before:]
    assert len(new) == count
    assert len({i.session_id for i in new}) == count
    assert {json.loads(i.body)["prompt"] for i in new} == {prompt for prompt, _, _ in results}
