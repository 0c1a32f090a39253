"""Instructions per call, this tree next to a baseline git revision, counted by callgrind.

    python benchmarks/instructions.py --baseline 2220dc1 [--clients floor,client,chat]

Timed per-call CPU (``run.py``) swings by tens of percent on a shared 2-core machine; the number
of instructions a client process executes per call does not. Each client runs in a fresh
process under ``valgrind --tool=callgrind`` twice, making ``SHORT`` and ``LONG`` sequential calls
(after the same 20 warm-up calls) to one un-instrumented local runtime; the difference divided
by ``LONG - SHORT`` is the instructions per call, with imports, start-up and warm-up cancelled
out. The baseline's code is a ``git worktree`` of ``--baseline`` put first on ``PYTHONPATH``
(same interpreter, same third-party packages), so only the project's own code differs.

Clients: ``floor`` (raw signed urllib3, as in ``run.py``), ``client``
(``AgentCoreClient.invoke``), ``chat`` (``ChatAgentCore.invoke``). Needs valgrind (Debian's
package). Takes about 2 minutes per client and tree.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

SHORT, LONG, WARM_UP = 50, 250, 20


def child(kind: str, calls: int) -> None:
    """The measured process: ``WARM_UP + calls`` sequential calls of ``kind``."""
    env = os.environ
    arn, endpoint = env["AGENTCORE_RUNTIME_ARN"], env["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"]
    if kind == "floor":
        import urllib3
        from client_figures import Raw

        raw, pool = Raw(dict(env)), urllib3.PoolManager()

        def one() -> None:
            headers, body = raw.sign({"prompt": "json"})
            response = pool.urlopen("POST", raw.url, body=body, headers=headers)
            assert json.loads(response.data) == {"result": "ok"}

    elif kind == "client":
        from agentcore_bridge import AgentCoreClient

        client = AgentCoreClient(arn, endpoint_url=endpoint)

        def one() -> None:
            assert client.invoke("json").text == "ok"

    elif kind == "chat":
        from langchain_agentcore import ChatAgentCore

        model = ChatAgentCore(model=arn, endpoint_url=endpoint)

        def one() -> None:
            assert model.invoke("json").content == "ok"

    else:
        raise SystemExit(f"unknown client {kind!r}")
    for _ in range(WARM_UP + calls):
        one()


def instructions(kind: str, calls: int, env: dict[str, str], pythonpath: str | None) -> int:
    if pythonpath:
        env = {**env, "PYTHONPATH": pythonpath}
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
             sys.executable, __file__, "--child", kind, str(calls)],
            env=env, capture_output=True, text=True, timeout=1800, check=False,
        )  # fmt: skip
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode or not found:
        raise RuntimeError(f"{kind} x {calls} failed:\n{out.stderr[-3000:]}")
    return int(found.group(1))


def per_call(kind: str, env: dict[str, str], pythonpath: str | None) -> float:
    short = instructions(kind, SHORT, env, pythonpath)
    long = instructions(kind, LONG, env, pythonpath)
    return (long - short) / (LONG - SHORT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision to compare with (default: none)")
    parser.add_argument("--clients", default="floor,client,chat")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    if shutil.which("valgrind") is None:
        sys.exit("valgrind not found: apt-get install valgrind")
    from bench_agents import start_runtime

    worktree = None
    if args.baseline:
        worktree = Path(tempfile.mkdtemp(prefix="baseline-"))
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q",
                        str(worktree), args.baseline], check=True)  # fmt: skip
    process, env = start_runtime()
    env = {**os.environ, **env}
    try:
        print(f"instructions per call ({LONG} - {SHORT} calls, callgrind, Python "
              f"{sys.version.split()[0]})")  # fmt: skip
        print("| client | this tree | " + (f"baseline {args.baseline} | ratio |"
                                          if worktree else ""))  # fmt: skip
        for kind in args.clients.split(","):
            now = per_call(kind, env, None)
            row = f"| {kind} | {now:,.0f} |"
            if worktree is not None and kind == "floor":
                row += " (no project code) | |"
            elif worktree is not None:
                base = per_call(kind, env, f"{worktree}/shared:{worktree}")
                row += f" {base:,.0f} | {now / base:.3f}x |"
            print(row, flush=True)
    finally:
        process.terminate()
        process.wait(10)
        if worktree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(worktree)], check=False)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
