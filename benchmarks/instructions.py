"""Instructions per call, this tree next to a baseline git revision, counted by callgrind.

    python benchmarks/instructions.py --baseline 2220dc1 [--clients floor,client,chat]
                                      [--calls 100] [--seeds 0,1,2]

Timed per-call CPU (``run.py``) swings by tens of percent on a shared 2-core machine; the number
of instructions a client process executes per call does not. Each client runs in a fresh process
under ``valgrind --tool=callgrind`` with instrumentation off: after its imports, set-up and
``WARM_UP`` calls, it switches counting on, makes ``--calls`` sequential calls to one
un-instrumented local runtime, and switches counting off (callgrind's client requests, from a
three-line C helper compiled here against ``valgrind/callgrind.h``). Only those calls are counted:
nothing of start-up or warm-up is left to cancel out.

The count still depends on the interpreter's string-hash seed (dict and set layouts), so each
measurement runs with ``PYTHONHASHSEED`` fixed, once per ``--seeds`` value, the same seeds for
both trees; the table gives each seed's ratio and their mean. The baseline's code is a
``git worktree`` of ``--baseline`` put first on ``PYTHONPATH`` (same interpreter, same
third-party packages), so only the project's own code differs.

Clients: ``floor`` (raw signed urllib3, as in ``run.py``), ``client``
(``AgentCoreClient.invoke``), ``aclient`` (``AgentCoreClient.ainvoke``, one event loop), ``chat``
(``ChatAgentCore.invoke``). Needs valgrind and a C
compiler (Debian's valgrind and gcc). About 15 seconds per client, tree and seed.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

WARM_UP = 20
HELPER_ENV = "INSTRUCTIONS_HELPER"
_HELPER_SOURCE = """#include <valgrind/callgrind.h>
void count_on(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; CALLGRIND_TOGGLE_COLLECT; }
void count_off(void) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT("measured"); }
"""


def child(kind: str, calls: int) -> None:
    """The measured process: ``WARM_UP`` calls of ``kind``, then ``calls`` counted ones."""
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

    elif kind == "aclient":
        import asyncio

        from agentcore_bridge import AgentCoreClient

        loop = asyncio.new_event_loop()
        aclient = AgentCoreClient(arn, endpoint_url=endpoint)

        def one() -> None:
            assert loop.run_until_complete(aclient.ainvoke("json")).text == "ok"

    elif kind == "chat":
        from langchain_agentcore import ChatAgentCore

        model = ChatAgentCore(model=arn, endpoint_url=endpoint)

        def one() -> None:
            assert model.invoke("json").content == "ok"

    else:
        raise SystemExit(f"unknown client {kind!r}")
    for _ in range(WARM_UP):
        one()
    helper = ctypes.CDLL(env[HELPER_ENV])
    helper.count_on()
    for _ in range(calls):
        one()
    helper.count_off()


def build_helper(directory: Path) -> Path:
    source, library = directory / "count.c", directory / "count.so"
    source.write_text(_HELPER_SOURCE)
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        sys.exit("no C compiler found (the callgrind helper is compiled here): apt-get install gcc")
    built = subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", str(library), str(source)],
                           capture_output=True, text=True, check=False)  # fmt: skip
    if built.returncode:
        sys.exit(f"could not build the callgrind helper (valgrind/callgrind.h?):\n{built.stderr}")
    return library


def instructions(kind: str, calls: int, env: dict[str, str], directory: Path) -> int:
    """Instructions executed by ``calls`` calls of ``kind`` in a fresh process."""
    out = directory / f"callgrind-{kind}.out"
    for stale in directory.glob(f"{out.name}*"):
        stale.unlink()
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
         f"--callgrind-out-file={out}", sys.executable, __file__, "--child", kind, str(calls)],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if run.returncode:
        raise RuntimeError(f"{kind} x {calls} failed:\n{run.stderr[-3000:]}")
    for dump in directory.glob(f"{out.name}*"):
        text = dump.read_text(errors="replace")
        if "measured" in text:
            found = re.search(r"^(?:totals|summary): (\d+)", text, re.MULTILINE)
            if found:
                return int(found.group(1))
    raise RuntimeError(f"{kind}: callgrind wrote no 'measured' dump:\n{run.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision to compare with (default: none)")
    parser.add_argument("--clients", default="floor,client,aclient,chat")
    parser.add_argument("--calls", type=int, default=100, help="counted calls per process")
    parser.add_argument("--seeds", default="0,1,2", help="PYTHONHASHSEED values, one run each")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    if shutil.which("valgrind") is None:
        sys.exit("valgrind not found: apt-get install valgrind")
    from bench_agents import start_runtime

    seeds = [seed.strip() for seed in args.seeds.split(",") if seed.strip()]
    scratch = Path(tempfile.mkdtemp(prefix="instructions-"))
    worktree = None
    if args.baseline:
        worktree = scratch / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q",
                        str(worktree), args.baseline], check=True)  # fmt: skip
    helper = build_helper(scratch)
    process, runtime_env = start_runtime()
    base_env = {**os.environ, **runtime_env, HELPER_ENV: str(helper)}
    trees = {"this tree": None}
    if worktree is not None:
        trees[f"baseline {args.baseline}"] = f"{worktree}/shared:{worktree}"
    try:
        print(f"instructions per call ({args.calls} counted calls after {WARM_UP} warm-up, "
              f"callgrind, Python {sys.version.split()[0]}, PYTHONHASHSEED {', '.join(seeds)})")  # fmt: skip
        header = "| client | seed | " + " | ".join(trees) + (" | ratio |" if worktree else " |")
        print(header)
        print("|" + "---|" * (header.count("|") - 1))
        for kind in args.clients.split(","):
            ratios = []
            for seed in seeds:
                counts = []
                for pythonpath in trees.values():
                    if kind == "floor" and pythonpath is not None:
                        continue  # no project code in the floor
                    env = {**base_env, "PYTHONHASHSEED": seed}
                    if pythonpath is not None:
                        env["PYTHONPATH"] = pythonpath
                    counts.append(instructions(kind, args.calls, env, scratch) / args.calls)
                row = f"| {kind} | {seed} | " + " | ".join(f"{c:,.0f}" for c in counts)
                if len(counts) == 2:
                    ratios.append(counts[0] / counts[1])
                    row += f" | {ratios[-1]:.4f}x"
                elif worktree is not None:
                    row += " | (no project code) |"
                print(row + " |", flush=True)
            if ratios:
                print(f"| {kind} | mean | | | {statistics.fmean(ratios):.4f}x |", flush=True)
    finally:
        process.terminate()
        process.wait(10)
        if worktree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(worktree)], check=False)  # fmt: skip
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
