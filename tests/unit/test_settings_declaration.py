"""The client settings are declared once (agentcore_bridge.settings.SETTINGS); everything that
spells them again is held to that declaration here: both adapters' fields, the client made from
them and when it is remade, the per-call options, the proxy's config keys, the README
configuration table, and what a pickle carries."""

from __future__ import annotations

import inspect
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import StdOutCallbackHandler
from langchain_core.language_models import BaseChatModel
from llama_index.core.callbacks import CallbackManager, LlamaDebugHandler
from llama_index.core.llms.llm import LLM
from pydantic import AliasChoices, BaseModel, SecretStr, ValidationError

from agentcore_bridge import AgentCoreClient, settings
from agentcore_bridge.decoding import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENT_BYTES
from agentcore_bridge.proxy import config as proxy_config
from agentcore_bridge.settings import (
    CALL_OPTIONS,
    CLIENT_FIELDS,
    LANGCHAIN,
    LLAMA_INDEX,
    PROXY_KEYS,
    REQUIRED,
    SETTINGS,
    SETTINGS_BY_NAME,
    Adapter,
    Setting,
    client_from_settings,
    settings_for,
)
from langchain_agentcore import ChatAgentCore
from llama_index_agentcore import AgentCore

README = Path(__file__).resolve().parents[2] / "README.md"
ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/unit-a"
OTHER_ARN = ARN.replace("unit-a", "unit-b")
SESSION = "declared-session-id-that-is-long-enough-40"

# The adapters, with the framework base class whose fields are not ours.
ADAPTER_CLASSES: dict[str, tuple[type[BaseModel], type[BaseModel], Adapter]] = {
    "langchain": (ChatAgentCore, BaseChatModel, LANGCHAIN),
    "llama_index": (AgentCore, LLM, LLAMA_INDEX),
}

# A value other than the default for every declared setting: a new setting without one fails
# test_every_setting_has_a_sample, so the checks below cover it too.
SAMPLES: dict[str, Any] = {
    "model": OTHER_ARN,
    "qualifier": "prod",
    "runtime_session_id": SESSION,
    "runtime_user_id": "user-7",
    "history": "full",
    "account_id": "123456789012",
    "region_name": "us-west-2",
    "endpoint_url": "http://127.0.0.1:9",
    "aws_access_key_id": SecretStr("AKIASAMPLE0000000002"),
    "aws_secret_access_key": SecretStr("sample-secret-access-key-2"),
    "aws_session_token": SecretStr("sample-session-token-2"),
    "credentials_profile_name": "sample-profile",
    "bearer_token": SecretStr("sample-bearer-token-2"),
    "payload_format": "openai",
    "payload_extra": {"tenant": "t"},
    "send_model_parameters": True,
    "temperature": 0.5,
    "max_tokens": 77,
    "stop": ["STOP"],
    "timeout": 5.0,
    "connect_timeout": 2.0,
    "read_timeout": 30.0,
    "max_retries": 5,
    "max_event_bytes": 4096,
    "max_body_bytes": 65536,
    "protocol": "a2a",
    "session_store": "redis://127.0.0.1:6399/0",
    "session_idle_timeout": 60.0,
    "session_max_lifetime": 600.0,
    "streaming": True,
    "context_window": 1000,
    "num_output": 10,
}
BASE = {
    "model": ARN,
    "endpoint_url": "http://127.0.0.1:8",
    "aws_access_key_id": "AKIABASE000000000001",
    "aws_secret_access_key": "base-secret-access-key",
}


def plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@pytest.fixture(autouse=True)
def _no_setting_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for setting in SETTINGS:
        if setting.env is not None:
            monkeypatch.delenv(setting.env, raising=False)


@pytest.fixture(params=list(ADAPTER_CLASSES))
def adapter(request: pytest.FixtureRequest) -> tuple[type[BaseModel], type[BaseModel], Adapter]:
    return ADAPTER_CLASSES[request.param]


def test_every_setting_has_a_sample() -> None:
    assert set(SAMPLES) == set(SETTINGS_BY_NAME)
    for name, value in SAMPLES.items():
        assert plain(value) != SETTINGS_BY_NAME[name].default_value(), name


