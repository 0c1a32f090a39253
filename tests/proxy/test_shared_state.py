"""Several proxy processes as one fleet: session bindings that hold across processes and
restarts, one history rule for a conversation whose turns reach different processes (through
``general_settings.session_store`` in a real redis-server), and rpm counted across replicas.
Each test also runs the case that shows what breaks without the shared store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from proxy_support import (
    ProxyProcess,
    config_text,
    deployment,
    new_session,
    process_env,
    write_config,
)
from support.redis_server import RedisServer, require_redis_server

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import echo
from agentcore_bridge.proxy import build_config
from agentcore_bridge.proxy.bindings import rendezvous

pytestmark = pytest.mark.network

SYSTEM = "Be brief."
TURNS = ["one", "two", "three", "four"]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    require_redis_server()
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        for name in ("shared-a", "shared-b", "shared-c"):
            runtime.add_agent(name, echo.app)
        yield runtime


def arn(local: LocalRuntime, name: str) -> str:
    return f"arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/{name}"


def store_section(url: str | None) -> str:
    return f"  session_store: {url}\n" if url else ""


def write(tmp_path: Path, local: LocalRuntime, names: list[str], store: str | None,
          file: str, **params: object) -> Path:  # fmt: skip
    entries = [deployment("agent", arn(local, n), **params) for n in names]
    text = config_text(*entries) + store_section(store)
    return write_config(tmp_path, text, file)


def arns_of(local: LocalRuntime, session: str) -> list[str]:
    return [i.runtime_arn for i in local.invocations if i.session_id == session]


def prompt_of(response_text: str) -> str:
    return json.loads(response_text)["payload"]["prompt"]


def converse(proxies: list[ProxyProcess], session: str) -> list[str]:
    """TURNS of one conversation (with a system message), proxy i % n answering turn i: the
    prompts the agent received."""
    messages = [{"role": "system", "content": SYSTEM}]
    received = []
    for index, text in enumerate(TURNS):
        messages.append({"role": "user", "content": text})
        response = proxies[index % len(proxies)].chat(messages, "agent", session)
        assert response.status_code == 200, response.text
        received.append(prompt_of(response.json()["choices"][0]["message"]["content"]))
        messages.append({"role": "assistant", "content": "ok"})
    return received


NEW_TURNS_ONLY = [f"{SYSTEM}\n\nUser: one", "two", "three", "four"]


# --- one history rule across processes ---------------------------------------------------------


def test_two_proxies_sharing_redis_send_each_turn_once(
    redis_server: RedisServer, local: LocalRuntime, tmp_path: Path
) -> None:
    config = write(tmp_path, local, ["shared-a"], redis_server.url, "redis.yaml")
    env = process_env(local.environment())
    with ProxyProcess(tmp_path, config, env, name="p1") as p1, \
            ProxyProcess(tmp_path, config, env, name="p2") as p2:  # fmt: skip
        p1.wait_ready()
        p2.wait_ready()
        for _ in range(2):
            assert converse([p1, p2], new_session()) == NEW_TURNS_ONLY
        assert p1.chat("x", "agent").status_code == 200


def test_without_the_store_the_second_proxy_resends_the_conversation(
    local: LocalRuntime, tmp_path: Path
) -> None:
    config = write(tmp_path, local, ["shared-a"], None, "memory.yaml")
    env = process_env(local.environment())
    with ProxyProcess(tmp_path, config, env, name="p1") as p1, \
            ProxyProcess(tmp_path, config, env, name="p2") as p2:  # fmt: skip
        p1.wait_ready()
        p2.wait_ready()
        received = converse([p1, p2], new_session())
    # What the shared store prevents: p2 never saw the session and sends turn 1 again.
    assert received[1] == f"{SYSTEM}\n\nUser: one\nAssistant: ok\nUser: two"
    assert received != NEW_TURNS_ONLY


def test_two_workers_sharing_redis_send_each_turn_once(
    redis_server: RedisServer, local: LocalRuntime, tmp_path: Path
) -> None:
    config = write(tmp_path, local, ["shared-a"], redis_server.url, "workers.yaml")
    env = process_env(local.environment())
    with ProxyProcess(tmp_path, config, env, "--workers", "2") as proxy:
        proxy.wait_ready()
        for _ in range(6):  # a fresh connection per turn: any worker may answer any turn
            assert converse([proxy], new_session()) == NEW_TURNS_ONLY
        assert "without a shared Redis" not in proxy.err_path.read_text()


def test_the_environment_variable_names_the_store(
    redis_server: RedisServer, local: LocalRuntime, tmp_path: Path
) -> None:
    config = write(tmp_path, local, ["shared-a"], None, "env.yaml")
    env = process_env(local.environment(), AGENTCORE_SESSION_STORE=redis_server.url)
    with ProxyProcess(tmp_path, config, env, name="p1") as p1, \
            ProxyProcess(tmp_path, config, env, name="p2") as p2:  # fmt: skip
        p1.wait_ready()
        p2.wait_ready()
        assert converse([p1, p2], new_session()) == NEW_TURNS_ONLY


# --- bindings across processes -----------------------------------------------------------------


def test_a_session_keeps_its_deployment_across_two_proxies_and_a_restart(
    local: LocalRuntime, tmp_path: Path
) -> None:
    config = write(tmp_path, local, ["shared-a", "shared-b"], None, "pair.yaml")
    env = process_env(local.environment())
    # Three sessions whose rendezvous choice is each deployment (six random ones all fell on
    # one deployment once in 32 runs, and the test then checked nothing of the other).
    pair = deployments(local, ["shared-a", "shared-b"])
    chosen: dict[str, list[str]] = {}
    for session in (new_session() for _ in range(1000)):
        chosen.setdefault(rendezvous(pair, session).runtime, []).append(session)
    expected = {s: runtime for runtime, found in chosen.items() for s in found[:3]}
    sessions = list(expected)
    with ProxyProcess(tmp_path, config, env, name="p1") as p1, \
            ProxyProcess(tmp_path, config, env, name="p2") as p2:  # fmt: skip
        p1.wait_ready()
        p2.wait_ready()
        for session in sessions:
            for index in range(10):
                response = (p1, p2)[index % 2].chat(f"turn {index}", "agent", session)
                assert response.status_code == 200, response.text
    with ProxyProcess(tmp_path, config, env, name="p3") as restarted:
        restarted.wait_ready()
        for session in sessions:
            assert restarted.chat("after restart", "agent", session).status_code == 200
    placed = {session: set(arns_of(local, session)) for session in sessions}
    assert placed == {session: {runtime} for session, runtime in expected.items()}
    assert set(expected.values()) == {arn(local, "shared-a"), arn(local, "shared-b")}


def deployments(local: LocalRuntime, names: list[str]) -> list:  # type: ignore[type-arg]
    """The model's deployments as the proxies of these tests build them (same ids)."""
    raw = {"model_list": [
        {"model_name": "agent", "litellm_params": {
            "model": f"bedrock/agentcore/{arn(local, n)}", "aws_region_name": "us-west-2",
            "aws_access_key_id": "os.environ/AWS_ACCESS_KEY_ID",
            "aws_secret_access_key": "os.environ/AWS_SECRET_ACCESS_KEY"}}
        for n in names]}  # fmt: skip
    return build_config(raw, local.environment()).models["agent"].deployments


