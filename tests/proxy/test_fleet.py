"""The proxy as a fleet: several deployments of one model, over HTTP on 127.0.0.1.

Sessions stay on one deployment (read on the local runtime's request log), requests without a
session spread over all of them and move on failures that cannot have reached an agent, rpm and
tpm are enforced with OpenAI's 429 and Retry-After, and a LiteLLM config with routing sections
loads and serves.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from proxy_support import (
    CHAT,
    MASTER_KEY,
    Runtime,
    auth,
    config_text,
    deployment,
    free_port,
    new_session,
    serve,
    user,
    write_config,
)

from agentcore_bridge.local import Fault
from agentcore_bridge.local.agents import echo, strands_stream
from agentcore_bridge.proxy import create_app, load_config
from agentcore_bridge.proxy.bindings import rendezvous
from agentcore_bridge.proxy.config import ProxyModel, build_config

pytestmark = pytest.mark.network

MODEL = "fleet"


@dataclass
class Fleet:
    runtime: Runtime
    west: str
    east: str

    def arns_of(self, session: str) -> list[str]:
        """The runtimes that received ``session``'s requests, oldest first."""
        return [i.runtime_arn for i in self.runtime.local.invocations if i.session_id == session]


@pytest.fixture(scope="module")
def fleet(runtime: Runtime) -> Fleet:
    west = runtime.local.add_agent("fleet-echo-west", echo.app)
    east = runtime.local.add_agent(
        "fleet-echo-east", echo.app, region="us-east-1", account_id="987654321098"
    )
    return Fleet(runtime, west, east)


def two_deployments(fleet: Fleet, west: dict[str, object] | None = None,
                    east: dict[str, object] | None = None, model: str = MODEL) -> str:  # fmt: skip
    return deployment(model, fleet.west, **(west or {})) + deployment(
        model, fleet.east, region="us-east-1", **(east or {})
    )


@contextmanager
def proxy_for(tmp_path: Path, text: str) -> Iterator[httpx.Client]:
    config = load_config(write_config(tmp_path, text, f"{uuid.uuid4().hex}.yaml"))
    with serve(create_app(config)) as url, httpx.Client(
        base_url=url, headers=auth(), timeout=60
    ) as client:  # fmt: skip
        yield client


def ask(
    client: httpx.Client, prompt: str, session: str | None = None, model: str = MODEL,
    stream: bool = False,
) -> httpx.Response:  # fmt: skip
    headers = {"X-AgentCore-Session-Id": session} if session else {}
    return client.post(
        CHAT, headers=headers, json={"model": model, "messages": user(prompt), "stream": stream}
    )