# --- 1. the adapters' fields ----------------------------------------------------------------


def test_adapter_fields_are_the_declared_ones(
    adapter: tuple[type[BaseModel], type[BaseModel], Adapter],
) -> None:
    cls, base, profile = adapter
    ours = [name for name in cls.model_fields if name not in base.model_fields]
    declared = [s.name for s in settings_for(profile)]
    assert ours == declared, (
        f"{cls.__name__} fields not declared in agentcore_bridge.settings.SETTINGS: "
        f"{sorted(set(ours) - set(declared))}; declared but missing: "
        f"{sorted(set(declared) - set(ours))}"
    )
    for setting in settings_for(profile):
        field = cls.model_fields[setting.name]
        assert field.annotation == setting.type, setting.name
        assert field.description == setting.doc, setting.name
        assert field.is_required() == (setting.default is REQUIRED), setting.name
        aliases = setting.aliases if profile.accepts_aliases else ()
        expected_alias = AliasChoices(setting.name, *aliases) if aliases else None
        assert field.validation_alias == expected_alias, setting.name
        if not field.is_required():
            assert field.get_default(call_default_factory=True) == setting.default_value()


def test_adapter_fields_read_the_declared_environment(
    adapter: tuple[type[BaseModel], type[BaseModel], Adapter], monkeypatch: pytest.MonkeyPatch
) -> None:
    cls, _, profile = adapter
    with_env = [s for s in settings_for(profile) if s.env is not None]
    for setting in with_env:
        monkeypatch.setenv(setting.env or "", f"from-env-{setting.name}")
    model = cls(model=ARN)
    for setting in with_env:
        reads = profile.reads_environment and setting.env_fills_field
        value = plain(getattr(model, setting.name))
        assert value == (f"from-env-{setting.name}" if reads else None), setting.name
        if reads and setting.secret:
            assert isinstance(getattr(model, setting.name), SecretStr)


def test_aliases_where_declared(adapter: tuple[type[BaseModel], type[BaseModel], Adapter]) -> None:
    cls, _, profile = adapter
    for setting in (s for s in settings_for(profile) if s.aliases):
        for alias in setting.aliases:
            sample = plain(SAMPLES[setting.name])
            given = {alias: sample} if setting.name == "model" else {"model": ARN, alias: sample}
            if not profile.accepts_aliases and setting.default is REQUIRED:
                with pytest.raises(ValidationError):
                    cls(**given)
                continue
            expected = sample if profile.accepts_aliases else setting.default_value()
            assert getattr(cls(**given), setting.name) == expected, (setting.name, alias)


def test_secret_fields_are_secret_str_and_listed() -> None:
    secrets = [s for s in SETTINGS if s.secret]
    assert tuple(s.name for s in secrets) == settings.SECRET_FIELDS
    for setting in secrets:
        assert SecretStr in getattr(setting.type, "__args__", (setting.type,))
    assert ChatAgentCore(model=ARN).lc_secrets == {s.name: s.env for s in secrets}


# --- the client: keywords, construction, change detection -----------------------------------


def test_client_keywords_and_call_options_exist_with_the_declared_defaults() -> None:
    made = inspect.signature(AgentCoreClient.__init__).parameters
    per_call = inspect.signature(AgentCoreClient.prepare).parameters
    for setting in SETTINGS:
        if setting.client_keyword is not None:
            assert setting.client_keyword in made, setting.name
            default = made[setting.client_keyword].default
            if setting.client_keyword != "payload_extra" and setting.has_default():
                assert setting.default_value() == default, setting.name
        if setting.call_option is not None:
            assert setting.call_option in per_call, setting.name
    assert SETTINGS_BY_NAME["max_event_bytes"].default == DEFAULT_MAX_EVENT_BYTES == 32 * 2**20
    assert SETTINGS_BY_NAME["max_body_bytes"].default == DEFAULT_MAX_BODY_BYTES == 128 * 2**20
    assert tuple(s.name for s in SETTINGS if s.client_keyword) == CLIENT_FIELDS


