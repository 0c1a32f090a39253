"""The proxy's configuration: the seed's (LiteLLM's) ``config.yaml`` read as written.

``model_list`` entries of ``model_name`` + ``litellm_params``. Entries that share a
``model_name`` are deployments of one model (the same agent in two regions, or two runtimes):
the router spreads requests over them and keeps each session on one (see ``routing``).

``litellm_params`` keys:

* the declared client settings' (``agentcore_bridge.settings.PROXY_KEYS``: ``model:
  bedrock/agentcore/<ARN>``, the AWS key pair, ``aws_region_name``, ``aws_profile_name``,
  ``qualifier``, ``runtimeSessionId``, ``api_base``/``endpoint_url``, ``api_key``/
  ``bearer_token``, ``protocol``, ``history``, ``payload_format``, ``timeout``,
  ``max_retries``, ``max_event_bytes``, ``max_body_bytes``, ``session_idle_timeout``,
  ``session_max_lifetime``), each passed to the deployment's ``AgentCoreClient``;
* LiteLLM's routing keys ``rpm``, ``tpm``, ``weight`` and ``max_parallel_requests``;
* LiteLLM's AWS auth keys ``aws_role_name``, ``aws_session_name``, ``aws_external_id``,
  ``aws_web_identity_token``, ``aws_sts_endpoint`` (role assumption, see ``credentials``) and
  ``aws_bedrock_runtime_endpoint`` (the endpoint);
* LiteLLM's model parameters that mean nothing to an agent (:data:`IGNORED_PARAMS`:
  ``temperature``, ``max_tokens``, ``drop_params``, ...): accepted and ignored, with a warning
  naming them, so a config written for LiteLLM loads;
* anything else is a ConfigError that names the key.

``router_settings``: ``routing_strategy`` (``simple-shuffle``, the default, or
``least-busy``), ``cooldown_time``, and LiteLLM's ``redis_host``/``redis_port``/
``redis_password`` or ``redis_url``. ``litellm_settings``: ``request_timeout`` (the default
``timeout``). ``general_settings``: ``master_key``, ``max_request_body_bytes`` and
``session_store`` (else ``AGENTCORE_SESSION_STORE``). Other keys of those three sections are
LiteLLM features this proxy does not have: they are ignored with a warning naming them.
``os.environ/NAME`` values are read from the environment at start-up; a missing variable is an
error that names it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote

import yaml

from agentcore_bridge.client import AgentCoreClient
from agentcore_bridge.errors import InvalidRequestError
from agentcore_bridge.proxy.credentials import ROLE_PARAMS, RoleAssumption, assumed_role_session
from agentcore_bridge.proxy.scoped_store import ScopedSessionStore
from agentcore_bridge.session_store import DEFAULT_IDLE_TIMEOUT, SessionStore, session_store_from
from agentcore_bridge.session_store import ENV_VAR as SESSION_STORE_ENV
from agentcore_bridge.sessions import validate_session_id
from agentcore_bridge.settings import PROXY_KEYS, SETTINGS, Setting
from agentcore_bridge.targets import MODEL_PREFIX, parse_target

logger = logging.getLogger(__name__)

ENV_PREFIX = "os.environ/"
MASTER_KEY_ENV = "AGENTCORE_PROXY_MASTER_KEY"
CONFIG_ENV = "AGENTCORE_PROXY_CONFIG"
"""The config path each ``--workers`` process loads (set by the CLI)."""
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
"""The largest request body the proxy accepts (``general_settings.max_request_body_bytes``)."""
DEFAULT_COOLDOWN_SECONDS = 5.0

ROUTING_PARAMS = frozenset({"rpm", "tpm", "weight", "max_parallel_requests"})
AWS_PARAMS = frozenset({*ROLE_PARAMS, "aws_bedrock_runtime_endpoint"})
IGNORED_PARAMS = frozenset({
    # OpenAI model parameters: an agent runs its own model with its own settings.
    "temperature", "max_tokens", "max_completion_tokens", "top_p", "top_k", "n", "seed",
    "stop", "frequency_penalty", "presence_penalty", "logit_bias", "response_format",
    "reasoning_effort", "tools", "tool_choice", "parallel_tool_calls",
    # LiteLLM request shaping and bookkeeping with nothing to act on here.
    "drop_params", "additional_drop_params", "stream_timeout", "num_retries",
    "input_cost_per_token", "output_cost_per_token", "input_cost_per_second",
    "output_cost_per_second", "tags", "region_name", "base_model", "api_version",
    "organization", "use_in_pass_through", "merge_reasoning_content_in_choices",
    "mock_response", "metadata", "model_info", "litellm_trace_id", "cache_control_injection_points",
})  # fmt: skip
"""LiteLLM ``litellm_params`` keys that mean nothing for an AgentCore agent: accepted so a
LiteLLM config loads, ignored, and named in a start-up warning."""

# litellm_params keys: the declared settings' (PROXY_KEYS), plus LiteLLM's own listed above.
PROXY_ONLY_PARAMS = (
    frozenset({"custom_llm_provider"}) | ROUTING_PARAMS | AWS_PARAMS | IGNORED_PARAMS
)
_KNOWN_PARAMS = frozenset(PROXY_KEYS) | PROXY_ONLY_PARAMS

ROUTING_STRATEGIES = ("simple-shuffle", "least-busy")
_ROUTER_KEYS = frozenset({
    "routing_strategy", "cooldown_time", "redis_host", "redis_port", "redis_password",
    "redis_url",
})  # fmt: skip
_LITELLM_KEYS = frozenset({"request_timeout"})
_GENERAL_KEYS = frozenset({"master_key", "max_request_body_bytes", "session_store"})

PUBLISHED_MASTER_KEYS = frozenset({
    "sk-1234", "sk-12345", "sk-123456", "sk-1234567890", "sk-master-key", "sk-litellm",
    "sk-my-master-key", "changeme", "password", "secret", "master-key", "admin",
})  # fmt: skip
"""Master keys that appear in LiteLLM's and others' published examples."""
MIN_MASTER_KEY_LENGTH = 16


class ConfigError(InvalidRequestError):
    """The proxy configuration cannot be used; the message says where and why."""


def master_key_weakness(key: str) -> str | None:
    """Why ``key`` is too weak to guard a proxy others can reach, or None when it is not."""
    if key.strip().lower() in PUBLISHED_MASTER_KEYS:
        return "it is a published example key"
    if len(key) < MIN_MASTER_KEY_LENGTH:
        return f"it has {len(key)} characters (use at least {MIN_MASTER_KEY_LENGTH})"
    if len(set(key)) < 6:
        return "it repeats too few distinct characters"
    return None


@dataclass(eq=False)
class Deployment:
    """One ``model_list`` entry: a runtime serving a model, its client and its limits."""

    model_name: str
    id: str
    """Stable across replicas and restarts (``model_info.id``, else a digest of the model
    name, runtime, qualifier and endpoint): sessions are routed and limits counted by it."""
    runtime: str
    client: AgentCoreClient
    qualifier: str | None = None
    default_session_id: str | None = None
    rpm: int | None = None
    tpm: int | None = None
    weight: float | None = None
    max_parallel_requests: int | None = None
    session_idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    route_weight: float = 1.0
    """Its share of the model's traffic and sessions (from weight, else rpm, else tpm)."""

    @functools.cached_property
    def id_bytes(self) -> bytes:
        """The key of its rendezvous hash (see ``bindings.rendezvous``)."""
        return hashlib.sha256(self.id.encode()).digest()[:16]

    def __repr__(self) -> str:
        return f"Deployment(model={self.model_name!r}, id={self.id!r}, runtime={self.runtime!r})"


