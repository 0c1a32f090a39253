"""Where the time goes, for the benchmark targets that are tight or missed: pyinstrument
profiles of the hot paths, written as text next to the report.

    uv run --group bench python benchmarks/profile_calls.py [--out docs/profiles]

Profiles (each in a fresh process holding only what it profiles, against the same local
runtime as ``run.py``):

The profiler's own overhead inflates the CPU figures of profiled runs (about 2x): compare the
shares inside one profile, and take absolute figures from ``run.py`` or the unprofiled ones here.

* ``fanout_client``: 1024 concurrent ``AgentCoreClient.ainvoke`` calls to the 200 ms agent;
* ``fanout_chat``: the same through ``ChatAgentCore.ainvoke``;
* ``chat_overhead``: ``ChatAgentCore.ainvoke`` with the core client's ``ainvoke`` replaced by
  one that returns at once: what LangChain's machinery plus the adapter cost per call, with no
  network (the figure it prints is CPU microseconds per call);
* ``gc_client``, ``gc_chat``, ``gc_chat_frozen``: no profiler; the same 1024-call fan-outs with
  the time spent in the garbage collector measured through ``gc.callbacks`` (``_frozen``: after
  ``gc.freeze()`` once warmed up, the usual remedy for long-lived servers);
* ``cold_chat``: ``python -X importtime`` for ``import langchain_agentcore``, the largest
  imports first;
* ``cold_chat_pyspy``: py-spy sampling (500 Hz) the whole cold start (import, build
  ``ChatAgentCore``, one call), summarised as the share of samples under each module-level
  frame (what each import costs, nested imports included) and each function.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import SLEEP, Runtime, child, fanout_call  # noqa: E402

PROFILES = (
    "fanout_client", "fanout_chat", "chat_overhead", "gc_client", "gc_chat", "gc_chat_frozen",
    "cold_chat", "cold_chat_pyspy",
)  # fmt: skip


FANOUT = 1024  # concurrent calls in the fan-out profiles
OVERHEAD_CALLS = 5000  # sequential calls in the LangChain overhead probe


def profile_child(
    kind: str, out: Path, fanout: int = FANOUT, calls: int = OVERHEAD_CALLS
) -> dict[str, float]:
    """In a fresh process: profile ``kind`` with pyinstrument, write ``out/<kind>.txt``."""
    from pyinstrument import Profiler

    rt = Runtime.from_env()
    profiler = Profiler(interval=0.0005, async_mode="enabled")
    figures: dict[str, float] = {}

    if kind in ("fanout_client", "fanout_chat"):
        one, client = fanout_call(rt, chat=kind == "fanout_chat")

        async def main() -> None:
            await asyncio.gather(*(one() for _ in range(8)))
            cpu0, start = time.process_time(), time.perf_counter()
            with profiler:
                await asyncio.gather(*(one() for _ in range(fanout)))
            figures["wall s"] = time.perf_counter() - start
            figures["client CPU ms/call"] = (time.process_time() - cpu0) / fanout * 1e3
            await client.aclose()

        asyncio.run(main())
    elif kind == "chat_overhead":
        from agentcore_bridge.results import Completion

        chat = rt.chat()

        async def instant(messages: Any, **options: Any) -> Completion:
            completion = Completion(session_id=options.get("session_id"), model=rt.arn)
            completion._parts.append("done")
            return completion

        chat.client.ainvoke = instant

        async def main() -> None:
            for _ in range(calls // 10):
                await chat.ainvoke(SLEEP)
            cpu0 = time.process_time()
            for _ in range(calls):
                assert (await chat.ainvoke(SLEEP)).content == "done"
            figures["CPU us/call, unprofiled"] = (time.process_time() - cpu0) / calls * 1e6
            with profiler:
                for _ in range(calls):
                    assert (await chat.ainvoke(SLEEP)).content == "done"

        asyncio.run(main())
    elif kind.startswith("gc_"):
        return gc_share(rt, kind, out, fanout)
    else:
        raise ValueError(kind)
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    (out / f"{kind}.txt").write_text(
        f"{kind}: {', '.join(f'{k} {v:.3f}' for k, v in figures.items())}\n\n{text}"
    )
    return figures


def gc_share(rt: Runtime, kind: str, out: Path, fanout: int) -> dict[str, float]:
    """A fan-out without a profiler; how much of it the garbage collector took."""
    import gc

    one, client = fanout_call(rt, chat=kind != "gc_client")
    spent = {"seconds": 0.0, "full collections": 0.0}
    started = [0.0]

    def timing(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        spent["seconds"] += time.perf_counter() - started[0]
        spent["full collections"] += info["generation"] == 2

    async def main() -> dict[str, float]:
        await asyncio.gather(*(one() for _ in range(8)))
        if kind.endswith("_frozen"):
            gc.freeze()
        gc.callbacks.append(timing)
        cpu0, start = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(fanout)))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        gc.callbacks.remove(timing)
        await client.aclose()
        return {
            "wall s": wall, "client CPU ms/call": cpu / fanout * 1e3,
            "GC ms/call": spent["seconds"] / fanout * 1e3, "GC share of CPU": spent["seconds"] / cpu,
            "full collections": spent["full collections"],
            "tracked objects": float(len(gc.get_objects())),
        }  # fmt: skip

    figures = asyncio.run(main())
    (out / f"{kind}.txt").write_text(
        f"{kind}: " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()) + "\n"
    )
    return figures


def import_times(out: Path) -> dict[str, float]:
    """``-X importtime`` for ``import langchain_agentcore``, largest cumulative first."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import langchain_agentcore"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        _, own, cumulative, name = (part.strip() for part in line.replace(":", "|", 1).split("|"))
        rows.append((int(cumulative), int(own), name))
    rows.sort(reverse=True)
    lines = [f"{cum / 1e3:9.1f} ms  {own / 1e3:8.1f} ms  {name}" for cum, own, name in rows[:60]]
    (out / "cold_chat.txt").write_text(
        "import langchain_agentcore (python -X importtime): cumulative, self, module\n\n"
        + "\n".join(lines)
        + "\n"
    )
    return {"import ms": rows[0][0] / 1e3}