class RecordingClient:
    def __init__(self, runtime: str | None = None, **keywords: Any) -> None:
        self.keywords = {"runtime": runtime, **keywords}

    def close(self) -> None:
        pass


def test_client_from_settings_passes_every_client_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "AgentCoreClient", RecordingClient)
    made: Any = client_from_settings(SAMPLES)
    for setting in SETTINGS:
        if setting.client_keyword is None or setting.client_keyword == "payload_extra":
            continue
        assert made.keywords[setting.client_keyword] == plain(SAMPLES[setting.name]), setting.name
    assert made.keywords["payload_extra"] == {"tenant": "t", "temperature": 0.5, "max_tokens": 77}
    defaults: Any = client_from_settings({"model": ARN})
    for setting in SETTINGS:
        if setting.client_keyword not in (None, "payload_extra", "runtime"):
            assert defaults.keywords[setting.client_keyword] == setting.default_value()
    assert defaults.keywords["payload_extra"] is None


@pytest.mark.parametrize("name", [s.name for s in SETTINGS])
def test_changing_a_client_setting_makes_a_new_client(
    adapter: tuple[type[BaseModel], type[BaseModel], Adapter], name: str
) -> None:
    cls, _, profile = adapter
    if name not in cls.model_fields:
        pytest.skip(f"{name} is not a {profile.label} field")
    model: Any = cls(**BASE)
    before = model.client
    setattr(model, name, SAMPLES[name])
    after = model.client
    if name in CLIENT_FIELDS:
        assert after is not before, f"{name} changed but the old client was kept"
    else:
        assert after is before, f"{name} is not a client setting but the client was remade"
    after.close()


# --- per-call options ------------------------------------------------------------------------


def test_per_call_options_map_as_declared() -> None:
    kwargs = {name: plain(SAMPLES[name]) for name in CALL_OPTIONS}
    expected = {option: kwargs[name] for name, option in CALL_OPTIONS.items()}
    options = {"runtime", "qualifier", "session_id", "user_id", "history"}
    assert set(CALL_OPTIONS.values()) == options
    langchain: Any = ChatAgentCore(**BASE)
    llama: Any = AgentCore(**BASE)
    assert langchain._call_options(kwargs) == expected
    assert llama._options(kwargs) == expected
    # Not given per call: the session falls back to the field, the rest to the client's own.
    assert langchain._call_options({}) == {"session_id": None}
    assert llama._options({}) == {"session_id": None}
    pinned = {**BASE, "runtime_session_id": SESSION}
    assert ChatAgentCore(**pinned)._call_options({}) == {"session_id": SESSION}
    assert AgentCore(**pinned)._options({}) == {"session_id": SESSION}
    assert [s.name for s in SETTINGS if s.per_call_in_adapter] == ["stop"]


# --- the proxy's config keys -----------------------------------------------------------------


def test_proxy_accepts_exactly_the_declared_keys() -> None:
    assert set(PROXY_KEYS) | proxy_config.PROXY_ONLY_PARAMS == proxy_config._KNOWN_PARAMS
    assert not set(PROXY_KEYS) & proxy_config.PROXY_ONLY_PARAMS


@pytest.mark.parametrize("key", sorted(PROXY_KEYS))
def test_each_proxy_key_reaches_its_client_keyword(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proxy_config, "AgentCoreClient", RecordingClient)
    setting = SETTINGS_BY_NAME[PROXY_KEYS[key]]
    value = plain(SAMPLES[setting.name])
    params = {"model": f"bedrock/agentcore/{ARN}", key: value}
    if key == "model":
        value = params["model"] = f"bedrock/agentcore/{OTHER_ARN}"
    loaded = proxy_config.build_config({"model_list": [{"model_name": "m", "litellm_params": params}]}, {})  # fmt: skip
    proxy_model = loaded.models["m"]
    client: Any = proxy_model.client
    if setting.client_keyword is None:  # the session: the model's default, not the client's
        assert (setting.name, proxy_model.default_session_id) == ("runtime_session_id", value)
    elif key == "model":
        assert client.keywords["runtime"] == OTHER_ARN
    else:
        assert client.keywords[setting.client_keyword] == value, key