@dataclass(eq=False)
class ProxyModel:
    """A ``model_name`` callers use and its deployments (one or more).

    ``client``, ``runtime`` and ``qualifier`` are the first deployment's: for a model with
    one deployment, simply its own."""

    name: str
    deployments: list[Deployment]
    default_session_id: str | None = None
    _by_id: dict[str, Deployment] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {d.id: d for d in self.deployments}

    @functools.cached_property
    def direct(self) -> Deployment | None:
        """The one deployment, when there is nothing to choose or count (no rpm, tpm or
        max_parallel_requests): the router's fast path."""
        if len(self.deployments) != 1:
            return None
        only = self.deployments[0]
        limited = only.rpm or only.tpm or only.max_parallel_requests
        return None if limited else only

    def deployment(self, deployment_id: str | None) -> Deployment | None:
        return self._by_id.get(deployment_id) if deployment_id is not None else None

    @property
    def client(self) -> AgentCoreClient:
        return self.deployments[0].client

    @property
    def runtime(self) -> str:
        return self.deployments[0].runtime

    @property
    def qualifier(self) -> str | None:
        return self.deployments[0].qualifier

    @property
    def binding_ttl(self) -> float:
        """How long a session binding outlives its last use: AgentCore ends an idle session
        after its idle timeout."""
        return max(d.session_idle_timeout for d in self.deployments)

    def __repr__(self) -> str:
        return f"ProxyModel(name={self.name!r}, deployments={self.deployments!r})"


