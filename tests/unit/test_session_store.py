"""The in-process session store (a fake clock, no waiting), the helpers, and the store factory.

The Redis store against a real redis-server: tests/integration/test_redis_session_store.py.
No pytest-asyncio here (the wheel test runs this folder with pytest alone): async twins run
under asyncio.run.
"""

from __future__ import annotations

import asyncio
import hashlib
import pickle
import subprocess
import sys
import threading

import pytest

from agentcore_bridge.errors import InvalidRequestError
from agentcore_bridge.session_store import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_LIFETIME,
    MemorySessionStore,
    RedisSessionStore,
    SessionRecord,
    SessionStore,
    redact_url,
    session_store_from,
    system_hash,
)

SID = "session-0123456789abcdef0123456789abcdef"
RULE = {"idle_timeout": 10.0, "max_lifetime": 100.0}


def H(label: str) -> str:
    """The stored hash of a system text labelled ``label``."""
    digest = system_hash(label)
    assert digest is not None
    return digest


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemorySessionStore:
    return MemorySessionStore(clock=clock)


def test_system_hash_is_sha256_hex_and_none_stays_none() -> None:
    assert system_hash(None) is None
    assert system_hash("Be brief.") == hashlib.sha256(b"Be brief.").hexdigest()
    assert system_hash("") == hashlib.sha256(b"").hexdigest()
    assert system_hash("é") != system_hash("e")


def test_a_new_session_gets_none_and_a_seen_one_its_previous_record(
    store: MemorySessionStore, clock: Clock
) -> None:
    start = clock.now
    assert store.exchange(SID, H("h1"), **RULE) is None
    clock.advance(3)
    assert store.exchange(SID, H("h2"), **RULE) == SessionRecord(H("h1"), start, start)
    clock.advance(4)
    # created_at is kept from the live record, last_used_at and the hash are the new ones.
    assert store.exchange(SID, None, **RULE) == SessionRecord(H("h2"), start, start + 3)
    assert store.peek(SID) == SessionRecord(None, start, start + 7)
    assert store.exchange("another-session-0123456789abcdef0123", H("h1"), **RULE) is None


def test_idle_expiry_makes_the_session_new_again(store: MemorySessionStore, clock: Clock) -> None:
    store.exchange(SID, H("h"), **RULE)
    clock.advance(9.999)
    assert store.exchange(SID, H("h"), **RULE) is not None  # idle just under the timeout: live
    clock.advance(10.0)  # idle exactly the timeout: AgentCore has ended it
    assert store.exchange(SID, H("h"), **RULE) is None
    # The new incarnation starts its own lifetime.
    assert store.peek(SID) == SessionRecord(H("h"), clock.now, clock.now)


def test_max_lifetime_expiry_even_when_busy(store: MemorySessionStore, clock: Clock) -> None:
    start = clock.now
    store.exchange(SID, H("h"), **RULE)
    for _ in range(11):  # a call every 9 s: never idle, 99 s old at the end
        clock.advance(9)
        record = store.exchange(SID, H("h"), **RULE)
        assert record is not None and record.created_at == start
    clock.advance(1)  # 100 s old
    assert store.exchange(SID, H("h"), **RULE) is None
    record = store.peek(SID)
    assert record is not None and record.created_at == clock.now


def test_the_callers_timeouts_decide(store: MemorySessionStore, clock: Clock) -> None:
    store.exchange(SID, H("h"), idle_timeout=100, max_lifetime=1000)
    clock.advance(50)
    assert store.exchange(SID, H("h"), idle_timeout=40, max_lifetime=1000) is None


def test_defaults_match_agentcore(clock: Clock) -> None:
    assert (DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_LIFETIME) == (900.0, 28_800.0)
    store = MemorySessionStore(clock=clock)
    store.exchange(SID, None)
    clock.advance(899)
    assert store.exchange(SID, None) is not None
    clock.advance(900)
    assert store.exchange(SID, None) is None


@pytest.mark.parametrize(
    ("idle", "life"),
    [(0, 10), (10, 0), (-1, 10), (float("nan"), 10), (10, float("inf")), (True, 10), ("9", 10)],
)
def test_bad_timeouts_are_refused(store: MemorySessionStore, idle: object, life: object) -> None:
    with pytest.raises(InvalidRequestError, match="must be a positive number of seconds"):
        store.exchange(SID, None, idle_timeout=idle, max_lifetime=life)  # type: ignore[arg-type]
    assert SID not in store


