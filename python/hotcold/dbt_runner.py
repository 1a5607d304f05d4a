"""Run dbt in-process against the hotcold project and turn its outcome into ours.

dbtRunner is not safe to run twice at once in one process, so invocations are serialised;
each costs a few seconds of start-up, so callers ask for as few as they can.
"""

from __future__ import annotations

import json
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import progress
from .config import Config
from .errors import HotColdError, StepFailed
from .lock import held_by_this_process, rotation_lock

_ONE_AT_A_TIME = threading.Lock()
SOURCE_PROJECT = Path(__file__).resolve().parents[2]


@dataclass
class DbtOutcome:
    invocation_id: str
    node_status: dict[str, str] = field(default_factory=dict)


def project_dir(config: Config) -> Path:
    """The user's own copy of the dbt project beside their config, else the one we ship."""
    for candidate in (config.project_dir, SOURCE_PROJECT):
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    raise HotColdError("cannot find hotcold's dbt project (dbt_project.yml)", "run from the hotcold checkout or install it with pip install -e .")


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

    with _ONE_AT_A_TIME, _env(HOTCOLD_CONFIG=str(config.path)), _locked(config):
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


def _after(node: str) -> str:
    if node in ("hotcold_reconcile", "hotcold_vacuum", "hotcold_record"):
        return "rows were archived and deleted; re-run to finish the remaining steps"
    return "nothing was deleted from the hot store; fix the problem and re-run"


def _clean(message: str) -> str:
    """dbt wraps our one-line errors in context lines; keep the line that says what is wrong."""
    # DuckDB quotes the whole statement PostgreSQL refused before PostgreSQL's own words.
    refused = re.search(r'Failed to execute query ".*?":\s*(ERROR:.*)', message, re.S)
    if refused:
        return "PostgreSQL: " + " ".join(refused.group(1).split())
    # A Python model's failure arrives as its traceback: its last line says what went wrong.
    raised = re.findall(r"^\s*(?:[\w.]+\.)?\w+(?:Error|Exception|Failed|Interrupt): (.+)$", message, re.M)
    if "Traceback (most recent call last)" in message and raised:
        return raised[-1].strip()
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(">") and not re.match(r"^(Encountered an error|(Compilation|Runtime|Database) Error)", ln)]
    return (useful or lines or [message])[0]


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
