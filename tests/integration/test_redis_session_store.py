"""RedisSessionStore against a real redis-server (started here, on a free loopback port; see
tests/support/redis_server.py): the expiry rule, TTLs, what is stored, agreement between OS
processes, atomicity under concurrency, and the fallback while Redis is down or hung.

Without redis-server these tests skip locally and fail in CI (``CI`` set).
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from support.redis_server import RedisServer, require_redis_server

from agentcore_bridge.session_store import (
    RedisSessionStore,
    SessionRecord,
    SessionStore,
    session_store_from,
    system_hash,
)

LOGGER = "agentcore_bridge.session_store"
SID = "session-0123456789abcdef0123456789abcdef"
RULE = {"idle_timeout": 60.0, "max_lifetime": 3600.0}
PASSWORD = f"pw-{secrets.token_hex(8)}"
# Slack for a busy CI machine on top of the store's own timeout.
MARGIN = 0.75


def H(label: str) -> str:
    """The stored hash of a system text labelled ``label``."""
    digest = system_hash(label)
    assert digest is not None
    return digest


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    binary = require_redis_server()
    with RedisServer(binary, password=PASSWORD) as running:
        yield running


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server of the test's own, for tests that stop or pause it."""
    binary = require_redis_server()
    with RedisServer(binary, password=PASSWORD) as running:
        yield running


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def raw(server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server.url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def store(server: RedisServer, prefix: str) -> Iterator[RedisSessionStore]:
    made = RedisSessionStore(server.url, prefix=prefix, timeout=2.0)
    yield made
    made.close()


def chain_check(answers: list[SessionRecord | None], written: list[str]) -> None:
    """Every write was seen by exactly one later exchange: one None (the first), and the
    hashes the others saw plus the last one stored are exactly the hashes written."""
    assert answers.count(None) == 1
    seen = [a.system_hash for a in answers if a is not None]
    assert len(set(seen)) == len(seen) == len(written) - 1
    assert set(seen) < set(written)
    assert len({a.created_at for a in answers if a is not None}) == 1


# -- the rule --------------------------------------------------------------------------------


def test_new_session_gets_none_and_a_seen_one_its_previous_record(
    store: RedisSessionStore,
) -> None:
    assert isinstance(store, SessionStore)
    before = time.time()
    assert store.exchange(SID, system_hash("Be brief."), **RULE) is None
    first = store.exchange(SID, None, **RULE)
    assert first is not None
    assert first.system_hash == system_hash("Be brief.")
    assert first.created_at == first.last_used_at
    assert abs(first.created_at - before) < 5  # the Redis server's clock: same host here
    second = store.exchange(SID, H("h3"), **RULE)
    assert second is not None
    assert second == SessionRecord(None, first.created_at, second.last_used_at)
    assert second.last_used_at >= first.last_used_at
    assert store.exchange("other-session-0123456789abcdef01234", H("h"), **RULE) is None


async def test_async_new_then_seen(store: RedisSessionStore) -> None:
    assert await store.aexchange(SID, H("h1"), **RULE) is None
    record = await store.aexchange(SID, H("h2"), **RULE)
    assert record is not None and record.system_hash == H("h1")
    # Sync and async paths share the records.
    sync_record = store.exchange(SID, H("h3"), **RULE)
    assert sync_record is not None and sync_record.system_hash == H("h2")
    await store.aclose()


def test_idle_expiry(store: RedisSessionStore, raw: redis.Redis) -> None:
    rule = {"idle_timeout": 1.0, "max_lifetime": 60.0}
    assert store.exchange(SID, H("h"), **rule) is None
    time.sleep(0.4)
    assert store.exchange(SID, H("h"), **rule) is not None  # idle 0.4 s: live
    time.sleep(1.2)
    assert raw.exists(store.key(SID)) == 0  # Redis expired the key by itself (its TTL)
    assert store.exchange(SID, H("h"), **rule) is None


def test_idle_expiry_by_the_rule_before_the_ttl(store: RedisSessionStore) -> None:
    # Written under a 60 s idle timeout, read under 0.5 s: the script's rule, not the TTL.
    store.exchange(SID, H("h"), idle_timeout=60, max_lifetime=600)
    time.sleep(0.7)
    assert store.exchange(SID, H("h"), idle_timeout=0.5, max_lifetime=600) is None


def test_max_lifetime_expiry_even_when_busy(store: RedisSessionStore, raw: redis.Redis) -> None:
    rule = {"idle_timeout": 10.0, "max_lifetime": 1.5}
    assert store.exchange(SID, H("h"), **rule) is None
    created = None
    for _ in range(3):  # busy: a call every 0.35 s, never idle
        time.sleep(0.35)
        record = store.exchange(SID, H("h"), **rule)
        assert record is not None
        created = created or record.created_at
        assert record.created_at == created
    # The key's TTL is what is left of the lifetime, not the 10 s idle timeout.
    assert 0 < raw.pttl(store.key(SID)) <= 1500 - 3 * 350 + 100
    time.sleep(0.7)  # now ~1.75 s old
    assert store.exchange(SID, H("h"), **rule) is None
    fresh = store.exchange(SID, H("h"), **rule)
    assert fresh is not None and created is not None and fresh.created_at > created + 1.5


def test_every_key_has_a_ttl_and_lives_under_the_prefix(
    store: RedisSessionStore, raw: redis.Redis, prefix: str
) -> None:
    ids = [f"ttl-session-{i:02d}-0123456789abcdef01234567" for i in range(5)]
    for sid in ids:
        store.exchange(sid, H("h"), idle_timeout=30, max_lifetime=3600)
    store.exchange(ids[0], H("h"), idle_timeout=30, max_lifetime=3600)
    keys = sorted(raw.scan_iter(match=prefix + "*"))
    assert keys == sorted(prefix + sid for sid in ids)
    for key in keys:
        assert 29_000 < raw.pttl(key) <= 30_000
    store.exchange(
        "short-lived-session-0123456789abcdef012", H("h"), idle_timeout=30, max_lifetime=2
    )
    assert 0 < raw.pttl(prefix + "short-lived-session-0123456789abcdef012") <= 2000
    # No key anywhere in the database (every test's prefix) lives forever.
    for key in raw.scan_iter(match="*"):
        assert raw.pttl(key) > 0, key


def test_custom_prefix(server: RedisServer, raw: redis.Redis) -> None:
    with_prefix = RedisSessionStore(server.url, prefix="myapp:agent-a:")
    try:
        with_prefix.exchange(SID, H("h"), **RULE)
        assert raw.exists("myapp:agent-a:" + SID) == 1
        assert with_prefix.key(SID) == "myapp:agent-a:" + SID
    finally:
        raw.delete("myapp:agent-a:" + SID)
        with_prefix.close()


def test_only_hashes_and_timestamps_are_stored(own_server: RedisServer) -> None:
    # A server of its own: every key and value in it comes from this test's store.
    store = RedisSessionStore(own_server.url)
    raw = redis.Redis.from_url(own_server.url, decode_responses=True)
    secret_system = "SECRET-SYSTEM-PROMPT: the launch code is 0000"
    store.exchange(SID, system_hash(secret_system), **RULE)
    store.exchange(SID, None, **RULE)
    store.exchange(SID + "-2", system_hash(secret_system), **RULE)
    previous = store.exchange(SID + "-2", system_hash("other"), **RULE)
    store.restore(SID + "-2", previous)
    value_shape = re.compile(r"[0-9a-f]{64}|\d{1,16}|")
    keys = list(raw.scan_iter(match="*"))
    assert sorted(keys) == sorted(store.key(sid) for sid in (SID, SID + "-2"))
    for key in keys:
        assert raw.type(key) == "hash"
        fields = raw.hgetall(key)
        assert set(fields) <= {"c", "u", "s", "i", "m"}
        for value in fields.values():
            assert isinstance(value, str) and value_shape.fullmatch(value), (key, value)
            assert "SECRET" not in value and PASSWORD not in value
    store.close()
    raw.close()


SCRIPT_COMMANDS = {"time", "hmget", "hset", "pexpire"}


def client_commands(raw: redis.Redis) -> dict[str, int]:
    """Commands clients sent since CONFIG RESETSTAT (the ones the script runs inside the
    server also count in commandstats: checked, then left out)."""
    stats = {
        name.removeprefix("cmdstat_"): value["calls"]
        for name, value in raw.info("commandstats").items()
        if not name.startswith(("cmdstat_info", "cmdstat_config"))
    }
    inside = {name: stats.pop(name) for name in SCRIPT_COMMANDS & set(stats)}
    assert set(inside.values()) <= {stats.get("evalsha", 0) + stats.get("eval", 0)}
    return stats


def test_one_round_trip_per_exchange(store: RedisSessionStore, raw: redis.Redis) -> None:
    store.exchange(SID, H("warm-up"), **RULE)  # connection open, script cached
    raw.config_resetstat()
    for index in range(25):
        store.exchange(SID, H(f"h{index}"), **RULE)
    assert client_commands(raw) == {"evalsha": 25}


async def test_one_round_trip_per_async_exchange(
    store: RedisSessionStore, raw: redis.Redis
) -> None:
    await store.aexchange(SID, H("warm-up"), **RULE)
    raw.config_resetstat()
    for index in range(25):
        await store.aexchange(SID, H(f"h{index}"), **RULE)
    assert client_commands(raw) == {"evalsha": 25}
    await store.aclose()


def test_a_flushed_script_cache_costs_one_eval(store: RedisSessionStore, raw: redis.Redis) -> None:
    store.exchange(SID, H("h1"), **RULE)
    raw.script_flush()
    record = store.exchange(SID, H("h2"), **RULE)
    assert record is not None and record.system_hash == H("h1")
    assert store.redis_available
    assert store.exchange(SID, H("h3"), **RULE) is not None


# -- restore and forget ----------------------------------------------------------------------


def test_restore_and_forget(store: RedisSessionStore, raw: redis.Redis) -> None:
    key = store.key(SID)
    store.exchange(SID, H("h1"), **RULE)
    previous = store.exchange(SID, H("h2"), **RULE)
    assert previous is not None
    store.restore(SID, previous)
    fields = raw.hgetall(key)
    assert fields["s"] == H("h1")
    assert int(fields["u"]) == round(previous.last_used_at * 1000)
    assert 59_000 < raw.pttl(key) <= 60_000
    assert store.exchange(SID, H("h3"), **RULE) == previous  # as if the failed call never was

    new = "new-session-0123456789abcdef0123456789"
    assert store.exchange(new, H("h"), **RULE) is None
    store.restore(new, None)  # the first call failed: the session is new again
    assert raw.exists(store.key(new)) == 0
    assert store.exchange(new, H("h"), **RULE) is None

    store.forget(SID)
    assert raw.exists(key) == 0
    store.restore(SID, previous)  # a restore after a forget does not resurrect
    assert raw.exists(key) == 0
    assert store.exchange(SID, H("h"), **RULE) is None


def test_restore_of_a_previous_record_that_has_expired_deletes(
    store: RedisSessionStore, raw: redis.Redis
) -> None:
    rule = {"idle_timeout": 0.6, "max_lifetime": 60.0}
    store.exchange(SID, H("h1"), **rule)
    time.sleep(0.3)
    previous = store.exchange(SID, H("h2"), **rule)
    assert previous is not None
    time.sleep(0.5)  # the previous record was last used 0.5 s ago... 0.8 s > 0.6 s: expired
    store.restore(SID, previous)
    assert raw.exists(store.key(SID)) == 0


async def test_async_restore_and_forget(store: RedisSessionStore, raw: redis.Redis) -> None:
    await store.aexchange(SID, H("h1"), **RULE)
    previous = await store.aexchange(SID, H("h2"), **RULE)
    await store.arestore(SID, previous)
    assert raw.hget(store.key(SID), "s") == H("h1")
    await store.aforget(SID)
    assert raw.exists(store.key(SID)) == 0
    assert await store.aexchange(SID, H("h"), **RULE) is None
    await store.arestore(SID, None)
    assert raw.exists(store.key(SID)) == 0
    await store.aclose()


# -- agreement between processes, atomicity --------------------------------------------------

WORKER = r"""
import json, sys
from agentcore_bridge.session_store import RedisSessionStore, session_store_from, system_hash
spec, prefix = sys.argv[1], sys.argv[2]
store = session_store_from(spec) if spec == "memory" else RedisSessionStore(spec, prefix=prefix)
for line in sys.stdin:
    sid, label = line.split()
    record = store.exchange(sid, system_hash(label), idle_timeout=60, max_lifetime=3600)
    answer = None if record is None else [record.system_hash, record.created_at]
    print(json.dumps(answer), flush=True)
store.close()
"""


def alternate(spec: str, prefix: str, turns: int = 6) -> list[list[object] | None]:
    """Two OS processes take turns exchanging on one session; their answers in order."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, spec, prefix],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    answers = []
    try:
        for turn in range(turns):
            worker = workers[turn % 2]
            assert worker.stdin is not None and worker.stdout is not None
            worker.stdin.write(f"{SID} h{turn}\n")
            worker.stdin.flush()
            answers.append(json.loads(worker.stdout.readline()))
    finally:
        for worker in workers:
            assert worker.stdin is not None and worker.stdout is not None
            worker.stdin.close()
            worker.wait(timeout=30)
            worker.stdout.close()
    return answers


def agree(answers: list[list[object] | None]) -> bool:
    """Each turn saw the previous turn's write (made by the other process)."""
    return (
        answers[0] is None
        and all(a is not None and a[0] == H(f"h{i}") for i, a in enumerate(answers[1:]))
        and len({a[1] for a in answers[1:] if a is not None}) == 1
    )


def test_two_processes_agree(server: RedisServer, prefix: str) -> None:
    answers = alternate(server.url, prefix)
    assert agree(answers), answers


def test_the_agreement_check_fails_for_two_memory_stores() -> None:
    # The negative control: each process only knows its own calls, so the second process
    # believes the session is new, which is what the Redis store exists to prevent.
    answers = alternate("memory", "unused")
    assert answers[1] is None
    assert not agree(answers)


async def test_200_concurrent_aexchange_on_one_loop(
    server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    # A generous timeout: this checks atomicity, not latency (200 connections open at once).
    store = RedisSessionStore(server.url, prefix=prefix, timeout=5.0)
    written = [H(f"h{i:03d}") for i in range(200)]
    answers = await asyncio.gather(*(store.aexchange(SID, h, **RULE) for h in written))
    assert store.redis_available and not caplog.records
    chain_check(list(answers), written)
    await store.aclose()


def test_threads_concurrent_exchange(server: RedisServer, prefix: str) -> None:
    store = RedisSessionStore(server.url, prefix=prefix, timeout=5.0)
    written = [H(f"t{t}-{i}") for t in range(16) for i in range(20)]
    answers: list[SessionRecord | None] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def worker(t: int) -> None:
        barrier.wait()
        for i in range(20):
            answer = store.exchange(SID, H(f"t{t}-{i}"), **RULE)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.redis_available
    chain_check(answers, written)
    store.close()


def test_async_clients_per_event_loop(store: RedisSessionStore) -> None:
    # asyncio.run twice and a loop in another thread: each gets its own client, closed with
    # its loop (an unclosed connection would be a ResourceWarning, an error in this suite).
    async def call(label: str) -> SessionRecord | None:
        return await store.aexchange(SID, H(label), **RULE)

    assert asyncio.run(call("a")) is None
    record = asyncio.run(call("b"))
    assert record is not None and record.system_hash == H("a")
    result: list[SessionRecord | None] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(call("c"))))
    thread.start()
    thread.join()
    assert result[0] is not None and result[0].system_hash == H("b")


