"""Environment variables read on every call (the bearer token, OpenTelemetry's provider
variables), at the cost of a dict look-up.

``os.environ.get(name)`` goes through ``Mapping.get``, which indexes the mapping and catches the
``KeyError`` when the variable is absent: the usual case, and about 20 times the cost of the
look-up itself (2 us per absent variable on a slow machine, the whole per-call cost of the
telemetry hook when no provider is configured). :func:`getenv` asks the mapping's own dict
where ``os.environ`` has one (CPython's ``os._Environ``: ``_data``, ``encodekey``,
``decodevalue``), and falls back to ``os.environ.get`` otherwise. Changes made through
``os.environ`` (``monkeypatch.setenv`` included) are seen at once.
"""

from __future__ import annotations

import os
from typing import Any

_encoded: dict[str, Any] = {}


def getenv(name: str) -> str | None:
    """``os.environ.get(name)``, without raising and catching a KeyError when it is absent."""
    environ = os.environ
    data = getattr(environ, "_data", None)
    encodekey = getattr(environ, "encodekey", None)
    decodevalue = getattr(environ, "decodevalue", None)
    if type(data) is not dict or encodekey is None or decodevalue is None:
        return environ.get(name)
    key = _encoded.get(name)
    if key is None:
        key = _encoded[name] = encodekey(name)
    value = data.get(key)
    return None if value is None else str(decodevalue(value))