def pyspy_cold_start(rt: Runtime, out: Path) -> dict[str, float]:
    """py-spy over a cold ``ChatAgentCore`` process; inclusive sample shares per frame."""
    from run import COLD

    code = COLD["ChatAgentCore: import, build, one call"]
    raw = out / "cold_chat_pyspy.collapsed"
    subprocess.run(
        [str(Path(sys.executable).with_name("py-spy")), "record", "--rate", "500", "--format",
         "raw", "--output", str(raw), "--", sys.executable, "-c", code],
        env={**os.environ, **rt.env}, capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    total = 0
    inclusive: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = {f for f in stack.split(";") if "importlib._bootstrap" not in f}
        for frame in frames:
            inclusive[frame] = inclusive.get(frame, 0) + samples
    raw.unlink()
    top = sorted(inclusive.items(), key=lambda item: -item[1])[:60]
    (out / "cold_chat_pyspy.txt").write_text(
        f"py-spy, cold ChatAgentCore process (import, build, one call): {total} samples at "
        "500 Hz; share of samples with each frame on the stack (nested frames included)\n\n"
        + "\n".join(f"{n / total:7.1%}  {frame}" for frame, n in top)
        + "\n"
    )
    return {"samples": float(total)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/profiles", help="folder for the text profiles")
    parser.add_argument("--fanout", type=int, default=FANOUT, help="concurrent calls")
    parser.add_argument("--calls", type=int, default=OVERHEAD_CALLS, help="overhead probe calls")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.child:
        import json

        print(json.dumps(profile_child(args.child, out, args.fanout, args.calls)))
        return 0
    run_profiles(out, args.fanout, args.calls)
    return 0


def run_profiles(
    out: Path, fanout: int = FANOUT, calls: int = OVERHEAD_CALLS, log: Any = print
) -> dict[str, dict[str, float]]:
    """Every profile against one local runtime; py-spy's is skipped when py-spy is missing."""
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, float]] = {}
    rt = Runtime.start()
    try:
        for kind in PROFILES:
            if kind == "cold_chat":
                figures = import_times(out)
            elif kind == "cold_chat_pyspy":
                if not Path(sys.executable).with_name("py-spy").exists():
                    log("py-spy is not installed: its profile is skipped (uv sync --group bench)")
                    continue
                figures = pyspy_cold_start(rt, out)
            else:
                env_out = str(out.resolve())
                figures = child(
                    rt, "--child", kind, "--out", env_out, "--fanout", str(fanout),
                    "--calls", str(calls), script="profile_calls.py",
                )  # fmt: skip
            results[kind] = figures
            log(f"{kind}: {figures} -> {out / (kind + '.txt')}")
    finally:
        rt.close()
    return results


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
