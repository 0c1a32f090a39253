"""``benchmarks/run.py`` with smoke sizes: every scenario runs and yields numbers for every client
that is installed, with the right answers (the scenario functions assert those). No timing
assertions: timings are for ``make bench``, not for a test run on a busy machine."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import run  # noqa: E402

pytestmark = pytest.mark.network
HAVE_LITELLM = importlib.util.find_spec("litellm") is not None


@pytest.fixture(scope="module")
def scenarios() -> dict[str, run.Scenario]:
    found = run.run_all(run.SMOKE, log=lambda _: None)
    return {scenario.name.split(":")[0]: scenario for scenario in found}


def numbers(scenario: run.Scenario, column: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for row in scenario.rows:
        out.setdefault(row["client"], []).append(row[column])
    for client, values in out.items():
        assert all(isinstance(v, float) and math.isfinite(v) and v >= 0 for v in values), client
    return out


def test_fanout_has_every_client_at_every_size(scenarios: dict[str, run.Scenario]) -> None:
    fanout = scenarios["Async fan-out"]
    walls = numbers(fanout, "wall s")
    expected = {run.FLOOR_FANOUT, run.CLIENT_FANOUT, run.CHAT_FANOUT, run.BOTO3_FANOUT}
    if HAVE_LITELLM:
        expected.add(run.LITELLM_FANOUT)
    else:
        assert any("LiteLLM is not installed" in note for note in fanout.notes)
    assert set(walls) == expected
    assert all(len(values) == len(run.SMOKE.fanout) for values in walls.values())
    assert set(fanout.raw["wall"][run.CLIENT_FANOUT]) == set(run.SMOKE.fanout)


def test_latency_counts_every_event(scenarios: dict[str, run.Scenario]) -> None:
    latency = scenarios["Streaming hand-on latency"]
    medians = numbers(latency, "median ms")
    expected = {
        run.FLOOR_STREAM, "AgentCoreClient.stream", "AgentCoreClient.astream",
        "ChatAgentCore.astream", "boto3 iter_lines()",
    }  # fmt: skip
    if HAVE_LITELLM:
        expected.add("litellm.acompletion(stream=True)")
    assert set(medians) == expected
    assert all(row["events"] == run.SMOKE.ticks for row in latency.rows)
    assert all(1 <= row["deliveries"] <= run.SMOKE.ticks for row in latency.rows)


def test_cpu_has_every_client_and_the_targets(scenarios: dict[str, run.Scenario]) -> None:
    cpu = scenarios["Per-call CPU"]
    values = numbers(cpu, "client CPU ms/call")
    expected = {run.FLOOR_CPU, run.CLIENT_CPU, run.OTEL_CPU, run.CHAT_CPU, run.BOTO3_CPU}
    if HAVE_LITELLM:
        expected.add(run.LITELLM_CPU)
    assert set(values) == expected
    assert len(cpu.targets) == 3  # evaluated, whatever their outcome


def test_report_renders(scenarios: dict[str, run.Scenario], tmp_path: Path) -> None:
    text = run.render_markdown(list(scenarios.values()), run.SMOKE, None)
    assert "| target | met | figure |" in text
    assert "AgentCoreClient.ainvoke" in text
    if importlib.util.find_spec("matplotlib") is not None:
        assert run.plot_fanout(scenarios["Async fan-out"], tmp_path / "fanout.png")
        assert (tmp_path / "fanout.png").stat().st_size > 0


def test_memory_has_the_clients_and_the_proxy(scenarios: dict[str, run.Scenario]) -> None:
    memory = scenarios["Memory"]
    rises = numbers(memory, "peak MB")
    assert set(rises) == {*run.MEMORY_KINDS, run.PROXY_MEMORY}
    assert all(row["peak MB"] >= row["baseline peak MB"] > 0 for row in memory.rows)
    assert len(memory.targets) == len(run.MEMORY_KINDS)  # the two clients and the proxy


def test_cold_start_has_every_case(scenarios: dict[str, run.Scenario]) -> None:
    cold = scenarios["Cold start"]
    medians = numbers(cold, "median s")
    expected = set(run.COLD) if HAVE_LITELLM else set(run.COLD) - {run.LITELLM_COLD}
    assert set(medians) == expected
    assert len(cold.targets) == 1


@pytest.mark.skipif(
    importlib.util.find_spec("pyinstrument") is None, reason="pyinstrument is not installed"
)
def test_the_profiles_run_with_tiny_sizes(tmp_path: Path) -> None:
    import profile_calls

    results = profile_calls.run_profiles(tmp_path, fanout=8, calls=20, log=lambda _: None)
    expected = set(profile_calls.PROFILES)
    if not (Path(sys.executable).with_name("py-spy")).exists():
        expected.discard("cold_chat_pyspy")
    assert set(results) == expected
    for kind in expected:
        assert (tmp_path / f"{kind}.txt").read_text().strip(), kind
    assert 0 <= results["gc_chat"]["GC share of CPU"] < 1  # tiny fan-outs may not collect
    assert results["chat_overhead"]["CPU us/call, unprofiled"] > 0
    assert "langchain_agentcore" in (tmp_path / "cold_chat.txt").read_text()
