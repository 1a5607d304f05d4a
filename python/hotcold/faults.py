"""Named fail points, so tests can crash a rotation at an exact step boundary.

Armed with HOTCOLD_FAIL_AT=<name>[:kill|:kill@SECONDS|:bug|:bare]. `raise` (the default) fails
the step like any error; `kill` SIGKILLs the process on the spot, as a power cut or the OOM killer
would; `kill@0.2` lets the step go on and kills the process 0.2 s later, in the middle of
whatever it is doing (a COPY, say). `bug` and `bare` raise what hotcold did not foresee (a
library's error, a bug) rather than a HotColdError: a ValueError whose message runs over
several lines, and an OverflowError with no message at all, so tests can see such an error
still reach the user with its cause. Macros reach the same points through the DuckDB function
`hotcold_fail_point(name)` that the dbt plugin registers. The points, in step order:
stage.before, stage.after, export.before_copy, export.after_copy (verify is next),
export.after_verify, publish.before_replace, publish.between_days, publish.after,
delete.before, delete.in_transaction (raise only: inside PostgreSQL's transaction),
delete.after, vacuum.before, vacuum.after, record.before, record.after.
stage.change_value is not a crash: armed (any action), the streamed stage changes one value
of the first rows PostgreSQL sent, as a faulty layer would, and verify must refuse the run.
router.planned is the reader's: StorageRouter has listed the lake's files and not yet read
the hot store (the moment a rotation's delete would hurt it most).
partition.before_swap is `hotcold partition`'s: the CHECK is validated, the swap not begun.
In-process callers (tests simulating a concurrent writer) can also hang a function on a
point with `on(name, fn)`. Unarmed, a fail point is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Callable

from hotcold.errors import HotColdError

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
    if action.startswith("kill@"):
        timer = threading.Timer(float(action[5:]), os.kill, (os.getpid(), signal.SIGKILL))
        timer.daemon = True
        timer.start()
        return
    if action == "bug":
        raise ValueError(f"fail point {name} raised a plain ValueError (HOTCOLD_FAIL_AT)\n  its message goes on over\n  more lines")
    if action == "bare":
        raise OverflowError()
    raise HotColdError(f"fail point {name} was armed (HOTCOLD_FAIL_AT)", "unset HOTCOLD_FAIL_AT")


def armed(name: str) -> bool:
    return os.environ.get("HOTCOLD_FAIL_AT", "").partition(":")[0] == name


def register(conn) -> None:
    """Make the fail points callable from SQL: `select hotcold_fail_point('export.after_copy')`.
    Only when a point is armed: the macros call it only then, and DuckDB's Python functions
    need numpy, which a production install does not carry."""
    import duckdb

    if not os.environ.get("HOTCOLD_FAIL_AT"):
        return

    def sql_fail_point(name: str) -> bool:
        fail_point(name)
        return True

    try:
        conn.create_function("hotcold_fail_point", sql_fail_point, [duckdb.sqltype("VARCHAR")], duckdb.sqltype("BOOLEAN"), side_effects=True)
    except duckdb.CatalogException:
        pass  # already registered on this connection
