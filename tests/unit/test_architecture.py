"""The walls `make lint` checks with import-linter cover every module of the core: a new core
module must be added to the first contract in pyproject.toml, or this test fails."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "shared" / "agentcore_bridge"
OUTSIDE_THE_CORE = {"local", "proxy"}


def core_modules() -> set[str]:
    found = set()
    for path in CORE.iterdir():
        if path.name.startswith(("_", ".")) or path.name in OUTSIDE_THE_CORE:
            continue
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists()):
            found.add(f"agentcore_bridge.{path.stem}")
    return found


def contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def test_the_core_contract_lists_every_core_module() -> None:
    core_contract = contracts()[0]
    assert core_contract["type"] == "forbidden"
    assert set(core_contract["source_modules"]) == core_modules()


def test_the_core_may_not_import_frameworks_local_or_proxy() -> None:
    forbidden = set(contracts()[0]["forbidden_modules"])
    assert {"agentcore_bridge.local", "agentcore_bridge.proxy", "langchain_core",
            "llama_index", "langchain_agentcore", "llama_index_agentcore"} <= forbidden  # fmt: skip


def test_lint_runs_the_contracts() -> None:
    assert "lint-imports" in (ROOT / "Makefile").read_text()
