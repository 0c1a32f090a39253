"""The client settings, declared once: what the framework adapters expose as fields, how a client
is made from them, when a new one is needed, what each may be given per call, and what a pickle
carries.

Each :class:`Setting` says, in one place: its name, type and default, the environment variable
that supplies it (and who reads that variable), whether it is secret, the ``AgentCoreClient``
keyword it feeds, the call option it maps to when given per call, the keys the proxy's
``litellm_params`` accept for it, and its docstring. Everything else is derived from
:data:`SETTINGS`:

* both adapters' pydantic fields (:func:`settings_model` builds the base class they inherit);
* the client (:func:`client_from_settings`) and the change detection (:data:`CLIENT_FIELDS`,
  :func:`current_client`);
* the per-call option mapping (:data:`CALL_OPTIONS`, :func:`call_options`);
* the proxy's accepted ``litellm_params`` keys (:data:`PROXY_KEYS`);
* the pickled state (:func:`pickled_state`: an allow-list);
* and ``tests/unit/test_settings_declaration.py`` checks the adapters, the proxy and the README
  configuration table against it.

Where the adapters genuinely differ, the difference is declared, not re-spelled: the
:class:`Adapter` profiles say which adapter reads the environment into its fields (LangChain:
``from_env``/``secret_from_env`` semantics) and which accepts the validation aliases
(``runtime_arn``, ``stop_sequences``: LangChain); ``Setting.adapters`` marks the fields only one
adapter has (``streaming``; ``context_window``, ``num_output``).
"""

from __future__ import annotations

import copy
import operator
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import AliasChoices, BaseModel, Field, SecretStr, create_model
from pydantic.fields import FieldInfo

from agentcore_bridge.client import AgentCoreClient
from agentcore_bridge.decoding import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENT_BYTES
from agentcore_bridge.session_store import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_LIFETIME

DEFAULT_CONTEXT_WINDOW = 200_000
"""An agent's context window is its model's, which this client cannot see; 200k tokens is the
window of the Claude models most AgentCore agents run on. Set ``context_window`` to yours."""
DEFAULT_NUM_OUTPUT = 4096


class _Required:
    """The default of a setting that has none (it must be given)."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Adapter:
    """A framework adapter, and how its fields differ where the frameworks' conventions do."""

    key: str
    label: str
    reads_environment: bool
    """Field defaults come from the settings' environment variables (``Setting.env`` with
    ``env_fills_field``), read when the model is made, as LangChain's ``from_env`` does."""
    accepts_aliases: bool
    """The fields accept their ``Setting.aliases`` as well as their names."""


LANGCHAIN = Adapter("langchain", "LangChain", reads_environment=True, accepts_aliases=True)
LLAMA_INDEX = Adapter("llama_index", "LlamaIndex", reads_environment=False, accepts_aliases=False)
ADAPTERS = (LANGCHAIN, LLAMA_INDEX)
_BOTH = frozenset(adapter.key for adapter in ADAPTERS)


