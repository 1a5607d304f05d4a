"""Run dbt in-process against the hotcold project and turn its outcome into ours.

dbtRunner is not safe to run twice at once in one process, so invocations are serialised;
each costs a few seconds of start-up, so callers ask for as few as they can.
"""

from __future__ import annotations

import json
import os
import re
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hotcold import progress
from hotcold.config import Config
from hotcold.dbt import shipped
from hotcold.errors import HotColdError, StepFailed
from hotcold.store.lock import held_by_this_process, rotation_lock

_ONE_AT_A_TIME = threading.Lock()


@dataclass
class DbtOutcome:
    invocation_id: str
    node_status: dict[str, str] = field(default_factory=dict)


def project_dir(config: Config) -> Path:
    """The user's own copy of hotcold's dbt project beside their config (a checkout), else
    the one the package ships (hotcold.dbt.shipped)."""
    own = config.project_dir
    if (own / "dbt_project.yml").is_file() and (own / "macros" / "lifecycle").is_dir():
        return own
    return shipped.project_dir()


def invoke(config: Config, args: list[str], vars: dict | None = None, on_event: Callable[[str, str], None] | None = None) -> DbtOutcome:
    from dbt.cli.main import dbtRunner

    proj = project_dir(config)
    work = config.state_path.parent / "dbt"
    cmd = [
        *args,
        "--log-level", "none",
        "--log-level-file", "debug",  # kept under the state folder for post-mortems; never holds the DSN
        "--project-dir", str(proj),
        "--profiles-dir", str(proj),
        "--target-path", str(work / "target"),
        "--log-path", str(work / "logs"),
        "--vars", json.dumps(vars or {}, default=str),
    ]
    invocation: list[str] = []
    errors: list[str] = []

    def callback(event) -> None:
        name = event.info.name
        if event.info.level == "error" and event.info.msg:
            errors.append(str(event.info.msg))
        if name == "JinjaLogInfo" and progress.emit_logged(str(event.info.msg)):
            return
        if not invocation and getattr(event.info, "invocation_id", None):
            invocation.append(event.info.invocation_id)
        if name in ("NodeStart", "NodeFinished") and on_event:
            node = event.data.node_info.node_name
            status = event.data.node_info.node_status if name == "NodeFinished" else "started"
            on_event(node, status)

    with _ONE_AT_A_TIME, _env(HOTCOLD_CONFIG=str(config.path)), _locked(config), _python_step_errors() as raised:
        try:
            result = dbtRunner(callbacks=[callback]).invoke(cmd)
        finally:
            _close_dbt_duckdb()
    outcome = DbtOutcome(invocation[0] if invocation else "")
    if result.exception is not None:
        raise StepFailed(f"dbt could not run: {_clean(str(result.exception))}", "nothing was deleted; fix the problem above and re-run")
    for r in getattr(result.result, "results", None) or []:
        name = r.node.name if hasattr(r, "node") else r.unique_id.split(".")[-1]
        outcome.node_status[name] = str(r.status)
        if str(r.status) in ("error", "fail"):
            cause = raised.get(getattr(getattr(r, "node", None), "alias", None) or name)  # dbt-duckdb names the job by alias
            if cause is not None:
                traceback.clear_frames(cause.__traceback__)  # --debug still shows where; its locals (connections) are let go
                raise _python_step_failed(name, cause) from cause
            raise StepFailed(f"step {name} failed: {_clean(r.message or ' '.join(errors))}", _after(name))
    if not result.success:
        detail = _clean(" ".join(errors)) if errors else f"see the dbt log under {work / 'logs'}"
        raise StepFailed(f"dbt {args[0]} failed: {detail}", _after(""))
    return outcome


def _close_dbt_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB instance in a class attribute after dbt returns; close it so
    the state database and an embedded hot store are free for the next caller in this
    process (and for other processes once the lock is released)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager as manager

    with manager._LOCK:
        env, manager._ENV = manager._ENV, None
    if env is not None:
        env.close()


@contextmanager
def _python_step_errors():
    """Collect what each Python step (a dbt Python model) really raised, by model alias.

    dbt-duckdb turns any exception in a Python model into `DbtRuntimeError("Python model
    failed:\n" + traceback)` and dbt keeps only that text, whose lines dbt re-indents: a
    message on several lines, one without a "...Error:" shape (pyarrow's ArrowInvalid) or none
    at all (OverflowError()) used to leave the user with `Python model failed:` alone, and a
    HotColdError's fix was flattened into its text. So while dbt runs, dbt-duckdb's
    `Environment.run_python_job` is wrapped to keep the exception object itself (the one its
    DbtRuntimeError was raised while handling). Should a later dbt-duckdb no longer have that
    method, nothing is wrapped and `_clean` reads the traceback text instead."""
    raised: dict[str, BaseException] = {}
    try:
        from dbt.adapters.duckdb.environments import Environment
        from dbt_common.exceptions import DbtRuntimeError
    except ImportError:  # pragma: no cover - dbt-duckdb is a dependency
        yield raised
        return
    original = Environment.__dict__.get("run_python_job")
    if not isinstance(original, classmethod):
        yield raised
        return
    run = original.__func__

    def run_python_job(cls, con, load_df_function, identifier, *args, **kwargs):
        try:
            return run(cls, con, load_df_function, identifier, *args, **kwargs)
        except Exception as exc:
            cause = (exc.__cause__ or exc.__context__) if isinstance(exc, DbtRuntimeError) else exc
            if cause is not None:
                raised[identifier] = cause
            raise

    Environment.run_python_job = classmethod(run_python_job)  # serialised by _ONE_AT_A_TIME
    try:
        yield raised
    finally:
        Environment.run_python_job = original


