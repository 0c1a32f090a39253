"""LiteLLM's AWS auth keys through the proxy, against a local STS and a local runtime that accepts
only the credentials that STS hands out: role assumption (AssumeRole with session name and
external id, AssumeRoleWithWebIdentity from a token or a token file), refresh before expiry,
``aws_sts_endpoint``, ``aws_profile_name`` as the source, and ``aws_bedrock_runtime_endpoint``."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from proxy_support import CHAT, MASTER_KEY, auth, serve, user
from sts_emulator import RecordingCredentials, StsEmulator

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import echo
from agentcore_bridge.local.sigv4 import LocalCredentials
from agentcore_bridge.proxy import build_config, create_app

pytestmark = pytest.mark.network

ROLE = "arn:aws:iam::123456789012:role/agentcore-invoker"
SOURCE = LocalCredentials("AKIASTSSOURCE0000001", "sts-source-secret-access-key-000000001")
# Known to nobody: the runtime must see assumed-role credentials, never the source ones.
RUNTIME_ONLY = LocalCredentials("AKIARUNTIMEONLY00001", "runtime-only-secret-access-key-0001")


@dataclass
class Stack:
    local: LocalRuntime
    arn: str
    sts: StsEmulator
    sts_url: str
    accepted: RecordingCredentials


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with LocalRuntime(credentials=[RUNTIME_ONLY]) as local:
        accepted = RecordingCredentials(local.dataplane.credentials)
        local.dataplane.credentials = accepted
        arn = local.add_agent("assumed-role-echo", echo.app)
        sts = StsEmulator(SOURCE, accepted)
        with serve(sts.app()) as sts_url:
            yield Stack(local, arn, sts, sts_url, accepted)


@pytest.fixture(autouse=True)
def _clean_environment(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the environment may stand in for what the config says."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AGENTCORE_BEARER_TOKEN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    stack.sts.calls.clear()
    stack.sts.minted.clear()
    stack.accepted.looked_up.clear()
    stack.sts.lifetime = timedelta(hours=1)


def params(stack: Stack, **extra: Any) -> dict[str, Any]:
    return {
        "model": f"bedrock/agentcore/{stack.arn}",
        "aws_region_name": "us-west-2",
        "aws_role_name": ROLE,
        "aws_sts_endpoint": stack.sts_url,
        "aws_bedrock_runtime_endpoint": stack.local.endpoint_url,
        **extra,
    }


def ask_twice(stack: Stack, litellm_params: dict[str, Any]) -> list[httpx.Response]:
    raw = {
        "model_list": [{"model_name": "assumed", "litellm_params": litellm_params}],
        "general_settings": {"master_key": MASTER_KEY},
    }
    config = build_config(raw, {})
    with serve(create_app(config)) as url, httpx.Client(base_url=url, timeout=30) as client:
        return [
            client.post(CHAT, headers=auth(),
                        json={"model": "assumed", "messages": user(f"hi {i}"), "stream": i == 1})
            for i in range(2)
        ]  # fmt: skip


def key_ids_used(stack: Stack) -> list[str]:
    return [k for k in stack.accepted.looked_up if k != RUNTIME_ONLY.access_key_id]


def test_aws_role_name_is_assumed_with_session_name_and_external_id(stack: Stack) -> None:
    responses = ask_twice(stack, params(
        stack, aws_access_key_id=SOURCE.access_key_id,
        aws_secret_access_key=SOURCE.secret_access_key, aws_session_name="support-bot",
        aws_external_id="tenant-42",
    ))  # fmt: skip
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert "[DONE]" in responses[1].text
    (call,) = stack.sts.calls  # one fetch: the credentials last an hour
    assert call["Action"] == "AssumeRole"
    assert (call["RoleArn"], call["RoleSessionName"], call["ExternalId"]) == (
        ROLE, "support-bot", "tenant-42",
    )  # fmt: skip
    (granted,) = stack.sts.minted
    assert key_ids_used(stack) == [granted.access_key_id] * 2
    assert SOURCE.access_key_id not in stack.accepted.looked_up


def test_credentials_near_expiry_are_fetched_again(stack: Stack) -> None:
    stack.sts.lifetime = timedelta(minutes=5)  # inside botocore's refresh window: always stale
    responses = ask_twice(stack, params(
        stack, aws_access_key_id=SOURCE.access_key_id,
        aws_secret_access_key=SOURCE.secret_access_key,
    ))  # fmt: skip
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert [c["Action"] for c in stack.sts.calls] == ["AssumeRole", "AssumeRole"]
    assert all(c["RoleSessionName"] == "agentcore-proxy" for c in stack.sts.calls)
    assert "ExternalId" not in stack.sts.calls[0]
    assert key_ids_used(stack) == [c.access_key_id for c in stack.sts.minted]
    assert len(set(key_ids_used(stack))) == 2


def test_web_identity_token_value(stack: Stack) -> None:
    responses = ask_twice(stack, params(stack, aws_web_identity_token="eyJ.token.value"))
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    (call,) = stack.sts.calls
    assert call["Action"] == "AssumeRoleWithWebIdentity"
    assert (call["RoleArn"], call["WebIdentityToken"]) == (ROLE, "eyJ.token.value")
    assert key_ids_used(stack) == [stack.sts.minted[0].access_key_id] * 2


def test_web_identity_token_file_is_read_at_each_refresh(stack: Stack, tmp_path: Path) -> None:
    stack.sts.lifetime = timedelta(minutes=5)
    token_file = tmp_path / "token"
    token_file.write_text("first-token\n")
    raw = {"model_list": [{"model_name": "assumed",
                           "litellm_params": params(stack, aws_web_identity_token=str(token_file))}],
           "general_settings": {"master_key": MASTER_KEY}}  # fmt: skip
    config = build_config(raw, {})
    with serve(create_app(config)) as url, httpx.Client(base_url=url, timeout=30) as client:
        body = {"model": "assumed", "messages": user("hi")}
        assert client.post(CHAT, headers=auth(), json=body).status_code == 200
        token_file.write_text("rotated-token\n")
        assert client.post(CHAT, headers=auth(), json=body).status_code == 200
    assert [c["WebIdentityToken"] for c in stack.sts.calls] == ["first-token", "rotated-token"]


def test_aws_profile_name_supplies_the_source_credentials(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[assumer]\naws_access_key_id = {SOURCE.access_key_id}\n"
        f"aws_secret_access_key = {SOURCE.secret_access_key}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    responses = ask_twice(stack, params(stack, aws_profile_name="assumer"))
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert [c["Action"] for c in stack.sts.calls] == ["AssumeRole"]


def test_a_refused_assume_role_is_an_openai_error_without_secrets(stack: Stack) -> None:
    wrong = "wrong-source-secret-that-must-not-leak-01"
    responses = ask_twice(stack, params(
        stack, aws_access_key_id=SOURCE.access_key_id, aws_secret_access_key=wrong,
    ))  # fmt: skip
    for response in responses:
        assert response.status_code == 502, response.text
        body = response.json() if response.headers["content-type"].startswith(
            "application/json") else json.loads(response.text.split("data: ", 1)[1])  # fmt: skip
        assert body["error"]["code"] == "upstream_access_denied"
        assert "SignatureDoesNotMatch" in body["error"]["message"] or "signature" in (
            body["error"]["message"].lower()
        )
        assert wrong not in response.text
    assert stack.sts.minted == []


def test_aws_bedrock_runtime_endpoint_is_the_endpoint(stack: Stack) -> None:
    """Without it (and without AWS_ENDPOINT_URL_BEDROCK_AGENTCORE) the client would call AWS."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    conflicting = {**params(stack, aws_access_key_id=SOURCE.access_key_id,
                            aws_secret_access_key=SOURCE.secret_access_key), "api_base": dead}  # fmt: skip
    with pytest.raises(Exception, match="aws_bedrock_runtime_endpoint"):
        build_config({"model_list": [{"model_name": "x", "litellm_params": conflicting}]}, {})
    plain = {"model": f"bedrock/agentcore/{stack.arn}", "aws_region_name": "us-west-2",
             "aws_bedrock_runtime_endpoint": stack.local.endpoint_url}  # fmt: skip
    config = build_config({"model_list": [{"model_name": "x", "litellm_params": plain}]}, {})
    assert config.models["x"].client.endpoint_url == stack.local.endpoint_url
    # (Every other test here reaches the runtime through this key alone.)
