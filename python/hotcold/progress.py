"""Progress of long work (files loaded, days published), for whoever is showing it.

Steps run inside dbt, in this process: the Python models call `emit` directly, the macros log a
`hotcold:progress {json}` line that the dbt runner turns into the same call. A CLI listens and
draws a bar; a library caller may listen or not.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Callable

Listener = Callable[[str, dict], None]
_LISTENERS: list[Listener] = []
MARK = "hotcold:progress "


def emit(event: str, **data) -> None:
    for fn in list(_LISTENERS):
        fn(event, data)


def emit_logged(message: str) -> bool:
    """Forward a macro's `hotcold:progress {...}` log line; False if it is another message."""
    if not message.startswith(MARK):
        return False
    data = json.loads(message[len(MARK):])
    emit(data.pop("event"), **data)
    return True


@contextmanager
def listening(fn: Listener | None):
    if fn is None:
        yield
        return
    _LISTENERS.append(fn)
    try:
        yield
    finally:
        _LISTENERS.remove(fn)
