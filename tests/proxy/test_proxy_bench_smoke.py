"""``benchmarks/proxy_bench.py`` at smoke sizes: the floor and the proxy both measured, every
figure a finite number, the five targets evaluated, no chunk lost. No timing assertions: timings
are for ``make bench``."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import proxy_bench  # noqa: E402
import run  # noqa: E402

pytestmark = pytest.mark.network


def test_the_proxy_scenario_measures_the_floor_and_the_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(proxy_bench.LITELLM_SWITCH, "0")
    rt = run.Runtime.start()
    try:
        scenario = proxy_bench.scenario(rt, smoke=True)
    finally:
        rt.close()
    rows = {row["system"]: row for row in scenario.rows}
    assert set(rows) == {proxy_bench.FLOOR, proxy_bench.OURS}
    for system, row in rows.items():
        for column in ("p50 ms", "p99 ms", "req/s", "CPU ms/req", "fan-out s", "first chunk ms"):
            assert isinstance(row[column], float) and math.isfinite(row[column]), (system, column)
        assert row["chunks lost"] == 0, system
    assert rows[proxy_bench.OURS]["start-up s"] > 0
    assert rows[proxy_bench.OURS]["RSS MB"] > 0
    assert len(scenario.targets) == 5
    assert any("LiteLLM Proxy skipped" in note for note in scenario.notes)
    assert "| agentcore-proxy |" in run.render_markdown([scenario], run.SMOKE, None)
