"""benchmarks/scale_bench.py runs end to end with tiny sizes (no timing assertions: the figures
are for `make bench`, side by side in one run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.redis_server import require_redis_server

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "scale_bench.py"


@pytest.mark.timeout(300)
def test_scale_bench_smoke(tmp_path: Path) -> None:
    require_redis_server()
    report = tmp_path / "scale.md"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--write", str(report)],
        capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    text = report.read_text()
    for row in (
        "AgentCoreClient.astream (HTTP protocol)",
        "AgentCoreClient.astream (A2A protocol)",
        "ainvoke, in-process store",
        "ainvoke, Redis store",
        "| Redis (loopback) | async |",
        "(A2A protocol) N=8: client CPU per call within 1.2x",
        "Redis store N=8: client CPU per call within 1.2x",
    ):
        assert row in text  # fmt: skip
