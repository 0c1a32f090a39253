"""What the framework adapters share: the settings their models expose under the same names, the
client made from them, and pickling without secrets."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Protocol

from agentcore_bridge.client import AgentCoreClient

SECRET_FIELDS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "bearer_token")
SECRET_ENVIRONMENT = {
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
    "bearer_token": "AGENTCORE_BEARER_TOKEN",
}


class _Secret(Protocol):
    def get_secret_value(self) -> str: ...


def _reveal(value: _Secret | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.get_secret_value()


def client_from_settings(settings: Mapping[str, Any]) -> AgentCoreClient:
    """The AgentCoreClient for an adapter model's fields (secrets may be pydantic SecretStr).

    ``send_model_parameters`` merges ``temperature`` and ``max_tokens`` into the payload; agents
    do not read them unless they are written to.
    """
    extra = dict(settings.get("payload_extra") or {})
    if settings.get("send_model_parameters"):
        for name in ("temperature", "max_tokens"):
            if settings.get(name) is not None:
                extra[name] = settings[name]
    return AgentCoreClient(
        settings["model"],
        qualifier=settings.get("qualifier"),
        region_name=settings.get("region_name"),
        account_id=settings.get("account_id"),
        endpoint_url=settings.get("endpoint_url"),
        aws_access_key_id=_reveal(settings.get("aws_access_key_id")),
        aws_secret_access_key=_reveal(settings.get("aws_secret_access_key")),
        aws_session_token=_reveal(settings.get("aws_session_token")),
        profile_name=settings.get("credentials_profile_name"),
        bearer_token=_reveal(settings.get("bearer_token")),
        runtime_user_id=settings.get("runtime_user_id"),
        history=settings.get("history") or "auto",
        payload_format=settings.get("payload_format") or "prompt",
        payload_extra=extra or None,
        connect_timeout=settings.get("connect_timeout", 10.0),
        read_timeout=settings.get("read_timeout", 900.0),
        timeout=settings.get("timeout"),
        max_retries=settings.get("max_retries", 3),
    )


# The fields a client is made from: a change to any of them after first use makes a new client.
CLIENT_FIELDS = (
    "model", "qualifier", "region_name", "account_id", "endpoint_url", "aws_access_key_id",
    "aws_secret_access_key", "aws_session_token", "credentials_profile_name", "bearer_token",
    "runtime_user_id", "history", "payload_format", "payload_extra", "send_model_parameters",
    "temperature", "max_tokens", "connect_timeout", "read_timeout", "timeout", "max_retries",
)  # fmt: skip


def current_client(model: Any) -> AgentCoreClient:
    """The client for an adapter model's current fields, kept in its ``_client`` and
    ``_client_key`` private attributes and made anew when a field changed since it was made (so
    ``llm.model = other_arn`` really calls the other runtime).

    The check runs on every call, so it is a plain tuple comparison against a deep copy taken
    when the client was made (an in-place change to ``payload_extra`` counts too)."""
    settings = model.__dict__
    key = tuple([settings.get(name) for name in CLIENT_FIELDS])
    # pydantic keeps private attributes here; reading them through the model costs a
    # __getattr__ round trip on every call.
    private = model.__pydantic_private__
    client: AgentCoreClient | None = private.get("_client")
    if client is None or private.get("_client_key") != key:
        if client is not None:
            client.close()
        client = client_from_settings(settings)
        model._client, model._client_key = client, copy.deepcopy(key)
    return client


def mask_secret(value: _Secret | None) -> str | None:
    """How serialized forms show a secret: masked, never its value."""
    return None if value is None else "**********"


def pydantic_state_without_secrets(state: dict[Any, Any], client_attr: str) -> dict[Any, Any]:
    """A pydantic model's pickle state with its secrets and its client left out: an unpickled
    model takes credentials from its new environment (or profile) and makes a new client."""
    fields = dict(state["__dict__"])
    for name in SECRET_FIELDS:
        if name in fields:
            fields[name] = None
    private = dict(state.get("__pydantic_private__") or {})
    private[client_attr] = None
    private[f"{client_attr}_key"] = None
    return {**state, "__dict__": fields, "__pydantic_private__": private}
