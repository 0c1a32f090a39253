"""No secret in any repr, error, log line (root logger at DEBUG), pickle or serialized output."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
from collections.abc import Iterator
from typing import Any

import pytest

import agentcore_bridge
from agentcore_bridge import AgentCoreClient, AgentCoreError
from agentcore_bridge.completions import to_chat_completion
from agentcore_bridge.local import LocalCredentials, LocalRuntime
from agentcore_bridge.local.agents import json_answer, strands_stream
from agentcore_bridge.results import StopSequences

KEY_ID = "AKIASENTINELKEY00001"
SECRET = "SENTINEL-SECRET-9f8e7d6c5b4a"
TOKEN = "SENTINEL-SESSION-TOKEN-1a2b3c4d"
BEARER = "SENTINEL-BEARER-TOKEN-5e6f7a8b"
SENTINELS = (SECRET, TOKEN, BEARER)


@pytest.fixture(scope="module")
def secret_runtime() -> Iterator[tuple[LocalRuntime, str, str]]:
    credentials = [LocalCredentials(KEY_ID, SECRET, session_token=TOKEN)]
    with LocalRuntime(credentials=credentials) as local:
        sigv4 = local.add_agent("stream", strands_stream.app)
        oauth = local.add_agent("oauth", json_answer.app, bearer_tokens=(BEARER,))
        yield local, sigv4, oauth


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr(record.args))


def test_no_secret_anywhere_with_debug_logging(
    secret_runtime: tuple[LocalRuntime, str, str],
) -> None:
    local, sigv4_arn, oauth_arn = secret_runtime
    handler = Everything()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    seen: list[Any] = []  # everything a user could print, log, pickle or serialize
    try:
        client = AgentCoreClient(
            sigv4_arn,
            endpoint_url=local.endpoint_url,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            aws_session_token=TOKEN,
            retry_base_delay=0.01,
        )
        bearer = AgentCoreClient(oauth_arn, endpoint_url=local.endpoint_url, bearer_token=BEARER)
        completion = client.invoke("hello")
        assert completion.text.endswith("Here is my answer.")  # the calls really worked
        with client.stream("again", session_id=completion.session_id) as stream:
            seen.extend(list(stream))
        seen.append(bearer.invoke("hi"))
        seen.append(asyncio.run(client.ainvoke("async")))
        client.stop_session(completion.session_id)
        for failing in (
            lambda: client.invoke("x", qualifier="missing"),  # 404 from the service
            lambda: client.stop_session(completion.session_id),  # already stopped
            lambda: AgentCoreClient(
                sigv4_arn,
                endpoint_url=local.endpoint_url,
                aws_access_key_id=KEY_ID,
                aws_secret_access_key="wrong-" + SECRET,
                max_retries=0,
            ).invoke("x"),
            lambda: AgentCoreClient(
                oauth_arn, endpoint_url=local.endpoint_url, bearer_token="x" + BEARER
            ).invoke("x"),
        ):
            with pytest.raises(AgentCoreError) as info:
                failing()
            seen.extend([info.value, str(info.value), repr(info.value), info.value.__dict__])
        result = agentcore_bridge.completion(
            model=sigv4_arn, messages=[{"role": "user", "content": "hi"}],
            api_base=local.endpoint_url, aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET, aws_session_token=TOKEN,
        )  # fmt: skip
        seen.extend([result, result.model_dump_json()])
        seen.extend(
            [
                completion,
                to_chat_completion(completion, "m", StopSequences(None)).model_dump_json(),
                repr(client),
                str(client),
                repr(bearer),
            ]
        )
        dumps = [pickle.dumps(client), pickle.dumps(bearer), pickle.dumps(info.value)]
        client.close()
        bearer.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)

    assert len(handler.lines) > 20, "DEBUG logging was on and captured"
    texts = handler.lines + [repr(x) for x in seen] + [json.dumps(x, default=repr) for x in seen]
    for sentinel in SENTINELS:
        for text in texts:
            assert sentinel not in text, text[:300]
        for blob in dumps:
            assert sentinel.encode() not in blob


def test_unpickled_client_uses_the_environment_for_credentials(
    secret_runtime: tuple[LocalRuntime, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    local, sigv4_arn, _ = secret_runtime
    client = AgentCoreClient(
        sigv4_arn, endpoint_url=local.endpoint_url, aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET, aws_session_token=TOKEN,
    )  # fmt: skip
    clone = pickle.loads(pickle.dumps(client))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    assert clone.invoke("from the environment").text.endswith("Here is my answer.")
    assert clone.runtime == client.runtime
    client.close()
    clone.close()
