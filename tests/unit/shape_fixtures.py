"""Loads the recorded agent responses in tests/fixtures/shapes (see its recorders/)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHAPES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "shapes"


@dataclass(frozen=True)
class ShapeFixture:
    name: str
    shape: int
    status: int
    content_type: str
    body: bytes
    expected_text: str
    expected_usage: dict[str, int] | None
    expected_error: str | None
    expected_other: int | None
    source: str


def load_fixture(name: str) -> ShapeFixture:
    meta: dict[str, Any] = json.loads((SHAPES_DIR / f"{name}.json").read_text())
    return ShapeFixture(
        name=name,
        shape=meta["shape"],
        status=meta["status"],
        content_type=meta["content_type"],
        body=(SHAPES_DIR / f"{name}.body").read_bytes(),
        expected_text=meta["expected_text"],
        expected_usage=meta["expected_usage"],
        expected_error=meta["expected_error"],
        expected_other=meta["expected_other"],
        source=meta["source"],
    )


def all_fixture_names() -> list[str]:
    return sorted(p.stem for p in SHAPES_DIR.glob("*.json"))