def test_pickle_keeps_url_and_settings_not_connections(
    store: RedisSessionStore, server: RedisServer
) -> None:
    store.exchange(SID, H("h1"), **RULE)
    data = pickle.dumps(store)
    copy = pickle.loads(data)
    try:
        assert isinstance(copy, RedisSessionStore)
        assert (copy.prefix, copy.timeout) == (store.prefix, store.timeout)
        assert PASSWORD not in repr(copy) and PASSWORD not in copy.safe_url
        record = copy.exchange(SID, H("h2"), **RULE)  # its own connection, the same records
        assert record is not None and record.system_hash == H("h1")
    finally:
        copy.close()


def test_session_store_from_a_url(server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCORE_SESSION_STORE", server.url)
    made = session_store_from(None)
    try:
        assert isinstance(made, RedisSessionStore)
        assert PASSWORD not in repr(made)
        made.forget(SID)
        assert made.exchange(SID, H("h"), **RULE) is None
        made.forget(SID)
    finally:
        made.close()


# -- Redis down, hung, back ------------------------------------------------------------------


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


def infos_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO]


def timed(call: object) -> tuple[object, float]:
    started = time.monotonic()
    result = call()  # type: ignore[operator]
    return result, time.monotonic() - started


def test_redis_stopped_mid_run_falls_back_then_recovers(
    own_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    store = RedisSessionStore(own_server.url, timeout=0.3, backoff=1.0)
    assert store.exchange(SID, H("h1"), **RULE) is None
    assert store.exchange(SID, H("h2"), **RULE) is not None

    own_server.stop()
    record, took = timed(lambda: store.exchange(SID, H("h3"), **RULE))
    assert took < store.timeout + MARGIN
    assert isinstance(record, SessionRecord) and record.system_hash == H("h2")  # the fallback
    assert not store.redis_available
    for index in range(20):  # in the backoff: Redis is not even tried
        record, took = timed(lambda i=index: store.exchange(SID, H(f"b{i}"), **RULE))
        assert took < 0.1
        assert isinstance(record, SessionRecord)
    time.sleep(1.1)  # past the backoff: one call probes, fails again, still one warning
    record, took = timed(lambda: store.exchange(SID, H("h4"), **RULE))
    assert isinstance(record, SessionRecord) and took < store.timeout + MARGIN
    assert len(warnings_of(caplog)) == 1
    warning = warnings_of(caplog)[0].getMessage()
    assert "unavailable" in warning and "127.0.0.1" in warning and PASSWORD not in warning

    own_server.start()  # back, empty (nothing is saved)
    time.sleep(1.1)
    # Answered by Redis now: the restarted server has no record, though the fallback has one.
    assert store.exchange(SID, H("h5"), **RULE) is None
    assert store.redis_available
    check = redis.Redis.from_url(own_server.url, decode_responses=True)
    try:
        assert check.hget(store.key(SID), "s") == H("h5")
        record = store.exchange(SID, H("h6"), **RULE)
        assert isinstance(record, SessionRecord) and record.system_hash == H("h5")
        assert check.hget(store.key(SID), "s") == H("h6")
    finally:
        check.close()
    assert len(warnings_of(caplog)) == 1
    assert [r.getMessage() for r in infos_of(caplog)][-1].endswith(
        tuple(f"{n / 10:.1f}s" for n in range(10, 100))
    )
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)
    store.close()