@dataclass(frozen=True)
class Setting:
    """One client setting (or adapter-only field), declared once."""

    name: str
    type: Any
    doc: str
    default: Any = REQUIRED
    default_factory: Callable[[], Any] | None = None
    env: str | None = None
    """The environment variable that supplies this setting when it is not given."""
    env_fills_field: bool = True
    """Adapters that read the environment take the field's default from ``env``."""
    env_in_client: bool = True
    """``AgentCoreClient`` (or boto3 under it) reads ``env`` itself when the setting is None, so
    the variable applies whatever the adapter."""
    secret: bool = False
    """A ``SecretStr`` field: masked when shown, never pickled, never in a cache key."""
    client_keyword: str | None = None
    """The ``AgentCoreClient(...)`` keyword it feeds; None: it does not make the client."""
    call_option: str | None = None
    """The ``AgentCoreClient`` call option (``invoke(..., option=)``) it maps to per call."""
    per_call_in_adapter: bool = False
    """Also given per call, but applied by the adapter itself (``stop``)."""
    adapters: frozenset[str] = _BOTH
    """The adapters that have this field."""
    aliases: tuple[str, ...] = ()
    """Other names the field accepts, in adapters that accept aliases."""
    proxy_keys: tuple[str, ...] = ()
    """The proxy's ``litellm_params`` keys for it (LiteLLM's spelling first)."""

    @property
    def per_call(self) -> bool:
        return self.call_option is not None or self.per_call_in_adapter

    def has_default(self) -> bool:
        return self.default is not REQUIRED or self.default_factory is not None

    def default_value(self) -> Any:
        if self.default_factory is not None:
            return self.default_factory()
        return None if self.default is REQUIRED else self.default

    def field(self, adapter: Adapter) -> tuple[Any, FieldInfo]:
        """This setting as a pydantic field of ``adapter``'s model: (annotation, FieldInfo)."""
        options: dict[str, Any] = {"description": self.doc}
        if self.aliases and adapter.accepts_aliases:
            options["validation_alias"] = AliasChoices(self.name, *self.aliases)
        if self.env is not None and self.env_fills_field and adapter.reads_environment:
            options["default_factory"] = _from_environment(self)
        elif self.default_factory is not None:
            options["default_factory"] = self.default_factory
        elif self.default is not REQUIRED:
            options["default"] = self.default
        return self.type, Field(**options)


def _from_environment(setting: Setting) -> Callable[[], Any]:
    """LangChain's ``from_env``/``secret_from_env``: the variable's value when it is set (even
    empty), else the declared default; secrets as ``SecretStr``."""
    variable, secret = setting.env, setting.secret
    if variable is None:
        raise ValueError(f"{setting.name} has no environment variable")

    def read() -> Any:
        if variable in os.environ:
            value = os.environ[variable]
            return SecretStr(value) if secret else value
        return setting.default_value()

    read.__name__ = f"from_env_{variable}"
    return read


