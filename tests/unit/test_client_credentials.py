"""Where AgentCoreClient takes credentials, tokens and its endpoint from (the shared helpers of
``agentcore_bridge.credentials``, the same ones the MCP auth uses): no request is sent here."""

from __future__ import annotations

import botocore.session
import pytest

from agentcore_bridge import AgentCoreClient, InvalidRequestError
from agentcore_bridge.errors import AccessDeniedError

ARN = "arn:aws:bedrock-agentcore:eu-west-1:123456789012:runtime/agent-abc123"


class NoCredentialsWanted(Exception):
    pass


def session_refusing_credentials(monkeypatch: pytest.MonkeyPatch) -> botocore.session.Session:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    session = botocore.session.Session()

    def refuse() -> None:
        raise NoCredentialsWanted("the endpoint was resolved with a credential lookup")

    monkeypatch.setattr(session, "get_credentials", refuse)
    return session


def test_endpoint_is_resolved_without_a_credential_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    # A credential lookup may wait on instance metadata; resolving where to send must not.
    client = AgentCoreClient(ARN, botocore_session=session_refusing_credentials(monkeypatch))
    assert client._endpoint("eu-west-1") == "https://bedrock-agentcore.eu-west-1.amazonaws.com"
    assert client._endpoint("cn-north-1").endswith(".amazonaws.com.cn")


def test_chain_credentials_are_read_once_for_signing(monkeypatch: pytest.MonkeyPatch) -> None:
    client = AgentCoreClient(ARN, botocore_session=session_refusing_credentials(monkeypatch))
    with pytest.raises(NoCredentialsWanted):
        client._signer("eu-west-1")


def test_no_credentials_anywhere_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    session = botocore.session.Session()
    monkeypatch.setattr(session, "get_credentials", lambda: None)
    monkeypatch.delenv("AGENTCORE_BEARER_TOKEN", raising=False)
    client = AgentCoreClient(ARN, botocore_session=session)
    with pytest.raises(AccessDeniedError):
        client._signer("eu-west-1")


def test_half_a_key_pair_is_refused_before_any_request() -> None:
    with pytest.raises(InvalidRequestError, match="go together"):
        AgentCoreClient(ARN, aws_access_key_id="AKIDEXAMPLE")
    with pytest.raises(InvalidRequestError, match="go together"):
        AgentCoreClient(ARN, aws_secret_access_key="secret")


def test_a_session_token_without_keys_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # What an adapter reads from a stray AWS_SESSION_TOKEN: boto3's chain ignores it too.
    session = botocore.session.Session()
    monkeypatch.setattr(session, "get_credentials", lambda: None)
    client = AgentCoreClient(ARN, aws_session_token="token", botocore_session=session)
    assert client._static_credentials is None


def test_bearer_token_from_the_environment_is_read_per_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = AgentCoreClient(ARN, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s")
    monkeypatch.delenv("AGENTCORE_BEARER_TOKEN", raising=False)
    assert client._bearer() is None
    monkeypatch.setenv("AGENTCORE_BEARER_TOKEN", "rotated-token")
    assert client._bearer() == "rotated-token"
    assert "rotated-token" not in repr(client)