async def test_async_path_falls_back_when_redis_is_down(
    own_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RedisSessionStore(own_server.url, timeout=0.3, backoff=0.5)
    assert await store.aexchange(SID, H("h1"), **RULE) is None
    own_server.stop()
    started = time.monotonic()
    record = await store.aexchange(SID, H("h2"), **RULE)
    assert time.monotonic() - started < store.timeout + MARGIN
    assert record is not None and record.system_hash == H("h1")
    assert len(warnings_of(caplog)) == 1
    await store.arestore(SID, record)
    await store.aforget(SID)  # in the backoff: only the fallback
    own_server.start()
    await asyncio.sleep(0.6)
    assert await store.aexchange(SID, H("h3"), **RULE) is None
    assert store.redis_available and len(infos_of(caplog)) == 1
    await store.aclose()


def test_hung_redis_costs_at_most_the_timeout(
    own_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RedisSessionStore(own_server.url, timeout=0.3, backoff=1.0)
    assert store.exchange(SID, H("h1"), **RULE) is None
    own_server.pause()
    try:
        record, took = timed(lambda: store.exchange(SID, H("h2"), **RULE))
        assert took < store.timeout + MARGIN, took
        assert isinstance(record, SessionRecord) and record.system_hash == H("h1")
        record, took = timed(lambda: store.exchange(SID, H("h3"), **RULE))
        assert took < 0.1
        assert isinstance(record, SessionRecord) and record.system_hash == H("h2")
    finally:
        own_server.resume()
    time.sleep(1.1)
    record = store.exchange(SID, H("h4"), **RULE)
    # Redis answers again. The EVALSHA that timed out was still queued and ran after SIGCONT,
    # so Redis holds h2 (not h3, written to the fallback only during the backoff).
    assert isinstance(record, SessionRecord) and record.system_hash == H("h2")
    assert store.redis_available
    assert len(warnings_of(caplog)) == 1 and len(infos_of(caplog)) == 1
    store.close()


async def test_hung_redis_async_costs_at_most_the_timeout(own_server: RedisServer) -> None:
    store = RedisSessionStore(own_server.url, timeout=0.3, backoff=0.5)
    assert await store.aexchange(SID, H("h1"), **RULE) is None
    own_server.pause()
    try:
        started = time.monotonic()
        record = await store.aexchange(SID, H("h2"), **RULE)
        assert time.monotonic() - started < store.timeout + MARGIN
        assert record is not None and record.system_hash == H("h1")
    finally:
        own_server.resume()
    await asyncio.sleep(0.6)
    assert await store.aexchange(SID, H("h3"), **RULE) is not None
    assert store.redis_available
    await store.aclose()


def test_new_connections_send_no_handshake_commands(
    server: RedisServer, prefix: str, raw: redis.Redis
) -> None:
    # redis-py labels each new connection with CLIENT SETINFO, and redis-py 8 says HELLO 3 and
    # CLIENT MAINT_NOTIFICATIONS, unless told not to; servers before 7.2 (Debian 12 has 7.0)
    # answer SETINFO with an error, most answer MAINT_NOTIFICATIONS with one, and a burst that
    # fills the pool paid for all of it: about twice the client CPU per call.
    def counts() -> tuple[int, int]:
        errors = int(raw.info("stats")["total_error_replies"])
        handshakes = sum(
            int(stats["calls"])
            for name, stats in raw.info("commandstats").items()
            if "setinfo" in name.lower() or "hello" in name.lower()
        )
        return errors, handshakes

    loader = RedisSessionStore(server.url, prefix=prefix, timeout=2.0)
    loader.exchange(SID, None, **RULE)  # the scripts cached: no NOSCRIPT error replies below
    loader.close()
    before = counts()
    store = RedisSessionStore(server.url, prefix=prefix, timeout=2.0)
    try:
        store.exchange(SID, None, **RULE)

        async def burst() -> None:
            await asyncio.gather(
                *(store.aexchange(f"{SID}-{index}", None, **RULE) for index in range(20))
            )
            await store.aclose()

        asyncio.run(burst())
        assert store.redis_available
    finally:
        store.close()
    assert counts() == before
