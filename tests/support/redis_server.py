"""A throwaway redis-server for tests and benchmarks: its own process on a free loopback port,
no persistence, no system service. It can be stopped, restarted on the same port, and paused
(SIGSTOP) to play a hung Redis.

    with RedisServer() as server:
        server.url            # redis://127.0.0.1:<port>/0
        server.stop(); server.start()    # down, then back (empty: nothing is saved)
        server.pause(); server.resume()  # hung, then alive again

:func:`require_redis_server` skips a test when the binary is missing, except in CI (``CI``
set), where the missing binary fails the test: CI must install it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

INSTALL_HINT = "apt-get install redis-server"


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def require_redis_server() -> str:
    """The redis-server path; else skip (locally) or fail (when ``CI`` is set)."""
    import pytest

    binary = redis_server_binary()
    if binary is None:
        message = f"redis-server is not installed ({INSTALL_HINT})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must provide it (.ci/run installs it)", pytrace=False)
        pytest.skip(message)
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int, password: str | None, timeout: float = 0.5) -> bool:
    """Whether a Redis answers PING on ``port`` (raw RESP, so no client library is needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            if password is not None:
                auth = password.encode()
                sock.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(auth), auth))
                if not sock.recv(64).startswith(b"+OK"):
                    return False
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(
        self,
        binary: str | None = None,
        *,
        port: int | None = None,
        password: str | None = None,
    ) -> None:
        self.binary = binary or redis_server_binary() or "redis-server"
        self.port = port or free_port()
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="redis-test-")

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, wait: float = 10.0) -> None:
        if self.running:
            return
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self._dir.name,
            "--logfile", str(Path(self._dir.name) / "redis.log"),
        ]  # fmt: skip
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + wait
        while not _ping(self.port, self.password):
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                self._reap()
                raise RuntimeError(f"redis-server exited on start: {stderr}{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING within {wait}s")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (SIGKILL: quick, and nothing to save). Same port on :meth:`start`."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGKILL
            self.process.kill()
        self._reap()

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections (the kernel's backlog), nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def log(self) -> str:
        path = Path(self._dir.name) / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _reap(self) -> None:
        if self.process is None:
            return
        self.process.wait(timeout=10)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