# --- the README configuration table ----------------------------------------------------------


def readme_section() -> tuple[str, list[list[str]]]:
    text = README.read_text()
    section = text.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    intro, table = section.split("\n| field |", 1)
    lines = [line for line in ("| field |" + table).split("\n\n", 1)[0].splitlines()]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines[2:]]
    return intro, rows


def expected_name_cell(setting: Setting) -> str:
    cell = f"`{setting.name}`"
    aliasing = [a.label for a in settings.ADAPTERS if a.accepts_aliases]
    if setting.aliases:
        names = ", ".join(f"`{alias}`" for alias in setting.aliases)
        cell += f" (also {names} in {', '.join(aliasing)})"
    if setting.adapters != {a.key for a in settings.ADAPTERS}:
        only = [a.label for a in settings.ADAPTERS if a.key in setting.adapters]
        cell += f" ({', '.join(only)} only)"
    return cell


def expected_env_cell(setting: Setting) -> str:
    if setting.env is None:
        return ""
    if setting.env_fills_field and setting.env_in_client:
        return f"`{setting.env}`"
    if setting.env_fills_field:
        readers = [a.label for a in settings.ADAPTERS if a.reads_environment]
        return f"`{setting.env}` ({', '.join(readers)})"
    return f"`{setting.env}` (client)"


def expected_default_prefix(setting: Setting) -> str | None:
    """The default cell's start; None: a default of None, described in words."""
    value = setting.default_value()
    if setting.default is REQUIRED:
        return "required"
    if value is None:
        return None
    if isinstance(value, str | bool):
        return f"`{value}`"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}"


def test_readme_configuration_table_matches_the_declaration() -> None:
    intro, rows = readme_section()
    assert [row[0].split("`")[1] for row in rows] == [s.name for s in SETTINGS]
    for row, setting in zip(rows, SETTINGS, strict=True):
        name, meaning, env, default, per_call, proxy_keys = row
        where = f"README row {setting.name}"
        assert name == expected_name_cell(setting), where
        assert ("`SecretStr`" in meaning) == setting.secret, where
        assert env == expected_env_cell(setting), where
        prefix = expected_default_prefix(setting)
        assert default.startswith(prefix) if prefix else default, where
        assert per_call == ("yes" if setting.per_call else ""), where
        assert proxy_keys == ", ".join(f"`{key}`" for key in setting.proxy_keys), where
    for setting in SETTINGS:  # the client's keywords, where they differ from the fields' names
        if setting.client_keyword not in (None, setting.name, "payload_extra"):
            assert f"`{setting.client_keyword}` for `{setting.name}`" in " ".join(intro.split())


# --- 2. pickles carry an allow-list ----------------------------------------------------------


def sampled_model(cls: type[BaseModel], **extra: Any) -> Any:
    values = {name: SAMPLES[name] for name in cls.model_fields if name in SAMPLES}
    return cls(**values, **extra)


@pytest.fixture
def pickled_models() -> Iterator[list[tuple[Any, Any, Adapter]]]:
    langchain = sampled_model(
        ChatAgentCore, tags=["t"], metadata={"m": 1}, callbacks=[StdOutCallbackHandler()]
    )
    llama = sampled_model(
        AgentCore,
        system_prompt="Be brief.",
        callback_manager=CallbackManager([LlamaDebugHandler()]),
    )
    models = [(langchain, ChatAgentCore, LANGCHAIN), (llama, AgentCore, LLAMA_INDEX)]
    for model, _, _ in models:
        assert model.client is not None  # a client exists; it must not travel
    yield models
    for model, _, _ in models:
        model.client.close()


