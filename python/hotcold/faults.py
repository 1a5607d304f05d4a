"""Named fail points, so tests can crash a rotation at an exact step boundary.

Armed with HOTCOLD_FAIL_AT=<name>[:kill]. `raise` (the default) fails the step like any
error; `kill` SIGKILLs the process on the spot, as a power cut or the OOM killer would.
In-process callers (tests simulating a concurrent writer) can also hang a function on a
point with `on(name, fn)`. Unarmed, a fail point is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from typing import Callable

from .errors import HotColdError


_HOOKS: dict[str, Callable[[], None]] = {}


def on(name: str, fn: Callable[[], None] | None) -> None:
    if fn is None:
        _HOOKS.pop(name, None)
    else:
        _HOOKS[name] = fn


def fail_point(name: str) -> None:
    hook = _HOOKS.get(name)
    if hook is not None:
        hook()
    armed = os.environ.get("HOTCOLD_FAIL_AT", "")
    if not armed:
        return
    point, _, action = armed.partition(":")
    if point != name:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise HotColdError(f"fail point {name} was armed (HOTCOLD_FAIL_AT)", "unset HOTCOLD_FAIL_AT")
