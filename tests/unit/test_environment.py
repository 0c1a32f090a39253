"""agentcore_bridge.environment.getenv: os.environ.get's answers, without its KeyError."""

from __future__ import annotations

import os

import pytest

from agentcore_bridge.environment import getenv

NAME = "AGENTCORE_TEST_GETENV_VARIABLE"


def test_it_answers_as_os_environ_get(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NAME, raising=False)
    assert getenv(NAME) is None is os.environ.get(NAME)
    for value in ("plain", "", "non-ascii: é ü 日本", " spaced "):
        monkeypatch.setenv(NAME, value)
        assert getenv(NAME) == value == os.environ.get(NAME)
    monkeypatch.delenv(NAME)
    assert getenv(NAME) is None


def test_it_raises_no_key_error_inside_when_the_variable_is_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(NAME, raising=False)

    def refuse(self: object, key: str) -> str:
        raise AssertionError("os.environ was indexed (a KeyError raised and caught per call)")

    monkeypatch.setattr(type(os.environ), "__getitem__", refuse)
    assert getenv(NAME) is None


def test_a_mapping_without_cpythons_internals_falls_back_to_get(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "environ", {NAME: "from a plain dict"})
    assert getenv(NAME) == "from a plain dict"
    assert getenv(NAME + "_ABSENT") is None


def test_a_replaced_and_restored_environ_is_read_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAME, "real")
    real = os.environ
    assert getenv(NAME) == "real"
    monkeypatch.setattr(os, "environ", {NAME: "swapped"})
    assert getenv(NAME) == "swapped"
    monkeypatch.setattr(os, "environ", real)
    assert getenv(NAME) == "real"
    real[NAME] = "changed in place"
    assert getenv(NAME) == "changed in place"