@pytest.fixture(scope="module")
def fleet_proxy(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with proxy_for(tmp_path_factory.mktemp("fleet"), config_text(two_deployments(fleet))) as c:
        yield c


def wait_for_a_fresh_minute(margin: float = 12.0) -> None:
    """Counting tests need their requests in one rate-limit window (windows are clock minutes)."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.05)


# --- sessions stay, the rest spread -------------------------------------------------------


def test_twenty_calls_with_one_session_reach_one_deployment(
    fleet: Fleet, fleet_proxy: httpx.Client
) -> None:
    for _ in range(3):
        session = new_session()
        for index in range(20):
            response = ask(fleet_proxy, f"turn {index}", session, stream=index % 2 == 1)
            assert response.status_code == 200, response.text
            assert response.headers["X-AgentCore-Session-Id"] == session
        arns = fleet.arns_of(session)
        assert len(arns) == 20
        assert len(set(arns)) == 1, Counter(arns)
        # The deployment is the rendezvous choice: what any replica computes for the session.
        expected = rendezvous(fleet_model(fleet).deployments, session)
        assert arns[0] == expected.runtime


def fleet_model(fleet: Fleet) -> ProxyModel:
    raw = {"model_list": [
        {"model_name": MODEL, "litellm_params": {
            "model": f"bedrock/agentcore/{fleet.west}", "aws_region_name": "us-west-2"}},
        {"model_name": MODEL, "litellm_params": {
            "model": f"bedrock/agentcore/{fleet.east}", "aws_region_name": "us-east-1"}},
    ]}  # fmt: skip
    return build_config(raw, fleet.runtime.env).models[MODEL]


def test_forty_calls_without_a_session_reach_both_deployments(
    fleet: Fleet, fleet_proxy: httpx.Client
) -> None:
    sessions = []
    for index in range(40):
        response = ask(fleet_proxy, f"spread {index}", stream=index % 4 == 0)
        assert response.status_code == 200, response.text
        sessions.append(response.headers["X-AgentCore-Session-Id"])
    first = {session: fleet.arns_of(session)[0] for session in sessions}
    counts = Counter(first.values())
    assert set(counts) == {fleet.west, fleet.east}, counts
    # A caller who continues with the session the proxy made stays where it started.
    for session in sessions[:6]:
        assert ask(fleet_proxy, "and again", session).status_code == 200
        assert set(fleet.arns_of(session)) == {first[session]}


def test_least_busy_breaks_ties_across_both_deployments(fleet: Fleet, tmp_path: Path) -> None:
    # Sequential requests find both deployments idle: the tie is drawn at random, so thirty of
    # them reach both (all on one: 2**-29). Who wins when one is busier: test_routing.py.
    text = config_text(
        two_deployments(fleet), extra="router_settings:\n  routing_strategy: least-busy\n"
    )
    sessions = []
    with proxy_for(tmp_path, text) as client:
        for index in range(30):
            response = ask(client, f"busy {index}")
            assert response.status_code == 200, response.text
            sessions.append(response.headers["X-AgentCore-Session-Id"])
    assert {fleet.arns_of(s)[0] for s in sessions} == {fleet.west, fleet.east}


# --- failures ----------------------------------------------------------------------------


@pytest.fixture
def failing_pair(runtime: Runtime) -> tuple[str, str]:
    """Two fresh echo runtimes: faults planned for them touch no other test."""
    tag = uuid.uuid4().hex[:8]
    return (
        runtime.local.add_agent(f"fail-a-{tag}", echo.app),
        runtime.local.add_agent(f"fail-b-{tag}", echo.app),
    )


@pytest.mark.parametrize("fault", [Fault.UNAVAILABLE, Fault.THROTTLE, Fault.CONFLICT, "refused"])
def test_a_failure_that_cannot_have_reached_the_agent_moves_a_request_without_session(
    runtime: Runtime, failing_pair: tuple[str, str], tmp_path: Path, fault: Fault | str
) -> None:
    broken, healthy = failing_pair
    if fault == "refused":  # nothing listens there: no connection could be made
        broken_entry = deployment(
            "pair", broken, max_retries=0, api_base=f"http://127.0.0.1:{free_port()}"
        )
    else:
        runtime.local.inject(fault, times=1000, runtime_arn=broken)
        broken_entry = deployment("pair", broken, max_retries=0)
    text = config_text(
        broken_entry + deployment("pair", healthy, max_retries=0),
        extra="router_settings:\n  cooldown_time: 0\n",
    )
    before = len(runtime.local.invocations)
    moved = 0
    with proxy_for(tmp_path, text) as client, caplog_moves() as moves:
        for stream in (False, True):
            for index in range(12):
                response = ask(client, f"move {index}", model="pair", stream=stream)
                assert response.status_code == 200, response.text
                assert "[DONE]" in response.text if stream else response.json()["choices"]
        moved = len(moves)
    new = runtime.local.invocations[before:]
    served = [i for i in new if i.status == 200]
    assert {i.runtime_arn for i in served} == {healthy}
    assert len(served) == 24
    assert moved, "the broken deployment was never tried first (p = 2^-24)"
    if fault != "refused":
        assert len([i for i in new if i.runtime_arn == broken]) == moved


@contextmanager
def caplog_moves() -> Iterator[list[logging.LogRecord]]:
    """The proxy's "trying another" records while the block runs."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "trying another" in record.getMessage():
                records.append(record)

    handler = Keep(logging.INFO)
    logger = logging.getLogger("agentcore_bridge.proxy.app")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_a_request_with_a_session_never_moves(
    runtime: Runtime, failing_pair: tuple[str, str], tmp_path: Path
) -> None:
    broken, healthy = failing_pair
    runtime.local.inject(Fault.UNAVAILABLE, times=1000, runtime_arn=broken)
    text = config_text(
        deployment("pair", broken, max_retries=0) + deployment("pair", healthy, max_retries=0)
    )
    config = load_config(write_config(tmp_path, text, "pair.yaml"))
    deployments = config.models["pair"].deployments
    session = next(
        s for s in (new_session() for _ in range(200))
        if rendezvous(deployments, s).runtime == broken
    )  # fmt: skip
    with serve(create_app(config)) as url, httpx.Client(
        base_url=url, headers=auth(), timeout=60
    ) as client:  # fmt: skip
        for stream in (False, True):
            response = ask(client, "stay", session, model="pair", stream=stream)
            assert response.status_code == 502, response.text
            assert response.json()["error"]["type"] == "upstream_error"
    arns = [i.runtime_arn for i in runtime.local.invocations if i.session_id == session]
    assert arns == [broken, broken]


@pytest.mark.parametrize("fault", [Fault.DROP_BEFORE_HEADERS, Fault.DROP_AFTER_HEADERS])
def test_a_failure_after_the_request_was_sent_is_not_moved(
    runtime: Runtime, failing_pair: tuple[str, str], tmp_path: Path, fault: Fault
) -> None:
    """A connection cut after the request went out may have run the agent: never re-sent."""
    broken, healthy = failing_pair
    runtime.local.inject(fault, times=1000, runtime_arn=broken)
    text = config_text(
        deployment("pair", broken, max_retries=0) + deployment("pair", healthy, max_retries=0),
        extra="router_settings:\n  cooldown_time: 0\n",
    )
    before = len(runtime.local.invocations)
    with proxy_for(tmp_path, text) as client:
        statuses = [ask(client, f"cut {i}", model="pair").status_code for i in range(16)]
    assert 502 in statuses and 200 in statuses, statuses
    new = runtime.local.invocations[before:]
    failed_sessions = {i.session_id for i in new if i.runtime_arn == broken}
    assert failed_sessions
    assert not {i.session_id for i in new if i.runtime_arn == healthy} & failed_sessions


# --- rpm and tpm ---------------------------------------------------------------------------


def assert_rate_limited(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "rate_limit_exceeded"
    assert body["error"]["type"] == "requests"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    return retry_after


def test_a_deployment_at_its_rpm_is_skipped_and_all_at_limit_give_429(
    fleet: Fleet, tmp_path: Path
) -> None:
    text = config_text(two_deployments(fleet, west={"rpm": 3}, east={"rpm": 2}))
    wait_for_a_fresh_minute()
    with proxy_for(tmp_path, text) as client:
        sessions = []
        for index in range(5):
            response = ask(client, f"rpm {index}")
            assert response.status_code == 200, response.text
            sessions.append(response.headers["X-AgentCore-Session-Id"])
        served = Counter(fleet.arns_of(s)[0] for s in sessions)
        assert served == {fleet.west: 3, fleet.east: 2}
        assert_rate_limited(ask(client, "one too many"))
        assert_rate_limited(ask(client, "one too many", stream=True))
        # A session bound to a full deployment waits too: it never moves.
        assert_rate_limited(ask(client, "bound", sessions[0]))
    assert len(fleet.arns_of(sessions[0])) == 1


def test_rpm_windows_reopen_after_the_minute(fleet: Fleet, tmp_path: Path) -> None:
    """Retry-After is the wait until the next window, where the deployment admits again."""
    text = config_text(deployment("one-rpm", fleet.west, rpm=1))
    wait_for_a_fresh_minute(margin=4)
    with proxy_for(tmp_path, text) as client:
        assert ask(client, "first", model="one-rpm").status_code == 200
        retry_after = assert_rate_limited(ask(client, "second", model="one-rpm"))
        assert retry_after >= 60 - time.time() % 60 - 1
    # Not waited for here: the window arithmetic is pinned with a clock in test_routing.


def test_tpm_counts_the_usage_agents_report(runtime: Runtime, tmp_path: Path) -> None:
    arn = runtime.local.add_agent(f"tpm-{uuid.uuid4().hex[:8]}", strands_stream.app)
    text = config_text(deployment("tokens", arn, tpm=60))  # each answer reports 46 tokens
    wait_for_a_fresh_minute()
    with proxy_for(tmp_path, text) as client:
        first = ask(client, "one", model="tokens")
        assert first.status_code == 200 and first.json()["usage"]["total_tokens"] == 46
        second = ask(client, "two", model="tokens", stream=True)  # 46 < 60: admitted
        assert second.status_code == 200 and "[DONE]" in second.text
        deadline = time.monotonic() + 5  # a stream's tokens count as it ends
        while time.monotonic() < deadline:
            third = ask(client, "three", model="tokens")
            if third.status_code == 429:
                break
            time.sleep(0.05)
        assert_rate_limited(third)


# --- a LiteLLM config ------------------------------------------------------------------------


LITELLM_CONFIG = """\
model_list:
  - model_name: support-agent
    litellm_params:
      model: bedrock/agentcore/{west}
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_region_name: us-west-2
      rpm: 600
      tpm: 100000
      temperature: 0.2
      max_tokens: 512
    model_info:
      id: support-west
  - model_name: support-agent
    litellm_params:
      model: bedrock/agentcore/{east}
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_region_name: us-east-1
      rpm: 300
      tpm: 50000
      drop_params: true
    model_info:
      id: support-east

router_settings:
  routing_strategy: simple-shuffle
  num_retries: 2
  allowed_fails: 3
  cooldown_time: 30

litellm_settings:
  drop_params: true
  set_verbose: false
  request_timeout: 600

general_settings:
  master_key: {key}
"""


def test_a_litellm_config_with_two_deployments_and_routing_sections_loads_and_serves(
    fleet: Fleet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = LITELLM_CONFIG.format(west=fleet.west, east=fleet.east, key=MASTER_KEY)
    caplog.set_level(logging.WARNING, logger="agentcore_bridge.proxy.config")
    config = load_config(write_config(tmp_path, text))
    model = config.models["support-agent"]
    assert [d.id for d in model.deployments] == ["support-west", "support-east"]
    assert [(d.rpm, d.tpm) for d in model.deployments] == [(600, 100000), (300, 50000)]
    assert [d.route_weight for d in model.deployments] == [600.0, 300.0]
    assert config.routing_strategy == "simple-shuffle" and config.cooldown_time == 30
    assert all(d.client.timeouts.total == 600 for d in model.deployments)
    warnings = "\n".join(r.getMessage() for r in caplog.records)
    for ignored in ("num_retries", "allowed_fails", "set_verbose", "temperature", "max_tokens"):
        assert ignored in warnings
    with proxy_for(tmp_path, text) as client:
        sessions = []
        for index in range(30):
            response = ask(client, f"litellm {index}", model="support-agent")
            assert response.status_code == 200, response.text
            sessions.append(response.headers["X-AgentCore-Session-Id"])
        readiness = client.get("/health/readiness").json()
    assert {fleet.arns_of(s)[0] for s in sessions} == {fleet.west, fleet.east}
    assert readiness["deployments"] >= 2 and readiness["status"] == "healthy"


def test_health_routes_as_litellm_names_them(fleet_proxy: httpx.Client) -> None:
    bare = httpx.Client(base_url=str(fleet_proxy.base_url), timeout=10)  # no key needed
    with bare:
        assert bare.get("/health/liveliness").json() == "I'm alive!"
        assert bare.get("/health/liveness").status_code == 200
        ready = bare.get("/health/readiness")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "healthy" and body["session_store"] == "memory"
    assert body["redis"] is None
    assert json.dumps(body).find(MASTER_KEY) == -1
