"""The router's rules without HTTP: rendezvous placement, strategies, cool-downs, the session
ids it makes, rate-limit windows (on a clock the test moves), the Redis scripts for limits and
bindings (against a real redis-server), and the master key rule."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from support.redis_server import RedisServer, require_redis_server

from agentcore_bridge.decoding import Usage
from agentcore_bridge.proxy.bindings import SessionBindings, rendezvous
from agentcore_bridge.proxy.config import (
    ConfigError,
    ProxyConfig,
    ProxyModel,
    build_config,
    master_key_weakness,
)
from agentcore_bridge.proxy.limits import (
    MemoryRateLimiter,
    RedisRateLimiter,
    retry_after,
)
from agentcore_bridge.proxy.redis_link import RedisLink
from agentcore_bridge.proxy.routing import RateLimited, Router
from agentcore_bridge.sessions import new_session_id

ARN = "arn:aws:bedrock-agentcore:{region}:123456789012:runtime/agent-{name}"
ENV = {"AWS_ACCESS_KEY_ID": "AKIAROUTINGTEST00001", "AWS_SECRET_ACCESS_KEY": "routing-secret"}


def entry(name: str, model: str = "m", region: str = "us-west-2", **params: Any) -> dict[str, Any]:
    return {
        "model_name": model,
        "litellm_params": {
            "model": f"bedrock/agentcore/{ARN.format(region=region, name=name)}",
            "aws_region_name": region,
            "endpoint_url": "http://127.0.0.1:9",
            **params,
        },
    }


def config_of(*entries: dict[str, Any], **sections: Any) -> ProxyConfig:
    return build_config({"model_list": list(entries), **sections}, ENV)


class Clock:
    def __init__(self, now: float = 1_000_020.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sessions(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f"routing-test-session-{rng.getrandbits(128):032x}" for _ in range(count)]


# --- rendezvous placement ----------------------------------------------------------------------


def test_rendezvous_is_the_same_for_every_replica_and_moves_few_sessions() -> None:
    two = config_of(entry("a"), entry("b")).models["m"].deployments
    again = config_of(entry("a"), entry("b")).models["m"].deployments  # another process
    three = config_of(entry("a"), entry("b"), entry("c")).models["m"].deployments
    ids = sessions(3000)
    placed = [rendezvous(two, s).id for s in ids]
    assert placed == [rendezvous(again, s).id for s in ids]
    shares = Counter(placed)
    assert all(1300 < count < 1700 for count in shares.values()), shares
    moved = [s for s, before in zip(ids, placed, strict=True) if rendezvous(three, s).id != before]
    # Only sessions that now score highest on the new deployment move: about a third.
    assert all(rendezvous(three, s).id == three[2].id for s in moved)
    assert 800 < len(moved) < 1200


def test_rendezvous_follows_the_weights() -> None:
    deployments = config_of(entry("a", weight=3), entry("b", weight=1)).models["m"].deployments
    shares = Counter(rendezvous(deployments, s).id for s in sessions(4000))
    assert 2800 < shares[deployments[0].id] < 3200, shares


def test_deployment_ids_are_stable_and_model_info_ids_are_kept() -> None:
    first = config_of(entry("a"), entry("b")).models["m"].deployments
    assert [d.id for d in first] == [
        d.id for d in config_of(entry("a"), entry("b")).models["m"].deployments
    ]
    named = config_of({**entry("a"), "model_info": {"id": "west-1"}}, entry("b"))
    assert named.models["m"].deployments[0].id == "west-1"
    twice = config_of(entry("a"), entry("a"))  # the same runtime twice: still two deployments
    assert len({d.id for d in twice.models["m"].deployments}) == 2
    with pytest.raises(ConfigError, match=r"model_info\.id"):
        config_of(
            {**entry("a"), "model_info": {"id": "x"}}, {**entry("b"), "model_info": {"id": "x"}}
        )


# --- strategies, cool-downs, minted sessions ---------------------------------------------------


def router_for(config: ProxyConfig, clock: Clock | None = None) -> Router:
    return Router(config, MemoryRateLimiter(clock or Clock()), clock=clock or Clock(),
                  rng=random.Random(3))  # fmt: skip


def test_simple_shuffle_weighs_first_places_by_rpm() -> None:
    config = config_of(entry("a", rpm=900), entry("b", rpm=300))
    router = router_for(config)
    model = config.models["m"]
    firsts = Counter(router.order(model)[0].id for _ in range(4000))
    assert 2800 < firsts[model.deployments[0].id] < 3200, firsts


def test_least_busy_takes_the_fewest_in_flight() -> None:
    config = config_of(entry("a"), entry("b"), entry("c"),
                       router_settings={"routing_strategy": "least-busy"})  # fmt: skip
    router = router_for(config)
    a, b, c = config.models["m"].deployments
    router.started(a)
    router.started(a)
    router.started(c)
    assert [d.id for d in router.order(config.models["m"])] == [b.id, c.id, a.id]
    router.finished(a)
    router.finished(a)
    assert router.order(config.models["m"])[-1] is c


def test_a_failed_deployment_goes_last_for_the_cooldown() -> None:
    clock = Clock()
    config = config_of(entry("a"), entry("b"), router_settings={"cooldown_time": 10})
    router = router_for(config, clock)
    a, b = config.models["m"].deployments
    router.failed(a)
    assert all(router.order(config.models["m"])[0] is b for _ in range(50))
    clock.now += 10.5
    assert {router.order(config.models["m"])[0].id for _ in range(200)} == {a.id, b.id}


def test_max_parallel_requests_caps_a_deployment_in_this_process() -> None:
    config = config_of(entry("a", max_parallel_requests=1), entry("b", max_parallel_requests=1))
    router = router_for(config)
    model = config.models["m"]

    async def scenario() -> None:
        first = await router.choose(model, None)
        assert first is not None
        router.started(first.deployment)
        second = await router.choose(model, None)
        assert second is not None and second.deployment is not first.deployment
        router.started(second.deployment)
        with pytest.raises(RateLimited) as caught:
            await router.choose(model, None)
        assert caught.value.retry_after == 1

    asyncio.run(scenario())


def test_minted_sessions_hash_to_the_deployment_that_served_them() -> None:
    config = config_of(entry("a", weight=10), entry("b", weight=1), entry("c", weight=1))
    router = router_for(config)
    model = config.models["m"]
    for deployment in model.deployments:
        for _ in range(20):
            session = router.session_for(model, deployment)
            assert session is not None and rendezvous(model.deployments, session) is deployment
    single = config_of(entry("a", model="solo")).models["solo"]
    assert router.session_for(single, single.deployments[0]) is None  # the client makes one


# --- rate-limit windows ------------------------------------------------------------------------


def test_rpm_and_tpm_windows_on_a_clock() -> None:
    clock = Clock(60 * 16_667 + 20.0)  # 20 s into a minute
    limiter = MemoryRateLimiter(clock)
    config = config_of(entry("a", rpm=2, tpm=100))
    (a,) = config.models["m"].deployments

    async def admitted() -> bool:
        return await limiter.admit_first([a]) is a

    async def scenario() -> None:
        assert await admitted() and await admitted()
        assert not await admitted()  # rpm 2
        assert retry_after(clock()) == 40
        clock.now += 40  # the next minute
        assert await admitted()
        await limiter.add_tokens(a, 100)
        assert not await admitted()  # tpm reached by reported usage
        clock.now += 59.5
        assert retry_after(clock()) == 1
        clock.now += 1
        assert await admitted()

    asyncio.run(scenario())


def test_usage_counts_total_tokens_or_input_plus_output() -> None:
    config = config_of(entry("a", tpm=10))
    limiter = MemoryRateLimiter(Clock())
    router = Router(config, limiter)
    (a,) = config.models["m"].deployments
    asyncio.run(router.record_usage(a, Usage(3, 4, 0)))
    asyncio.run(router.record_usage(a, Usage(1, 1, 2)))
    assert limiter._counts[a.id][2] == 9


# --- the Redis scripts ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    require_redis_server()
    with RedisServer() as server:
        yield server


def test_redis_limits_are_shared_by_replicas_and_expire(redis_server: RedisServer) -> None:
    config = config_of(entry("a", rpm=3), entry("b", rpm=1), entry("c"))
    a, b, c = config.models["m"].deployments
    clock = Clock(2_000_010.0)
    prefix = f"test:{new_session_id()}:"

    async def scenario() -> None:
        replicas = [RedisRateLimiter(RedisLink(redis_server.url), prefix=prefix, clock=clock)
                    for _ in range(2)]  # fmt: skip
        admitted = [await replicas[i % 2].admit_first([a, b]) for i in range(5)]
        assert admitted == [a, a, a, b, None]
        # An unlimited deployment after the limited ones takes over without a count.
        assert await replicas[0].admit_first([a, b, c]) is c
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
        window = int(clock() // 60)
        key = replicas[0].keys(a, window)[0]
        assert await client.get(key) == "3"
        assert 60_000 < await client.pttl(key) <= 120_000
        await client.aclose()
        clock.now += 60  # the next window: fresh counts
        assert await replicas[1].admit_first([a]) is a
        for replica in replicas:
            await replica._link.aclose()

    asyncio.run(scenario())


def test_redis_token_counts_close_a_deployment_for_every_replica(redis_server: RedisServer) -> None:
    config = config_of(entry("a", tpm=50))
    (a,) = config.models["m"].deployments
    clock = Clock(3_000_005.0)
    prefix = f"test:{new_session_id()}:"

    async def scenario() -> None:
        one = RedisRateLimiter(RedisLink(redis_server.url), prefix=prefix, clock=clock)
        two = RedisRateLimiter(RedisLink(redis_server.url), prefix=prefix, clock=clock)
        assert await one.admit_first([a]) is a
        await one.add_tokens(a, 50)
        assert await two.admit_first([a]) is None
        await one._link.aclose()
        await two._link.aclose()

    asyncio.run(scenario())


def test_a_redis_outage_falls_back_to_this_replica(caplog: pytest.LogCaptureFixture) -> None:
    config = config_of(entry("a", rpm=1))
    (a,) = config.models["m"].deployments
    dead = f"redis://127.0.0.1:{_closed_port()}/0"

    async def scenario() -> None:
        limiter = RedisRateLimiter(RedisLink(dead, backoff=60), clock=Clock())
        assert await limiter.admit_first([a]) is a  # counted here while Redis is away
        assert await limiter.admit_first([a]) is None

    asyncio.run(scenario())
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1  # one per outage


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_redis_bindings_keep_a_session_when_a_deployment_is_added(
    redis_server: RedisServer,
) -> None:
    before = config_of(entry("a"), entry("b")).models["m"]
    after = config_of(entry("a"), entry("b"), entry("c")).models["m"]
    prefix = f"test:{new_session_id()}:"
    moving = next(
        s for s in sessions(500)
        if rendezvous(after.deployments, s).id != rendezvous(before.deployments, s).id
    )  # fmt: skip

    async def bound(model: ProxyModel, session: str) -> str:
        link = RedisLink(redis_server.url)
        bindings = SessionBindings(link, prefix=prefix)
        chosen = await bindings.bind(model, session, rendezvous(model.deployments, session))
        await link.aclose()
        return chosen.id

    first = asyncio.run(bound(before, moving))
    assert asyncio.run(bound(after, moving)) == first  # kept, though rendezvous now differs
    # A binding to a deployment no longer configured is replaced by the current choice.
    gone = ProxyModel("m", [after.deployments[2]])
    assert asyncio.run(bound(gone, moving)) == after.deployments[2].id


# --- the master key ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "weak"),
    [("sk-1234", True), ("SK-1234", True), ("changeme", True), ("short-key-15chr", True),
     ("aaaaaaaaaaaaaaaaaaaaaaaa", True), ("sk-proxy-master-key-7f3c2a9d41e8b065", False),
     ("0123456789abcdef", False)],
)  # fmt: skip
def test_master_key_weakness(key: str, weak: bool) -> None:
    assert (master_key_weakness(key) is not None) is weak


def test_routing_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="routing_strategy"):
        config_of(entry("a"), router_settings={"routing_strategy": "latency-based-routing"})
    with pytest.raises(ConfigError, match="rpm"):
        config_of(entry("a", rpm="lots"))
    with pytest.raises(ConfigError, match="runtimeSessionId"):
        config_of(entry("a", runtimeSessionId="s" * 40), entry("b", runtimeSessionId="t" * 40))
    with pytest.raises(ConfigError, match="aws_role_name"):
        config_of(entry("a", aws_session_name="x"))
    with pytest.raises(ConfigError, match="bogus_key"):
        config_of(entry("a", bogus_key=1))
