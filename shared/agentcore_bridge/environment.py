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
"""Variable name -> its key in ``os.environ``'s own dict (``encodekey(name)``)."""
_environ: Any = None
"""The ``os.environ`` that the three below belong to; worked out again when it is replaced (a
test may swap in another mapping)."""
_data: dict[Any, Any] | None = None
_decodevalue: Any = None
_encodekey: Any = None


def _adopt(environ: Any) -> None:
    global _environ, _data, _encodekey, _decodevalue
    data = getattr(environ, "_data", None)
    encodekey = getattr(environ, "encodekey", None)
    decodevalue = getattr(environ, "decodevalue", None)
    _encoded.clear()
    if type(data) is dict and encodekey is not None and decodevalue is not None:
        _data, _encodekey, _decodevalue = data, encodekey, decodevalue
    else:
        _data = None
    _environ = environ


def getenv(name: str) -> str | None:
    """``os.environ.get(name)``, without raising and catching a KeyError when it is absent."""
    environ = os.environ
    if environ is not _environ:
        _adopt(environ)
    data = _data
    if data is None:
        return environ.get(name)
    key = _encoded.get(name)
    if key is None:
        key = _encoded[name] = _encodekey(name)
    value = data.get(key)
    return None if value is None else str(_decodevalue(value))
