"""The proxy's configuration: the seed's (LiteLLM's) ``config.yaml`` read as written.

``model_list`` entries of ``model_name`` + ``litellm_params`` (``model: bedrock/agentcore/<ARN>``,
``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``, ``aws_region_name``,
``aws_profile_name``, ``qualifier``, ``runtimeSessionId``) plus our own keys (``api_base`` or
``endpoint_url``, ``api_key`` or ``bearer_token``, ``history``, ``payload_format``,
``timeout``, ``max_retries``, ``max_event_bytes`` and ``max_body_bytes``: the limits on the
agent's responses, see ``agentcore_bridge.settings``; the limit on requests to the proxy is
``general_settings.max_request_body_bytes``). The accepted keys come from the settings
declaration (``agentcore_bridge.settings.PROXY_KEYS``). ``os.environ/NAME`` values are read from
the environment at start-up; a missing variable is an error that names it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentcore_bridge.client import AgentCoreClient
from agentcore_bridge.errors import InvalidRequestError
from agentcore_bridge.sessions import validate_session_id
from agentcore_bridge.settings import PROXY_KEYS, SETTINGS_BY_NAME
from agentcore_bridge.targets import MODEL_PREFIX, parse_target

logger = logging.getLogger(__name__)

ENV_PREFIX = "os.environ/"
MASTER_KEY_ENV = "AGENTCORE_PROXY_MASTER_KEY"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
"""The largest request body the proxy accepts (``general_settings.max_request_body_bytes``)."""

# litellm_params keys: the declared settings' (PROXY_KEYS), plus LiteLLM's own that we accept
# and ignore.
PROXY_ONLY_PARAMS = frozenset({"custom_llm_provider"})
_KNOWN_PARAMS = frozenset(PROXY_KEYS) | PROXY_ONLY_PARAMS


class ConfigError(InvalidRequestError):
    """The proxy configuration cannot be used; the message says where and why."""


@dataclass
class ProxyModel:
    """One ``model_list`` entry: the name callers use and the client that reaches its runtime."""

    name: str
    runtime: str
    client: AgentCoreClient
    default_session_id: str | None = None
    qualifier: str | None = None

    def __repr__(self) -> str:
        return f"ProxyModel(name={self.name!r}, runtime={self.runtime!r})"


@dataclass
class ProxyConfig:
    models: dict[str, ProxyModel]
    master_key: str | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def resolve_environment(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    """Replace every ``os.environ/NAME`` string in ``value`` with that variable's value."""
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX) :]
        if name not in environ:
            raise ConfigError(
                f"{where} refers to the environment variable {name}, which is not set"
            )
        return environ[name]
    if isinstance(value, dict):
        return {k: resolve_environment(v, f"{where}.{k}", environ) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_environment(v, f"{where}[{i}]", environ) for i, v in enumerate(value)]
    return value


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> ProxyConfig:
    """Read and check ``config.yaml``; every problem is a ConfigError naming the entry."""
    env = os.environ if environ is None else environ
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the proxy configuration {path}: {exc}") from None
    return build_config(raw or {}, env)


def build_config(raw: Mapping[str, Any], environ: Mapping[str, str]) -> ProxyConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError("the configuration must be a mapping with a model_list")
    entries = raw.get("model_list")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("model_list must be a non-empty list of model_name + litellm_params")
    models: dict[str, ProxyModel] = {}
    for index, entry in enumerate(entries):
        where = f"model_list[{index}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("model_name"), str):
            raise ConfigError(f"{where} needs a model_name")
        name = entry["model_name"]
        if name in models:
            raise ConfigError(f"{where}: model_name {name!r} appears twice")
        params = resolve_environment(
            dict(entry.get("litellm_params") or {}), f"{where}.litellm_params", environ
        )
        models[name] = _model(name, params, where)
    general = resolve_environment(
        dict(raw.get("general_settings") or {}), "general_settings", environ
    )
    master_key = general.get("master_key") or environ.get(MASTER_KEY_ENV) or None
    if master_key is not None and not isinstance(master_key, str | int):
        raise ConfigError("general_settings.master_key must be a string")
    max_body = _number(general, "max_request_body_bytes", "general_settings", int, minimum=1)
    return ProxyConfig(
        models=models,
        master_key=None if master_key is None else str(master_key),
        max_body_bytes=DEFAULT_MAX_BODY_BYTES if max_body is None else int(max_body),
    )