@dataclass
class ProxyConfig:
    models: dict[str, ProxyModel]
    master_key: str | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    routing_strategy: str = ROUTING_STRATEGIES[0]
    cooldown_time: float = DEFAULT_COOLDOWN_SECONDS
    session_store: SessionStore | None = field(default=None, repr=False)
    """The one store every deployment's client shares (each through a scoped view)."""
    shared_redis_url: str | None = field(default=None, repr=False)
    """The Redis the replicas share rate-limit counts and session bindings in, if any."""


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


def _section(raw: Mapping[str, Any], name: str, environ: Mapping[str, str]) -> dict[str, Any]:
    section = raw.get(name) or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"{name} must be a mapping")
    resolved: dict[str, Any] = resolve_environment(dict(section), name, environ)
    return resolved


def _warn_ignored(section: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    ignored = sorted(set(section) - known)
    if ignored:
        logger.warning("%s: %s ignored (LiteLLM features this proxy does not have)", where, ignored)


def build_config(raw: Mapping[str, Any], environ: Mapping[str, str]) -> ProxyConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError("the configuration must be a mapping with a model_list")
    entries = raw.get("model_list")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("model_list must be a non-empty list of model_name + litellm_params")
    general = _section(raw, "general_settings", environ)
    router = _section(raw, "router_settings", environ)
    litellm = _section(raw, "litellm_settings", environ)
    _warn_ignored(general, _GENERAL_KEYS, "general_settings")
    _warn_ignored(router, _ROUTER_KEYS, "router_settings")
    _warn_ignored(litellm, _LITELLM_KEYS, "litellm_settings")

    master_key = general.get("master_key") or environ.get(MASTER_KEY_ENV) or None
    if master_key is not None and not isinstance(master_key, str | int):
        raise ConfigError("general_settings.master_key must be a string")
    max_body = _number(general, "max_request_body_bytes", "general_settings", int, minimum=1)
    strategy = router.get("routing_strategy") or ROUTING_STRATEGIES[0]
    if strategy not in ROUTING_STRATEGIES:
        raise ConfigError(
            f"router_settings.routing_strategy must be one of {list(ROUTING_STRATEGIES)}, "
            f"got {strategy!r}"
        )
    cooldown = _number(router, "cooldown_time", "router_settings", float, minimum=0)
    request_timeout = _number(litellm, "request_timeout", "litellm_settings", float, 0.001)
    store, shared_url = _session_store(general, router, environ)

    groups: dict[str, list[Deployment]] = {}
    for index, entry in enumerate(entries):
        where = f"model_list[{index}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("model_name"), str):
            raise ConfigError(f"{where} needs a model_name")
        name = entry["model_name"]
        params = resolve_environment(
            dict(entry.get("litellm_params") or {}), f"{where}.litellm_params", environ
        )
        info = entry.get("model_info") or {}
        if not isinstance(info, Mapping):
            raise ConfigError(f"{where}.model_info must be a mapping")
        defaults = {"timeout": request_timeout} if request_timeout is not None else {}
        deployment = _deployment(name, {**defaults, **params}, where, info.get("id"), store)
        group = groups.setdefault(name, [])
        if any(d.id == deployment.id for d in group):
            if info.get("id") is not None:
                raise ConfigError(f"{where}: model_info.id {deployment.id!r} appears twice")
            deployment.id = f"{deployment.id}-{len(group)}"
        group.append(deployment)
    models = {name: _model(name, group) for name, group in groups.items()}
    return ProxyConfig(
        models=models,
        master_key=None if master_key is None else str(master_key),
        max_body_bytes=DEFAULT_MAX_BODY_BYTES if max_body is None else int(max_body),
        routing_strategy=strategy,
        cooldown_time=DEFAULT_COOLDOWN_SECONDS if cooldown is None else float(cooldown),
        session_store=store,
        shared_redis_url=shared_url,
    )


def _session_store(
    general: Mapping[str, Any], router: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[SessionStore, str | None]:
    """The session store all clients share, and the Redis the replicas share state in.

    ``general_settings.session_store`` (else ``AGENTCORE_SESSION_STORE``): ``memory`` or a
    ``redis://`` URL. LiteLLM's ``router_settings.redis_*`` name the same Redis when the
    session store is not set."""
    value = general.get("session_store") or environ.get(SESSION_STORE_ENV) or None
    routing_redis = _router_redis(router)
    if value is not None and not isinstance(value, str):
        raise ConfigError("general_settings.session_store must be 'memory' or a redis:// URL")
    is_redis = value is not None and value.strip().lower().startswith(("redis://", "rediss://"))
    if routing_redis is not None and is_redis and value != routing_redis:
        raise ConfigError(
            "general_settings.session_store and router_settings.redis_* name two different "
            "Redis servers: name one (the proxy keeps sessions, bindings and limits there)"
        )
    try:
        store = session_store_from(value or routing_redis or "memory")
    except InvalidRequestError as exc:
        raise ConfigError(f"general_settings.session_store: {exc.message}") from None
    return store, routing_redis or (value if is_redis else None)


def _router_redis(router: Mapping[str, Any]) -> str | None:
    url = router.get("redis_url")
    if url:
        return str(url)
    host = router.get("redis_host")
    if not host:
        return None
    port = router.get("redis_port") or 6379
    password = router.get("redis_password")
    auth = f":{quote(str(password), safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/0"


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


def _numeric_kind(setting: Setting) -> type[int] | type[float] | None:
    kinds = get_args(setting.type) or (setting.type,)
    if bool in kinds:
        return None
    if int in kinds:
        return int
    if float in kinds:
        return float
    return None


_MINIMUMS = {"max_retries": 0}
_PROXY_SETTINGS = tuple(s for s in SETTINGS if s.proxy_keys)


def _client_keywords(params: Mapping[str, Any], where: str) -> tuple[dict[str, Any], Any]:
    """The declared settings among ``params``: AgentCoreClient keywords, and the configured
    runtime session (a setting that is not a client keyword)."""
    keywords: dict[str, Any] = {}
    session = None
    for setting in _PROXY_SETTINGS:
        given = [(k, params[k]) for k in setting.proxy_keys if params.get(k) is not None]
        if not given:
            continue
        key, value = given[0]
        if any(other != value for _, other in given[1:]):
            keys = [k for k, _ in given]
            raise ConfigError(f"{where}: {keys} name the same setting with different values")
        kind = _numeric_kind(setting)
        if kind is not None:
            minimum = _MINIMUMS.get(setting.name, 1 if kind is int else 0.001)
            value = _number(params, key, where, kind, minimum)
        if setting.client_keyword is None:
            session = value
        else:
            keywords[setting.client_keyword] = value
    return keywords, session


def _deployment(
    name: str,
    params: dict[str, Any],
    where: str,
    given_id: Any,
    store: SessionStore,
) -> Deployment:
    unknown = sorted(set(params) - _KNOWN_PARAMS)
    if unknown:
        raise ConfigError(f"{where}.litellm_params has unknown keys {unknown}")
    ignored = sorted(set(params) & IGNORED_PARAMS)
    if ignored:
        logger.warning(
            "%s (%s): litellm_params %s ignored (they mean nothing to an AgentCore agent)",
            where, name, ignored,
        )  # fmt: skip
    runtime = params.get("model")
    if not isinstance(runtime, str) or not runtime.startswith((MODEL_PREFIX, "arn:")):
        raise ConfigError(f"{where}.litellm_params.model must be bedrock/agentcore/<runtime ARN>")
    keywords, session = _client_keywords(params, f"{where}.litellm_params")
    region = keywords.get("region_name")
    endpoint = params.get("aws_bedrock_runtime_endpoint")
    if endpoint is not None:
        if keywords.get("endpoint_url") not in (None, endpoint):
            raise ConfigError(
                f"{where}.litellm_params: aws_bedrock_runtime_endpoint and api_base/"
                "endpoint_url name different endpoints"
            )
        keywords["endpoint_url"] = endpoint
    limits = {
        key: _number(params, key, f"{where}.litellm_params", kind, minimum)
        for key, kind, minimum in (
            ("rpm", int, 1), ("tpm", int, 1), ("weight", float, 1e-9),
            ("max_parallel_requests", int, 1),
        )
    }  # fmt: skip
    try:
        target = parse_target(runtime, region=region, qualifier=keywords.get("qualifier"))
        keywords.pop("runtime", None)
        if session is not None:
            validate_session_id(session)
            logger.warning(
                "model %s: runtimeSessionId is set in the configuration, so every caller of "
                "this model shares one AgentCore session (and its memory); send the "
                "X-AgentCore-Session-Id header per conversation instead",
                name,
            )
        assumption = RoleAssumption.from_params(params)
        if assumption is not None:
            keywords["botocore_session"] = assumed_role_session(
                assumption,
                access_key_id=keywords.pop("aws_access_key_id", None),
                secret_access_key=keywords.pop("aws_secret_access_key", None),
                session_token=keywords.pop("aws_session_token", None),
                profile_name=keywords.pop("profile_name", None),
            )
        scope = f"{target.runtime}#{target.qualifier or 'DEFAULT'}"
        if keywords.get("endpoint_url"):
            scope += f"@{keywords['endpoint_url']}"
        client = AgentCoreClient(
            target.runtime,
            qualifier=target.qualifier,
            session_store=ScopedSessionStore(store, scope),
            **{k: v for k, v in keywords.items() if k != "qualifier"},
        )
    except InvalidRequestError as exc:
        raise ConfigError(f"{where} ({name}): {exc.message}") from None
    except ValueError as exc:  # e.g. an unknown history mode, a role key without the role
        raise ConfigError(f"{where} ({name}): {exc}") from None
    deployment_id = str(given_id) if given_id is not None else _digest(name, scope)
    idle = keywords.get("session_idle_timeout")
    return Deployment(
        model_name=name,
        id=deployment_id,
        runtime=target.runtime,
        client=client,
        qualifier=target.qualifier,
        default_session_id=session,
        rpm=None if limits["rpm"] is None else int(limits["rpm"]),
        tpm=None if limits["tpm"] is None else int(limits["tpm"]),
        weight=limits["weight"],
        max_parallel_requests=(
            None if limits["max_parallel_requests"] is None
            else int(limits["max_parallel_requests"])
        ),
        session_idle_timeout=float(idle) if idle is not None else DEFAULT_IDLE_TIMEOUT,
    )  # fmt: skip


def _digest(name: str, scope: str) -> str:
    return hashlib.sha256(f"{name}\n{scope}".encode()).hexdigest()[:16]


def _model(name: str, deployments: list[Deployment]) -> ProxyModel:
    sessions = {d.default_session_id for d in deployments}
    if len(sessions) > 1:
        raise ConfigError(
            f"model {name}: its deployments set different runtimeSessionId values; a model's "
            "configured session must be the same on every deployment"
        )
    # As LiteLLM's simple-shuffle weighs deployments: by weight, else rpm, else tpm.
    for key in ("weight", "rpm", "tpm"):
        values = [getattr(d, key) for d in deployments]
        if key == "weight" and any(v is not None for v in values):
            for d in deployments:
                d.route_weight = float(d.weight if d.weight is not None else 1.0)
            break
        if all(v is not None for v in values):
            for d in deployments:
                d.route_weight = float(getattr(d, key))
            break
    return ProxyModel(name, deployments, default_session_id=sessions.pop())