_HISTORY = Literal["auto", "full", "last"]
_PROTOCOL = Literal["http", "a2a"]
_PAYLOAD_FORMAT = Literal["prompt", "openai", "converse"] | Callable[..., Any]

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "model", str, "Runtime ARN, bedrock/agentcore/<ARN>, or runtime id (with account_id and "
        "region_name).", aliases=("runtime_arn",), client_keyword="runtime",
        call_option="runtime", proxy_keys=("model",),
    ),
    Setting(
        "qualifier", str | None, "The runtime endpoint (or version); None: the service's "
        "DEFAULT.", default=None, client_keyword="qualifier", call_option="qualifier",
        proxy_keys=("qualifier",),
    ),
    Setting(
        "runtime_session_id", str | None, "The AgentCore session to use; None gives each call a "
        "fresh one.", default=None, call_option="session_id",
        proxy_keys=("runtimeSessionId", "runtime_session_id"),
    ),
    Setting(
        "runtime_user_id", str | None, "Sent as X-Amzn-Bedrock-AgentCore-Runtime-User-Id.",
        default=None, client_keyword="runtime_user_id", call_option="user_id",
        proxy_keys=("runtimeUserId",),
    ),
    Setting(
        "protocol", _PROTOCOL, "The runtime's protocol: http (InvokeAgentRuntime with the "
        "agent's own payload) or a2a (A2A JSON-RPC message/send and message/stream).",
        default="http", client_keyword="protocol", proxy_keys=("protocol",),
    ),
    Setting(
        "history", _HISTORY, "What a call sends of the conversation: auto (what the session has "
        "not seen), full, or last.", default="auto", client_keyword="history",
        call_option="history", proxy_keys=("history",),
    ),
    Setting(
        "account_id", str | None, "The account of a bare runtime id.", default=None,
        client_keyword="account_id",
    ),
    Setting(
        "region_name", str | None, "The runtime's region; must agree with the ARN's.",
        default=None, env="AWS_REGION", env_in_client=False, client_keyword="region_name",
        proxy_keys=("aws_region_name",),
    ),
    Setting(
        "endpoint_url", str | None, "An explicit endpoint; None: boto3's resolver.",
        default=None, env="AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", client_keyword="endpoint_url",
        proxy_keys=("api_base", "endpoint_url"),
    ),
    Setting(
        "aws_access_key_id", SecretStr | None, "SigV4 access key; None: boto3's chain.",
        default=None, env="AWS_ACCESS_KEY_ID", secret=True, client_keyword="aws_access_key_id",
        proxy_keys=("aws_access_key_id",),
    ),
    Setting(
        "aws_secret_access_key", SecretStr | None, "SigV4 secret key; None: boto3's chain.",
        default=None, env="AWS_SECRET_ACCESS_KEY", secret=True,
        client_keyword="aws_secret_access_key", proxy_keys=("aws_secret_access_key",),
    ),
    Setting(
        "aws_session_token", SecretStr | None, "Session token of temporary credentials.",
        default=None, env="AWS_SESSION_TOKEN", secret=True, client_keyword="aws_session_token",
        proxy_keys=("aws_session_token",),
    ),
    Setting(
        "credentials_profile_name", str | None, "The AWS profile to take credentials from.",
        default=None, env="AWS_PROFILE", env_fills_field=False, client_keyword="profile_name",
        proxy_keys=("aws_profile_name",),
    ),
    Setting(
        "bearer_token", SecretStr | None, "OAuth bearer token (for runtimes with a JWT "
        "authorizer); None: SigV4.", default=None, env="AGENTCORE_BEARER_TOKEN", secret=True,
        client_keyword="bearer_token", proxy_keys=("api_key", "bearer_token"),
    ),
    Setting(
        "payload_format", _PAYLOAD_FORMAT, "The request body: prompt ({\"prompt\": ...}), "
        "openai, converse, or a callable.", default="prompt", client_keyword="payload_format",
        proxy_keys=("payload_format",),
    ),
    Setting(
        "payload_extra", dict[str, Any] | None, "Fields merged into every payload.",
        default=None, client_keyword="payload_extra",
    ),
    Setting(
        "send_model_parameters", bool, "Merge temperature/max_tokens into the payload (agents do "
        "not read them by default; they are accepted for framework compatibility).",
        default=False, client_keyword="payload_extra",
    ),
    Setting(
        "temperature", float | None, "Sent only with send_model_parameters.", default=None,
        client_keyword="payload_extra",
    ),
    Setting(
        "max_tokens", int | None, "Sent only with send_model_parameters.", default=None,
        client_keyword="payload_extra",
    ),
    Setting(
        "stop", list[str] | None, "Stop sequences: the answer is cut at the first (streams "
        "too).", default=None, aliases=("stop_sequences",), per_call_in_adapter=True,
    ),
    Setting(
        "timeout", float | None, "Whole-call deadline in seconds, streams included; None: no "
        "deadline.", default=None, client_keyword="timeout", proxy_keys=("timeout",),
    ),
    Setting(
        "connect_timeout", float, "Seconds to wait for a connection.", default=10.0,
        client_keyword="connect_timeout",
    ),
    Setting(
        "read_timeout", float, "Longest silence on a connection, in seconds.", default=900.0,
        client_keyword="read_timeout",
    ),
    Setting(
        "max_retries", int, "Retries of failures that cannot have reached the agent.",
        default=3, client_keyword="max_retries", proxy_keys=("max_retries",),
    ),
    Setting(
        "max_event_bytes", int, "Largest single event (SSE event or JSON line) accepted from "
        "the agent, in bytes.", default=DEFAULT_MAX_EVENT_BYTES,
        client_keyword="max_event_bytes", proxy_keys=("max_event_bytes",),
    ),
    Setting(
        "max_body_bytes", int, "Largest whole (non-streamed) response body accepted, in bytes.",
        default=DEFAULT_MAX_BODY_BYTES, client_keyword="max_body_bytes",
        proxy_keys=("max_body_bytes",),
    ),
    Setting(
        "session_store", str | None, "Where the history rule remembers sessions: None (the "
        "AGENTCORE_SESSION_STORE variable, else this process's memory), \"memory\", or a "
        "redis:// or rediss:// URL shared by processes and replicas.", default=None,
        env="AGENTCORE_SESSION_STORE", env_fills_field=False, client_keyword="session_store",
    ),
    Setting(
        "session_idle_timeout", float, "Seconds after which an idle session counts as new "
        "again (AgentCore's idleRuntimeSessionTimeout, 900 by default).",
        default=DEFAULT_IDLE_TIMEOUT, client_keyword="session_idle_timeout",
        proxy_keys=("session_idle_timeout",),
    ),
    Setting(
        "session_max_lifetime", float, "Seconds after which a session counts as new again "
        "whatever its use (AgentCore's maxLifetime, 28800 by default).",
        default=DEFAULT_MAX_LIFETIME, client_keyword="session_max_lifetime",
        proxy_keys=("session_max_lifetime",),
    ),
    Setting(
        "streaming", bool, "invoke() streams underneath (callbacks see every delta).",
        default=False, adapters=frozenset({LANGCHAIN.key}),
    ),
    Setting(
        "context_window", int, "Reported in metadata (the agent's model's window, which the "
        "client cannot see).", default=DEFAULT_CONTEXT_WINDOW,
        adapters=frozenset({LLAMA_INDEX.key}),
    ),
    Setting(
        "num_output", int, "Reported in metadata.", default=DEFAULT_NUM_OUTPUT,
        adapters=frozenset({LLAMA_INDEX.key}),
    ),
)  # fmt: skip

SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}

# --- derived -----------------------------------------------------------------------------------

SECRET_FIELDS = tuple(s.name for s in SETTINGS if s.secret)
SECRET_ENVIRONMENT = {s.name: s.env for s in SETTINGS if s.secret and s.env is not None}

# The fields a client is made from: a change to any of them after first use makes a new client.
CLIENT_FIELDS = tuple(s.name for s in SETTINGS if s.client_keyword is not None)
# The client-field values of a model's __dict__ as one tuple, in one C call (per call).
_client_field_values = operator.itemgetter(*CLIENT_FIELDS)

# Adapter keyword argument -> AgentCoreClient call option, for what may be given per call.
CALL_OPTIONS = {s.name: s.call_option for s in SETTINGS if s.call_option is not None}

# The proxy's litellm_params key -> the setting it gives.
PROXY_KEYS = {key: s.name for s in SETTINGS for key in s.proxy_keys}

# temperature/max_tokens: merged into payload_extra when send_model_parameters is on.
_MODEL_PARAMETERS = ("temperature", "max_tokens")


def settings_for(adapter: Adapter) -> tuple[Setting, ...]:
    return tuple(s for s in SETTINGS if adapter.key in s.adapters)


def settings_model(adapter: Adapter, name: str, module: str) -> type[BaseModel]:
    """A pydantic base class with ``adapter``'s fields, for the adapter to inherit first:

        ChatAgentCoreSettings = settings_model(LANGCHAIN, "ChatAgentCoreSettings", __name__)

        class ChatAgentCore(ChatAgentCoreSettings, BaseChatModel): ...

    (Name it as the module variable it is stored in, so it is importable by that name.) It has
    fields only: no private attributes, validators or ``model_post_init`` (pydantic would then
    give it a ``model_post_init`` that hides the framework base's, e.g. LangChain's, which
    records ``metadata["lc_versions"]``). The adapter declares its ``_client`` and
    ``_client_key`` private attributes itself (:func:`current_client` keeps them)."""
    fields: dict[str, Any] = {s.name: s.field(adapter) for s in settings_for(adapter)}
    model: type[BaseModel] = create_model(
        name, __base__=BaseModel, __module__=module, __doc__=f"{adapter.label} fields of "
        "the AgentCore settings (agentcore_bridge.settings.SETTINGS).", **fields,
    )  # fmt: skip
    return model


# --- the client --------------------------------------------------------------------------------


class _Secret(Protocol):
    def get_secret_value(self) -> str: ...