def _number(
    params: Mapping[str, Any], key: str, where: str, kind: type[int] | type[float], minimum: float
) -> float | None:
    """A numeric setting, checked: a ConfigError names it when it is not a number >= minimum."""
    value = params.get(key)
    if value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number < minimum:
        raise ConfigError(f"{where}.{key} must be a number >= {minimum:g}, got {value!r}")
    return number


def _default(setting: str) -> Any:
    return SETTINGS_BY_NAME[setting].default


def _model(name: str, params: dict[str, Any], where: str) -> ProxyModel:
    unknown = sorted(set(params) - _KNOWN_PARAMS)
    if unknown:
        raise ConfigError(f"{where}.litellm_params has unknown keys {unknown}")
    runtime = params.get("model")
    if not isinstance(runtime, str) or not runtime.startswith((MODEL_PREFIX, "arn:")):
        raise ConfigError(f"{where}.litellm_params.model must be bedrock/agentcore/<runtime ARN>")
    region = params.get("aws_region_name")
    timeout = _number(params, "timeout", f"{where}.litellm_params", float, minimum=0.001)
    retries = _number(params, "max_retries", f"{where}.litellm_params", int, minimum=0)
    max_event = _number(params, "max_event_bytes", f"{where}.litellm_params", int, minimum=1)
    max_body = _number(params, "max_body_bytes", f"{where}.litellm_params", int, minimum=1)
    idle = _number(params, "session_idle_timeout", f"{where}.litellm_params", float, minimum=1)
    lifetime = _number(params, "session_max_lifetime", f"{where}.litellm_params", float, minimum=1)
    try:
        target = parse_target(runtime, region=region, qualifier=params.get("qualifier"))
        session = params.get("runtimeSessionId") or params.get("runtime_session_id")
        if session is not None:
            validate_session_id(session)
            logger.warning(
                "model %s: runtimeSessionId is set in the configuration, so every caller of "
                "this model shares one AgentCore session (and its memory); send the "
                "X-AgentCore-Session-Id header per conversation instead",
                name,
            )
        client = AgentCoreClient(
            target.runtime,
            qualifier=target.qualifier,
            region_name=region,
            endpoint_url=params.get("api_base") or params.get("endpoint_url"),
            aws_access_key_id=params.get("aws_access_key_id"),
            aws_secret_access_key=params.get("aws_secret_access_key"),
            aws_session_token=params.get("aws_session_token"),
            profile_name=params.get("aws_profile_name"),
            bearer_token=params.get("api_key") or params.get("bearer_token"),
            runtime_user_id=params.get("runtimeUserId"),
            protocol=params.get("protocol", "http"),
            history=params.get("history", "auto"),
            payload_format=params.get("payload_format", "prompt"),
            timeout=timeout,
            max_retries=3 if retries is None else int(retries),
            max_event_bytes=_default("max_event_bytes") if max_event is None else int(max_event),
            max_body_bytes=_default("max_body_bytes") if max_body is None else int(max_body),
            session_idle_timeout=_default("session_idle_timeout") if idle is None else idle,
            session_max_lifetime=_default("session_max_lifetime") if lifetime is None else lifetime,
        )
    except InvalidRequestError as exc:
        raise ConfigError(f"{where} ({name}): {exc.message}") from None
    except ValueError as exc:  # e.g. an unknown history mode
        raise ConfigError(f"{where} ({name}): {exc}") from None
    return ProxyModel(name, target.runtime, client, session, target.qualifier)