def moving_session(local: LocalRuntime) -> str:
    """A session whose rendezvous choice changes when shared-c joins shared-a and shared-b."""
    two, three = (
        deployments(local, ["shared-a", "shared-b"]),
        deployments(local, ["shared-a", "shared-b", "shared-c"]),
    )
    return next(
        s for s in (new_session() for _ in range(1000))
        if rendezvous(two, s).id != rendezvous(three, s).id
    )  # fmt: skip


@pytest.mark.parametrize("shared", [True, False], ids=["redis-binding", "rendezvous-only"])
def test_a_binding_in_redis_keeps_a_session_when_a_deployment_is_added(
    redis_server: RedisServer, local: LocalRuntime, tmp_path: Path, shared: bool
) -> None:
    store = redis_server.url if shared else None
    before = write(tmp_path, local, ["shared-a", "shared-b"], store, "before.yaml")
    after = write(tmp_path, local, ["shared-a", "shared-b", "shared-c"], store, "after.yaml")
    env = process_env(local.environment())
    session = moving_session(local)
    with ProxyProcess(tmp_path, before, env, name="old") as old, \
            ProxyProcess(tmp_path, after, env, name="new") as new:  # fmt: skip
        old.wait_ready()
        new.wait_ready()
        assert old.chat("first", "agent", session).status_code == 200
        assert new.chat("second", "agent", session).status_code == 200
        assert old.chat("third", "agent", session).status_code == 200
    arns = arns_of(local, session)
    if shared:
        assert len(set(arns)) == 1, arns  # the binding holds on the new config too
    else:
        assert arns[1] != arns[0], arns  # without it the session would have moved


# --- rpm across replicas -------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "per-replica"])
def test_rpm_is_counted_across_replicas_through_redis(
    redis_server: RedisServer, local: LocalRuntime, tmp_path: Path, shared: bool
) -> None:
    store = redis_server.url if shared else None
    name = "rpm-shared.yaml" if shared else "rpm-local.yaml"
    config = write(tmp_path, local, ["shared-b"], store, name, rpm=4)
    env = process_env(local.environment())
    left = 60 - time.time() % 60
    if left < 15:
        time.sleep(left + 0.05)
    with ProxyProcess(tmp_path, config, env, name="r1") as r1, \
            ProxyProcess(tmp_path, config, env, name="r2") as r2:  # fmt: skip
        r1.wait_ready()
        r2.wait_ready()
        statuses = [(r1, r2)[i % 2].chat(f"rpm {i}", "agent").status_code for i in range(8)]
    if shared:
        assert statuses == [200] * 4 + [429] * 4
    else:
        assert statuses == [200] * 8  # each replica admits its own 4