def _reveal(value: _Secret | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.get_secret_value()


def _payload_extra(settings: Mapping[str, Any]) -> dict[str, Any] | None:
    extra = dict(settings.get("payload_extra") or {})
    if settings.get("send_model_parameters"):
        for name in _MODEL_PARAMETERS:
            if settings.get(name) is not None:
                extra[name] = settings[name]
    return extra or None


def client_from_settings(settings: Mapping[str, Any]) -> AgentCoreClient:
    """The AgentCoreClient for an adapter model's fields (secrets may be pydantic SecretStr);
    a missing or None setting takes its declared default.

    ``send_model_parameters`` merges ``temperature`` and ``max_tokens`` into the payload; agents
    do not read them unless they are written to.
    """
    keywords: dict[str, Any] = {"payload_extra": _payload_extra(settings)}
    for setting in SETTINGS:
        keyword = setting.client_keyword
        if keyword is None or keyword == "payload_extra":
            continue
        value = settings[setting.name] if not setting.has_default() else settings.get(setting.name)
        if value is None:
            value = setting.default_value()
        keywords[keyword] = _reveal(value) if setting.secret else value
    return AgentCoreClient(**keywords)


def current_client(model: Any) -> AgentCoreClient:
    """The client for an adapter model's current fields, kept in its ``_client`` and
    ``_client_key`` private attributes and made anew when a field changed since it was made (so
    ``llm.model = other_arn`` really calls the other runtime).

    The check runs on every call, so it is a plain tuple comparison against a deep copy taken
    when the client was made (an in-place change to ``payload_extra`` counts too)."""
    settings = model.__dict__
    try:
        key = _client_field_values(settings)
    except KeyError:  # a pydantic model has every field in its __dict__; anything else may not
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


def call_options(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The AgentCoreClient call options among an adapter call's keyword arguments (renamed, the
    None ones left out); the adapter applies its own defaults (e.g. its session) on top."""
    if not kwargs:
        return {}
    return {
        option: kwargs[name] for name, option in CALL_OPTIONS.items()
        if kwargs.get(name) is not None
    }  # fmt: skip


# --- serialized forms and pickles --------------------------------------------------------------


def mask_secret(value: _Secret | None) -> str | None:
    """How serialized forms show a secret: masked, never its value."""
    return None if value is None else "**********"


def travelling_fields(adapter: Adapter, adapter_fields: Iterable[str]) -> frozenset[str]:
    """What an adapter model's pickle carries: its declared non-secret settings, plus the
    framework base-class fields the adapter lists (``adapter_fields``); nothing else."""
    declared = {s.name for s in settings_for(adapter) if not s.secret}
    return frozenset(declared | set(adapter_fields))


def pickled_state(
    model_class: type[BaseModel], state: dict[Any, Any], travels: Collection[str]
) -> dict[Any, Any]:
    """A pydantic model's pickle state cut down to the fields in ``travels`` (an allow-list):
    secrets, the cached client and any field nobody listed stay home. Private attributes travel
    as their defaults (an unpickled model makes a new client); an unpickled model takes
    credentials from its new environment (or profile)."""
    fields = {k: v for k, v in state["__dict__"].items() if k in travels}
    fields_set = set(state.get("__pydantic_fields_set__") or ()) & fields.keys()
    private = {
        name: attribute.get_default()
        for name, attribute in model_class.__private_attributes__.items()
    }
    return {
        **state,
        "__dict__": fields,
        "__pydantic_fields_set__": fields_set,
        "__pydantic_private__": private or None,
    }


def state_with_defaults(model_class: type[BaseModel], state: dict[Any, Any]) -> dict[Any, Any]:
    """A pickled state made whole for pydantic's plain ``__setstate__``: each field that did not
    travel takes its default (secrets: None, not re-read from the environment)."""
    fields = dict(state["__dict__"])
    for name, info in model_class.model_fields.items():
        if name not in fields:
            setting = SETTINGS_BY_NAME.get(name)
            if setting is not None and setting.secret:
                fields[name] = None
            else:
                fields[name] = info.get_default(call_default_factory=True, validated_data=fields)
    return {**state, "__dict__": fields}
