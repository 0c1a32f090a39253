"""Timed per-call CPU of this tree against a baseline git revision, round by round.

    python benchmarks/cpu_against.py --baseline 2220dc1 [--rounds 7] [--calls 1000]

``run.py``'s per-call CPU step (its ``--cpu-child``: a fresh process, 20 warm-up calls, then
``--calls`` sequential calls, CPU time from ``time.process_time``) for the floor, the client and
``ChatAgentCore``, with this tree's code and with the baseline's (a ``git worktree`` of
``--baseline`` first on ``PYTHONPATH``: same interpreter, packages and benchmark script), in
interleaved rounds against one local runtime, the tree that goes first alternating from round to
round. Each round gives a now/baseline ratio per client;
the median of those ratios is the comparison, since on a shared machine the rounds themselves
move by tens of percent. ``instructions.py`` counts instructions instead, which do not move.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="a git revision to compare with")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args(argv)
    worktree = Path(tempfile.mkdtemp(prefix="baseline-")) / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(worktree),
                    args.baseline], check=True)  # fmt: skip
    trees = {"this tree": None, f"baseline {args.baseline}": f"{worktree}/shared:{worktree}"}
    names = [run.FLOOR_CPU, run.CLIENT_CPU, run.CHAT_CPU]
    cpu: dict[tuple[str, str], list[float]] = {}
    rt = run.Runtime.start()
    try:
        for round_number in range(args.rounds):
            # Which tree goes first alternates: the second process of a pair ran slower or
            # faster often enough, on this machine, to tilt a comparison by several percent.
            order = list(trees.items())
            if round_number % 2:
                order.reverse()
            for name in names:
                for tree, pythonpath in order:
                    if name == run.FLOOR_CPU and pythonpath is not None:
                        continue  # no project code in the floor
                    env = {**os.environ, **rt.env, run.SERVER_PID_ENV: str(rt.pid)}
                    if pythonpath is not None:
                        env["PYTHONPATH"] = pythonpath
                    out = subprocess.run(
                        [sys.executable, str(HERE / "run.py"), "--cpu-child", name,
                         "--n", str(args.calls)],
                        env=env, capture_output=True, text=True, timeout=600, check=True,
                    )  # fmt: skip
                    figures = json.loads(out.stdout.strip().splitlines()[-1])
                    cpu.setdefault((name, tree), []).append(figures["cpu"])
    finally:
        rt.close()
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                       check=False)  # fmt: skip
    this, base = trees
    floor = statistics.median(cpu[(run.FLOOR_CPU, this)])
    print(f"client CPU per call, {args.rounds} interleaved rounds of {args.calls} calls")
    print(f"| client | {this} ms (x floor) | {base} ms (x floor) | now/baseline per round "
          "| median ratio |")  # fmt: skip
    print("|---|---|---|---|---|")
    print(f"| {run.FLOOR_CPU} | {floor * 1e3:.3f} | | | |")
    for name in names[1:]:
        now, then = cpu[(name, this)], cpu[(name, base)]
        ratios = [a / b for a, b in zip(now, then, strict=True)]
        print(f"| {name} | {statistics.median(now) * 1e3:.3f} ({statistics.median(now) / floor:.2f}x)"
              f" | {statistics.median(then) * 1e3:.3f} ({statistics.median(then) / floor:.2f}x)"
              f" | {', '.join(f'{r:.2f}' for r in ratios)} | {statistics.median(ratios):.3f}x |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