def test_pickles_carry_only_the_allow_list(pickled_models: list[tuple[Any, Any, Adapter]]) -> None:
    from langchain_agentcore.chat_models import PICKLED_BASE_FIELDS as LANGCHAIN_BASE
    from llama_index_agentcore.base import PICKLED_BASE_FIELDS as LLAMA_BASE

    listed = {"langchain": LANGCHAIN_BASE, "llama_index": LLAMA_BASE}
    for model, cls, profile in pickled_models:
        state = model.__getstate__()
        declared = {s.name for s in settings_for(profile) if not s.secret}
        assert set(state["__dict__"]) == declared | set(listed[profile.key]), cls.__name__
        assert all(value is None for value in state["__pydantic_private__"].values())
        blob = pickle.dumps(model)
        for name in settings.SECRET_FIELDS:
            assert plain(SAMPLES[name]).encode() not in blob, name


def test_unpickled_models_keep_settings_and_lose_secrets_client_and_live_objects(
    pickled_models: list[tuple[Any, Any, Adapter]],
) -> None:
    for model, _, profile in pickled_models:
        restored = pickle.loads(pickle.dumps(model))
        for setting in settings_for(profile):
            value = getattr(restored, setting.name)
            assert value == (None if setting.secret else SAMPLES[setting.name]), setting.name
        assert restored.__pydantic_private__["_client"] is None
        assert isinstance(restored.client, AgentCoreClient)
        assert restored.client is not model.client
        restored.client.close()
        if profile is LANGCHAIN:
            assert (restored.tags, restored.metadata["m"]) == (["t"], 1)
            assert restored.callbacks is None  # a live object: not listed, stays home
        else:
            assert restored.system_prompt == "Be brief."
            assert not restored.callback_manager.handlers


def client_state(client: AgentCoreClient) -> dict[str, Any]:
    """The pickled state's comparable values (objects without value equality, such as the
    session store, left out)."""
    state = client.__getstate__()
    store = state.pop("session_store")  # compared by kind and (password-free) URL
    return {
        "session_store": (type(store).__name__, getattr(store, "safe_url", None)),
        **{k: v for k, v in state.items() if v is None or type(v).__eq__ is not object.__eq__},
    }


@pytest.mark.parametrize("name", [s.name for s in SETTINGS if s.client_keyword and not s.secret])
def test_a_pickled_client_carries_every_non_secret_client_setting(name: str) -> None:
    """What AgentCoreClient.__getstate__ keeps, checked against the declaration: each
    non-secret setting changes the pickled state and survives the round trip."""
    secrets = {n: SAMPLES[n] for n in settings.SECRET_FIELDS}
    # temperature/max_tokens reach the client (its payload_extra) with send_model_parameters.
    together = {
        "send_model_parameters": {"temperature": 0.5},
        "temperature": {"send_model_parameters": True},
        "max_tokens": {"send_model_parameters": True},
    }.get(name, {})
    base = client_from_settings({**BASE, **secrets, **together})
    changed = client_from_settings({**BASE, **secrets, **together, name: SAMPLES[name]})
    blob = pickle.dumps(changed)
    assert client_state(pickle.loads(blob)) == client_state(changed)
    assert client_state(changed) != client_state(base), f"{name} does not travel"
    for secret in secrets.values():
        assert plain(secret).encode() not in blob


def test_a_model_missing_client_fields_gets_a_client_and_change_detection_still_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # current_client reads the client fields from a model's __dict__ in one call; an object
    # whose __dict__ lacks some (not a pydantic model) takes the slower path, with the same key.
    monkeypatch.setattr(settings, "AgentCoreClient", RecordingClient)

    class Partial:  # keeps private attributes apart, as pydantic does
        def __init__(self) -> None:
            object.__setattr__(self, "__pydantic_private__", {})
            self.model = ARN

        def __setattr__(self, name: str, value: Any) -> None:
            if name.startswith("_"):
                self.__pydantic_private__[name] = value
            else:
                object.__setattr__(self, name, value)

        def __getattr__(self, name: str) -> Any:
            return self.__pydantic_private__[name]

    model: Any = Partial()
    first = settings.current_client(model)
    assert settings.current_client(model) is first
    assert model._client_key == tuple(ARN if n == "model" else None for n in CLIENT_FIELDS)
    model.model = ARN.replace("unit-a", "unit-b")
    second: Any = settings.current_client(model)
    assert second is not first and second.keywords["runtime"] == model.model