@pytest.mark.parametrize(
    "value", ["Be brief.", "h1", H("x").upper(), H("x")[:63], b"0" * 64, 42, H("x") + "\n"]
)
def test_only_a_sha256_hex_digest_is_accepted(store: MemorySessionStore, value: object) -> None:
    with pytest.raises(InvalidRequestError, match="SHA-256 hex digest"):
        store.exchange(SID, value, **RULE)  # type: ignore[arg-type]
    assert SID not in store
    store.exchange(SID, H("x"), **RULE)
    with pytest.raises(InvalidRequestError, match="SHA-256 hex digest"):
        store.restore(SID, SessionRecord(value, 0.0, 0.0))  # type: ignore[arg-type]


def test_restore_puts_the_previous_record_back(store: MemorySessionStore, clock: Clock) -> None:
    store.exchange(SID, H("h1"), **RULE)
    clock.advance(2)
    previous = store.exchange(SID, H("h2"), **RULE)
    assert previous is not None
    store.restore(SID, previous)
    assert store.peek(SID) == previous
    # The restored record expires on its own schedule (idle from its last use).
    clock.advance(8.5)
    assert store.exchange(SID, H("h3"), **RULE) is None


def test_restore_of_none_deletes(store: MemorySessionStore) -> None:
    previous = store.exchange(SID, H("h1"), **RULE)
    assert previous is None
    store.restore(SID, previous)
    assert SID not in store
    assert store.exchange(SID, H("h1"), **RULE) is None


def test_restore_of_an_expired_previous_record_deletes(
    store: MemorySessionStore, clock: Clock
) -> None:
    store.exchange(SID, H("h1"), **RULE)
    clock.advance(5)
    previous = store.exchange(SID, H("h2"), **RULE)
    assert previous is not None
    clock.advance(6)  # the previous record was last used 11 s ago: expired
    store.restore(SID, previous)
    assert SID not in store


def test_restore_does_not_resurrect_a_forgotten_session(store: MemorySessionStore) -> None:
    store.exchange(SID, H("h1"), **RULE)
    previous = store.exchange(SID, H("h2"), **RULE)
    store.forget(SID)
    store.restore(SID, previous)
    assert SID not in store


def test_forget(store: MemorySessionStore) -> None:
    store.exchange(SID, H("h"), **RULE)
    store.forget(SID)
    store.forget(SID)  # twice is fine
    assert store.exchange(SID, H("h"), **RULE) is None


def test_bounded_lru(clock: Clock) -> None:
    store = MemorySessionStore(max_sessions=3, clock=clock)
    for name in "abc":
        store.exchange(name, None, **RULE)
    store.exchange("a", None, **RULE)  # a is now the most recently used
    store.exchange("d", None, **RULE)  # evicts b
    assert len(store) == 3
    assert "b" not in store
    assert {"a", "c", "d"} <= {name for name in "abcd" if name in store}


def test_expired_records_are_swept(store: MemorySessionStore, clock: Clock) -> None:
    for index in range(50):
        store.exchange(f"s{index}", None, **RULE)
    clock.advance(11)
    store.exchange("fresh", None, **RULE)
    assert len(store) == 1


def test_max_sessions_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MemorySessionStore(0)


def test_async_twins(store: MemorySessionStore, clock: Clock) -> None:
    async def run() -> list[SessionRecord | None]:
        first = await store.aexchange(SID, H("h1"), **RULE)
        second = await store.aexchange(SID, H("h2"), **RULE)
        await store.arestore(SID, second)
        restored = store.peek(SID)
        await store.aforget(SID)
        third = await store.aexchange(SID, H("h3"), **RULE)
        await store.aclose()
        return [first, second, restored, third]

    first, second, restored, third = asyncio.run(run())
    assert first is None
    assert second == SessionRecord(H("h1"), clock.now, clock.now)
    assert restored == second
    assert third is None


def test_threads_agree_exactly_one_is_first() -> None:
    store = MemorySessionStore()
    barrier = threading.Barrier(16)
    answers: list[SessionRecord | None] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        for _ in range(200):
            answer = store.exchange(SID, H("h"), **RULE)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 3200
    assert answers.count(None) == 1


def test_is_a_session_store_and_pickles_empty(store: MemorySessionStore) -> None:
    assert isinstance(store, SessionStore)
    store.exchange(SID, H("h"), **RULE)
    copy = pickle.loads(pickle.dumps(store))
    assert isinstance(copy, MemorySessionStore)
    assert copy.max_sessions == store.max_sessions
    assert len(copy) == 0


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("AGENTCORE_SESSION_STORE", raising=False)
    return monkeypatch