def _python_step_failed(node: str, exc: BaseException) -> StepFailed:
    """A Python step's exception as the user reads it: our own errors keep their problem and
    their fix (plus where the rotation stands); anything else says its type and first line."""
    if isinstance(exc, HotColdError) and _one_line(exc.problem):
        fix = f"{exc.fix}; {_state(node)}" if exc.fix else _after(node)
        return StepFailed(f"step {node} failed: {_one_line(exc.problem)}", fix)
    return StepFailed(f"step {node} failed: {_describe(exc)}", _after(node))


def _describe(exc: BaseException) -> str:
    """`Type: first meaningful line`; with no message, that of the exception it came from, or
    else where it was raised."""
    kind = type(exc).__name__
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        try:
            text = str(e)
        except Exception:  # a broken __str__ must not hide the error itself
            text = ""
        if isinstance(e, HotColdError):
            text = e.problem or ""
        line = _first_line(text)
        if line:
            return f"{kind}: {line}" if e is exc else f"{kind}, from {type(e).__name__}: {line}"
        e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if frames:
        where = frames[-1]
        return f"{kind} with no message, raised at {Path(where.filename).name} line {where.lineno} (in {where.name})"
    return f"{kind} with no message"


_DBT_HEADER = re.compile(r"^(Encountered an error\b.*|(Compilation|Runtime|Database) Error( in .*)?)$")


def _first_line(text: str) -> str:
    """The first line that says something: not blank, not one of dbt's own header lines."""
    for ln in text.splitlines():
        ln = ln.strip()
        if ln and not _DBT_HEADER.match(ln):
            return ln
    return ""


def _one_line(text: str) -> str:
    return " ".join(ln.strip() for ln in (text or "").splitlines() if ln.strip())


_AFTER_DELETE = ("hotcold_reconcile", "hotcold_vacuum", "hotcold_record")


def _after(node: str) -> str:
    if node in _AFTER_DELETE:
        return "rows were archived and deleted; re-run to finish the remaining steps"
    return "nothing was deleted from the hot store; fix the problem and re-run"


def _state(node: str) -> str:
    """Where a step's failure leaves the rotation, said after the step's own fix."""
    return _after(node) if node in _AFTER_DELETE else "nothing was deleted from the hot store"


def _clean(message: str) -> str:
    """dbt wraps our one-line errors in context lines; keep the line that says what is wrong."""
    # DuckDB quotes the whole statement PostgreSQL refused before PostgreSQL's own words.
    refused = re.search(r'Failed to execute query ".*?":\s*(ERROR:.*)', message, re.S)
    if refused:
        return "PostgreSQL: " + " ".join(refused.group(1).split())
    # A Python model's failure arrives as its traceback (when _python_step_errors could not
    # catch the exception itself): the exception it ends with says what went wrong.
    raised = _traceback_error(message)
    if raised:
        return raised
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(">") and not re.match(r"^(Encountered an error|(Compilation|Runtime|Database) Error)", ln)]
    return (useful or lines or [message])[0]


_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'^File "(.*)", line (\d+), in (.*)$')
_RAISED = re.compile(r"^([A-Za-z_][\w.<>]*)(?:: ?(.*))?$")  # module.Class, or module.f.<locals>.Class


def _traceback_error(message: str) -> str | None:
    """`Type: first line` of the exception a Python traceback ends with (the last one of a
    chain), found by indentation as dbt re-indents it; a message of several lines, or none,
    or a type that is not called ...Error, are all read. Our own errors (hotcold.errors.*) keep
    just their text, as `str()` made it."""
    lines = message.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.strip() == _TRACEBACK]
    if not starts:
        return None
    indent = len(lines[starts[-1]]) - len(lines[starts[-1]].lstrip())
    last_frame = None
    for j in range(starts[-1] + 1, len(lines)):
        ln = lines[j]
        if not ln.strip():
            continue
        if len(ln) - len(ln.lstrip()) > indent:  # a frame, its source line, its ^^^ markers
            frame = _FRAME.match(ln.strip())
            last_frame = frame or last_frame
            continue
        head = _RAISED.match(ln.strip())
        if not head:
            return None
        qualname, kind = head.group(1), head.group(1).rsplit(".", 1)[-1]
        text = _first_line("\n".join([head.group(2) or "", *lines[j + 1:]]))
        if qualname.startswith("hotcold.") and text:
            return text
        if text:
            return f"{kind}: {text}"
        if last_frame:
            return f"{kind} with no message, raised at {Path(last_frame.group(1)).name} line {last_frame.group(2)} (in {last_frame.group(3)})"
        return f"{kind} with no message"
    return None


@contextmanager
def _env(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _locked(config: Config):
    # Hold the rotation lock here so dbt's plugin, seeing it held, never takes a lock that
    # would outlive this call in a long-running process.
    if held_by_this_process():
        yield
    else:
        with rotation_lock(config):
            yield