def test_session_store_from_memory_and_env(no_env: pytest.MonkeyPatch) -> None:
    assert isinstance(session_store_from(None), MemorySessionStore)
    assert isinstance(session_store_from("memory"), MemorySessionStore)
    assert isinstance(session_store_from(" Memory "), MemorySessionStore)
    no_env.setenv("AGENTCORE_SESSION_STORE", "")
    assert isinstance(session_store_from(None), MemorySessionStore)
    no_env.setenv("AGENTCORE_SESSION_STORE", "memory")
    assert isinstance(session_store_from(None), MemorySessionStore)
    # Each call makes a new store.
    assert session_store_from("memory") is not session_store_from("memory")


def test_session_store_from_an_object_returns_it(no_env: pytest.MonkeyPatch) -> None:
    store = MemorySessionStore()
    assert session_store_from(store) is store

    class Custom:
        def exchange(self, *a: object, **k: object) -> None: ...
        async def aexchange(self, *a: object, **k: object) -> None: ...
        def restore(self, *a: object) -> None: ...
        async def arestore(self, *a: object) -> None: ...
        def forget(self, *a: object) -> None: ...
        async def aforget(self, *a: object) -> None: ...
        def close(self) -> None: ...
        async def aclose(self) -> None: ...

    custom = Custom()
    assert session_store_from(custom) is custom


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("redis", "'redis'"),
        ("memcached://cache:11211", "memcached://cache:11211"),
        ("http://user:hunter2@host/", "http://user:***@host/"),
        ("", None),
    ],
)
def test_session_store_from_refuses_other_strings(
    no_env: pytest.MonkeyPatch, value: str, shown: str | None
) -> None:
    if shown is None:  # an empty string means the default, like the unset variable
        assert isinstance(session_store_from(value), MemorySessionStore)
        return
    with pytest.raises(InvalidRequestError) as caught:
        session_store_from(value)
    assert "must be 'memory' or a redis:// or rediss:// URL" in str(caught.value)
    assert shown in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_session_store_from_refuses_other_objects(no_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidRequestError, match="got a dict"):
        session_store_from({"url": "redis://x"})  # type: ignore[arg-type]
    no_env.setenv("AGENTCORE_SESSION_STORE", "bogus")
    with pytest.raises(InvalidRequestError, match="AGENTCORE_SESSION_STORE must be"):
        session_store_from(None)


def test_redis_store_is_made_from_a_url_without_connecting(no_env: pytest.MonkeyPatch) -> None:
    pytest.importorskip("redis")
    from agentcore_bridge.session_store import RedisSessionStore

    # Port 9 (discard) answers nothing: making the store must not connect.
    store = session_store_from("rediss://default:hunter2@127.0.0.1:9/3")
    assert isinstance(store, RedisSessionStore)
    assert "hunter2" not in repr(store)
    assert repr(store).startswith("RedisSessionStore('rediss://default:***@127.0.0.1:9/3'")
    no_env.setenv("AGENTCORE_SESSION_STORE", "redis://127.0.0.1:9/0")
    assert isinstance(session_store_from(None), RedisSessionStore)
    with pytest.raises(InvalidRequestError, match="redis:// or rediss://"):
        RedisSessionStore("http://127.0.0.1:9")
    with pytest.raises(InvalidRequestError, match="timeout"):
        RedisSessionStore("redis://127.0.0.1:9", timeout=0)
    with pytest.raises(InvalidRequestError, match="bad Redis session store URL or option"):
        RedisSessionStore("redis://127.0.0.1:9", sokcet_keepalive=True)
    with pytest.raises(InvalidRequestError) as caught:
        RedisSessionStore("redis://:hunter2@127.0.0.1:notaport/0")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        ("rediss://user:p%40ss@host/1", "rediss://user:***@host/1"),
        ("redis://user@host/1", "redis://user@host/1"),
        (
            "redis://host/0?password=pw&ssl_cert_reqs=none",
            "redis://host/0?password=%2A%2A%2A&ssl_cert_reqs=none",
        ),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_importing_the_store_module_does_not_import_redis() -> None:
    code = (
        "import sys, agentcore_bridge, agentcore_bridge.session_store as s\n"
        "s.session_store_from('memory').exchange('x' * 40, None)\n"
        "print('redis' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


def test_the_prefix_variable_names_the_redis_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCORE_SESSION_STORE_PREFIX", "myapp:sessions:")
    store = session_store_from("redis://127.0.0.1:6399/0")
    assert isinstance(store, RedisSessionStore)
    assert store.key("abc") == "myapp:sessions:abc"
    monkeypatch.delenv("AGENTCORE_SESSION_STORE_PREFIX")
    assert session_store_from("redis://127.0.0.1:6399/0").key("abc") == "agentcore:session:abc"
